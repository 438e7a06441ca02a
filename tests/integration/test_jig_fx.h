/* test_jig_fx.h - small helpers of the jig-connection tests
 * (test_jig_auth, test_hostile_net, test_hostile_rate): a jig's TLS
 * connection, and one good Challenge + IssueToken round trip. Included
 * once per test binary. */
#ifndef TEST_JIG_FX_H
#define TEST_JIG_FX_H

#include <stdint.h>
#include <string.h>
#include "tests/harness/harness.h"

/* A TLS connection as enrolled jig number jig (asserts it connects). */
static inline struct th_conn *
connect_jig(struct th *t, int jig)
{
	struct th_conn *c = NULL;

	assert_int_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = jig }, &c), 0);
	return c;
}

/* One Challenge + IssueToken of the good jig for a fresh UID under
 * product "widget"; asserts it is served. */
static inline void
good_round_trip(struct th_conn *good)
{
	static unsigned seq;
	uint8_t uid[8] = { 'g', 'o', 'o', 'd' };

	seq++;
	memcpy(uid + 4, &seq, sizeof(seq));
	assert_int_equal(th_issue_code(good, "widget", NULL, uid, sizeof(uid), NULL), 0);
}

#endif
