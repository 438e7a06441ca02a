/* test_hostile_rate.c - a jig flooding requests (issue 5): tallyd's per-jig
 * rate limit (rate_limit, rate_burst) answers RATE_LIMITED, spends and logs
 * nothing for a refused request, holds across the jig's connections, stops
 * a flood of attestation failures (each of which would be a log entry),
 * and lets the flooder back in once it slows down; a second, well-behaved
 * jig completes Challenge + IssueToken round trips during the flood. Real
 * tallyd, real TLS on 127.0.0.1 (harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "key.h"
#include "util.h"
#include "tests/harness/harness.h"
#include "tests/integration/test_jig_fx.h"
#include "tests/harness/th_issue.h"

#define MS 1000000ull

static int
setup_rate20(void **state)
{
	return th_cmocka_setup_with(state, "rate_limit = 20\nrate_burst = 20\n");
}

static int
setup_rate10(void **state)
{
	return th_cmocka_setup_with(state, "rate_limit = 10\nrate_burst = 10\n");
}

static uint64_t
log_size(struct th *t)
{
	uint64_t n = 0;

	assert_int_equal(th_log_size(t, &n), 0);
	return n;
}

/* Pipelines n Hellos on c, then reads the n answers: how many were served
 * (*ok) and refused RATE_LIMITED (*limited); nothing else may come. */
static void
hello_burst(struct th_conn *c, unsigned n, unsigned *ok, unsigned *limited)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__Hello h = TALLY__HELLO__INIT;
	Tally__Response *resp;
	unsigned i;

	*ok = *limited = 0;
	h.jig_software = (char *)"flooder";
	rq.body_case = TALLY__REQUEST__BODY_HELLO;
	rq.hello = &h;
	for (i = 0; i < n; i++) {
		rq.request_id = 0;
		assert_int_equal(th_tls_send(c, &rq), 0);
	}
	for (i = 0; i < n; i++) {
		assert_int_equal(th_tls_recv(c, &resp), 0);
		if (resp->error == TALLY__ERROR_CODE__RATE_LIMITED) {
			assert_non_null(strstr(resp->message, " requests/s from this jig"));
			(*limited)++;
		} else {
			assert_int_equal(resp->error, 0);
			assert_int_equal(resp->body_case, TALLY__RESPONSE__BODY_HELLO);
			(*ok)++;
		}
		tally__response__free_unpacked(resp, NULL);
	}
}

/* rate_limit = 20/s, rate_burst = 20: 400 pipelined Hellos of jig 0 get
 * about 20 + 20/s answers and RATE_LIMITED for the rest; jig 0's other
 * connection shares the bucket; jig 1 is served; after a second of calm
 * jig 0 is served again. */
static void
test_flood_limited(void **state)
{
	struct th *t = *state;
	struct th_conn *flood, *flood2, *good;
	unsigned ok, limited;
	uint64_t t0, ms;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", 100, NULL), 0);
	flood = connect_jig(t, 0);
	flood2 = connect_jig(t, 0);
	good = connect_jig(t, 1);
	t0 = tally_mono_ns();
	hello_burst(flood, 400, &ok, &limited);
	good_round_trip(good);
	ms = (tally_mono_ns() - t0) / MS;
	print_message("flood: %u served, %u RATE_LIMITED in %llu ms\n", ok, limited,
	    (unsigned long long)ms);
	assert_true(ok >= 20 && ok <= 20 + 20 * ms / 1000 + 2);
	assert_int_equal(ok + limited, 400);
	/* the same jig on another connection: same bucket, nearly empty */
	hello_burst(flood2, 20, &ok, &limited);
	assert_true(limited >= 15);
	assert_true(th_log_wait(t, "over rate_limit (20 requests/s, burst 20)", 5000));
	good_round_trip(good);
	/* it slows down: served again, and a token can be issued */
	usleep(1100 * 1000);
	hello_burst(flood, 10, &ok, &limited);
	assert_int_equal(ok, 10);
	good_round_trip(flood);
	assert_true(th_log_wait(t, "served again after", 5000));
	th_tls_close(flood);
	th_tls_close(flood2);
	th_tls_close(good);
}

/* IssueToken with attestation failures: each failure that gets through is
 * a LogAttestationFailed entry. rate_limit = 10/s, burst 10: a jig that
 * loops Challenge + IssueToken with a junk attestation for 2 s gets at most
 * (10 + 10/s * 2 s) / 2 of them through; everything else is RATE_LIMITED
 * and leaves no trace in the log (its size grows by exactly the failures
 * that got through plus the good jig's one token). */
static void
test_attestation_flood(void **state)
{
	struct th *t = *state;
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp;
	EVP_PKEY *ak = NULL;
	struct th_quota q = { .product = "attested", .units = 100 };
	struct th_conn *flood, *good;
	uint8_t *env = NULL, nonce[32], junk[40], uid[4] = { 'b', 'a', 'd', 0 };
	size_t len;
	unsigned failed = 0, limited = 0, attempts = 0;
	uint64_t before, t0, ms;
	int r;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", 100, NULL), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &ak), 0);
	q.attestation_keys = &ak;
	q.n_attestation_keys = 1;
	assert_int_equal(th_make_quota(t, &q, NULL, &env, &len), 0);
	assert_int_equal(th_import_code(t, env, len), 0);
	flood = connect_jig(t, 0);
	good = connect_jig(t, 1);
	memset(junk, 0xa5, sizeof(junk));
	it.product = (char *)"attested";
	it.device_uid = (ProtobufCBinaryData){ sizeof(uid), uid };
	it.nonce = (ProtobufCBinaryData){ 32, nonce };
	it.attestation = (ProtobufCBinaryData){ sizeof(junk), junk };
	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	before = log_size(t);
	t0 = tally_mono_ns();
	while ((ms = (tally_mono_ns() - t0) / MS) < 2000) {
		attempts++;
		if (attempts == 50)
			good_round_trip(good);
		if ((r = th_challenge_code(flood, nonce)) == TALLY__ERROR_CODE__RATE_LIMITED) {
			limited++;
			continue;
		}
		assert_int_equal(r, 0);
		uid[3] = (uint8_t)attempts;
		rq.request_id = 0;
		assert_int_equal(th_tls_call(flood, &rq, &resp), 0);
		if (resp->error == TALLY__ERROR_CODE__RATE_LIMITED)
			limited++;
		else if (resp->error == TALLY__ERROR_CODE__ATTESTATION_FAILED)
			failed++;
		else
			fail_msg("unexpected answer %d", (int)resp->error);
		tally__response__free_unpacked(resp, NULL);
	}
	print_message("attestation flood: %u attempts, %u ATTESTATION_FAILED (logged), "
	    "%u RATE_LIMITED in %llu ms\n", attempts, failed, limited,
	    (unsigned long long)ms);
	assert_true(failed >= 3 && failed <= (10 + 10 * ms / 1000) / 2 + 2);
	assert_true(limited > 10 * failed);
	assert_true(attempts >= 50);
	assert_int_equal(log_size(t), before + failed + 1);
	good_round_trip(good);
	free(env);
	EVP_PKEY_free(ak);
	th_tls_close(flood);
	th_tls_close(good);
}

/* The defaults (rate_limit 200/s, rate_burst 400): a burst of 2000
 * Hellos gets the bucket's 400 and what refills while they arrive, the
 * rest RATE_LIMITED; rate_limit = 0 lifts the limit. */
static void
test_default_limit(void **state)
{
	struct th *t = *state;
	struct th_conn *c;
	unsigned ok, limited;

	assert_int_equal(th_enroll(t, 0), 0);
	c = connect_jig(t, 0);
	hello_burst(c, 2000, &ok, &limited);
	assert_int_equal(ok + limited, 2000);
	assert_true(ok >= 400);
	assert_true(limited > 0);
	th_tls_close(c);
	assert_int_equal(th_write_config(t, "rate_limit = 0\n"), 0);
	assert_int_equal(th_restart(t), 0);
	c = connect_jig(t, 0);
	hello_burst(c, 2000, &ok, &limited);
	assert_int_equal(ok, 2000);
	assert_int_equal(limited, 0);
	th_tls_close(c);
}

#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, th_cmocka_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TS(test_flood_limited, setup_rate20),
		TS(test_attestation_flood, setup_rate10),
		TS(test_default_limit, th_cmocka_setup),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
