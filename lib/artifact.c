/* artifact.c - checked parsing of quotas, tokens, bundles and install
 * reports (DESIGN.md §3), see artifact.h. */
#include <string.h>
#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "key.h"

/* A string of 1..max printable ASCII characters (0x20..0x7e). */
static int
printable_ok(const char *s, size_t max)
{
	size_t i, len;

	if (s == NULL || (len = strnlen(s, max + 1)) == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int
bytes_len(const ProtobufCBinaryData *b, size_t len)
{
	return b->len == len && (len == 0 || b->data != NULL);
}

static int
bytes_range(const ProtobufCBinaryData *b, size_t min, size_t max)
{
	return b->len >= min && b->len <= max && (b->len == 0 || b->data != NULL);
}

/* A DER SPKI of a supported key; when key_id is given, it must hash to it. */
static int
spki_ok(const ProtobufCBinaryData *b, const uint8_t *key_id)
{
	uint8_t id[TALLY_KEY_ID_LEN];
	EVP_PKEY *k = NULL;

	if (tally_key_from_spki(b->data, b->len, &k) != 0)
		return 0;
	EVP_PKEY_free(k);
	if (key_id == NULL)
		return 1;
	tally_key_id_spki(b->data, b->len, id);
	return memcmp(id, key_id, TALLY_KEY_ID_LEN) == 0;
}

static int
quota_keys_ok(const Tally__Quota *q)
{
	size_t i;

	if (q->appliance_public_key.len > 0 &&
	    !spki_ok(&q->appliance_public_key, q->appliance_key_id.data))
		return 0;
	if (q->n_attestation_public_keys > TALLY_ATT_KEYS_MAX)
		return 0;
	for (i = 0; i < q->n_attestation_public_keys; i++)
		if (!spki_ok(&q->attestation_public_keys[i], NULL))
			return 0;
	if (q->attestation == TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED)
		return q->n_attestation_public_keys > 0;
	return q->attestation == TALLY__ATTESTATION_POLICY__ATTESTATION_NONE;
}

/* No serial range (both 0), or 1 <= first <= last with room for units. */
static int
serials_ok(const Tally__Quota *q)
{
	if (q->serial_first == 0 && q->serial_last == 0)
		return 1;
	return q->serial_first >= 1 && q->serial_first <= q->serial_last &&
	    q->serial_last - q->serial_first >= q->units - 1;
}

int
tally_quota_check(const Tally__Quota *q)
{
	size_t i;

	if (!bytes_len(&q->quota_id, TALLY_QUOTA_ID_LEN) ||
	    !bytes_len(&q->appliance_key_id, TALLY_KEY_ID_LEN) ||
	    !printable_ok(q->product, TALLY_PRODUCT_MAX) ||
	    q->n_firmware_digests < 1 || q->n_firmware_digests > TALLY_FIRMWARE_MAX ||
	    q->units < 1 || q->units > TALLY_UNITS_MAX || !serials_ok(q) ||
	    q->not_before >= q->not_after || !quota_keys_ok(q))
		return TALLY_ERR_INVALID;
	for (i = 0; i < q->n_firmware_digests; i++)
		if (!bytes_len(&q->firmware_digests[i], TALLY_DIGEST_LEN))
			return TALLY_ERR_INVALID;
	return 0;
}

/* The shared path of the *_open functions: the envelope of type pt signed
 * by key, its payload unpacked as desc and accepted by check. *out is
 * freed with protobuf_c_message_free_unpacked (or the type's own
 * free_unpacked). Errors: those of tally_dsse_open, TALLY_ERR_INVALID. */
static int
open_payload(const uint8_t *env, size_t len, const char *pt, EVP_PKEY *key,
    const ProtobufCMessageDescriptor *desc, int (*check)(const void *),
    ProtobufCMessage **out)
{
	Tally__Envelope *e = NULL;
	ProtobufCMessage *m;
	int r;

	if ((r = tally_dsse_open(env, len, pt, key, &e)) != 0)
		return r;
	m = protobuf_c_message_unpack(desc, NULL, e->payload.len, e->payload.data);
	tally__envelope__free_unpacked(e, NULL);
	if (m == NULL || check(m) != 0) {
		if (m != NULL)
			protobuf_c_message_free_unpacked(m, NULL);
		return TALLY_ERR_INVALID;
	}
	*out = m;
	return 0;
}

static int
quota_check_any(const void *m)
{
	return tally_quota_check(m);
}

static int
token_check_any(const void *m)
{
	return tally_token_check(m);
}

static int
report_check_any(const void *m)
{
	return tally_report_check(m);
}

int
tally_quota_open(const uint8_t *env, size_t len, EVP_PKEY *oem_root,
    Tally__Quota **out)
{
	return open_payload(env, len, TALLY_PT_QUOTA, oem_root, &tally__quota__descriptor, quota_check_any,
	    (ProtobufCMessage **)out);
}

int
tally_quota_usable(const Tally__Quota *q, const uint8_t appliance_key_id[32], int64_t now)
{
	if (!bytes_len(&q->appliance_key_id, TALLY_KEY_ID_LEN) ||
	    memcmp(q->appliance_key_id.data, appliance_key_id, TALLY_KEY_ID_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	if (now < q->not_before || now >= q->not_after)
		return TALLY_ERR_EXPIRED;
	return 0;
}

int
tally_quota_allows_firmware(const Tally__Quota *q, const uint8_t d[TALLY_DIGEST_LEN])
{
	size_t i;

	for (i = 0; i < q->n_firmware_digests; i++)
		if (bytes_len(&q->firmware_digests[i], TALLY_DIGEST_LEN) &&
		    memcmp(q->firmware_digests[i].data, d, TALLY_DIGEST_LEN) == 0)
			return 1;
	return 0;
}

int
tally_token_check(const Tally__Token *t)
{
	if (!bytes_len(&t->quota_id, TALLY_QUOTA_ID_LEN) ||
	    !bytes_len(&t->appliance_key_id, TALLY_KEY_ID_LEN) ||
	    !printable_ok(t->product, TALLY_PRODUCT_MAX) ||
	    !bytes_range(&t->device_uid, 1, TALLY_UID_MAX) ||
	    !bytes_len(&t->firmware_digest, TALLY_DIGEST_LEN) ||
	    !bytes_len(&t->jig_key_id, TALLY_KEY_ID_LEN) ||
	    !bytes_len(&t->nonce, TALLY_NONCE_LEN))
		return TALLY_ERR_INVALID;
	/* Attestation fields: all absent, or a key ID and boot key hash. */
	if (t->attestation_key_id.len == 0)
		return t->boot_key_hash.len == 0 && t->software_version == 0 ?
		    0 : TALLY_ERR_INVALID;
	if (!bytes_len(&t->attestation_key_id, TALLY_KEY_ID_LEN) ||
	    !bytes_len(&t->boot_key_hash, TALLY_DIGEST_LEN))
		return TALLY_ERR_INVALID;
	return 0;
}

int
tally_token_open(const uint8_t *env, size_t len, EVP_PKEY *appliance,
    Tally__Token **out)
{
	return open_payload(env, len, TALLY_PT_TOKEN, appliance, &tally__token__descriptor, token_check_any,
	    (ProtobufCMessage **)out);
}

int
tally_report_check(const Tally__InstallReport *r)
{
	if (!bytes_range(&r->device_uid, 1, TALLY_UID_MAX) ||
	    (r->result != TALLY__INSTALL_RESULT__INSTALLED &&
	    r->result != TALLY__INSTALL_RESULT__FAILED) ||
	    (r->reason != NULL && strnlen(r->reason, TALLY_REASON_MAX + 1) > TALLY_REASON_MAX))
		return TALLY_ERR_INVALID;
	return 0;
}

int
tally_report_open(const uint8_t *env, size_t len, EVP_PKEY *jig,
    Tally__InstallReport **out)
{
	return open_payload(env, len, TALLY_PT_REPORT, jig, &tally__install_report__descriptor, report_check_any,
	    (ProtobufCMessage **)out);
}

/* The appliance key of a bundle: an SPKI hashing to the quota's key ID. */
static int
bundle_appliance_key(const Tally__TokenBundle *b, const Tally__Quota *q, EVP_PKEY **out)
{
	uint8_t id[TALLY_KEY_ID_LEN];

	if (b->appliance_public_key.len > TALLY_SPKI_MAX)
		return TALLY_ERR_TOO_LARGE;
	tally_key_id_spki(b->appliance_public_key.data, b->appliance_public_key.len, id);
	if (memcmp(id, q->appliance_key_id.data, TALLY_KEY_ID_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	if (tally_key_from_spki(b->appliance_public_key.data,
	    b->appliance_public_key.len, out) != 0)
		return TALLY_ERR_INVALID;
	return 0;
}

/* Token bound to quota q, uid and (optionally) fw_digest; issued in time. */
static int
bundle_binding(const Tally__Token *t, const Tally__Quota *q, const uint8_t *uid,
    size_t uid_len, const uint8_t *fw_digest, int64_t now)
{
	if (memcmp(t->quota_id.data, q->quota_id.data, TALLY_QUOTA_ID_LEN) != 0 ||
	    memcmp(t->appliance_key_id.data, q->appliance_key_id.data, TALLY_KEY_ID_LEN) != 0 ||
	    strcmp(t->product, q->product) != 0 ||
	    !tally_quota_allows_firmware(q, t->firmware_digest.data))
		return TALLY_ERR_MISMATCH;
	if (t->device_uid.len != uid_len || memcmp(t->device_uid.data, uid, uid_len) != 0)
		return TALLY_ERR_MISMATCH;
	if (fw_digest != NULL &&
	    memcmp(t->firmware_digest.data, fw_digest, TALLY_DIGEST_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	if (now != 0 && (t->issued_at < q->not_before || t->issued_at >= q->not_after))
		return TALLY_ERR_EXPIRED;
	return 0;
}

int
tally_bundle_verify(const uint8_t *bundle, size_t len, EVP_PKEY *oem_root,
    const uint8_t *uid, size_t uid_len, const uint8_t *fw_digest, int64_t now,
    Tally__Token **tok_out)
{
	Tally__TokenBundle *b = NULL;
	Tally__Quota *q = NULL;
	Tally__Token *t = NULL;
	EVP_PKEY *app = NULL;
	int r;

	if (len > TALLY_BUNDLE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (uid == NULL || uid_len == 0 || uid_len > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	if ((b = tally__token_bundle__unpack(NULL, len, bundle)) == NULL)
		return TALLY_ERR_INVALID;
	if ((r = tally_quota_open(b->quota.data, b->quota.len, oem_root, &q)) != 0 ||
	    (r = bundle_appliance_key(b, q, &app)) != 0 ||
	    (r = tally_token_open(b->token.data, b->token.len, app, &t)) != 0 ||
	    (r = bundle_binding(t, q, uid, uid_len, fw_digest, now)) != 0)
		goto out;
	if (tok_out != NULL) {
		*tok_out = t;
		t = NULL;
	}
 out:
	if (t != NULL)
		tally__token__free_unpacked(t, NULL);
	if (q != NULL)
		tally__quota__free_unpacked(q, NULL);
	EVP_PKEY_free(app);
	tally__token_bundle__free_unpacked(b, NULL);
	return r;
}
