/* test_hostile_net.c - tallyd on a hostile network (issue 5): slow clients
 * (a frame or a TLS handshake trickled one byte at a time), more
 * connections than max_connections, client certificates out of their
 * validity period, a TLS 1.3 KeyUpdate flood. Every attack runs against a
 * real tallyd over real TLS on 127.0.0.1 while a second, well-behaved jig
 * completes Challenge + IssueToken round trips, which must keep working.
 * Request floods and the rate limit: test_hostile_rate.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "key.h"
#include "tls.h"
#include "util.h"
#include "tests/harness/harness.h"
#include "tests/integration/test_jig_fx.h"

#define MS 1000000ull   /* ns per ms */

static int
setup_slow(void **state)
{
	return th_cmocka_setup_with(state,
	    "frame_timeout = 2\nhandshake_timeout = 2\nidle_timeout = 60\n");
}

static int
setup_cap(void **state)
{
	return th_cmocka_setup_with(state, "max_connections = 4\nhandshake_timeout = 30\n");
}

/* Enrols jigs 0 and 1, imports a "widget" quota and returns a connection
 * of jig 1, the well-behaved one. */
static struct th_conn *
good_jig(struct th *t)
{
	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", 1000, NULL), 0);
	return connect_jig(t, 1);
}

static int
tcp_connect(struct th *t)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(t->port) };
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Waits up to ms for the peer to close fd (EOF or reset): true if it did. */
static bool
tcp_closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	ssize_t k;

	while (poll(&p, 1, ms) == 1) {
		if ((k = recv(fd, buf, sizeof(buf), 0)) <= 0)
			return k == 0 || errno == ECONNRESET;
	}
	return false;
}

/* A Hello frame of about 60 bytes, trickled one byte per 200 ms by jig 0
 * (each byte its own TLS record): a frame that would take 12 s. tallyd
 * closes it at frame_timeout (2 s) although idle_timeout is 60 s and bytes
 * keep coming; jig 1 is served in the middle of it. */
static void
test_slowloris_frame(void **state)
{
	struct th *t = *state;
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__Hello h = TALLY__HELLO__INIT;
	struct th_conn *good = good_jig(t), *slow = connect_jig(t, 0);
	uint8_t frame[128];
	size_t len, i;
	uint64_t t0 = 0, took;
	bool closed = false;

	assert_int_equal(th_hello_code(slow, NULL), 0);
	h.jig_software = (char *)"a jig that sends one byte at a time, forever";
	rq.body_case = TALLY__REQUEST__BODY_HELLO;
	rq.hello = &h;
	rq.request_id = 7;
	len = tally__request__get_packed_size(&rq);
	assert_true(len + 4 <= sizeof(frame));
	frame[0] = 0, frame[1] = 0, frame[2] = (uint8_t)(len >> 8), frame[3] = (uint8_t)len;
	tally__request__pack(&rq, frame + 4);
	for (i = 0; i < len + 4 && !closed; i++) {
		if (th_tls_write(slow, frame + i, 1) != 0)
			break;
		if (i == 0)
			t0 = tally_mono_ns();
		if (i == 3)
			good_round_trip(good);   /* served while the slow one trickles */
		closed = th_tls_wait_closed(slow, 200);
	}
	took = (tally_mono_ns() - t0) / MS;
	assert_true(i < len + 4);     /* the frame never got through */
	assert_true(took >= 1500 && took < 4500);
	assert_true(th_log_wait(t, "frame not complete within 2 s (frame_timeout", 5000));
	good_round_trip(good);
	th_tls_close(slow);
	th_tls_close(good);
}

/* A TLS ClientHello that never completes: a record header, then a byte
 * every 200 ms; and a TCP connection that sends nothing at all. Both are
 * closed at handshake_timeout (2 s); jig 1 is served meanwhile. */
static void
test_slowloris_handshake(void **state)
{
	struct th *t = *state;
	static const uint8_t rec[5] = { 0x16, 0x03, 0x01, 0x02, 0x00 };  /* 512 bytes follow */
	struct th_conn *good = good_jig(t);
	int fd = tcp_connect(t), quiet = tcp_connect(t);
	uint64_t t0 = tally_mono_ns(), took;
	unsigned i;
	bool closed = false;

	assert_int_equal(send(fd, rec, sizeof(rec), MSG_NOSIGNAL), (ssize_t)sizeof(rec));
	for (i = 0; i < 60 && !closed; i++) {
		if (send(fd, "\x01", 1, MSG_NOSIGNAL) != 1)
			break;
		if (i == 2)
			good_round_trip(good);
		closed = tcp_closed_within(fd, 200);
	}
	took = (tally_mono_ns() - t0) / MS;
	assert_true(i < 60);
	assert_true(took >= 1500 && took < 4500);
	assert_true(tcp_closed_within(quiet, 3000));
	assert_true(th_log_wait(t, "TLS handshake not done within 2 s (handshake_timeout)", 5000));
	good_round_trip(good);
	close(fd);
	close(quiet);
	th_tls_close(good);
}

/* The idle timeout only counts whole frames: a jig that sends a byte of a
 * frame now and then but never completes one is closed at idle_timeout
 * even when frame_timeout is longer. */
static void
test_idle_counts_frames(void **state)
{
	struct th *t = *state;
	static const uint8_t part[4] = { 0, 0, 0, 100 };
	struct th_conn *c;
	unsigned i;
	bool closed = false;

	assert_int_equal(th_enroll(t, 0), 0);
	c = connect_jig(t, 0);
	assert_int_equal(th_hello_code(c, NULL), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(th_tls_write(c, part + i, 1), 0);
	for (i = 0; i < 40 && !closed; i++) {
		if (th_tls_write(c, "\x08", 1) != 0)
			break;
		closed = th_tls_wait_closed(c, 200);
	}
	assert_true(i < 40);
	assert_true(th_log_wait(t, "idle for 2 s", 5000));
	th_tls_close(c);
}

static int
setup_idle2_frame60(void **state)
{
	return th_cmocka_setup_with(state, "idle_timeout = 2\nframe_timeout = 60\n");
}

/* max_connections = 4: the good jig and three idle TCP connections fill
 * the table; 20 more TLS connections are refused right after accept (no
 * TLS alert: the client sees the connection end in its handshake), counted
 * in the log; the good jig is served all along; once the idle ones close,
 * connections are accepted again. */
static void
test_over_max_connections(void **state)
{
	struct th *t = *state;
	struct th_conn *good = good_jig(t), *late = NULL;
	int idle[3];
	unsigned i;

	good_round_trip(good);
	for (i = 0; i < 3; i++)
		idle[i] = tcp_connect(t);
	usleep(200 * 1000);   /* tallyd accepts them */
	for (i = 0; i < 20; i++) {
		assert_true(th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }));
		if (i % 5 == 0)
			good_round_trip(good);
	}
	assert_true(th_log_wait(t, "(max_connections)", 5000));
	assert_true(th_log_contains(t, "in all"));
	good_round_trip(good);
	for (i = 0; i < 3; i++)
		close(idle[i]);
	for (i = 0; i < 50 && th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }); i++)
		usleep(100 * 1000);
	assert_true(i < 50);
	late = connect_jig(t, 0);
	assert_int_equal(th_hello_code(late, NULL), 0);
	good_round_trip(good);
	th_tls_close(late);
	th_tls_close(good);
}

/* Jig 0's own key with a certificate from the trusted CA that expired
 * yesterday, and one valid only from tomorrow: both handshakes are
 * refused (jig 0 itself is enrolled and served), and the log says why. */
static void
test_cert_validity(void **state)
{
	struct th *t = *state;
	struct th_conn *good = good_jig(t);
	struct th_jig expired, early;

	assert_int_equal(th_jig_recert(t, 0, "expired", -2 * 86400L, -86400L, &expired), 0);
	assert_int_equal(th_jig_recert(t, 0, "early", 86400L, 2 * 86400L, &early), 0);
	assert_false(th_tls_refused(t, &(struct th_tls_opts){ .jig = 0 }));
	assert_true(th_tls_refused(t, &(struct th_tls_opts){ .as = &expired }));
	assert_true(th_log_wait(t, "client certificate: certificate has expired", 5000));
	good_round_trip(good);
	assert_true(th_tls_refused(t, &(struct th_tls_opts){ .as = &early }));
	assert_true(th_log_wait(t, "client certificate: certificate is not yet valid", 5000));
	good_round_trip(good);
	th_jig_free(&expired);
	th_jig_free(&early);
	th_tls_close(good);
}

/* TLS 1.3 has no renegotiation (RFC 8446 §4.6 replaces it with KeyUpdate
 * and post-handshake messages tallyd does not ask for); the context also
 * sets SSL_OP_NO_RENEGOTIATION and TLS 1.3 as its only version. A flood
 * of KeyUpdate(update_requested) messages with no request between them:
 * OpenSSL 3.0 answers each (a key derivation, no limit of its own), so it
 * is made bounded by tallyd: KeyUpdates are not frames, so the idle
 * timeout (3 s here) still closes the connection; and harmless: the good
 * jig is served all along. */
static void
test_keyupdate_flood(void **state)
{
	struct th *t = *state;
	struct th_conn *good = good_jig(t), *c = connect_jig(t, 0);
	SSL *ssl = th_tls_ssl(c);
	uint64_t t0, last = 0, now;
	unsigned sent = 0, served = 0;

	assert_int_equal(th_hello_code(c, NULL), 0);
	assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
	assert_int_equal(SSL_renegotiate(ssl), 0);   /* not in TLS 1.3 */
	ERR_clear_error();
	t0 = tally_mono_ns();
	while ((now = tally_mono_ns()) - t0 < 10000 * MS) {
		if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1 ||
		    SSL_do_handshake(ssl) != 1)
			break;
		sent++;
		if (now - last >= 250 * MS) {
			good_round_trip(good);
			served++;
			last = now;
		}
	}
	ERR_clear_error();
	now = (tally_mono_ns() - t0) / MS;
	print_message("KeyUpdate flood: %u sent in %llu ms before tallyd closed the "
	    "link; %u good round trips meanwhile\n", sent, (unsigned long long)now, served);
	assert_true(now >= 2500 && now < 6000);
	assert_true(th_tls_wait_closed(c, 5000));
	assert_true(th_log_wait(t, "idle for 3 s", 5000));
	assert_true(served >= 8);
	good_round_trip(good);
	th_tls_close(c);
	th_tls_close(good);
}

static int
setup_idle3(void **state)
{
	return th_cmocka_setup_with(state, "idle_timeout = 3\n");
}

/* The server context tallyd uses, for the record: TLS 1.3 only and
 * SSL_OP_NO_RENEGOTIATION set. */
static void
test_server_ctx_options(void **state)
{
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = NULL;
	struct th *t = *state;

	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &key), 0);
	assert_int_equal(tally_tls_server_ctx(key, t->ca_path, &ctx), 0);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_free(ctx);
	EVP_PKEY_free(key);
}

/* The new keys: out-of-range values stop tallyd with FILE:LINE. */
static void
test_config_keys(void **state)
{
	static const char *const bad[] = {
		"frame_timeout = 0\n", "frame_timeout = 3601\n",
		"handshake_timeout = 0\n", "rate_limit = 1000001\n",
		"rate_burst = 0\n", "rate_limit = -1\n",
	};
	struct th *t = *state;
	size_t i;

	assert_int_equal(th_stop(t, 20000), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(th_write_config(t, bad[i]), 0);
		assert_int_not_equal(th_start(t), 0);
	}
	assert_true(th_log_contains(t, "frame_timeout: not a number in 1..3600"));
	assert_true(th_log_contains(t, "rate_burst: not a number in 1..1000000"));
	assert_int_equal(th_write_config(t, "frame_timeout = 3600\nhandshake_timeout = 1\n"
	    "rate_limit = 0\nrate_burst = 1000000\n"), 0);
	assert_int_equal(th_start(t), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_cmocka_setup, th_cmocka_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, th_cmocka_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TS(test_slowloris_frame, setup_slow),
		TS(test_slowloris_handshake, setup_slow),
		TS(test_idle_counts_frames, setup_idle2_frame60),
		TS(test_over_max_connections, setup_cap),
		T(test_cert_validity),
		TS(test_keyupdate_flood, setup_idle3),
		T(test_server_ctx_options),
		T(test_config_keys),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
