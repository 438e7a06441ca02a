/* test_reconcile_attest.c - the OEM side of attestation (reconcile.h,
 * oem/reconcile_attest.c) on synthetic logs made with real keys
 * (tests/harness/fx_export.h): attested tokens and LogAttestationFailed
 * entries verify and are counted per quota and per jig; attested tokens
 * without a trusted key, and failure entries with a short jig ID, an
 * unknown jig, no reason, or under a quota without attestation, are
 * anomalies. The same on a real tallyd: tests/integration/test_attestation.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "key.h"
#include "log.pb-c.h"
#include "oem/quota_create.h"
#include "oem/reconcile.h"
#include "tests/harness/fx_export.h"

static const uint8_t boot_hash[32] = { 0xb0, 0x07, 0x4b, 0x65, 0x79 };

/* Appends e to a's log (index and time set here). */
static uint64_t
raw_entry(struct fx_app *a, Tally__LogEntry *e, int ctx)
{
	uint8_t buf[8192];
	size_t len;

	e->index = a->n;
	e->time = a->now;
	assert_true((len = tally__log_entry__get_packed_size(e)) <= sizeof(buf));
	tally__log_entry__pack(e, buf);
	return fx_add_raw(a, buf, len, ctx);
}

/* A quota import requiring attestation by key (SPKI). */
static void
syn_quota(struct fx_world *w, struct fx_app *a, const ProtobufCBinaryData *key,
    uint8_t qid[16])
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogQuotaImported qi = TALLY__LOG_QUOTA_IMPORTED__INIT;
	struct oem_quota_spec s = { 0 };
	uint8_t *env = NULL;
	size_t len = 0;

	s.oem_key = w->oem;
	s.appliance_spki = a->spki;
	s.appliance_spki_len = a->spki_len;
	s.product = w->product;
	s.firmware = (const uint8_t (*)[32])w->fw;
	s.n_firmware = 1;
	s.units = 5;
	s.not_before = w->now - 60;
	s.not_after = w->now + 86400;
	s.attestation_keys = key;
	s.n_attestation_keys = 1;
	assert_int_equal(oem_quota_create(&s, qid, &env, &len), 0);
	qi.quota = (ProtobufCBinaryData){ len, env };
	e.body_case = TALLY__LOG_ENTRY__BODY_QUOTA_IMPORTED;
	e.quota_imported = &qi;
	raw_entry(a, &e, 1);
	free(env);
}

/* A token under qid for uid naming attestation key kid (NULL: none). */
static uint64_t
syn_token(struct fx_world *w, struct fx_app *a, const uint8_t qid[16], const char *uid,
    const uint8_t *kid)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogTokenIssued ti = TALLY__LOG_TOKEN_ISSUED__INIT;
	Tally__Token t = TALLY__TOKEN__INIT;
	uint8_t nonce[32] = { 1 }, payload[1024], *env = NULL;
	size_t plen, elen = 0;
	uint64_t idx;

	t.log_index = a->n;
	t.quota_id = (ProtobufCBinaryData){ 16, (uint8_t *)qid };
	t.appliance_key_id = (ProtobufCBinaryData){ 32, a->id };
	t.product = (char *)w->product;
	t.device_uid = (ProtobufCBinaryData){ strlen(uid), (uint8_t *)uid };
	t.firmware_digest = (ProtobufCBinaryData){ 32, w->fw };
	t.jig_key_id = (ProtobufCBinaryData){ 32, w->jig_id };
	t.issued_at = a->now;
	t.nonce = (ProtobufCBinaryData){ 32, nonce };
	if (kid != NULL) {
		t.attestation_key_id = (ProtobufCBinaryData){ 32, (uint8_t *)kid };
		t.boot_key_hash = (ProtobufCBinaryData){ 32, (uint8_t *)boot_hash };
	}
	plen = tally__token__pack(&t, payload);
	assert_int_equal(tally_dsse_sign(a->key, TALLY_PT_TOKEN, payload, plen, &env, &elen), 0);
	ti.token = (ProtobufCBinaryData){ elen, env };
	e.body_case = TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED;
	e.token_issued = &ti;
	idx = raw_entry(a, &e, 0);
	free(env);
	return idx;
}

/* A LogAttestationFailed entry. */
static uint64_t
syn_failure(struct fx_app *a, const uint8_t *jig, size_t jig_len, const uint8_t qid[16],
    const char *reason, const uint8_t *kid)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogAttestationFailed af = TALLY__LOG_ATTESTATION_FAILED__INIT;

	af.jig_key_id = (ProtobufCBinaryData){ jig_len, (uint8_t *)jig };
	af.device_uid = (ProtobufCBinaryData){ 5, (uint8_t *)"dut-z" };
	af.quota_id = (ProtobufCBinaryData){ 16, (uint8_t *)qid };
	af.reason = (char *)reason;
	if (kid != NULL)
		af.attestation_key_id = (ProtobufCBinaryData){ 32, (uint8_t *)kid };
	e.body_case = TALLY__LOG_ENTRY__BODY_ATTESTATION_FAILED;
	e.attestation_failed = &af;
	return raw_entry(a, &e, 0);
}

/* Is there an anomaly of kind at index idx? */
static bool
has_anomaly(const struct oem_reconcile_result *res, enum oem_anomaly_kind kind, uint64_t idx)
{
	for (size_t i = 0; i < res->n_anomalies; i++)
		if (res->anomalies[i].kind == kind && res->anomalies[i].index == idx)
			return true;
	return false;
}

/* The OEM side of attestation on a synthetic log: good tokens and
 * failures verify and count; tokens under the attested quota without a
 * trusted key, and failure entries with a short jig ID, an unknown jig,
 * no reason, or under a quota without attestation, are anomalies. */
static void
test_reconcile_synthetic(void **state)
{
	struct fx_world w;
	struct fx_app a;
	struct oem_reconcile_result res;
	ProtobufCBinaryData spki;
	EVP_PKEY *att, *other;
	uint8_t kid[32], other_kid[32], qid[16], plain[16], nobody[32] = { 9 };
	uint64_t bad[6];
	char path[FX_PATH];
	const char *why = "attestation key not trusted by the quota";

	(void)state;
	assert_int_equal(fx_world_init(&w), 0);
	fx_app_init(&w, &a, TALLY_KEY_P256);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &att), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	assert_int_equal(tally_key_id(att, kid), 0);
	assert_int_equal(tally_key_id(other, other_kid), 0);
	assert_int_equal(tally_key_spki(att, &spki.data, &spki.len), 0);
	fx_add_start(&a);
	fx_add_enroll(&w, &a);
	syn_quota(&w, &a, &spki, qid);
	fx_add_quota(&w, &a, 5, plain);
	syn_token(&w, &a, qid, "dut-1", kid);
	syn_failure(&a, w.jig_id, 32, qid, why, other_kid);
	syn_failure(&a, w.jig_id, 32, qid, "malformed attestation record", NULL);
	fx_export_write(&a, fx_path(&w, "good.tlx", path), 0, &FX_CLEAN);
	assert_int_equal(oem_reconcile_file(path, w.oem, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.attestation_failed, 2);
	assert_int_equal(res.quotas[0].attestation_failed, 2);
	assert_int_equal(res.jigs[0].attestation_failed, 2);
	oem_reconcile_result_free(&res);

	bad[0] = syn_token(&w, &a, qid, "dut-2", NULL);
	bad[1] = syn_token(&w, &a, qid, "dut-3", other_kid);
	bad[2] = syn_failure(&a, w.jig_id, 5, qid, why, NULL);
	bad[3] = syn_failure(&a, nobody, 32, qid, why, NULL);
	bad[4] = syn_failure(&a, w.jig_id, 32, qid, "", NULL);
	bad[5] = syn_failure(&a, w.jig_id, 32, plain, why, NULL);
	syn_token(&w, &a, plain, "dut-4", NULL);   /* no attestation needed there */
	fx_export_write(&a, fx_path(&w, "bad.tlx", path), 0, &FX_CLEAN);
	assert_int_equal(oem_reconcile_file(path, w.oem, &res), 0);
	assert_int_equal(res.anomalies_total, 6);
	assert_true(has_anomaly(&res, OEM_ANOM_TOKEN_QUOTA, bad[0]));
	assert_true(has_anomaly(&res, OEM_ANOM_TOKEN_QUOTA, bad[1]));
	for (int i = 2; i < 6; i++)
		assert_true(has_anomaly(&res, OEM_ANOM_ENTRY_MALFORMED, bad[i]));
	assert_int_equal(res.quotas[0].attestation_failed, 2);   /* only good entries count */
	oem_reconcile_result_free(&res);
	OPENSSL_free(spki.data);
	EVP_PKEY_free(att);
	EVP_PKEY_free(other);
	fx_app_free(&a);
	fx_world_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconcile_synthetic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
