/* test_issue_concurrency.c - 8 enrolled jigs, each on its own TLS
 * connection in its own thread, pipeline 50 IssueTokens each (distinct
 * device UIDs) at once against a 100-unit quota on a real tallyd: exactly
 * 100 tokens and 300 QUOTA_EXHAUSTED; every token verifies as a DUT would;
 * the counters, Hello, status and the exported log agree, and the export
 * reconciles at the OEM with no anomaly (DESIGN.md §4 invariant 1). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "artifact.h"
#include "err.h"
#include "oem/reconcile.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "util.h"

#define JIGS 8
#define PER_JIG 50
#define UNITS 100
#define UID_LEN 12
#define NOT_LISTED UINT64_MAX

struct jig_run {
	struct th *t;
	unsigned jig;
	pthread_barrier_t *go;
	uint8_t uids[PER_JIG][UID_LEN];
	struct th_issue_res res[PER_JIG];
	int rc;                       /* connect or batch error */
};

static void *
jig_thread(void *arg)
{
	struct jig_run *j = arg;
	struct jig_client *c = NULL;

	j->rc = th_jig_connect(j->t, j->jig, 0, &c);
	/* every thread waits, connected or not, so nobody is left behind */
	pthread_barrier_wait(j->go);
	if (j->rc == 0)
		j->rc = th_issue_pipelined(c, "widget", &j->uids[0][0], UID_LEN, PER_JIG, j->res);
	jig_client_close(c);
	return NULL;
}

static int
setup(void **state)
{
	struct th_opts o = { .njigs = JIGS };
	struct th *t;

	if (th_setup(&t, &o) != 0)
		return -1;
	*state = t;
	return 0;
}

/* Hello's units_remaining for quota qid, or NOT_LISTED: Hello lists only
 * quotas that are usable and have units left (daemon/query.h). */
static uint64_t
hello_remaining(struct th *t, const uint8_t qid[16])
{
	struct jig_client *c = NULL;
	struct jig_refusal ref;
	Tally__Response *resp = NULL;
	uint64_t left = NOT_LISTED;
	size_t i;

	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	assert_int_equal(jig_client_hello(c, "itest", &resp, &ref), 0);
	for (i = 0; i < resp->hello->n_products; i++)
		if (memcmp(resp->hello->products[i]->quota_id.data, qid, 16) == 0)
			left = resp->hello->products[i]->units_remaining;
	tally__response__free_unpacked(resp, NULL);
	jig_client_close(c);
	return left;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Checks one token a jig received: verifies as a DUT would, bound to
 * this quota and jig, not a reissue; returns its log index. */
static uint64_t
check_token(struct th *t, const struct jig_run *j, size_t k, const uint8_t qid[16])
{
	Tally__Token *tok = NULL;
	uint64_t idx;

	assert_false(j->res[k].reissued);
	assert_int_equal(tally_bundle_verify(j->res[k].bundle, j->res[k].bundle_len,
	    t->oem_key, j->uids[k], UID_LEN, th_firmware, tally_now(), &tok), 0);
	assert_memory_equal(tok->quota_id.data, qid, 16);
	assert_memory_equal(tok->jig_key_id.data, t->jig[j->jig].key_id, 32);
	assert_memory_equal(tok->appliance_key_id.data, t->appliance_key_id, 32);
	idx = tok->log_index;
	tally__token__free_unpacked(tok, NULL);
	return idx;
}

/* The exported log holds exactly the tokens the jigs received (same
 * bytes, same indexes) and reconciles with no anomaly. */
static void
check_export(struct th *t, struct jig_run *runs, const uint64_t *idx, const uint8_t qid[16])
{
	struct th_log_tokens lt;
	struct oem_reconcile_result res;
	char path[TH_PATH + 16];
	uint8_t *env = NULL;
	size_t env_len, i, k, n = 0;
	unsigned j;

	snprintf(path, sizeof(path), "%s/export.bin", t->dir);
	assert_int_equal(th_export(t, path, NULL), 0);
	assert_int_equal(th_export_tokens(path, &lt), 0);
	assert_int_equal(lt.n, UNITS);
	for (i = 0; i < lt.n; i++) {
		assert_int_equal(lt.v[i].token_index, lt.v[i].index);
		assert_non_null(bsearch(&lt.v[i].index, idx, UNITS, sizeof(*idx), cmp_u64));
	}
	for (j = 0; j < JIGS; j++)
		for (k = 0; k < PER_JIG; k++) {
			if (runs[j].res[k].code != 0)
				continue;
			assert_int_equal(th_bundle_token(runs[j].res[k].bundle,
			    runs[j].res[k].bundle_len, &env, &env_len), 0);
			for (i = 0; i < lt.n; i++)
				if (lt.v[i].env_len == env_len && memcmp(lt.v[i].env, env, env_len) == 0)
					break;
			assert_true(i < lt.n);
			free(env);
			n++;
		}
	assert_int_equal(n, UNITS);
	th_log_tokens_free(&lt);

	assert_int_equal(oem_reconcile_file(path, t->oem_key, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_true(res.checkpoint_ok);
	assert_int_equal(res.n_tokens, UNITS);
	assert_int_equal(res.n_quotas, 1);
	assert_memory_equal(res.quotas[0].quota_id, qid, 16);
	assert_int_equal(res.quotas[0].issued, UNITS);
	assert_int_equal(res.quotas[0].units, UNITS);
	oem_reconcile_result_free(&res);
}

static void
check_counters(struct th *t, const uint8_t qid[16])
{
	Tally__CtlResponse *resp = NULL;
	uint64_t units = 0, issued = 0;
	size_t i, seen = 0;

	assert_int_equal(th_quota_counts(t, qid, &units, &issued), 0);
	assert_int_equal(units, UNITS);
	assert_int_equal(issued, UNITS);
	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->status->tokens_issued, UNITS);
	for (i = 0; i < resp->status->n_quotas; i++) {
		const Tally__ProductStatus *ps = resp->status->quotas[i];

		if (memcmp(ps->quota_id.data, qid, 16) != 0)
			continue;
		assert_int_equal(ps->units, UNITS);
		assert_int_equal(ps->units_remaining, 0);
		seen++;
	}
	assert_int_equal(seen, 1);
	tally__ctl_response__free_unpacked(resp, NULL);
	/* no unit left: Hello stops offering the quota */
	assert_true(hello_remaining(t, qid) == NOT_LISTED);
}

static void
test_8_jigs_x_50_against_100_units(void **state)
{
	struct th *t = *state;
	struct jig_run *runs = calloc(JIGS, sizeof(*runs));
	pthread_t tid[JIGS];
	pthread_barrier_t go;
	uint8_t qid[16];
	uint64_t idx[UNITS];
	size_t k, ok = 0, exhausted = 0;
	unsigned j;

	assert_non_null(runs);
	for (j = 0; j < JIGS; j++)
		assert_int_equal(th_enroll(t, j), 0);
	assert_int_equal(th_quota_code(t, "widget", UNITS, qid), 0);
	assert_int_equal(hello_remaining(t, qid), UNITS);

	assert_int_equal(pthread_barrier_init(&go, NULL, JIGS), 0);
	for (j = 0; j < JIGS; j++) {
		runs[j] = (struct jig_run){ .t = t, .jig = j, .go = &go };
		for (k = 0; k < PER_JIG; k++)
			snprintf((char *)runs[j].uids[k], UID_LEN, "j%u-dut%03zu", j, k);
		assert_int_equal(pthread_create(&tid[j], NULL, jig_thread, &runs[j]), 0);
	}
	for (j = 0; j < JIGS; j++)
		pthread_join(tid[j], NULL);
	pthread_barrier_destroy(&go);

	for (j = 0; j < JIGS; j++) {
		assert_int_equal(runs[j].rc, 0);
		for (k = 0; k < PER_JIG; k++) {
			if (runs[j].res[k].code == TALLY__ERROR_CODE__QUOTA_EXHAUSTED) {
				exhausted++;
				continue;
			}
			assert_int_equal(runs[j].res[k].code, 0);
			assert_true(ok < UNITS);
			idx[ok++] = check_token(t, &runs[j], k, qid);
		}
	}
	assert_int_equal(ok, UNITS);
	assert_int_equal(exhausted, JIGS * PER_JIG - UNITS);
	qsort(idx, UNITS, sizeof(idx[0]), cmp_u64);
	for (k = 1; k < UNITS; k++)
		assert_true(idx[k] > idx[k - 1]);   /* distinct log indexes */

	check_counters(t, qid);
	check_export(t, runs, idx, qid);
	for (j = 0; j < JIGS; j++)
		th_issue_res_clear(runs[j].res, PER_JIG);
	free(runs);
	assert_int_equal(th_stop_clean(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_8_jigs_x_50_against_100_units, setup, th_cmocka_teardown),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
