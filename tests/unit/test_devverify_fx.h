/*
 * test_devverify_fx.h - the fixture the test_devverify*.c tests share
 * (each is its own binary; this header is included once per binary):
 * real OpenSSL keys, a Quota (fx_quota_init of fx_core.h) and a Token as
 * protobuf-c messages the tests edit, signed into DSSE envelopes with
 * tally_dsse_sign and packed into a TokenBundle; the device verifier with
 * the OpenSSL back-end, and the host verifier tally_bundle_verify on the
 * same bytes.
 */
#ifndef TEST_DEVVERIFY_FX_H
#define TEST_DEVVERIFY_FX_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "artifact.h"
#include "devverify.h"
#include "dsse.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "tests/harness/fx_core.h"

#define UID "STR-0001"
#define PRODUCT "widget"
#define NFW 17              /* one more than a quota may name */
#define FX_UNUSED __attribute__((unused))

struct blob {
	uint8_t *p;
	size_t n;
};

struct dfx {
	EVP_PKEY *oem, *app, *other;
	uint8_t *oem_spki, *app_spki;
	size_t oem_spki_len, app_spki_len;
	uint8_t oem_id[32];
	struct fx kf;             /* fx_quota_init reads kf.key_id (appliance key ID) */
	uint8_t qid[16], jig[32], nonce[32];
	uint8_t fw[NFW][33];      /* fw[0] is the token's digest */
	ProtobufCBinaryData fws[NFW];
	Tally__Quota q;
	Tally__Token t;
	int64_t now;
	struct tdv_crypto c;
	struct tdv_params p;
	uint8_t scratch[TDV_PAYLOAD_MAX + 256];
	uint8_t work[TDV_WORK_MIN];
};

/* The quota, token and parameters of a good bundle: quota valid from
 * now-60 to now+3600 for PRODUCT with one firmware digest fw[0], token
 * for UID issued at now, device clock at now. */
static FX_UNUSED void
dfx_reset(struct dfx *f)
{
	size_t i;

	f->now = tally_now();
	fx_quota_init(&f->kf, &f->q, f->qid, PRODUCT, 100);
	for (i = 0; i < NFW; i++) {
		memset(f->fw[i], 0x10 + (int)i, sizeof(f->fw[i]));
		f->fws[i] = (ProtobufCBinaryData){ 32, f->fw[i] };
	}
	f->q.firmware_digests = f->fws;
	f->q.n_firmware_digests = 1;
	f->q.not_before = f->now - 60;
	f->q.not_after = f->now + 3600;
	tally__token__init(&f->t);
	f->t.log_index = 4242;
	f->t.quota_id = f->q.quota_id;
	f->t.appliance_key_id = f->q.appliance_key_id;
	f->t.product = PRODUCT;
	f->t.device_uid = (ProtobufCBinaryData){ strlen(UID), (uint8_t *)UID };
	f->t.serial_number = 1001;
	f->t.firmware_digest = f->fws[0];
	f->t.jig_key_id = (ProtobufCBinaryData){ 32, f->jig };
	f->t.issued_at = f->now;
	f->t.nonce = (ProtobufCBinaryData){ 32, f->nonce };
	tdv_crypto_openssl(&f->c);
	f->p = (struct tdv_params){ .crypto = &f->c, .oem_root_spki = f->oem_spki,
	    .oem_root_spki_len = f->oem_spki_len, .uid = (const uint8_t *)UID,
	    .uid_len = strlen(UID), .product = PRODUCT, .now = f->now,
	    .work = f->work, .work_len = sizeof(f->work) };
}

static FX_UNUSED struct dfx *
dfx_new(enum tally_key_type oem_type, enum tally_key_type app_type)
{
	struct dfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tally_key_generate(oem_type, &f->oem), 0);
	assert_int_equal(tally_key_generate(app_type, &f->app), 0);
	assert_int_equal(tally_key_generate(app_type, &f->other), 0);
	assert_int_equal(tally_key_spki(f->oem, &f->oem_spki, &f->oem_spki_len), 0);
	assert_int_equal(tally_key_spki(f->app, &f->app_spki, &f->app_spki_len), 0);
	assert_int_equal(tally_key_id(f->oem, f->oem_id), 0);
	assert_int_equal(tally_key_id(f->app, f->kf.key_id), 0);
	assert_int_equal(RAND_bytes(f->jig, sizeof(f->jig)), 1);
	assert_int_equal(RAND_bytes(f->nonce, sizeof(f->nonce)), 1);
	dfx_reset(f);
	return f;
}

static FX_UNUSED void
dfx_free(struct dfx *f)
{
	if (f == NULL)
		return;
	EVP_PKEY_free(f->oem);
	EVP_PKEY_free(f->app);
	EVP_PKEY_free(f->other);
	OPENSSL_free(f->oem_spki);
	OPENSSL_free(f->app_spki);
	free(f);
}

/* cmocka setups: *state is a dfx with an OEM root of one type and an
 * appliance key of the other (P-256/Ed25519 or Ed25519/P-256). */
static FX_UNUSED int
dfx_setup_p256_ed(void **state)
{
	*state = dfx_new(TALLY_KEY_P256, TALLY_KEY_ED25519);
	return 0;
}

static FX_UNUSED int
dfx_setup_ed_p256(void **state)
{
	*state = dfx_new(TALLY_KEY_ED25519, TALLY_KEY_P256);
	return 0;
}

static FX_UNUSED int
dfx_teardown(void **state)
{
	dfx_free(*state);
	return 0;
}

/* Test t once with each pair of key types. */
#define DFX_BOTH(t) \
	cmocka_unit_test_setup_teardown(t, dfx_setup_p256_ed, dfx_teardown), \
	cmocka_unit_test_setup_teardown(t, dfx_setup_ed_p256, dfx_teardown)

static FX_UNUSED struct blob
pack_msg(const ProtobufCMessage *m)
{
	struct blob b;

	b.n = protobuf_c_message_get_packed_size(m);
	assert_non_null(b.p = malloc(b.n + 1));
	assert_int_equal(protobuf_c_message_pack(m, b.p), b.n);
	return b;
}

/* payload (taken over) signed by k as a DSSE envelope of type pt. */
static FX_UNUSED struct blob
sign_blob(EVP_PKEY *k, const char *pt, struct blob payload)
{
	struct blob e;

	assert_int_equal(tally_dsse_sign(k, pt, payload.p, payload.n, &e.p, &e.n), 0);
	free(payload.p);
	return e;
}

static FX_UNUSED struct blob
quota_env(struct dfx *f)
{
	return sign_blob(f->oem, TALLY_PT_QUOTA, pack_msg(&f->q.base));
}

static FX_UNUSED struct blob
token_env(struct dfx *f)
{
	return sign_blob(f->app, TALLY_PT_TOKEN, pack_msg(&f->t.base));
}

/* A TokenBundle of qe and te (both taken over) and spki. */
static FX_UNUSED struct blob
bundle_of(struct blob qe, struct blob te, const uint8_t *spki, size_t spki_len)
{
	Tally__TokenBundle b = TALLY__TOKEN_BUNDLE__INIT;
	struct blob out;

	b.quota = (ProtobufCBinaryData){ qe.n, qe.p };
	b.token = (ProtobufCBinaryData){ te.n, te.p };
	b.appliance_public_key = (ProtobufCBinaryData){ spki_len, (uint8_t *)spki };
	out = pack_msg(&b.base);
	free(qe.p);
	free(te.p);
	return out;
}

/* A TokenBundle of qe and te (both taken over) and f's appliance key. */
static FX_UNUSED struct blob
app_bundle(struct dfx *f, struct blob qe, struct blob te)
{
	return bundle_of(qe, te, f->app_spki, f->app_spki_len);
}

/* The bundle of f's quota and token as they are now. */
static FX_UNUSED struct blob
build(struct dfx *f)
{
	return app_bundle(f, quota_env(f), token_env(f));
}

/* The host verifier on b, for UID at f->now: 0 or a tally_err. */
static FX_UNUSED int
host(struct dfx *f, struct blob b)
{
	return tally_bundle_verify(b.p, b.n, f->oem, (const uint8_t *)UID,
	    strlen(UID), NULL, f->now, NULL);
}

/* The device verifier gives want on b (what names the case); *out stays
 * zeroed on refusal; with xcheck, the host verifier accepts exactly when
 * the device verifier does. Frees b. */
static FX_UNUSED void
expect(struct dfx *f, struct blob b, enum tdv_result want, int xcheck,
    const char *what)
{
	static const struct tdv_token zero;
	struct tdv_token out;
	enum tdv_result r;
	int h;

	memset(&out, 0xa5, sizeof(out));
	r = tdv_verify_bundle(&f->p, b.p, b.n, &out);
	if (r != want)
		fail_msg("%s: got \"%s\", want \"%s\"", what, tdv_result_name(r),
		    tdv_result_name(want));
	if (r != TDV_OK && memcmp(&out, &zero, sizeof(out)) != 0)
		fail_msg("%s: token not zeroed on refusal", what);
	if (xcheck && ((h = host(f, b)) == 0) != (r == TDV_OK))
		fail_msg("%s: host verifier disagrees (%s)", what, tally_strerror(h));
	free(b.p);
}

#endif
