/* test_devverify_daemon.c - the device-side verifier (lib/devverify.h) on
 * token bundles issued by tallyd's real writer (fx_core.h: LMDB store in
 * a mkdtemp folder, P-256 appliance key, Ed25519 OEM root): plain and
 * attested tokens (fields 11-13 set) are accepted for their own UID only,
 * a reissued bundle too, and the host verifier agrees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include "artifact.h"
#include "attest.h"
#include "devverify.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "tests/harness/fx_core.h"

struct dd {
	struct fx f;
	uint8_t *oem_spki;
	size_t oem_spki_len;
	uint8_t work[TDV_WORK_MIN];
	struct tdv_crypto c;
	uint8_t jig[32];
	EVP_PKEY *jig_key;
};

static int
setup(void **state)
{
	struct dd *d = calloc(1, sizeof(*d));

	if (d == NULL || fx_setup(&d->f, 16u << 20) != 0 ||
	    tally_key_spki(d->f.oem, &d->oem_spki, &d->oem_spki_len) != 0 ||
	    fx_enroll(&d->f, TALLY_KEY_P256, &d->jig_key, d->jig) != 0)
		return -1;
	tdv_crypto_openssl(&d->c);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct dd *d = *state;

	fx_teardown(&d->f);
	OPENSSL_free(d->oem_spki);
	EVP_PKEY_free(d->jig_key);
	free(d);
	return 0;
}

static enum tdv_result
dv(struct dd *d, const struct wreq *r, const char *uid, struct tdv_token *out)
{
	struct tdv_params p = { .crypto = &d->c, .oem_root_spki = d->oem_spki,
	    .oem_root_spki_len = d->oem_spki_len, .uid = (const uint8_t *)uid,
	    .uid_len = strlen(uid), .product = "widget", .now = tally_now(),
	    .work = d->work, .work_len = sizeof(d->work) };

	return tdv_verify_bundle(&p, r->out, r->out_len, out);
}

/* The writer's bundle for uid verifies for uid, not for other. */
static void
check_issued(struct dd *d, struct wreq *r, const char *uid, uint64_t index)
{
	struct tdv_token out;

	assert_int_equal(r->error, 0);
	assert_non_null(r->out);
	assert_int_equal(dv(d, r, uid, &out), TDV_OK);
	assert_int_equal(out.log_index, index);
	assert_memory_equal(out.appliance_key_id, d->f.key_id, 32);
	assert_memory_equal(out.firmware_digest, fx_fw, 32);
	assert_int_equal(tdv_firmware_matches(&out, fx_fw), 1);
	assert_int_equal(tally_bundle_verify(r->out, r->out_len, d->f.oem,
	    (const uint8_t *)uid, strlen(uid), fx_fw, tally_now(), NULL), 0);
	assert_int_equal(dv(d, r, "someone-else", &out), TDV_WRONG_DEVICE);
	assert_int_not_equal(tally_bundle_verify(r->out, r->out_len, d->f.oem,
	    (const uint8_t *)"someone-else", 12, NULL, tally_now(), NULL), 0);
}

static void
test_issued_bundle(void **state)
{
	struct dd *d = *state;
	uint8_t qid[16];
	struct wreq *r;
	uint64_t index;

	assert_int_equal(fx_import(&d->f, "widget", 5, qid), 0);
	r = fx_run1(&d->f, fx_req_issue(&d->f, d->jig, "widget", "dut-1", 5));
	check_issued(d, r, "dut-1", index = r->log_index);
	wreq_free(r);
	/* the same device again: the same token, reissued */
	r = fx_run1(&d->f, fx_req_issue(&d->f, d->jig, "widget", "dut-1", 5));
	assert_true(r->reissued);
	check_issued(d, r, "dut-1", index);
	wreq_free(r);
}

/* A quota requiring attestation: the token carries attestation_key_id,
 * boot_key_hash and software_version, which the device verifier skips. */
static void
test_attested_bundle(void **state)
{
	static const uint8_t boot[32] = { 0xb0, 0x07 };
	struct dd *d = *state;
	Tally__Quota q;
	uint8_t qid[16], *spki, *env;
	size_t spki_len, len;
	EVP_PKEY *att;
	struct wreq *r;

	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &att), 0);
	assert_int_equal(tally_key_spki(att, &spki, &spki_len), 0);
	fx_quota_init(&d->f, &q, qid, "widget", 5);
	q.attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
	q.n_attestation_public_keys = 1;
	q.attestation_public_keys = &(ProtobufCBinaryData){ spki_len, spki };
	assert_non_null(env = fx_quota_sign(&q, d->f.oem, &len));
	r = fx_run1(&d->f, fx_req_quota(&d->f, env, len));
	assert_int_equal(r->error, 0);
	wreq_free(r);
	free(env);
	r = fx_req_issue(&d->f, d->jig, "widget", "dut-2", 5);
	assert_int_equal(tally_attestation_make(att, r->in.issue.nonce,
	    (const uint8_t *)"dut-2", 5, boot, 7, r->in.issue.attestation,
	    sizeof(r->in.issue.attestation), &r->in.issue.attestation_len), 0);
	r = fx_run1(&d->f, r);
	check_issued(d, r, "dut-2", r->log_index);
	wreq_free(r);
	OPENSSL_free(spki);
	EVP_PKEY_free(att);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_issued_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attested_bundle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
