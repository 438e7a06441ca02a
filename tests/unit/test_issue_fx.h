/*
 * test_issue_fx.h - what test_issue.c and test_issue_attest.c share (each
 * its own binary; included once per binary): the fx_core.h fixture as
 * cmocka setup and teardown (a writer on a real LMDB store in a temporary
 * folder), the log size, a quota import signed by a given key, and the
 * log entry at an index read straight from the store.
 */
#ifndef TEST_ISSUE_FX_H
#define TEST_ISSUE_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include "artifact.h"
#include "attest.h"
#include "checkpoint.h"
#include "dsse.h"
#include "err.h"
#include "util.h"
#include "jig.pb-c.h"
#include "log.pb-c.h"
#include "daemon/query.h"
#include "daemon/store.h"
#include "daemon/writer.h"
#include "tests/harness/fx_core.h"

#define TI_UNUSED __attribute__((unused))

static TI_UNUSED int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fx_setup(f, 16u << 20) != 0)
		return -1;
	*state = f;
	return 0;
}

static TI_UNUSED int
teardown(void **state)
{
	fx_teardown(*state);
	free(*state);
	return 0;
}

static TI_UNUSED uint64_t
log_size(struct fx *f)
{
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__StatusResponse st = TALLY__STATUS_RESPONSE__INIT;
	uint64_t n;

	assert_int_equal(query_status(f->st, &a, &st), 0);
	n = st.log_size;
	tally_arena_release(&a);
	return n;
}

/* Imports q signed by signer; returns the error code. */
static TI_UNUSED int
import(struct fx *f, const Tally__Quota *q, EVP_PKEY *signer)
{
	size_t len;
	uint8_t *env = fx_quota_sign(q, signer, &len);
	struct wreq *r = fx_run1(f, fx_req_quota(f, env, len));
	int err = r->error;

	if (err == 0)
		assert_memory_equal(r->id, q->quota_id.data, 16);
	wreq_free(r);
	free(env);
	return err;
}

/* The log entry at index (tally__log_entry__free_unpacked). */
static TI_UNUSED Tally__LogEntry *
entry_at(struct fx *f, uint64_t index)
{
	Tally__LogEntry *e;
	struct store_txn t;
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;

	store_be64_put(key, index);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_get(&t, STORE_DB_LOG, key, 8, &v, &vlen), 0);
	assert_non_null(e = tally__log_entry__unpack(NULL, vlen, v));
	store_txn_abort(&t);
	return e;
}

#endif
