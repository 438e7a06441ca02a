/* test_quota_import.c - quota import refusals on a real tallyd (DESIGN.md
 * §2 and §4 invariant 6): a bad signature (another key; a flipped byte in
 * the signature or in the payload), a quota for another appliance, an
 * expired quota, a replayed quota (same file, or the same quota ID
 * re-signed; also after a clean and a kill -9 restart) and garbage bytes
 * each get their typed code, and nothing changes in the store: the log
 * size and the quota list stay byte-identical, and a refused quota ID is
 * not burnt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include <cmocka.h>

#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "key.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "util.h"

/* What "nothing changed" compares: the log size and the packed quota list. */
struct snap {
	uint64_t log_size;
	uint8_t *quotas;
	size_t len;
};

static void
snapshot(struct th *t, struct snap *s)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaListRequest ql = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;

	assert_int_equal(th_log_size(t, &s->log_size), 0);
	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	rq.quota_list = &ql;
	assert_int_equal(th_ctl(t, &rq, &resp), 0);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->body_case, TALLY__CTL_RESPONSE__BODY_QUOTA_LIST);
	s->len = tally__quota_list_response__get_packed_size(resp->quota_list);
	s->quotas = malloc(s->len + 1);
	assert_non_null(s->quotas);
	tally__quota_list_response__pack(resp->quota_list, s->quotas);
	tally__ctl_response__free_unpacked(resp, NULL);
}

static void
snap_free(struct snap *s)
{
	free(s->quotas);
	s->quotas = NULL;
}

/* Import of env is refused with code and the store is as in before. */
static void
refused(struct th *t, const uint8_t *env, size_t len, int code)
{
	struct snap before, after;

	snapshot(t, &before);
	assert_int_equal(th_import_code(t, env, len), code);
	snapshot(t, &after);
	assert_int_equal(after.log_size, before.log_size);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.quotas, before.quotas, before.len);
	snap_free(&before);
	snap_free(&after);
}

/* Import of env succeeds: one more log entry, one more quota. */
static void
accepted(struct th *t, const uint8_t *env, size_t len, const uint8_t qid[16])
{
	uint64_t size0, size1, units = 0;

	assert_int_equal(th_log_size(t, &size0), 0);
	assert_int_equal(th_quota_counts(t, qid, NULL, NULL), TALLY_ERR_NOT_FOUND);
	assert_int_equal(th_import_code(t, env, len), 0);
	assert_int_equal(th_log_size(t, &size1), 0);
	assert_int_equal(size1, size0 + 1);
	assert_int_equal(th_quota_counts(t, qid, &units, NULL), 0);
	assert_true(units > 0);
}

static void
make(struct th *t, const struct th_quota *q, uint8_t qid[16], uint8_t **env, size_t *len)
{
	assert_int_equal(th_make_quota(t, q, qid, env, len), 0);
}

/* A first quota, so that "the quota list is unchanged" compares something. */
static void
first_quota(struct th *t)
{
	uint8_t qid[16];

	assert_int_equal(th_quota_code(t, "gadget", 10, qid), 0);
}

static void
test_bad_signature(void **state)
{
	struct th *t = *state;
	struct th_quota q = { .units = 50 };
	EVP_PKEY *other = NULL;
	uint8_t qid[16], *env = NULL, *bad, *at;
	size_t len;

	first_quota(t);
	/* signed by another key, of either type */
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	q.signer = other;
	make(t, &q, qid, &env, &len);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_BAD_SIGNATURE);
	free(env);
	EVP_PKEY_free(other);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &other), 0);
	q.signer = other;
	make(t, &q, qid, &env, &len);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_BAD_SIGNATURE);
	free(env);
	EVP_PKEY_free(other);

	/* the OEM's own quota with one byte flipped: in the signature (the
	 * envelope ends with it), then in the payload (the product name) */
	q.signer = NULL;
	make(t, &q, qid, &env, &len);
	assert_non_null(bad = malloc(len));
	memcpy(bad, env, len);
	bad[len - 1] ^= 0x01;
	refused(t, bad, len, TALLY__ERROR_CODE__QUOTA_BAD_SIGNATURE);
	memcpy(bad, env, len);
	assert_non_null(at = memmem(bad, len, "widget", 6));
	at[5] ^= 0x01;   /* "widgeu": still a well-formed Quota */
	refused(t, bad, len, TALLY__ERROR_CODE__QUOTA_BAD_SIGNATURE);
	free(bad);
	/* the refusals did not burn its quota ID: the intact file imports */
	accepted(t, env, len, qid);
	free(env);
	assert_int_equal(th_stop_clean(t), 0);
}

static void
test_other_appliance(void **state)
{
	struct th *t = *state;
	EVP_PKEY *other = NULL;
	uint8_t other_id[32], qid[16], *env = NULL;
	struct th_quota q = { .appliance_key_id = other_id };
	size_t len;

	first_quota(t);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	assert_int_equal(tally_key_id(other, other_id), 0);
	EVP_PKEY_free(other);
	make(t, &q, qid, &env, &len);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_WRONG_APPLIANCE);
	free(env);
	/* this appliance's key ID with one bit changed */
	memcpy(other_id, t->appliance_key_id, 32);
	other_id[31] ^= 0x80;
	make(t, &q, qid, &env, &len);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_WRONG_APPLIANCE);
	free(env);
	assert_int_equal(th_stop_clean(t), 0);
}

static void
test_expired(void **state)
{
	struct th *t = *state;
	int64_t now = tally_now();
	struct th_quota q = { .not_before = now - 7200, .not_after = now - 3600 };
	uint8_t qid[16], *env = NULL;
	size_t len;

	first_quota(t);
	make(t, &q, qid, &env, &len);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_EXPIRED);
	free(env);
	q.not_after = now - 1;   /* ran out a second ago */
	make(t, &q, qid, &env, &len);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_EXPIRED);
	free(env);
	assert_int_equal(th_stop_clean(t), 0);
}

/* The same quota ID, other units, validly signed by the OEM root. */
static void
resign(struct th *t, const uint8_t *env, size_t len, uint8_t **out, size_t *out_len)
{
	Tally__Quota *q = NULL;
	uint8_t *payload;
	size_t plen;

	assert_int_equal(tally_quota_open(env, len, t->oem_key, &q), 0);
	q->units += 1000;
	plen = tally__quota__get_packed_size(q);
	assert_non_null(payload = malloc(plen));
	tally__quota__pack(q, payload);
	assert_int_equal(tally_dsse_sign(t->oem_key, TALLY_PT_QUOTA, payload, plen, out, out_len), 0);
	free(payload);
	tally__quota__free_unpacked(q, NULL);
}

static void
test_replayed(void **state)
{
	struct th *t = *state;
	struct th_quota q = { .units = 20 };
	uint8_t qid[16], *env = NULL, *again = NULL;
	uint64_t units = 0;
	size_t len, alen;

	first_quota(t);
	make(t, &q, qid, &env, &len);
	accepted(t, env, len, qid);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_REPLAYED);
	resign(t, env, len, &again, &alen);
	refused(t, again, alen, TALLY__ERROR_CODE__QUOTA_REPLAYED);

	assert_int_equal(th_stop(t, 20000), 0);
	assert_int_equal(th_start(t), 0);
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_REPLAYED);
	refused(t, again, alen, TALLY__ERROR_CODE__QUOTA_REPLAYED);

	assert_int_equal(th_restart(t), 0);   /* kill -9 */
	refused(t, env, len, TALLY__ERROR_CODE__QUOTA_REPLAYED);
	refused(t, again, alen, TALLY__ERROR_CODE__QUOTA_REPLAYED);
	assert_int_equal(th_quota_counts(t, qid, &units, NULL), 0);
	assert_int_equal(units, 20);          /* the first import stands */
	free(env);
	free(again);
	assert_int_equal(th_stop_clean(t), 0);
}

static void
test_garbage(void **state)
{
	struct th *t = *state;
	uint8_t junk[512], *env = NULL, *big;
	size_t len;

	first_quota(t);
	assert_int_equal(RAND_bytes(junk, sizeof(junk)), 1);
	refused(t, junk, sizeof(junk), TALLY__ERROR_CODE__BAD_REQUEST);
	refused(t, junk, 1, TALLY__ERROR_CODE__BAD_REQUEST);
	refused(t, (const uint8_t *)"", 0, TALLY__ERROR_CODE__BAD_REQUEST);
	/* a truncated quota file */
	make(t, &(struct th_quota){ 0 }, NULL, &env, &len);
	refused(t, env, len / 2, TALLY__ERROR_CODE__BAD_REQUEST);
	free(env);
	/* an OEM-signed envelope of another type, and one whose payload is
	 * not a Quota */
	assert_int_equal(tally_dsse_sign(t->oem_key, TALLY_PT_TOKEN, junk, 64, &env, &len), 0);
	refused(t, env, len, TALLY__ERROR_CODE__BAD_REQUEST);
	free(env);
	assert_int_equal(tally_dsse_sign(t->oem_key, TALLY_PT_QUOTA, junk, 64, &env, &len), 0);
	refused(t, env, len, TALLY__ERROR_CODE__BAD_REQUEST);
	free(env);
	/* larger than any envelope (TALLY_ENVELOPE_MAX), within one frame */
	assert_non_null(big = calloc(1, 40000));
	refused(t, big, 40000, TALLY__ERROR_CODE__BAD_REQUEST);
	free(big);
	assert_int_equal(th_stop_clean(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_signature, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_other_appliance, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_expired, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_replayed, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_garbage, th_cmocka_setup, th_cmocka_teardown),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
