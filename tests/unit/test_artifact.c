/* test_artifact.c - checked parsing of quotas, tokens, token bundles and
 * install reports (artifact.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "key.h"

#define NOW 1750000000

struct fx {
	EVP_PKEY *oem, *app, *jig, *other;
	uint8_t app_id[32], jig_id[32];
	uint8_t *app_spki, *other_spki;
	size_t app_spki_len, other_spki_len;
	/* Backing storage of the messages built below. */
	uint8_t quota_id[16], fw[3][32], nonce[32], uid[8];
	ProtobufCBinaryData fws[TALLY_FIRMWARE_MAX + 1], att[TALLY_ATT_KEYS_MAX + 1];
};

static int
fx_setup(struct fx *f, enum tally_key_type oem, enum tally_key_type app)
{
	int i;

	if (tally_key_generate(oem, &f->oem) != 0 || tally_key_generate(app, &f->app) != 0 ||
	    tally_key_generate(TALLY_KEY_P256, &f->jig) != 0 ||
	    tally_key_generate(app, &f->other) != 0 ||
	    tally_key_id(f->app, f->app_id) != 0 || tally_key_id(f->jig, f->jig_id) != 0 ||
	    tally_key_spki(f->app, &f->app_spki, &f->app_spki_len) != 0 ||
	    tally_key_spki(f->other, &f->other_spki, &f->other_spki_len) != 0)
		return -1;
	memset(f->quota_id, 0x51, sizeof(f->quota_id));
	for (i = 0; i < 3; i++)
		memset(f->fw[i], 0xf0 + i, 32);
	memset(f->nonce, 0x4e, sizeof(f->nonce));
	memcpy(f->uid, "UID-0001", 8);
	return 0;
}

static int
setup_mixed(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f == NULL ? -1 : fx_setup(f, TALLY_KEY_P256, TALLY_KEY_ED25519);
}

static int
setup_mixed2(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f == NULL ? -1 : fx_setup(f, TALLY_KEY_ED25519, TALLY_KEY_P256);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	EVP_PKEY_free(f->oem);
	EVP_PKEY_free(f->app);
	EVP_PKEY_free(f->jig);
	EVP_PKEY_free(f->other);
	OPENSSL_free(f->app_spki);
	OPENSSL_free(f->other_spki);
	free(f);
	return 0;
}

static void
valid_quota(struct fx *f, Tally__Quota *q)
{
	int i;

	tally__quota__init(q);
	q->quota_id = (ProtobufCBinaryData){ 16, f->quota_id };
	q->appliance_key_id = (ProtobufCBinaryData){ 32, f->app_id };
	q->appliance_public_key = (ProtobufCBinaryData){ f->app_spki_len, f->app_spki };
	q->product = "widget-pro";
	for (i = 0; i < 2; i++)
		f->fws[i] = (ProtobufCBinaryData){ 32, f->fw[i] };
	q->firmware_digests = f->fws;
	q->n_firmware_digests = 2;
	q->units = 100;
	q->serial_first = 1000;
	q->serial_last = 1099;
	q->not_before = NOW - 3600;
	q->not_after = NOW + 86400;
	q->issued_at = NOW - 7200;
}

static void
valid_token(struct fx *f, Tally__Token *t)
{
	tally__token__init(t);
	t->log_index = 7;
	t->quota_id = (ProtobufCBinaryData){ 16, f->quota_id };
	t->appliance_key_id = (ProtobufCBinaryData){ 32, f->app_id };
	t->product = "widget-pro";
	t->device_uid = (ProtobufCBinaryData){ 8, f->uid };
	t->serial_number = 1000;
	t->firmware_digest = (ProtobufCBinaryData){ 32, f->fw[1] };
	t->jig_key_id = (ProtobufCBinaryData){ 32, f->jig_id };
	t->issued_at = NOW;
	t->nonce = (ProtobufCBinaryData){ 32, f->nonce };
}

/* Serializes m and signs it as type with key. */
static uint8_t *
seal(EVP_PKEY *key, const char *type, const ProtobufCMessage *m, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1), *env = NULL;

	assert_non_null(buf);
	protobuf_c_message_pack(m, buf);
	assert_int_equal(tally_dsse_sign(key, type, buf, n, &env, len), 0);
	free(buf);
	return env;
}

static uint8_t *
bundle_of(const uint8_t *qe, size_t ql, const uint8_t *te, size_t tl,
    const uint8_t *spki, size_t spki_len, size_t *len)
{
	Tally__TokenBundle b = TALLY__TOKEN_BUNDLE__INIT;
	uint8_t *buf;

	b.quota = (ProtobufCBinaryData){ ql, (uint8_t *)qe };
	b.token = (ProtobufCBinaryData){ tl, (uint8_t *)te };
	b.appliance_public_key = (ProtobufCBinaryData){ spki_len, (uint8_t *)spki };
	*len = tally__token_bundle__get_packed_size(&b);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	tally__token_bundle__pack(&b, buf);
	return buf;
}

/* Each mutation breaks exactly one quota rule. */
static void
mutate_quota(struct fx *f, Tally__Quota *q, int which)
{
	static uint8_t junk[40] = { 0x30, 0x03, 0x01, 0x01, 0x00 };

	switch (which) {
	case 0: q->quota_id.len = 15; break;
	case 1: q->quota_id.len = 0; break;
	case 2: q->appliance_key_id.len = 31; break;
	case 3: q->appliance_public_key = (ProtobufCBinaryData){ f->other_spki_len, f->other_spki }; break;
	case 4: q->appliance_public_key = (ProtobufCBinaryData){ sizeof(junk), junk }; break;
	case 5: q->product = ""; break;
	case 6: q->product = "a-product-name-that-is-longer-than-sixty-four-bytes-long-xxxxxxxx"; break;
	case 7: q->product = "tab\there"; break;
	case 8: q->product = "caf\xc3\xa9"; break;
	case 9: q->n_firmware_digests = 0; break;
	case 10: q->n_firmware_digests = TALLY_FIRMWARE_MAX + 1; break;
	case 11: f->fws[1].len = 31; break;
	case 12: q->units = 0; break;
	case 13: q->units = TALLY_UNITS_MAX + 1; q->serial_first = q->serial_last = 0; break;
	case 14: q->serial_first = 0; q->serial_last = 500; break;
	case 15: q->serial_first = 1100; q->serial_last = 1099; break;
	case 16: q->serial_last = 1098; break;
	case 17: q->not_after = q->not_before; break;
	case 18: q->not_after = q->not_before - 1; break;
	case 19: q->attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED; break;
	case 20: q->attestation = (Tally__AttestationPolicy)2; break;
	case 21: q->attestation_public_keys = f->att; q->n_attestation_public_keys = TALLY_ATT_KEYS_MAX + 1; break;
	case 22: q->attestation_public_keys = f->att; q->n_attestation_public_keys = 1;
		f->att[0] = (ProtobufCBinaryData){ sizeof(junk), junk }; break;
	}
}
#define QUOTA_MUTATIONS 23

static void
test_quota_fields(void **state)
{
	struct fx *f = *state;
	Tally__Quota q, *out = NULL;
	uint8_t *env;
	size_t len;
	int i, j;

	valid_quota(f, &q);
	assert_int_equal(tally_quota_check(&q), 0);
	/* Edge values that are allowed. */
	q.units = TALLY_UNITS_MAX;
	q.serial_first = q.serial_last = 0;
	q.appliance_public_key.len = 0;
	for (j = 0; j < TALLY_FIRMWARE_MAX; j++)
		f->fws[j] = (ProtobufCBinaryData){ 32, f->fw[0] };
	q.n_firmware_digests = TALLY_FIRMWARE_MAX;
	for (j = 0; j < TALLY_ATT_KEYS_MAX; j++)
		f->att[j] = (ProtobufCBinaryData){ f->other_spki_len, f->other_spki };
	q.attestation_public_keys = f->att;
	q.n_attestation_public_keys = TALLY_ATT_KEYS_MAX;
	q.attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
	q.product = "a-product-name-that-is-exactly-sixty-four-bytes-long-xxxxxxxxxxx";
	assert_int_equal(strlen(q.product), 64);
	assert_int_equal(tally_quota_check(&q), 0);
	for (i = 0; i < QUOTA_MUTATIONS; i++) {
		valid_quota(f, &q);
		for (j = 0; j < TALLY_ATT_KEYS_MAX + 1; j++)
			f->att[j] = (ProtobufCBinaryData){ f->other_spki_len, f->other_spki };
		mutate_quota(f, &q, i);
		/* The mutation number shows in a failure message. */
		assert_int_equal(tally_quota_check(&q) * 100 - i, TALLY_ERR_INVALID * 100 - i);
		/* Signed by the right key, it is still refused when opened. */
		if (i == 10 || i == 21)
			continue;	/* arrays longer than the backing storage */
		env = seal(f->oem, TALLY_PT_QUOTA, &q.base, &len);
		assert_int_equal(tally_quota_open(env, len, f->oem, &out), TALLY_ERR_INVALID);
		assert_null(out);
		free(env);
	}
}

static void
test_quota_open(void **state)
{
	struct fx *f = *state;
	Tally__Quota q, *out = NULL;
	Tally__Envelope *e = NULL;
	uint8_t *env, *bad;
	size_t len, i;

	valid_quota(f, &q);
	env = seal(f->oem, TALLY_PT_QUOTA, &q.base, &len);
	assert_int_equal(tally_quota_open(env, len, f->oem, &out), 0);
	assert_string_equal(out->product, "widget-pro");
	assert_int_equal(out->units, 100);
	tally__quota__free_unpacked(out, NULL);
	out = NULL;
	assert_int_equal(tally_quota_open(env, len, f->app, &out), TALLY_ERR_SIGNATURE);
	bad = malloc(len);
	assert_non_null(bad);
	for (i = 0; i < len; i++) {
		memcpy(bad, env, len);
		bad[i] ^= 0x20;
		assert_int_not_equal(tally_quota_open(bad, len, f->oem, &out), 0);
		assert_int_not_equal(tally_quota_open(env, i, f->oem, &out), 0);
	}
	assert_null(out);
	free(bad);
	free(env);
	/* The right signer, the wrong payload type. */
	env = seal(f->oem, TALLY_PT_TOKEN, &q.base, &len);
	assert_int_equal(tally_quota_open(env, len, f->oem, &out), TALLY_ERR_MISMATCH);
	free(env);
	/* Signed bytes that are not a Quota. */
	assert_int_equal(tally_dsse_sign(f->oem, TALLY_PT_QUOTA, (const uint8_t *)"\xff\xff\xff", 3,
	    &env, &len), 0);
	assert_int_equal(tally_quota_open(env, len, f->oem, &out), TALLY_ERR_INVALID);
	assert_int_equal(tally_dsse_open(env, len, TALLY_PT_QUOTA, f->oem, &e), 0);
	tally__envelope__free_unpacked(e, NULL);
	free(env);
	assert_null(out);
}

static void
test_quota_usable(void **state)
{
	struct fx *f = *state;
	Tally__Quota q;
	uint8_t other_id[32], d[32];

	valid_quota(f, &q);
	assert_int_equal(tally_quota_usable(&q, f->app_id, NOW), 0);
	assert_int_equal(tally_quota_usable(&q, f->app_id, q.not_before), 0);
	assert_int_equal(tally_quota_usable(&q, f->app_id, q.not_before - 1), TALLY_ERR_EXPIRED);
	assert_int_equal(tally_quota_usable(&q, f->app_id, q.not_after - 1), 0);
	assert_int_equal(tally_quota_usable(&q, f->app_id, q.not_after), TALLY_ERR_EXPIRED);
	memcpy(other_id, f->app_id, 32);
	other_id[31] ^= 1;
	assert_int_equal(tally_quota_usable(&q, other_id, NOW), TALLY_ERR_MISMATCH);
	assert_int_equal(tally_quota_allows_firmware(&q, f->fw[0]), 1);
	assert_int_equal(tally_quota_allows_firmware(&q, f->fw[1]), 1);
	assert_int_equal(tally_quota_allows_firmware(&q, f->fw[2]), 0);
	memcpy(d, f->fw[0], 32);
	d[0] ^= 1;
	assert_int_equal(tally_quota_allows_firmware(&q, d), 0);
}

static void
test_token_fields(void **state)
{
	struct fx *f = *state;
	static uint8_t big[TALLY_UID_MAX + 1], hash[32];
	Tally__Token t, *out = NULL;
	uint8_t *env;
	size_t len;
	int i;

	valid_token(f, &t);
	assert_int_equal(tally_token_check(&t), 0);
	t.device_uid = (ProtobufCBinaryData){ TALLY_UID_MAX, big };
	assert_int_equal(tally_token_check(&t), 0);
	/* Attestation fields: all or nothing, 32-byte key ID and hash. */
	t.attestation_key_id = (ProtobufCBinaryData){ 32, hash };
	t.boot_key_hash = (ProtobufCBinaryData){ 32, hash };
	t.software_version = 7;
	assert_int_equal(tally_token_check(&t), 0);
	for (i = 0; i < 17; i++) {
		valid_token(f, &t);
		switch (i) {
		case 0: t.quota_id.len = 17; break;
		case 1: t.appliance_key_id.len = 0; break;
		case 2: t.product = ""; break;
		case 3: t.product = "new\nline"; break;
		case 4: t.device_uid.len = 0; break;
		case 5: t.device_uid = (ProtobufCBinaryData){ TALLY_UID_MAX + 1, big }; break;
		case 6: t.firmware_digest.len = 16; break;
		case 7: t.jig_key_id.len = 33; break;
		case 8: t.nonce.len = 31; break;
		case 9: t.nonce.len = 0; break;
		case 10: t.jig_key_id.len = 0; break;
		case 11: t.firmware_digest.len = 0; break;
		case 12: t.software_version = 1; break;
		case 13: t.boot_key_hash = (ProtobufCBinaryData){ 32, hash }; break;
		case 14: t.attestation_key_id = (ProtobufCBinaryData){ 31, hash }; break;
		case 15: t.attestation_key_id = (ProtobufCBinaryData){ 32, hash };
			t.boot_key_hash = (ProtobufCBinaryData){ 33, big }; break;
		case 16: t.attestation_key_id = (ProtobufCBinaryData){ 32, hash }; break;
		}
		assert_int_equal(tally_token_check(&t), TALLY_ERR_INVALID);
		env = seal(f->app, TALLY_PT_TOKEN, &t.base, &len);
		assert_int_equal(tally_token_open(env, len, f->app, &out), TALLY_ERR_INVALID);
		assert_null(out);
		free(env);
	}
	valid_token(f, &t);
	env = seal(f->app, TALLY_PT_TOKEN, &t.base, &len);
	assert_int_equal(tally_token_open(env, len, f->app, &out), 0);
	assert_int_equal(out->log_index, 7);
	tally__token__free_unpacked(out, NULL);
	out = NULL;
	assert_int_equal(tally_token_open(env, len, f->other, &out), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_token_open(env, len, f->oem, &out), TALLY_ERR_SIGNATURE);
	free(env);
}

/* Builds a bundle from q and t, with signer tkey and bundle SPKI spki. */
static int
try_bundle(struct fx *f, Tally__Quota *q, EVP_PKEY *qkey, Tally__Token *t, EVP_PKEY *tkey,
    const uint8_t *spki, size_t spki_len, const uint8_t *uid, size_t uid_len,
    const uint8_t *fw, int64_t now)
{
	uint8_t *qe, *te, *b;
	size_t ql, tl, bl;
	int r;

	(void)f;
	qe = seal(qkey, TALLY_PT_QUOTA, &q->base, &ql);
	te = seal(tkey, TALLY_PT_TOKEN, &t->base, &tl);
	b = bundle_of(qe, ql, te, tl, spki, spki_len, &bl);
	r = tally_bundle_verify(b, bl, f->oem, uid, uid_len, fw, now, NULL);
	free(qe);
	free(te);
	free(b);
	return r;
}

static void
test_bundle_bindings(void **state)
{
	struct fx *f = *state;
	Tally__Quota q;
	Tally__Token t;
	uint8_t uid2[8], fw2[32], id2[32];
	const uint8_t *S = f->app_spki;
	size_t SL = f->app_spki_len;

	valid_quota(f, &q);
	valid_token(f, &t);
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, f->fw[1], NOW), 0);
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, 0), 0);
	/* Wrong UID: one byte, one byte shorter, longer. */
	memcpy(uid2, f->uid, 8);
	uid2[7] ^= 1;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, uid2, 8, NULL, NOW), TALLY_ERR_MISMATCH);
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 7, NULL, NOW), TALLY_ERR_MISMATCH);
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 0, NULL, NOW), TALLY_ERR_INVALID);
	/* Wrong firmware digest asked for, and one the quota does not allow. */
	memcpy(fw2, f->fw[1], 32);
	fw2[0] ^= 1;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, fw2, NOW), TALLY_ERR_MISMATCH);
	t.firmware_digest.data = f->fw[2];
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, f->fw[2], NOW), TALLY_ERR_MISMATCH);
	valid_token(f, &t);
	/* Appliance binding: the bundle carries another appliance's key. */
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->other, f->other_spki, f->other_spki_len,
	    f->uid, 8, NULL, NOW), TALLY_ERR_MISMATCH);
	/* The right SPKI, the token signed by another key. */
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->other, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_SIGNATURE);
	/* Quota not signed by the OEM root. */
	assert_int_equal(try_bundle(f, &q, f->app, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_SIGNATURE);
	/* Token fields that must equal the quota's. */
	t.quota_id.data = f->nonce;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_MISMATCH);
	valid_token(f, &t);
	t.product = "widget-lite";
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_MISMATCH);
	valid_token(f, &t);
	memcpy(id2, f->app_id, 32);
	id2[5] ^= 1;
	t.appliance_key_id.data = id2;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_MISMATCH);
	/* Issued outside the quota's validity: refused only when now != 0. */
	valid_token(f, &t);
	t.issued_at = q.not_after;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_EXPIRED);
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, 0), 0);
	t.issued_at = q.not_before - 1;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_EXPIRED);
	t.issued_at = q.not_before;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), 0);
	/* A quota that fails its field checks. */
	valid_token(f, &t);
	q.units = 0;
	assert_int_equal(try_bundle(f, &q, f->oem, &t, f->app, S, SL, f->uid, 8, NULL, NOW), TALLY_ERR_INVALID);
}

static void
test_bundle_corrupted(void **state)
{
	struct fx *f = *state;
	Tally__Quota q;
	Tally__Token t, *out = NULL;
	uint8_t *qe, *te, *b, *bad;
	size_t ql, tl, bl, i;

	valid_quota(f, &q);
	valid_token(f, &t);
	qe = seal(f->oem, TALLY_PT_QUOTA, &q.base, &ql);
	te = seal(f->app, TALLY_PT_TOKEN, &t.base, &tl);
	b = bundle_of(qe, ql, te, tl, f->app_spki, f->app_spki_len, &bl);
	assert_int_equal(tally_bundle_verify(b, bl, f->oem, f->uid, 8, f->fw[1], NOW, &out), 0);
	assert_non_null(out);
	assert_int_equal(out->serial_number, 1000);
	tally__token__free_unpacked(out, NULL);
	out = NULL;
	bad = malloc(bl);
	assert_non_null(bad);
	for (i = 0; i < bl; i++) {
		memcpy(bad, b, bl);
		bad[i] ^= 0x04;
		assert_int_not_equal(tally_bundle_verify(bad, bl, f->oem, f->uid, 8, NULL, NOW, &out), 0);
		assert_int_not_equal(tally_bundle_verify(b, i, f->oem, f->uid, 8, NULL, NOW, &out), 0);
	}
	assert_null(out);
	assert_int_equal(tally_bundle_verify(b, TALLY_BUNDLE_MAX + 1, f->oem, f->uid, 8, NULL, NOW, &out),
	    TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_bundle_verify((const uint8_t *)"\xff\xff", 2, f->oem, f->uid, 8, NULL,
	    NOW, &out), TALLY_ERR_INVALID);
	/* Quota and token swapped: payload types do not match their slots. */
	free(b);
	b = bundle_of(te, tl, qe, ql, f->app_spki, f->app_spki_len, &bl);
	assert_int_equal(tally_bundle_verify(b, bl, f->oem, f->uid, 8, NULL, NOW, &out), TALLY_ERR_MISMATCH);
	free(bad);
	free(b);
	free(qe);
	free(te);
}

static void
test_report(void **state)
{
	struct fx *f = *state;
	static char reason[TALLY_REASON_MAX + 2];
	Tally__InstallReport r = TALLY__INSTALL_REPORT__INIT, *out = NULL;
	uint8_t *env;
	size_t len;
	int i;

	r.token_log_index = 7;
	r.device_uid = (ProtobufCBinaryData){ 8, f->uid };
	r.result = TALLY__INSTALL_RESULT__INSTALLED;
	r.time = NOW;
	assert_int_equal(tally_report_check(&r), 0);
	memset(reason, 'r', TALLY_REASON_MAX);
	r.result = TALLY__INSTALL_RESULT__FAILED;
	r.reason = reason;
	assert_int_equal(tally_report_check(&r), 0);
	env = seal(f->jig, TALLY_PT_REPORT, &r.base, &len);
	assert_int_equal(tally_report_open(env, len, f->jig, &out), 0);
	assert_int_equal(out->result, TALLY__INSTALL_RESULT__FAILED);
	tally__install_report__free_unpacked(out, NULL);
	out = NULL;
	assert_int_equal(tally_report_open(env, len, f->app, &out), TALLY_ERR_SIGNATURE);
	free(env);
	for (i = 0; i < 5; i++) {
		r.device_uid = (ProtobufCBinaryData){ 8, f->uid };
		r.result = TALLY__INSTALL_RESULT__INSTALLED;
		reason[TALLY_REASON_MAX] = '\0';
		switch (i) {
		case 0: r.result = TALLY__INSTALL_RESULT__INSTALL_RESULT_UNSPECIFIED; break;
		case 1: r.result = (Tally__InstallResult)3; break;
		case 2: r.device_uid.len = 0; break;
		case 3: r.device_uid = (ProtobufCBinaryData){ TALLY_UID_MAX + 1, (uint8_t *)reason }; break;
		case 4: reason[TALLY_REASON_MAX] = 'r'; break;
		}
		assert_int_equal(tally_report_check(&r), TALLY_ERR_INVALID);
		env = seal(f->jig, TALLY_PT_REPORT, &r.base, &len);
		assert_int_equal(tally_report_open(env, len, f->jig, &out), TALLY_ERR_INVALID);
		assert_null(out);
		free(env);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_quota_fields, setup_mixed, teardown),
		cmocka_unit_test_setup_teardown(test_quota_open, setup_mixed, teardown),
		cmocka_unit_test_setup_teardown(test_quota_usable, setup_mixed, teardown),
		cmocka_unit_test_setup_teardown(test_token_fields, setup_mixed, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_bindings, setup_mixed, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_bindings, setup_mixed2, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_corrupted, setup_mixed, teardown),
		cmocka_unit_test_setup_teardown(test_bundle_corrupted, setup_mixed2, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup_mixed, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
