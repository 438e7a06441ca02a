/* test_writer.c - the writer thread (writer.h): group commit, never over
 * quota under concurrency, idempotent reissue across restarts, the Merkle
 * log, storage full. Real LMDB, real keys, real event_base. */
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
#include "checkpoint.h"
#include "err.h"
#include "merkle.h"
#include "daemon/query.h"
#include "daemon/store.h"
#include "util.h"
#include "daemon/writer.h"
#include "jig.pb-c.h"
#include "log.pb-c.h"
#include "tests/harness/fx_core.h"

#define MAP_BIG (64u << 20)

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fx_setup(f, MAP_BIG) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx_teardown(*state);
	free(*state);
	return 0;
}

/* Issued count of quota qid, as stored. */
static uint64_t
stored_issued(struct fx *f, const uint8_t qid[16])
{
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__QuotaListResponse ql;
	uint64_t n = UINT64_MAX;

	assert_int_equal(query_quota_list(f->st, &a, &ql), 0);
	for (size_t i = 0; i < ql.n_quotas; i++)
		if (memcmp(ql.quotas[i]->quota_id.data, qid, 16) == 0)
			n = ql.quotas[i]->issued;
	tally_arena_release(&a);
	return n;
}

/* The bundle of an OK issue verifies as a DUT would; returns its token. */
static void
check_bundle(struct fx *f, const struct wreq *r)
{
	Tally__Token *tok = NULL;

	assert_int_equal(tally_bundle_verify(r->out, r->out_len, f->oem, r->in.issue.uid,
	    r->in.issue.uid_len, fx_fw, tally_now(), &tok), 0);
	assert_int_equal(tok->log_index, r->log_index);
	assert_memory_equal(tok->jig_key_id.data, r->jig_key_id, 32);
	tally__token__free_unpacked(tok, NULL);
}

struct submitter {
	struct fx *f;
	struct wreq **reqs;
	size_t n;
};

static void *
submit_all(void *arg)
{
	struct submitter *s = arg;

	for (size_t i = 0; i < s->n; i++)
		writer_submit(s->f->w, s->reqs[i]);
	return NULL;
}

#define THREADS 4
#define PER_THREAD 40

/* 160 different devices from 4 threads against 100 units: exactly 100. */
static void
test_never_over_quota(void **state)
{
	struct fx *f = *state;
	struct wreq *reqs[THREADS * PER_THREAD];
	struct submitter sub[THREADS];
	pthread_t th[THREADS];
	uint8_t qid[16], jig[32], seen[THREADS * PER_THREAD] = { 0 };
	EVP_PKEY *jk;
	size_t ok = 0, exhausted = 0, n = THREADS * PER_THREAD;

	assert_int_equal(fx_import(f, "widget", 100, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t uid = 0x10000 + (uint32_t)i;
		reqs[i] = fx_req_issue(f, jig, "widget", &uid, sizeof(uid));
	}
	size_t target = f->done + n;
	for (int t = 0; t < THREADS; t++) {
		sub[t] = (struct submitter){ f, reqs + t * PER_THREAD, PER_THREAD };
		assert_int_equal(pthread_create(&th[t], NULL, submit_all, &sub[t]), 0);
	}
	while (f->done < target)
		event_base_loop(f->base, EVLOOP_ONCE);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (size_t i = 0; i < n; i++) {
		if (reqs[i]->error == TALLY__ERROR_CODE__OK) {
			ok++;
			check_bundle(f, reqs[i]);
			assert_false(reqs[i]->reissued);
			assert_true(reqs[i]->log_index < n + 10);
			assert_int_equal(seen[reqs[i]->log_index], 0);
			seen[reqs[i]->log_index] = 1;
		} else {
			assert_int_equal(reqs[i]->error, TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
			assert_null(reqs[i]->out);
			exhausted++;
		}
		wreq_free(reqs[i]);
	}
	assert_int_equal(ok, 100);
	assert_int_equal(exhausted, 60);
	assert_int_equal(stored_issued(f, qid), 100);
	assert_int_equal(writer_pending(f->w), 0);
	EVP_PKEY_free(jk);
}

/* Same device again: same bytes, no unit; also in one batch and after a restart. */
static void
test_reissue_and_restart(void **state)
{
	struct fx *f = *state;
	struct wreq *a, *b, *pair[2];
	uint8_t qid[16], jig[32], *first;
	size_t first_len;
	EVP_PKEY *jk;

	assert_int_equal(fx_import(f, "widget", 10, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_ED25519, &jk, jig), 0);
	a = fx_run1(f, fx_req_issue(f, jig, "widget", "dev-A", 5));
	assert_int_equal(a->error, 0);
	check_bundle(f, a);
	first = a->out;
	first_len = a->out_len;
	b = fx_run1(f, fx_req_issue(f, jig, "widget", "dev-A", 5));
	assert_int_equal(b->error, 0);
	assert_true(b->reissued);
	assert_int_equal(b->log_index, a->log_index);
	assert_int_equal(b->out_len, first_len);
	assert_memory_equal(b->out, first, first_len);
	wreq_free(b);
	assert_int_equal(stored_issued(f, qid), 1);

	/* Two requests for one device in the same batch: one token. */
	pair[0] = fx_req_issue(f, jig, "widget", "dev-B", 5);
	pair[1] = fx_req_issue(f, jig, "widget", "dev-B", 5);
	fx_run(f, pair, 2);
	assert_int_equal(pair[0]->error, 0);
	assert_int_equal(pair[1]->error, 0);
	assert_true(pair[0]->reissued != pair[1]->reissued);
	assert_int_equal(pair[0]->log_index, pair[1]->log_index);
	assert_int_equal(pair[0]->out_len, pair[1]->out_len);
	assert_memory_equal(pair[0]->out, pair[1]->out, pair[0]->out_len);
	wreq_free(pair[0]);
	wreq_free(pair[1]);
	assert_int_equal(stored_issued(f, qid), 2);

	/* Restart: the store and the caches come back from disk. */
	assert_int_equal(fx_restart(f), 0);
	b = fx_run1(f, fx_req_issue(f, jig, "widget", "dev-A", 5));
	assert_int_equal(b->error, 0);
	assert_true(b->reissued);
	assert_int_equal(b->out_len, first_len);
	assert_memory_equal(b->out, first, first_len);
	wreq_free(b);
	assert_int_equal(stored_issued(f, qid), 2);
	b = fx_run1(f, fx_req_issue(f, jig, "widget", "dev-C", 5));
	assert_int_equal(b->error, 0);
	assert_false(b->reissued);
	check_bundle(f, b);
	wreq_free(b);
	assert_int_equal(stored_issued(f, qid), 3);
	assert_int_equal(writer_jig_status(f->w, jig), 0);
	wreq_free(a);
	EVP_PKEY_free(jk);
}

/* State for the log walk: leaf hashes of every entry, and their kinds. */
struct walk {
	uint8_t (*leaves)[32];
	uint64_t n, starts, stops, tokens;
};

static int
walk_entry(void *arg, uint64_t index, const uint8_t *entry, size_t len)
{
	struct walk *w = arg;
	Tally__LogEntry *e = tally__log_entry__unpack(NULL, len, entry);

	assert_non_null(e);
	assert_int_equal(e->index, index);
	assert_int_not_equal(e->body_case, TALLY__LOG_ENTRY__BODY__NOT_SET);
	w->starts += e->body_case == TALLY__LOG_ENTRY__BODY_START;
	w->stops += e->body_case == TALLY__LOG_ENTRY__BODY_STOP;
	w->tokens += e->body_case == TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED;
	if (e->body_case == TALLY__LOG_ENTRY__BODY_QUOTA_IMPORTED ||
	    e->body_case == TALLY__LOG_ENTRY__BODY_JIG_ENROLLED) {
		assert_true(e->has_operator);
		assert_int_equal(e->operator_uid, 1000);
	}
	tally__log_entry__free_unpacked(e, NULL);
	tally_merkle_leaf_hash(entry, len, w->leaves[index]);
	w->n++;
	return 0;
}

static int
cmp_leaf(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct walk *w = arg;

	assert_int_equal(klen, 8);
	assert_int_equal(vlen, 32);
	assert_true(store_be64_get(key) < w->n);
	assert_memory_equal(val, w->leaves[store_be64_get(key)], 32);
	return 0;
}

/* Every entry parses; the frontier root is the MTH of all stored leaves;
 * the checkpoint verifies and is the one query_checkpoint returns. */
static void
test_merkle_log(void **state)
{
	struct fx *f = *state;
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__CheckpointResponse cp;
	struct walk w = { 0 };
	struct store_txn t;
	struct wreq *r;
	uint8_t qid[16], jig[32], root[32], vroot[32];
	char origin[TALLY_ORIGIN_MAX];
	uint64_t size;
	EVP_PKEY *jk;

	assert_int_equal(query_checkpoint(f->st, &a, &cp), TALLY_ERR_NOT_FOUND);
	assert_int_equal(fx_import(f, "gizmo", 50, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	for (uint8_t i = 0; i < 13; i++)
		wreq_free(fx_run1(f, fx_req_issue(f, jig, "gizmo", &i, 1)));
	assert_int_equal(fx_restart(f), 0);
	r = fx_run1(f, fx_req(f, WREQ_CHECKPOINT));
	assert_int_equal(r->error, 0);
	assert_non_null(r->out);
	assert_int_equal(r->tree_size, 18);  /* start, quota, jig, 13 tokens, stop, start */

	w.leaves = calloc(r->tree_size, 32);
	assert_int_equal(query_log_range(f->st, 0, r->tree_size, walk_entry, &w), 0);
	assert_int_equal(w.n, r->tree_size);
	assert_int_equal(w.starts, 2);
	assert_int_equal(w.stops, 1);
	assert_int_equal(w.tokens, 13);
	tally_merkle_root((const uint8_t *)w.leaves, w.n, root);
	assert_memory_equal(root, r->root, 32);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_each(&t, STORE_DB_LEAVES, NULL, 0, cmp_leaf, &w), 0);
	store_txn_abort(&t);
	assert_int_equal(query_log_range(f->st, 0, r->tree_size + 1, walk_entry, &w),
	    TALLY_ERR_NOT_FOUND);

	tally_checkpoint_origin(f->key_id, origin);
	assert_int_equal(tally_checkpoint_verify((const char *)r->out, r->out_len, f->key,
	    origin, &size, vroot), 0);
	assert_int_equal(size, r->tree_size);
	assert_memory_equal(vroot, root, 32);
	assert_int_equal(query_checkpoint(f->st, &a, &cp), 0);
	assert_int_equal(cp.tree_size, r->tree_size);
	assert_string_equal(cp.note, (const char *)r->out);
	assert_memory_equal(cp.root_hash.data, root, 32);
	tally_arena_release(&a);
	free(w.leaves);
	wreq_free(r);
	EVP_PKEY_free(jk);
}

#define GROUP 4000

/* Requests queued together commit together: few transactions. */
static void
test_group_commit(void **state)
{
	struct fx *f = *state;
	struct writer_stats s0, s1;
	struct wreq **reqs = calloc(GROUP, sizeof(*reqs));
	uint8_t qid[16], jig[32];
	uint64_t t0, t1;
	EVP_PKEY *jk;

	assert_int_equal(fx_import(f, "widget", GROUP, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	for (uint32_t i = 0; i < GROUP; i++)
		reqs[i] = fx_req_issue(f, jig, "widget", &i, sizeof(i));
	writer_stats(f->w, &s0);
	t0 = tally_mono_ns();
	fx_run(f, reqs, GROUP);
	t1 = tally_mono_ns();
	writer_stats(f->w, &s1);
	for (size_t i = 0; i < GROUP; i++) {
		assert_int_equal(reqs[i]->error, 0);
		wreq_free(reqs[i]);
	}
	print_message("# %d tokens in %llu write transactions, largest %llu, %.0f tokens/s\n",
	    GROUP, (unsigned long long)(s1.batches - s0.batches),
	    (unsigned long long)s1.largest_batch, GROUP * 1e9 / (double)(t1 - t0));
	assert_true(s1.batches - s0.batches <= 10);
	assert_true(s1.largest_batch >= GROUP / 4);
	assert_int_equal(s1.tokens_issued - s0.tokens_issued, GROUP);
	assert_int_equal(s1.failed_batches, 0);
	assert_int_equal(stored_issued(f, qid), GROUP);
	free(reqs);
	EVP_PKEY_free(jk);
}

/* Uses up the map with small meta records until not one more fits. */
static void
fill_store(struct store *st)
{
	struct store_txn t;
	char key[32];
	int r = 0;

	for (int i = 0; r == 0; i++) {
		assert_true(i < 100000);
		snprintf(key, sizeof(key), "test-fill-%08d", i);
		assert_int_equal(store_txn_begin(st, &t, true), 0);
		store_txn_put(&t, STORE_DB_META, key, strlen(key), key, 8, 0);
		r = store_txn_commit(&t);
		assert_true(r == 0 || r == TALLY_ERR_STORAGE_FULL);
	}
}

/* A map too small: STORAGE_FULL, nothing half-written, the writer goes on. */
static void
test_storage_full(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__StatusResponse st = TALLY__STATUS_RESPONSE__INIT;
	struct wreq *reqs[20], *r;
	uint8_t qid[16], jig[32];
	uint32_t next = 0, ok = 0, full = 0;
	EVP_PKEY *jk;

	(void)state;
	assert_int_equal(fx_setup(f, 256u << 10), 0);
	assert_int_equal(fx_import(f, "widget", 1000000, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	for (int round = 0; round < 500 && full == 0; round++) {
		for (int i = 0; i < 20; i++, next++)
			reqs[i] = fx_req_issue(f, jig, "widget", &next, sizeof(next));
		fx_run(f, reqs, 20);
		for (int i = 0; i < 20; i++) {
			if (reqs[i]->error == 0)
				ok++;
			else {
				assert_int_equal(reqs[i]->error, TALLY__ERROR_CODE__STORAGE_FULL);
				assert_null(reqs[i]->out);
				full++;
			}
			wreq_free(reqs[i]);
		}
	}
	print_message("# map full after %u tokens\n", ok);
	assert_true(full > 0);
	assert_true(ok > 0);
	assert_int_equal(stored_issued(f, qid), ok);
	assert_int_equal(query_status(f->st, &a, &st), 0);
	assert_true(st.storage_full);
	assert_int_equal(st.tokens_issued, ok);
	tally_arena_release(&a);

	/* Still serving: refusals and reissues need no space. */
	r = fx_run1(f, fx_req_issue(f, jig, "nothing", "x", 1));
	assert_int_equal(r->error, TALLY__ERROR_CODE__UNKNOWN_PRODUCT);
	wreq_free(r);
	next = 0;
	r = fx_run1(f, fx_req_issue(f, jig, "widget", &next, sizeof(next)));
	assert_int_equal(r->error, 0);
	assert_true(r->reissued);
	wreq_free(r);
	/* Single tokens may still fit where a batch of 20 did not: fill up. */
	next = 1u << 20;
	for (int i = 0, err = 0; err != TALLY__ERROR_CODE__STORAGE_FULL; i++, next++) {
		assert_true(i < 200);
		r = fx_run1(f, fx_req_issue(f, jig, "widget", &next, sizeof(next)));
		err = r->error;
		assert_true(err == 0 || err == TALLY__ERROR_CODE__STORAGE_FULL);
		ok += err == 0 && !r->reissued;
		wreq_free(r);
	}
	assert_int_equal(stored_issued(f, qid), ok);

	/* Restart on a store without room even for the Start entry: it
	 * starts, says it is full, reissues. */
	writer_stop(f->w, "test");
	f->w = NULL;
	fill_store(f->st);
	assert_int_equal(writer_start(f->st, f->key, f->oem, f->ca_file, f->base, &f->w), 0);
	assert_int_equal(query_status(f->st, &a, &st), 0);
	assert_true(st.storage_full);
	tally_arena_release(&a);
	next = 0;
	r = fx_run1(f, fx_req_issue(f, jig, "widget", &next, sizeof(next)));
	assert_int_equal(r->error, 0);
	assert_true(r->reissued);
	wreq_free(r);

	/* Restart with a larger map: counters and log agree, issuing resumes. */
	f->map_size = MAP_BIG;
	assert_int_equal(fx_restart(f), 0);
	assert_int_equal(stored_issued(f, qid), ok);
	r = fx_run1(f, fx_req_issue(f, jig, "widget", "new", 3));
	assert_int_equal(r->error, 0);
	assert_int_equal(query_status(f->st, &a, &st), 0);
	assert_false(st.storage_full);
	assert_int_equal(r->log_index, st.log_size - 1);
	assert_int_equal(st.tokens_issued, ok + 1);
	wreq_free(r);
	tally_arena_release(&a);
	EVP_PKEY_free(jk);
	fx_teardown(f);
	free(f);
}

static void
free_done(struct wreq *r, void *arg)
{
	size_t *n = arg;

	(*n)++;
	wreq_free(r);
}

static void
never_done(struct wreq *r, void *arg)
{
	(void)r;
	(void)arg;
	fail_msg("done() called after the loop was told to stop");
}

/* writer_stop finishes the queue and logs Stop; replies reach done() while
 * the loop runs, and are freed without a call once it was told to stop. */
static void
test_stop(void **state)
{
	struct fx *f = *state;
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__StatusResponse st = TALLY__STATUS_RESPONSE__INIT;
	struct walk w = { 0 };
	uint8_t qid[16], jig[32];
	size_t called = 0;
	EVP_PKEY *jk;
	struct wreq *r;

	assert_int_equal(fx_import(f, "widget", 100, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	for (uint32_t i = 0; i < 50; i++) {
		r = fx_req_issue(f, jig, "widget", &i, sizeof(i));
		r->done = free_done;
		r->arg = &called;
		writer_submit(f->w, r);
	}
	writer_stop(f->w, "test stop");
	assert_int_equal(called, 50);
	assert_int_equal(stored_issued(f, qid), 50);
	assert_int_equal(query_status(f->st, &a, &st), 0);
	w.leaves = calloc(st.log_size, 32);
	assert_int_equal(query_log_range(f->st, 0, st.log_size, walk_entry, &w), 0);
	assert_int_equal(w.stops, 1);
	assert_int_equal(w.tokens, 50);
	free(w.leaves);
	tally_arena_release(&a);

	assert_int_equal(writer_start(f->st, f->key, f->oem, f->ca_file, f->base, &f->w), 0);
	for (uint32_t i = 100; i < 110; i++) {
		r = fx_req_issue(f, jig, "widget", &i, sizeof(i));
		r->done = never_done;
		writer_submit(f->w, r);
	}
	event_base_loopbreak(f->base);
	writer_stop(f->w, "test stop");
	f->w = NULL;
	assert_int_equal(stored_issued(f, qid), 60);  /* committed all the same */
	EVP_PKEY_free(jk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_never_over_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reissue_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merkle_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test(test_storage_full),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
