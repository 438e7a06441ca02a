/* test_dutmodel.c - the DUT model (jig-firmware/dutmodel.h), vendor side
 * (docs/dut-protocol.md §3): identity and status records, challenge and
 * attestation checked with lib/attest, the bundle transfer rules and the
 * verdicts of real bundles, the tdv_result -> verdict mapping, the faults
 * that change who the chip says it is, and fault parsing. DFU and the
 * link faults: test_dutmodel_dfu.c. */
#include "tests/unit/test_dutmodel_fx.h"

#define UID65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void
test_identity_record(void **state)
{
	struct t *t = *state;
	uint8_t b[TDP_IDENTITY_MAX], want[5 + 8 + 6] = { TDP_VERSION, 0, 0, 8 };
	size_t n;

	model(t, NULL, NULL);
	memcpy(want + 4, UID, 8);
	want[12] = 6;
	memcpy(want + 13, PRODUCT, 6);
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, sizeof(b), &n), DM_ACK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	/* A shorter wLength gets the first wLength bytes (USB 2.0 §9.3.5). */
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, 3, &n), DM_ACK);
	assert_int_equal(n, 3);
	/* With an attestation key, flag bit 0. */
	model(t, t->att, NULL);
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, sizeof(b), &n), DM_ACK);
	assert_int_equal(b[2], TDP_FLAG_ATTESTATION);
	status(t, JIG_DUT_NO_TOKEN, JIG_DUT_BLANK);
}

/* Requests off the table STALL and change nothing. */
static void
test_stalls(void **state)
{
	struct t *t = *state;
	uint8_t b[TDP_IDENTITY_MAX] = { 0 };

	model(t, NULL, NULL);
	assert_int_equal(ctl(t, TDP_RT_VENDOR_IN, TDP_GET_IDENTITY, 1, 0, b, 133, NULL), DM_STALL);
	assert_int_equal(ctl(t, TDP_RT_VENDOR_IN, TDP_GET_IDENTITY, 0, 1, b, 133, NULL), DM_STALL);
	assert_int_equal(ctl(t, TDP_RT_VENDOR_OUT, TDP_GET_IDENTITY, 0, 0, b, 0, NULL), DM_STALL);
	assert_int_equal(ctl(t, TDP_RT_VENDOR_IN, 0x42, 0, 0, b, 4, NULL), DM_STALL);
	assert_int_equal(ctl(t, 0xc0, TDP_GET_IDENTITY, 0, 0, b, 133, NULL), DM_STALL);   /* device recipient */
	assert_int_equal(ctl(t, 0x80, 6, 0x0100, 0, b, 18, NULL), DM_STALL);              /* standard: not the model's */
	assert_int_equal(ctl(t, TDP_RT_VENDOR_IN, TDP_GET_STATUS, 0, 0, b, 4, NULL), DM_ACK);
	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, b, 31), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 0, NULL, 0), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, TALLY_BUNDLE_MAX + 1, NULL, 0), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 10, b, 1), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, 10), DM_STALL);   /* no BEGIN */
	assert_int_equal(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0), DM_STALL);
	status(t, JIG_DUT_NO_TOKEN, JIG_DUT_BLANK);
}

static void
test_attestation(void **state)
{
	struct t *t = *state;
	uint8_t nonce[TALLY_NONCE_LEN], rec[TALLY_ATTESTATION_MAX], again[TALLY_ATTESTATION_MAX];
	ProtobufCBinaryData trusted;
	struct tally_attestation a;
	size_t n, n2, which = 9;

	model(t, NULL, NULL);
	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, nonce, 32), DM_ACK);
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, rec, sizeof(rec), &n), DM_STALL);
	model(t, t->att, NULL);
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, rec, sizeof(rec), &n), DM_STALL);
	assert_int_equal(RAND_bytes(nonce, sizeof(nonce)), 1);
	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, nonce, 32), DM_ACK);
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, rec, sizeof(rec), &n), DM_ACK);
	assert_int_equal(tally_attestation_parse(rec, n, &a), 0);
	assert_int_equal(a.software_version, 7);
	assert_int_equal(a.boot_key_hash[0], 0xbb);
	assert_int_equal(tally_key_spki(t->att, &trusted.data, &trusted.len), 0);
	assert_int_equal(tally_attestation_verify(&a, nonce, (const uint8_t *)UID,
	    strlen(UID), &trusted, 1, &which), 0);
	/* Signed once per challenge: the same bytes again. */
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, again, sizeof(again), &n2), DM_ACK);
	assert_int_equal(n2, n);
	assert_memory_equal(again, rec, n);
	/* A new challenge, a new record. */
	nonce[0] ^= 1;
	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, nonce, 32), DM_ACK);
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, rec, sizeof(rec), &n), DM_ACK);
	assert_int_equal(tally_attestation_parse(rec, n, &a), 0);
	assert_memory_equal(a.nonce, nonce, sizeof(nonce));
	OPENSSL_free(trusted.data);
}

static void
test_bundle_verdicts(void **state)
{
	struct t *t = *state;
	struct dutmodel_report r;
	struct blob junk = { malloc(64), 64 };

	assert_non_null(junk.p);
	memset(junk.p, 0xa5, junk.n);
	model(t, NULL, NULL);
	assert_int_equal(send_bundle(t, bundle_for(t, UID)), JIG_DUT_OK);
	status(t, JIG_DUT_OK, JIG_DUT_TOKEN_ACCEPTED);
	dutmodel_report(t->m, &r);
	assert_int_equal(r.token_index, 4242);
	assert_int_equal(r.bundle_verdict, JIG_DUT_OK);
	assert_int_equal(send_bundle(t, bundle_for(t, "STR-0002")), JIG_DUT_WRONG_DEVICE);
	status(t, JIG_DUT_WRONG_DEVICE, JIG_DUT_REJECTED);
	dutmodel_report(t->m, &r);
	assert_false(r.has_token);              /* a refusal takes the token away */
	t->f->t.device_uid = (ProtobufCBinaryData){ strlen(UID), (uint8_t *)UID };
	assert_int_equal(send_bundle(t, app_bundle(t->f, quota_env(t->f),
	    sign_blob(t->f->other, TALLY_PT_TOKEN, pack_msg(&t->f->t.base)))),
	    JIG_DUT_BAD_SIGNATURE);
	assert_int_equal(send_bundle(t, junk), JIG_DUT_MALFORMED);
	t->f->t.issued_at = t->f->q.not_after + 10;
	assert_int_equal(send_bundle(t, build(t->f)), JIG_DUT_EXPIRED);
	dfx_reset(t->f);
	memset(t->f->fw[1], 0x77, 32);
	t->f->t.firmware_digest = t->f->fws[1];
	assert_int_equal(send_bundle(t, build(t->f)), JIG_DUT_WRONG_FIRMWARE);
}

/* Block rules: in order, exact lengths, VERIFY only when complete, once. */
static void
test_bundle_blocks(void **state)
{
	struct t *t = *state;
	uint8_t b[TDP_BLOCK];

	model(t, NULL, NULL);
	memset(b, 0x5a, sizeof(b));
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 2 * TDP_BLOCK + 10, NULL, 0), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 1, b, TDP_BLOCK), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, 100), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, TDP_BLOCK), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 1, b, TDP_BLOCK), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 2, b, 11), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 2, b, 10), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 3, b, 1), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0), DM_ACK);
	status(t, JIG_DUT_MALFORMED, JIG_DUT_REJECTED);
	assert_int_equal(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0), DM_STALL);
	/* BEGIN discards a partial transfer. */
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 20, NULL, 0), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 10, NULL, 0), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, 20), DM_STALL);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, 10), DM_ACK);
}

static void
test_verdict_mapping(void **state)
{
	static const struct { enum tdv_result r; enum jig_dut_verdict v; } map[] = {
		{ TDV_OK, JIG_DUT_OK }, { TDV_TOO_LARGE, JIG_DUT_MALFORMED },
		{ TDV_MALFORMED, JIG_DUT_MALFORMED }, { TDV_BAD_TYPE, JIG_DUT_MALFORMED },
		{ TDV_BAD_SIGNATURE, JIG_DUT_BAD_SIGNATURE },
		{ TDV_KEY_MISMATCH, JIG_DUT_BAD_SIGNATURE },
		{ TDV_WRONG_QUOTA, JIG_DUT_WRONG_DEVICE },
		{ TDV_WRONG_DEVICE, JIG_DUT_WRONG_DEVICE },
		{ TDV_FIRMWARE_NOT_ALLOWED, JIG_DUT_WRONG_FIRMWARE },
		{ TDV_EXPIRED, JIG_DUT_EXPIRED }, { TDV_BAD_PARAMS, JIG_DUT_MALFORMED },
		{ TDV_CRYPTO, JIG_DUT_BAD_SIGNATURE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_int_equal(dutmodel_verdict_of(map[i].r), map[i].v);
}

/* The attestation record's UID and whether the trusted key signed it. */
static void
attest_check(struct t *t, const char *uid, int trusted_key)
{
	uint8_t nonce[32] = { 3 }, rec[TALLY_ATTESTATION_MAX];
	ProtobufCBinaryData k;
	struct tally_attestation a;
	size_t n;

	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, nonce, 32), DM_ACK);
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, rec, sizeof(rec), &n), DM_ACK);
	assert_int_equal(tally_attestation_parse(rec, n, &a), 0);
	assert_int_equal(a.uid_len, strlen(uid));
	assert_memory_equal(a.uid, uid, a.uid_len);
	assert_int_equal(tally_key_spki(t->att, &k.data, &k.len), 0);
	assert_int_equal(tally_attestation_verify(&a, nonce, (const uint8_t *)uid,
	    strlen(uid), &k, 1, NULL), trusted_key ? 0 : TALLY_ERR_NOT_FOUND);
	OPENSSL_free(k.data);
}

static void
presented(struct t *t, const char *uid)
{
	uint8_t b[TDP_IDENTITY_MAX];
	size_t n;

	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, sizeof(b), &n), DM_ACK);
	assert_int_equal(b[3], strlen(uid));
	assert_memory_equal(b + 4, uid, strlen(uid));
}

static void
test_identity_faults(void **state)
{
	struct t *t = *state;
	struct dutmodel_report r;

	model(t, t->att, "wrong-attestation-key");
	presented(t, UID);
	attest_check(t, UID, 0);
	/* A clone: another DUT's UID everywhere, its own key. */
	model(t, t->att, "clone=STR-0009");
	presented(t, "STR-0009");
	attest_check(t, "STR-0009", 0);
	assert_int_equal(send_bundle(t, bundle_for(t, "STR-0009")), JIG_DUT_OK);
	dutmodel_report(t->m, &r);
	assert_true(r.fault_fired);
	/* Misreported UID: says X, its verifier knows better. */
	model(t, t->att, "misreport-uid=STR-0009");
	presented(t, "STR-0009");
	attest_check(t, "STR-0009", 1);
	assert_int_equal(send_bundle(t, bundle_for(t, "STR-0009")), JIG_DUT_WRONG_DEVICE);
	assert_int_equal(send_bundle(t, bundle_for(t, UID)), JIG_DUT_OK);
	dutmodel_report(t->m, &r);
	assert_int_equal(r.fused_uid_len, strlen(UID));
	assert_memory_equal(r.uid, "STR-0009", r.uid_len);
}

static void
test_fault_parse(void **state)
{
	static const char *const good[] = { "stall:identity", "nak:challenge",
	    "short:attestation", "unplug:bundle", "stall:verify", "short:status",
	    "unplug:dfu:0", "nak:dfu:65535", "wrong-attestation-key",
	    "clone=STR-0002", "misreport-uid=x", "corrupt-image:dfu:3" };
	static const char *const bad[] = { "", "stall", "stall:", "stall:nowhere",
	    "short:challenge", "short:bundle", "short:verify", "unplug:dfu:",
	    "unplug:dfu:65536", "unplug:dfu:1x", "clone", "clone=", "clone=a:b",
	    "clone=" UID65, "wrong-attestation-key:dfu", "corrupt-image:status",
	    "corrupt-image:dfu:-1", "nak:identity:", "stalls:identity" };
	struct dm_fault f;
	char text[DM_FAULT_TEXT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(dm_fault_parse(good[i], &f), 0);
		dm_fault_format(&f, text, sizeof(text));
		assert_string_equal(text, good[i]);
	}
	assert_int_equal(dm_fault_parse("corrupt-image", &f), 0);
	assert_int_equal(f.block, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dm_fault_parse(bad[i], &f) != TALLY_ERR_INVALID)
			fail_msg("accepted \"%s\"", bad[i]);
	f.kind = DM_FAULT_NONE;
	dm_fault_format(&f, text, sizeof(text));
	assert_string_equal(text, "none");
}

static void
test_new_refuses(void **state)
{
	struct t *t = *state;
	struct dutmodel_config c;
	struct dutmodel *m = NULL;
	struct dm_fault f;

	memset(&c, 0, sizeof(c));
	c.uid = (const uint8_t *)UID;
	c.oem_root = t->f->oem;
	assert_int_equal(dutmodel_new(&c, &m), TALLY_ERR_INVALID);      /* uid_len 0 */
	c.uid_len = TALLY_UID_MAX + 1;
	assert_int_equal(dutmodel_new(&c, &m), TALLY_ERR_INVALID);
	c.uid_len = 3;
	c.product = "bad\tproduct";
	assert_int_equal(dutmodel_new(&c, &m), TALLY_ERR_INVALID);
	c.product = NULL;
	c.oem_root = NULL;
	assert_int_equal(dutmodel_new(&c, &m), TALLY_ERR_INVALID);
	c.oem_root = t->f->oem;
	memset(&f, 0, sizeof(f));
	f.kind = DM_FAULT_CLONE;        /* without a UID */
	c.fault = &f;
	assert_int_equal(dutmodel_new(&c, &m), TALLY_ERR_INVALID);
	assert_null(m);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity_record),
		T(test_stalls),
		T(test_attestation),
		T(test_bundle_verdicts),
		T(test_bundle_blocks),
		T(test_verdict_mapping),
		T(test_identity_faults),
		T(test_fault_parse),
		T(test_new_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
