/* test_devverify_fields.c - the device-side verifier (lib/devverify.h) on
 * every field of the Quota and of the Token changed, the payload signed
 * again by its real signer so that the semantic check is what answers:
 * sizes, values bound to the quota, UID, firmware digests, validity, and
 * the fields the verifier does not use (tolerated). The host verifier
 * tally_bundle_verify must agree wherever it checks the same thing. */
#include "tests/unit/test_devverify_fx.h"

enum fop {
	F_BYTES,  /* bytes field := arg bytes of 0xee */
	F_TRUNC,  /* bytes field loses its last arg bytes */
	F_STR,    /* string field := str */
	F_TIME,   /* 64-bit field := now + arg */
	F_ABS,    /* 64-bit field := arg */
	F_U32,    /* 32-bit field (enum, uint32) := arg */
	F_FW,     /* firmware digest lists: case arg of fw_case */
};

struct fmut {
	const char *name;
	char msg;          /* 'q' quota, 't' token */
	size_t off;        /* offsetof the field in Tally__Quota / Tally__Token */
	enum fop op;
	int64_t arg;
	const char *str;
	enum tdv_result want;
	int xcheck;        /* the host verifier agrees */
};

#define Q(m) 'q', offsetof(Tally__Quota, m)
#define T(m) 't', offsetof(Tally__Token, m)
#define L65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct fmut quota_muts[] = {
	{ "quota_id empty", Q(quota_id), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "quota_id 15 bytes", Q(quota_id), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "quota_id 17 bytes", Q(quota_id), F_BYTES, 17, NULL, TDV_MALFORMED, 1 },
	{ "quota_id other", Q(quota_id), F_BYTES, 16, NULL, TDV_WRONG_QUOTA, 1 },
	{ "appliance_key_id empty", Q(appliance_key_id), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "appliance_key_id 31 bytes", Q(appliance_key_id), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "appliance_key_id 33 bytes", Q(appliance_key_id), F_BYTES, 33, NULL, TDV_MALFORMED, 1 },
	{ "appliance_key_id other", Q(appliance_key_id), F_BYTES, 32, NULL, TDV_KEY_MISMATCH, 1 },
	{ "appliance_public_key junk (unused)", Q(appliance_public_key), F_BYTES, 91, NULL, TDV_OK, 0 },
	{ "product empty", Q(product), F_STR, 0, "", TDV_MALFORMED, 1 },
	{ "product 65 characters", Q(product), F_STR, 0, L65, TDV_MALFORMED, 1 },
	{ "product with a control character", Q(product), F_STR, 0, "wid\nget", TDV_MALFORMED, 1 },
	{ "product not ASCII", Q(product), F_STR, 0, "widg\xc3\xa9t", TDV_MALFORMED, 1 },
	{ "product other", Q(product), F_STR, 0, "widgeT", TDV_WRONG_QUOTA, 1 },
	{ "no firmware digest", Q(firmware_digests), F_FW, 0, NULL, TDV_MALFORMED, 1 },
	{ "17 firmware digests", Q(firmware_digests), F_FW, 1, NULL, TDV_MALFORMED, 1 },
	{ "16 digests, token's last", Q(firmware_digests), F_FW, 2, NULL, TDV_OK, 1 },
	{ "only another digest", Q(firmware_digests), F_FW, 3, NULL, TDV_FIRMWARE_NOT_ALLOWED, 1 },
	{ "token's digest second", Q(firmware_digests), F_FW, 4, NULL, TDV_OK, 1 },
	{ "digest of 31 bytes", Q(firmware_digests), F_FW, 5, NULL, TDV_MALFORMED, 1 },
	{ "second digest of 33 bytes", Q(firmware_digests), F_FW, 6, NULL, TDV_MALFORMED, 1 },
	{ "token's digest twice", Q(firmware_digests), F_FW, 7, NULL, TDV_OK, 1 },
	{ "units 0 (unused)", Q(units), F_ABS, 0, NULL, TDV_OK, 0 },
	{ "units 2^33 (unused)", Q(units), F_ABS, INT64_C(1) << 33, NULL, TDV_OK, 0 },
	{ "serial_first 9, last 0 (unused)", Q(serial_first), F_ABS, 9, NULL, TDV_OK, 0 },
	{ "max_unreconciled 7", Q(max_unreconciled), F_ABS, 7, NULL, TDV_OK, 1 },
	{ "scrap_allowance 3", Q(scrap_allowance), F_ABS, 3, NULL, TDV_OK, 1 },
	{ "issued_at in a day", Q(issued_at), F_TIME, 86400, NULL, TDV_OK, 1 },
	{ "attestation required, no keys (unused)", Q(attestation), F_U32, 1, NULL, TDV_OK, 0 },
	{ "attestation required with a key", Q(attestation), F_FW, 8, NULL, TDV_OK, 1 },
	{ "not_before after issued_at", Q(not_before), F_TIME, 1, NULL, TDV_EXPIRED, 1 },
	{ "not_before = issued_at", Q(not_before), F_TIME, 0, NULL, TDV_OK, 1 },
	{ "not_before after not_after", Q(not_before), F_TIME, 7200, NULL, TDV_EXPIRED, 1 },
	{ "not_before INT64_MIN", Q(not_before), F_ABS, INT64_MIN, NULL, TDV_OK, 1 },
	{ "not_after = issued_at", Q(not_after), F_TIME, 0, NULL, TDV_EXPIRED, 1 },
	{ "not_after = issued_at + 1", Q(not_after), F_TIME, 1, NULL, TDV_OK, 1 },
	{ "not_after INT64_MAX", Q(not_after), F_ABS, INT64_MAX, NULL, TDV_OK, 1 },
	{ "not_after negative", Q(not_after), F_ABS, -1, NULL, TDV_EXPIRED, 1 },
};

static const struct fmut token_muts[] = {
	{ "log_index 0", T(log_index), F_ABS, 0, NULL, TDV_OK, 1 },
	{ "quota_id empty", T(quota_id), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "quota_id 15 bytes", T(quota_id), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "quota_id 17 bytes", T(quota_id), F_BYTES, 17, NULL, TDV_MALFORMED, 1 },
	{ "quota_id other", T(quota_id), F_BYTES, 16, NULL, TDV_WRONG_QUOTA, 1 },
	{ "appliance_key_id empty", T(appliance_key_id), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "appliance_key_id 31 bytes", T(appliance_key_id), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "appliance_key_id other", T(appliance_key_id), F_BYTES, 32, NULL, TDV_WRONG_QUOTA, 1 },
	{ "product empty", T(product), F_STR, 0, "", TDV_MALFORMED, 1 },
	{ "product 65 characters", T(product), F_STR, 0, L65, TDV_MALFORMED, 1 },
	{ "product with DEL", T(product), F_STR, 0, "widget\x7f", TDV_MALFORMED, 1 },
	{ "product other", T(product), F_STR, 0, "gadget", TDV_WRONG_QUOTA, 1 },
	{ "device_uid empty", T(device_uid), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "device_uid 65 bytes", T(device_uid), F_BYTES, 65, NULL, TDV_MALFORMED, 1 },
	{ "device_uid other", T(device_uid), F_BYTES, 8, NULL, TDV_WRONG_DEVICE, 1 },
	{ "device_uid a prefix", T(device_uid), F_TRUNC, 1, NULL, TDV_WRONG_DEVICE, 1 },
	{ "serial_number 0", T(serial_number), F_ABS, 0, NULL, TDV_OK, 1 },
	{ "serial_number 2^63-1", T(serial_number), F_ABS, INT64_MAX, NULL, TDV_OK, 1 },
	{ "firmware_digest empty", T(firmware_digest), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "firmware_digest 31 bytes", T(firmware_digest), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "firmware_digest 33 bytes", T(firmware_digest), F_BYTES, 33, NULL, TDV_MALFORMED, 1 },
	{ "firmware_digest other", T(firmware_digest), F_BYTES, 32, NULL, TDV_FIRMWARE_NOT_ALLOWED, 1 },
	{ "jig_key_id empty", T(jig_key_id), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "jig_key_id 31 bytes", T(jig_key_id), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "issued_at before not_before", T(issued_at), F_TIME, -61, NULL, TDV_EXPIRED, 1 },
	{ "issued_at = not_before", T(issued_at), F_TIME, -60, NULL, TDV_OK, 1 },
	{ "issued_at = not_after", T(issued_at), F_TIME, 3600, NULL, TDV_EXPIRED, 1 },
	{ "issued_at = not_after - 1", T(issued_at), F_TIME, 3599, NULL, TDV_OK, 1 },
	{ "issued_at negative", T(issued_at), F_ABS, -1, NULL, TDV_EXPIRED, 1 },
	{ "nonce empty", T(nonce), F_BYTES, 0, NULL, TDV_MALFORMED, 1 },
	{ "nonce 31 bytes", T(nonce), F_TRUNC, 1, NULL, TDV_MALFORMED, 1 },
	{ "nonce 33 bytes", T(nonce), F_BYTES, 33, NULL, TDV_MALFORMED, 1 },
	/* The device verifier ignores the attestation fields; the host's
	 * tally_token_check wants them all absent or key ID and boot key hash
	 * together. */
	{ "attestation_key_id alone", T(attestation_key_id), F_BYTES, 32, NULL, TDV_OK, 0 },
	{ "boot_key_hash alone", T(boot_key_hash), F_BYTES, 32, NULL, TDV_OK, 0 },
	{ "software_version alone", T(software_version), F_U32, 7, NULL, TDV_OK, 0 },
	{ "attestation fields together", T(attestation_key_id), F_FW, 9, NULL, TDV_OK, 1 },
};

/* Firmware digest lists, attestation keys and the token's attestation
 * fields; the token names fw[0] unless said otherwise. */
static void
fw_case(struct dfx *f, int64_t c)
{
	switch (c) {
	case 0: f->q.n_firmware_digests = 0; break;
	case 1: f->q.n_firmware_digests = 17; break;
	case 2: f->q.firmware_digests = f->fws + 1; f->q.n_firmware_digests = 16;
		f->t.firmware_digest = f->fws[16]; break;
	case 3: f->q.firmware_digests = f->fws + 1; break;
	case 4: f->q.n_firmware_digests = 2; f->t.firmware_digest = f->fws[1]; break;
	case 5: f->fws[0].len = 31; break;
	case 6: f->q.n_firmware_digests = 2; f->fws[1].len = 33; break;
	case 7: f->q.n_firmware_digests = 2; f->fws[1] = f->fws[0]; break;
	case 8:
		f->q.attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
		f->q.n_attestation_public_keys = 1;
		f->q.attestation_public_keys = f->fws + 16;   /* reused as a key holder */
		f->fws[16] = (ProtobufCBinaryData){ f->app_spki_len, f->app_spki };
		break;
	case 9:
		f->t.attestation_key_id = f->fws[1];
		f->t.boot_key_hash = f->fws[2];
		f->t.software_version = 7;
		break;
	default: fail();
	}
}

static void
apply(struct dfx *f, const struct fmut *m)
{
	uint8_t *field = (m->msg == 'q' ? (uint8_t *)&f->q : (uint8_t *)&f->t) + m->off;
	ProtobufCBinaryData *b = (ProtobufCBinaryData *)(void *)field;
	int64_t v = m->op == F_TIME ? f->now + m->arg : m->arg;
	uint32_t v32 = (uint32_t)m->arg;

	switch (m->op) {
	case F_BYTES:
		memset(f->scratch, 0xee, (size_t)m->arg);
		*b = (ProtobufCBinaryData){ (size_t)m->arg, f->scratch };
		break;
	case F_TRUNC: b->len -= (size_t)m->arg; break;
	case F_STR: memcpy(field, &m->str, sizeof(m->str)); break;
	case F_TIME:
	case F_ABS: memcpy(field, &v, sizeof(v)); break;
	case F_U32: memcpy(field, &v32, sizeof(v32)); break;
	case F_FW: fw_case(f, m->arg); break;
	}
}

static void
run(struct dfx *f, const struct fmut *m, size_t n, const char *msg)
{
	char what[128];
	size_t i;

	for (i = 0; i < n; i++) {
		dfx_reset(f);
		apply(f, &m[i]);
		snprintf(what, sizeof(what), "%s: %s", msg, m[i].name);
		expect(f, build(f), m[i].want, m[i].xcheck, what);
	}
}

static void
test_quota_fields(void **state)
{
	run(*state, quota_muts, sizeof(quota_muts) / sizeof(quota_muts[0]), "quota");
}

static void
test_token_fields(void **state)
{
	run(*state, token_muts, sizeof(token_muts) / sizeof(token_muts[0]), "token");
}

/* Both products changed together: the device's own product decides. */
static void
test_products(void **state)
{
	struct dfx *f = *state;
	const char *p64 = L65 + 1;

	f->q.product = f->t.product = "gadget";
	expect(f, build(f), TDV_WRONG_DEVICE, 0, "quota and token for a gadget");
	f->p.product = NULL;
	expect(f, build(f), TDV_OK, 1, "gadget, product not checked");
	f->p.product = "gadget";
	expect(f, build(f), TDV_OK, 1, "gadget on a gadget");
	f->q.product = f->t.product = (char *)p64;
	f->p.product = p64;
	expect(f, build(f), TDV_OK, 1, "64-character product");
}

/* What an accepted token says comes from the token. */
static void
test_token_out(void **state)
{
	struct dfx *f = *state;
	struct tdv_token out;
	struct blob b;

	f->t.log_index = UINT64_MAX;
	f->t.serial_number = 0;
	f->t.issued_at = f->q.not_before;
	b = build(f);
	assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, &out), TDV_OK);
	assert_true(out.log_index == UINT64_MAX);
	assert_int_equal(out.serial_number, 0);
	assert_int_equal(out.issued_at, f->q.not_before);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DFX_BOTH(test_quota_fields),
		DFX_BOTH(test_token_fields),
		DFX_BOTH(test_products),
		DFX_BOTH(test_token_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
