/* test_restart.c - the same device UID asked again gets the same token
 * back, byte for byte, with reissued set and no unit spent (DESIGN.md §4
 * invariant 3): on the same connection, from another jig, by quota ID,
 * after the quota ran out, after a clean stop (SIGTERM) and start, and
 * after kill -9 and start. Real tallyd, real TLS, real LMDB (harness.h). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "artifact.h"
#include "err.h"
#include "oem/reconcile.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "util.h"

#define UNITS 4

struct got {
	uint8_t *bundle;   /* serialized TokenBundle (free) */
	size_t len;
	int reissued;
};

/* Challenge + IssueToken for uid (a string) by product, or by quota_id
 * when not NULL. Returns 0 or the refusal code; fails the test when the
 * link fails. */
static int
ask(struct jig_client *c, const char *uid, const uint8_t *quota_id, struct got *g)
{
	struct jig_issue_args a = { .quota_id = quota_id, .product = "widget",
	    .uid = (const uint8_t *)uid, .uid_len = strlen(uid) };
	struct jig_refusal ref;
	uint8_t nonce[32];
	int64_t exp;
	int r;

	memset(g, 0, sizeof(*g));
	assert_int_equal(jig_client_challenge(c, nonce, &exp, &ref), 0);
	a.nonce = nonce;
	r = jig_client_issue(c, &a, &g->bundle, &g->len, &g->reissued, &ref);
	assert_true(r == 0 || r == JIG_CLIENT_REFUSED);
	return r == 0 ? 0 : (int)ref.code;
}

/* uid asked again through c gives exactly want, reissued. */
static void
same_again(struct jig_client *c, const char *uid, const uint8_t *quota_id,
    const struct got *want)
{
	struct got g;

	assert_int_equal(ask(c, uid, quota_id, &g), 0);
	assert_int_equal(g.reissued, 1);
	assert_int_equal(g.len, want->len);
	assert_memory_equal(g.bundle, want->bundle, want->len);
	free(g.bundle);
}

static uint64_t
issued(struct th *t, const uint8_t qid[16])
{
	uint64_t n = UINT64_MAX;

	assert_int_equal(th_quota_counts(t, qid, NULL, &n), 0);
	return n;
}

/* The token tallyd shows for uid is the one in the bundle. */
static void
token_show_matches(struct th *t, const char *uid, const struct got *g)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__TokenShowRequest ts = TALLY__TOKEN_SHOW_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint8_t *env = NULL;
	size_t len;

	ts.device_uid = (ProtobufCBinaryData){ strlen(uid), (uint8_t *)uid };
	rq.body_case = TALLY__CTL_REQUEST__BODY_TOKEN_SHOW;
	rq.token_show = &ts;
	assert_int_equal(th_ctl(t, &rq, &resp), 0);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->token_show->n_tokens, 1);
	assert_int_equal(th_bundle_token(g->bundle, g->len, &env, &len), 0);
	assert_int_equal(resp->token_show->tokens[0].len, len);
	assert_memory_equal(resp->token_show->tokens[0].data, env, len);
	free(env);
	tally__ctl_response__free_unpacked(resp, NULL);
}

static void
reconcile_clean(struct th *t, size_t tokens)
{
	struct oem_reconcile_result res;
	char path[TH_PATH + 16];

	snprintf(path, sizeof(path), "%s/export.bin", t->dir);
	assert_int_equal(th_export(t, path, NULL), 0);
	assert_int_equal(oem_reconcile_file(path, t->oem_key, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_true(res.checkpoint_ok);
	assert_int_equal(res.n_tokens, tokens);
	oem_reconcile_result_free(&res);
}

/* Before any restart: same connection, other jig, by quota ID, and after
 * the quota ran out. Fills a (UID "dut-A") and spends all UNITS. */
static void
first_run(struct th *t, const uint8_t qid[16], struct got *a)
{
	struct jig_client *c0 = NULL, *c1 = NULL;
	uint64_t size, size2;
	struct got g;
	char uid[16];
	unsigned i;

	assert_int_equal(th_jig_connect(t, 0, 0, &c0), 0);
	assert_int_equal(th_jig_connect(t, 1, 0, &c1), 0);
	assert_int_equal(ask(c0, "dut-A", NULL, a), 0);
	assert_int_equal(a->reissued, 0);
	assert_int_equal(tally_bundle_verify(a->bundle, a->len, t->oem_key,
	    (const uint8_t *)"dut-A", 5, th_firmware, tally_now(), NULL), 0);
	assert_int_equal(issued(t, qid), 1);
	assert_int_equal(th_log_size(t, &size), 0);

	same_again(c0, "dut-A", NULL, a);
	same_again(c1, "dut-A", NULL, a);     /* another jig asks for the same DUT */
	same_again(c1, "dut-A", qid, a);      /* by quota ID */
	assert_int_equal(issued(t, qid), 1);
	assert_int_equal(th_log_size(t, &size2), 0);
	assert_int_equal(size2, size);        /* a reissue writes nothing */

	for (i = 1; i < UNITS; i++) {
		snprintf(uid, sizeof(uid), "dut-%c", 'A' + i);
		assert_int_equal(ask(c0, uid, NULL, &g), 0);
		assert_int_equal(g.reissued, 0);
		free(g.bundle);
	}
	assert_int_equal(issued(t, qid), UNITS);
	assert_int_equal(ask(c0, "dut-Z", NULL, &g), TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
	same_again(c0, "dut-A", NULL, a);     /* a retry is free, even at 0 units left */
	assert_int_equal(issued(t, qid), UNITS);
	jig_client_close(c0);
	jig_client_close(c1);
}

/* After a restart: dut-A gets the same bytes, nothing is spent. */
static void
after_restart(struct th *t, const uint8_t qid[16], const struct got *a)
{
	struct jig_client *c = NULL;
	struct got g;

	assert_int_equal(th_jig_connect(t, 1, 0, &c), 0);
	same_again(c, "dut-A", NULL, a);
	same_again(c, "dut-A", qid, a);
	assert_int_equal(issued(t, qid), UNITS);
	assert_int_equal(ask(c, "dut-Y", NULL, &g), TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
	jig_client_close(c);
	token_show_matches(t, "dut-A", a);
}

static void
test_same_uid_same_token_across_restarts(void **state)
{
	struct th *t = *state;
	uint8_t qid[16];
	struct got a;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", UNITS, qid), 0);
	first_run(t, qid, &a);
	token_show_matches(t, "dut-A", &a);

	assert_int_equal(th_stop(t, 20000), 0);   /* SIGTERM: clean exit */
	assert_int_equal(th_start(t), 0);
	after_restart(t, qid, &a);

	assert_true(WIFSIGNALED(th_kill(t, SIGKILL)));
	assert_int_equal(th_start(t), 0);
	after_restart(t, qid, &a);

	assert_int_equal(th_restart(t), 0);       /* and once more, kill -9 */
	after_restart(t, qid, &a);
	reconcile_clean(t, UNITS);
	free(a.bundle);
	assert_int_equal(th_stop_clean(t), 0);
}

/* Units spent before a restart stay spent; the ones left are still there. */
static void
test_counter_survives_restart(void **state)
{
	struct th *t = *state;
	struct jig_client *c = NULL;
	uint8_t qid[16];
	struct got g;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 2, qid), 0);
	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	assert_int_equal(ask(c, "dut-1", NULL, &g), 0);
	free(g.bundle);
	jig_client_close(c);

	assert_int_equal(th_restart(t), 0);
	assert_int_equal(issued(t, qid), 1);
	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	assert_int_equal(ask(c, "dut-2", NULL, &g), 0);
	assert_int_equal(g.reissued, 0);
	free(g.bundle);
	assert_int_equal(ask(c, "dut-3", NULL, &g), TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
	jig_client_close(c);

	assert_int_equal(th_stop(t, 20000), 0);
	assert_int_equal(th_start(t), 0);
	assert_int_equal(issued(t, qid), 2);
	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	assert_int_equal(ask(c, "dut-4", NULL, &g), TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
	jig_client_close(c);
	reconcile_clean(t, 2);
	assert_int_equal(th_stop_clean(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_uid_same_token_across_restarts,
		    th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_counter_survives_restart,
		    th_cmocka_setup, th_cmocka_teardown),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
