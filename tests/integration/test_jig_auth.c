/* test_jig_auth.c - who may talk to tallyd's jig port, and what a broken
 * or hostile jig connection does (closes itself, nothing else). Real
 * tallyd process, real TLS (harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/ssl.h>

#include "err.h"
#include "tests/harness/harness.h"
#include "tests/integration/test_jig_fx.h"
#include "util.h"

static int
setup_idle2(void **state)
{
	return th_cmocka_setup_with(state, "idle_timeout = 2\n");
}

static int
setup_ttl1(void **state)
{
	return th_cmocka_setup_with(state, "challenge_ttl = 1\n");
}

static int
setup_max3(void **state)
{
	return th_cmocka_setup_with(state, "max_connections = 3\n");
}

/* Hundreds of pipelined requests: the per-connection limits are under
 * test, not the per-jig rate limit. */
static int
setup_unlimited(void **state)
{
	return th_cmocka_setup_with(state, "rate_limit = 0\n");
}

static uint64_t
log_size(struct th *t)
{
	Tally__CtlResponse *resp = NULL;
	uint64_t n;

	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->error, 0);
	n = resp->status->log_size;
	tally__ctl_response__free_unpacked(resp, NULL);
	return n;
}

static void
test_enrolled_gets_hello(void **state)
{
	struct th *t = *state;
	Tally__Response *resp = NULL;
	Tally__CtlResponse *st = NULL;
	struct th_conn *c;

	assert_int_equal(th_enroll(t, 0), 0);
	c = connect_jig(t, 0);
	assert_int_equal(th_hello_code(c, &resp), 0);
	assert_int_equal(resp->hello->appliance_key_id.len, 32);
	assert_memory_equal(resp->hello->appliance_key_id.data, t->appliance_key_id, 32);
	assert_int_equal(resp->hello->appliance_public_key.len, t->appliance_spki_len);
	assert_memory_equal(resp->hello->appliance_public_key.data, t->appliance_spki,
	    t->appliance_spki_len);
	assert_true(resp->hello->time >= tally_now() - 60 && resp->hello->time <= tally_now());
	tally__response__free_unpacked(resp, NULL);
	assert_int_equal(th_status(t, &st), 0);
	assert_int_equal(st->status->jig_connections, 1);
	tally__ctl_response__free_unpacked(st, NULL);
	th_tls_close(c);
}

/* The jig side pins the appliance key: a different key ID fails the
 * handshake on the client (lib/tls.c verify callback). */
static void
test_client_pins_appliance(void **state)
{
	struct th *t = *state;
	struct th_conn *c = NULL;

	assert_int_equal(th_enroll(t, 0), 0);
	t->appliance_key_id[0] ^= 1;
	assert_int_not_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = 0 }, &c), 0);
	assert_null(c);
	t->appliance_key_id[0] ^= 1;
	assert_int_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = 0 }, &c), 0);
	assert_int_equal(th_hello_code(c, NULL), 0);
	th_tls_close(c);
}

static void
test_no_certificate(void **state)
{
	struct th *t = *state;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_true(th_tls_refused(t, &(struct th_tls_opts){ .jig = -1 }));
	assert_false(th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }));
}

static void
test_other_ca(void **state)
{
	struct th *t = *state;
	struct th_jig rogue;

	assert_int_equal(th_foreign_jig(t, "rogue", &rogue), 0);
	assert_true(th_tls_refused(t, &(struct th_tls_opts){ .as = &rogue }));
	assert_true(th_log_wait(t, "TLS handshake failed", 5000));
	th_jig_free(&rogue);
}

/* An enrolled jig offering only TLS 1.2, 1.1 or 1.0 is refused in the
 * handshake (tallyd speaks TLS 1.3 only: no version fallback, and with it
 * no renegotiation); with TLS 1.3 the same jig is served. */
static void
test_tls12_only(void **state)
{
	static const int old[] = { TLS1_2_VERSION, TLS1_1_VERSION, TLS1_VERSION };
	struct th *t = *state;
	size_t i;

	assert_int_equal(th_enroll(t, 0), 0);
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		assert_true(th_tls_refused(t, &(struct th_tls_opts){ .jig = 0,
		    .max_version = old[i] }));
	assert_true(th_log_wait(t, "TLS handshake failed", 5000));
	assert_true(th_log_contains(t, "unsupported protocol"));
	assert_false(th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }));
}

static void
test_not_enrolled(void **state)
{
	struct th *t = *state;
	struct th_conn *c = connect_jig(t, 1);

	assert_int_equal(th_hello_code(c, NULL), TALLY__ERROR_CODE__JIG_NOT_ENROLLED);
	assert_true(th_tls_wait_closed(c, 5000));
	th_tls_close(c);
	assert_true(th_log_contains(t, "not enrolled"));
}

static void
test_revoked_while_connected(void **state)
{
	struct th *t = *state;
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__JigRevokeRequest jr = TALLY__JIG_REVOKE_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	struct th_conn *c, *other, *again;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	c = connect_jig(t, 0);
	other = connect_jig(t, 1);
	assert_int_equal(th_hello_code(c, NULL), 0);
	assert_int_equal(th_hello_code(other, NULL), 0);
	jr.jig_key_id = (ProtobufCBinaryData){ 32, t->jig[0].key_id };
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_REVOKE;
	rq.jig_revoke = &jr;
	assert_int_equal(th_ctl(t, &rq, &resp), 0);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->body_case, TALLY__CTL_RESPONSE__BODY_JIG_REVOKE);
	assert_int_equal(resp->jig_revoke->connections_closed, 1);
	tally__ctl_response__free_unpacked(resp, NULL);
	assert_true(th_tls_wait_closed(c, 5000));
	th_tls_close(c);
	/* a new connection of the revoked jig is turned away */
	again = connect_jig(t, 0);
	assert_int_equal(th_hello_code(again, NULL), TALLY__ERROR_CODE__JIG_REVOKED);
	th_tls_close(again);
	/* the other jig is untouched */
	assert_int_equal(th_hello_code(other, NULL), 0);
	th_tls_close(other);
}

/* Sends bytes on a fresh connection of jig 0 and checks tallyd answers
 * BAD_REQUEST (when it reads a whole header) and closes it. */
static void
bad_stream(struct th *t, const uint8_t *bytes, size_t len, bool expect_reply)
{
	struct th_conn *c = connect_jig(t, 0);
	Tally__Response *resp = NULL;

	assert_int_equal(th_hello_code(c, NULL), 0);
	assert_int_equal(th_tls_write(c, bytes, len), 0);
	if (expect_reply) {
		assert_int_equal(th_tls_recv(c, &resp), 0);
		assert_int_equal(resp->error, TALLY__ERROR_CODE__BAD_REQUEST);
		tally__response__free_unpacked(resp, NULL);
	}
	assert_true(th_tls_wait_closed(c, 8000));
	th_tls_close(c);
}

static void
test_bad_frames(void **state)
{
	struct th *t = *state;
	static const uint8_t garbage[14] = { 0, 0, 0, 10, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t oversized[4] = { 0, 1, 0, 1 };   /* 65537 */
	static const uint8_t zero[4] = { 0, 0, 0, 0 };
	struct th_conn *good;
	uint64_t size;
	uint8_t nonce[32];

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	good = connect_jig(t, 1);
	assert_int_equal(th_hello_code(good, NULL), 0);
	size = log_size(t);

	bad_stream(t, garbage, sizeof(garbage), true);
	assert_int_equal(th_challenge_code(good, nonce), 0);
	bad_stream(t, oversized, sizeof(oversized), true);
	assert_int_equal(th_challenge_code(good, nonce), 0);
	bad_stream(t, zero, sizeof(zero), true);
	assert_int_equal(th_challenge_code(good, nonce), 0);
	assert_true(th_log_contains(t, "frame is not a Request message"));
	assert_true(th_log_contains(t, "frame longer than 65536 bytes"));
	assert_true(th_log_contains(t, "frame of length 0"));
	/* the other jig was served all along, and nothing was stored */
	assert_int_equal(th_hello_code(good, NULL), 0);
	assert_int_equal(log_size(t), size);
	th_tls_close(good);
}

/* A frame that never completes: closed by the idle timeout (2 s). */
static void
test_truncated_idle(void **state)
{
	struct th *t = *state;
	static const uint8_t truncated[10] = { 0, 0, 0, 100, 0x08, 0x01 };

	assert_int_equal(th_enroll(t, 0), 0);
	bad_stream(t, truncated, sizeof(truncated), false);
	assert_true(th_log_contains(t, "idle for 2 s"));
}

static void
test_truncated_then_eof(void **state)
{
	struct th *t = *state;
	static const uint8_t truncated[10] = { 0, 0, 0, 100, 0x08, 0x01 };
	struct th_conn *c;

	assert_int_equal(th_enroll(t, 0), 0);
	c = connect_jig(t, 0);
	assert_int_equal(th_hello_code(c, NULL), 0);
	assert_int_equal(th_tls_write(c, truncated, sizeof(truncated)), 0);
	th_tls_close(c);   /* the jig goes away inside the frame */
	c = connect_jig(t, 0);
	assert_int_equal(th_hello_code(c, NULL), 0);
	th_tls_close(c);
	assert_true(th_log_wait(t, "truncated frame", 5000));
}

static void
test_bad_fields(void **state)
{
	struct th *t = *state;
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp = NULL;
	uint8_t uid[65] = { 1 }, nonce[32] = { 0 };
	struct th_conn *c;

	assert_int_equal(th_enroll(t, 0), 0);
	c = connect_jig(t, 0);
	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	it.product = (char *)"widget";
	it.device_uid = (ProtobufCBinaryData){ sizeof(uid), uid };   /* 65 bytes */
	it.nonce = (ProtobufCBinaryData){ 32, nonce };
	rq.request_id = 41;
	assert_int_equal(th_tls_call(c, &rq, &resp), 0);
	assert_int_equal(resp->request_id, 41);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__BAD_REQUEST);
	tally__response__free_unpacked(resp, NULL);
	/* a well-formed request with a nonce this connection never issued */
	it.device_uid.len = 8;
	rq.request_id = 42;
	assert_int_equal(th_tls_call(c, &rq, &resp), 0);
	assert_int_equal(resp->request_id, 42);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__NONCE_INVALID);
	tally__response__free_unpacked(resp, NULL);
	/* a request without a body */
	rq.body_case = TALLY__REQUEST__BODY__NOT_SET;
	rq.request_id = 43;
	assert_int_equal(th_tls_call(c, &rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__BAD_REQUEST);
	tally__response__free_unpacked(resp, NULL);
	/* the connection is still served */
	assert_int_equal(th_hello_code(c, NULL), 0);
	th_tls_close(c);
}

static void
test_nonces(void **state)
{
	struct th *t = *state;
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp = NULL;
	uint8_t uid[4] = { 0xd0, 0x0d, 0, 1 }, nonce[32];
	struct th_conn *a, *b;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", 10, NULL), 0);
	a = connect_jig(t, 0);
	b = connect_jig(t, 1);
	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	it.product = (char *)"widget";
	it.device_uid = (ProtobufCBinaryData){ sizeof(uid), uid };
	it.nonce = (ProtobufCBinaryData){ 32, nonce };
	/* a nonce is bound to its connection ... */
	assert_int_equal(th_challenge_code(a, nonce), 0);
	assert_int_equal(th_tls_call(b, &rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__NONCE_INVALID);
	tally__response__free_unpacked(resp, NULL);
	/* ... good once there ... */
	assert_int_equal(th_tls_call(a, &rq, &resp), 0);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->body_case, TALLY__RESPONSE__BODY_ISSUE_TOKEN);
	tally__response__free_unpacked(resp, NULL);
	/* ... and only once */
	assert_int_equal(th_tls_call(a, &rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__NONCE_INVALID);
	tally__response__free_unpacked(resp, NULL);
	/* it expires after challenge_ttl (1 s) */
	assert_int_equal(th_challenge_code(a, nonce), 0);
	sleep(2);
	assert_int_equal(th_tls_call(a, &rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__NONCE_INVALID);
	tally__response__free_unpacked(resp, NULL);
	th_tls_close(a);
	th_tls_close(b);
}

static void
test_max_connections(void **state)
{
	struct th *t = *state;
	struct th_conn *c[3];
	int i;

	assert_int_equal(th_enroll(t, 0), 0);
	for (i = 0; i < 3; i++) {
		c[i] = connect_jig(t, 0);
		assert_int_equal(th_hello_code(c[i], NULL), 0);
	}
	/* the fourth is refused at accept; the others stay served */
	assert_true(th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }));
	assert_true(th_log_wait(t, "(max_connections)", 5000));
	assert_int_equal(th_hello_code(c[2], NULL), 0);
	th_tls_close(c[2]);
	/* once one went away, a new one is accepted */
	for (i = 0; i < 50 && th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }); i++)
		usleep(100 * 1000);
	assert_true(i < 50);
	th_tls_close(c[0]);
	th_tls_close(c[1]);
}

/* SIGTERM with jigs connected and requests just sent: tallyd exits 0
 * (under ASan: nothing leaked) and the jigs see their connections end. */
static void
test_stop_with_jigs_connected(void **state)
{
	struct th *t = *state;
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__ChallengeRequest ch = TALLY__CHALLENGE_REQUEST__INIT;
	struct th_conn *a, *b;
	int i;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", 10, NULL), 0);
	a = connect_jig(t, 0);
	b = connect_jig(t, 1);
	assert_int_equal(th_hello_code(a, NULL), 0);
	assert_int_equal(th_issue_code(b, "widget", NULL, (const uint8_t *)"uid-1", 5, NULL), 0);
	rq.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	rq.challenge = &ch;
	for (i = 0; i < 20; i++) {
		rq.request_id = 0;
		assert_int_equal(th_tls_send(a, &rq), 0);
	}
	assert_int_equal(th_stop(t, 20000), 0);
	assert_true(th_tls_wait_closed(a, 5000));
	assert_true(th_tls_wait_closed(b, 5000));
	th_tls_close(a);
	th_tls_close(b);
}

/* A jig that pipelines 100000 requests before reading any reply, with a
 * 4 KiB receive buffer (about 5 MB of replies, more than the kernel
 * buffers take): tallyd stops reading it while its replies cannot be sent,
 * goes on when the jig reads, and every reply arrives, in order. */
static void
test_pipelined_backpressure(void **state)
{
	struct th *t = *state;
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__ChallengeRequest ch = TALLY__CHALLENGE_REQUEST__INIT;
	Tally__Response *resp = NULL;
	struct th_conn *c;
	const uint64_t n = 100000;
	uint64_t i;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = 0, .rcvbuf = 4096 }, &c), 0);
	rq.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	rq.challenge = &ch;
	for (i = 1; i <= n; i++) {
		rq.request_id = i;
		assert_int_equal(th_tls_send(c, &rq), 0);
	}
	for (i = 1; i <= n; i++) {
		assert_int_equal(th_tls_recv(c, &resp), 0);
		assert_int_equal(resp->request_id, i);
		/* 64 nonces may be outstanding per connection; then RATE_LIMITED */
		if (i <= 64)
			assert_int_equal(resp->error, 0);
		else
			assert_int_equal(resp->error, TALLY__ERROR_CODE__RATE_LIMITED);
		tally__response__free_unpacked(resp, NULL);
	}
	assert_int_equal(th_hello_code(c, NULL), 0);
	th_tls_close(c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_cmocka_setup, th_cmocka_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, th_cmocka_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_enrolled_gets_hello),
		T(test_client_pins_appliance),
		T(test_no_certificate),
		T(test_other_ca),
		T(test_tls12_only),
		T(test_not_enrolled),
		T(test_revoked_while_connected),
		T(test_bad_frames),
		TS(test_truncated_idle, setup_idle2),
		T(test_truncated_then_eof),
		T(test_bad_fields),
		TS(test_nonces, setup_ttl1),
		TS(test_max_connections, setup_max3),
		T(test_stop_with_jigs_connected),
		TS(test_pipelined_backpressure, setup_unlimited),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
