/* test_proof_store.c - the Merkle tree kept in LMDB (store.h `tree`) and
 * the proofs served from it (query.h): tree nodes equal the RFC 9162
 * subtree hashes; inclusion and consistency proofs from the store equal
 * those lib/merkle.c makes over the same leaves in memory and verify,
 * for every size up to 300; proofs verify against the appliance's stored
 * checkpoints, also after a restart and after the migration of a schema 1
 * store; the export header's frontier and consistency proof. Real LMDB
 * in mkdtemp folders, real keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lmdb.h>
#include "checkpoint.h"
#include "cosignature.h"
#include "err.h"
#include "merkle.h"
#include "util.h"
#include "log.pb-c.h"
#include "daemon/query.h"
#include "daemon/store.h"
#include "daemon/writer.h"
#include "tests/harness/fx_core.h"

#define N 300

/* Leaves in memory: the reference the store is compared with. */
struct mem {
	uint8_t leaves[N][TALLY_HASH_LEN];
};

/* tally_merkle_node_fn over struct mem, by direct MTH of the leaves. */
static int
mem_node(void *arg, unsigned level, uint64_t index, uint8_t out[TALLY_HASH_LEN])
{
	struct mem *m = arg;

	assert_true(((index + 1) << level) <= N);
	tally_merkle_root(m->leaves[index << level], (uint64_t)1 << level, out);
	return 0;
}

struct sfx {
	char dir[64];
	struct store *st;
	struct mem m;
};

static void
remove_store(const char *dir)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
}

/* Appends leaves [from, to) as log entries "entry <i>" in one write txn,
 * with the frontier and next index meta records the writer keeps. */
static void
append_range(struct sfx *s, struct tally_merkle_frontier *f, uint64_t from, uint64_t to)
{
	uint8_t key[8], buf[TALLY_FRONTIER_ENC_MAX];
	struct store_txn t;
	char entry[32];
	size_t n;

	assert_int_equal(store_txn_begin(s->st, &t, true), 0);
	for (uint64_t i = from; i < to; i++) {
		n = (size_t)snprintf(entry, sizeof(entry), "entry %llu", (unsigned long long)i);
		tally_merkle_leaf_hash((const uint8_t *)entry, n, s->m.leaves[i]);
		store_be64_put(key, i);
		store_txn_put(&t, STORE_DB_LOG, key, 8, entry, n, MDB_APPEND);
		store_txn_put(&t, STORE_DB_LEAVES, key, 8, s->m.leaves[i], 32, MDB_APPEND);
		assert_int_equal(store_tree_add(&t, f, s->m.leaves[i]), 0);
	}
	n = tally_merkle_frontier_encode(f, buf);
	store_txn_put(&t, STORE_DB_META, STORE_META_FRONTIER, strlen(STORE_META_FRONTIER),
	    buf, n, 0);
	store_be64_put(key, to);
	store_txn_put(&t, STORE_DB_META, STORE_META_NEXT, strlen(STORE_META_NEXT), key, 8, 0);
	assert_int_equal(store_txn_commit(&t), 0);
}

static int
setup_store(void **state)
{
	struct sfx *s = calloc(1, sizeof(*s));
	struct tally_merkle_frontier f;
	uint64_t at = 0, step = 1;

	if (s == NULL)
		return -1;
	strcpy(s->dir, "/tmp/tally-test-proof-XXXXXX");
	if (mkdtemp(s->dir) == NULL || store_open(s->dir, 16u << 20, &s->st) != 0)
		return -1;
	tally_merkle_frontier_init(&f);
	while (at < N) {  /* transactions of 1, 2, 3, ... leaves */
		uint64_t to = at + step > N ? N : at + step;
		append_range(s, &f, at, to);
		at = to;
		step++;
	}
	*state = s;
	return 0;
}

static int
teardown_store(void **state)
{
	struct sfx *s = *state;

	store_close(s->st);
	remove_store(s->dir);
	assert_int_equal(rmdir(s->dir), 0);
	free(s);
	return 0;
}

/* Every perfect subtree inside the log is stored with its RFC 9162 hash;
 * none beyond it. */
static void
check_nodes(struct sfx *s)
{
	uint8_t got[32], want[32];
	struct store_txn t;
	size_t count = 0, n;

	assert_int_equal(store_txn_begin(s->st, &t, false), 0);
	for (unsigned level = 0; ((uint64_t)1 << level) <= N; level++) {
		for (uint64_t i = 0; ((i + 1) << level) <= N; i++) {
			assert_int_equal(store_tree_node(&t, level, i, got), 0);
			mem_node(&s->m, level, i, want);
			assert_memory_equal(got, want, 32);
			count += level > 0;
		}
		assert_int_equal(store_tree_node(&t, level, N >> level, got), TALLY_ERR_STORAGE);
	}
	assert_int_equal(store_txn_count(&t, STORE_DB_TREE, &n), 0);
	assert_int_equal(n, count);
	assert_int_equal(t.ret, 0);
	store_txn_abort(&t);
}

static void
test_tree_nodes(void **state)
{
	struct sfx *s = *state;
	uint8_t got[32], want[32], nodes[64][32];
	struct tally_merkle_frontier f;
	struct store_txn t;
	unsigned count;

	check_nodes(s);
	/* the compact range and root of every prefix come from the tree */
	assert_int_equal(store_txn_begin(s->st, &t, false), 0);
	tally_merkle_frontier_init(&f);
	for (uint64_t n = 1; n <= N; n++) {
		assert_int_equal(tally_merkle_frontier_append(&f, s->m.leaves[n - 1]), 0);
		assert_int_equal(store_tree_range(&t, n, nodes, &count), 0);
		assert_int_equal(count, f.count);
		assert_memory_equal(nodes, f.node, count * 32);
		assert_int_equal(tally_merkle_range_hash(0, n, store_tree_node, &t, got), 0);
		tally_merkle_root(s->m.leaves[0], n, want);
		assert_memory_equal(got, want, 32);
	}
	store_txn_abort(&t);
}

/* Should (m, n) be checked exhaustively? (keeps the run short) */
static bool
dense(uint64_t n)
{
	return n <= 40 || n == 63 || n == 64 || n == 65 || n == 127 || n == 128 ||
	    n == 129 || n == 255 || n == 256 || n == 257 || n == N;
}

static void
check_inclusion(struct sfx *s, uint64_t index, uint64_t size)
{
	struct tally_arena a = TALLY_ARENA_INIT;
	uint8_t proof[TALLY_PROOF_MAX][32], root[32];
	Tally__LogProofResponse p;
	size_t n;

	assert_int_equal(query_log_proof(s->st, index, size, &a, &p), 0);
	assert_int_equal(tally_merkle_inclusion_proof(index, size, mem_node, &s->m, proof, &n), 0);
	assert_int_equal(p.n_hashes, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p.hashes[i].len, 32);
		assert_memory_equal(p.hashes[i].data, proof[i], 32);
	}
	tally_merkle_root(s->m.leaves[0], size, root);
	assert_memory_equal(p.root_hash.data, root, 32);
	assert_memory_equal(p.leaf_hash.data, s->m.leaves[index], 32);
	assert_int_equal(tally_merkle_verify_inclusion(s->m.leaves[index], index, size,
	    (const uint8_t (*)[32])proof, n, root), 0);
	assert_string_equal(p.checkpoint, "");  /* none stored in this store */
	tally_arena_release(&a);
}

static void
check_consistency(struct sfx *s, uint64_t m, uint64_t size)
{
	struct tally_arena a = TALLY_ARENA_INIT;
	uint8_t proof[TALLY_PROOF_MAX][32], r1[32], r2[32];
	Tally__LogConsistencyResponse c;
	size_t n;

	assert_int_equal(query_log_consistency(s->st, m, size, &a, &c), 0);
	assert_int_equal(tally_merkle_consistency_proof(m, size, mem_node, &s->m, proof, &n), 0);
	assert_int_equal(c.n_hashes, n);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(c.hashes[i].data, proof[i], 32);
	tally_merkle_root(s->m.leaves[0], m, r1);
	tally_merkle_root(s->m.leaves[0], size, r2);
	assert_memory_equal(c.from_root.data, r1, 32);
	assert_memory_equal(c.to_root.data, r2, 32);
	assert_int_equal(tally_merkle_verify_consistency(m, size, r1, r2,
	    (const uint8_t (*)[32])proof, n), 0);
	tally_arena_release(&a);
}

/* Proofs from the store equal lib's over the same leaves, for every size. */
static void
test_proofs_every_size(void **state)
{
	struct sfx *s = *state;

	for (uint64_t size = 1; size <= N; size++) {
		for (uint64_t i = 0; i < size; i++)
			if (dense(size) || i == 0 || i == size / 3 || i == size - 1)
				check_inclusion(s, i, size);
		for (uint64_t m = 1; m <= size; m++)
			if (dense(size) || m == 1 || m == size / 2 || m == size - 1 || m == size)
				check_consistency(s, m, size);
	}
}

static void
test_proof_refusals(void **state)
{
	struct sfx *s = *state;
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__LogProofResponse p;
	Tally__LogConsistencyResponse c;

	assert_int_equal(query_log_proof(s->st, 5, 5, &a, &p), TALLY_ERR_INVALID);
	assert_int_equal(query_log_proof(s->st, 0, N + 1, &a, &p), TALLY_ERR_INVALID);
	assert_int_equal(query_log_proof(s->st, 0, 0, &a, &p), TALLY_ERR_NOT_FOUND);
	assert_int_equal(query_log_consistency(s->st, 0, 5, &a, &c), TALLY_ERR_INVALID);
	assert_int_equal(query_log_consistency(s->st, 6, 5, &a, &c), TALLY_ERR_INVALID);
	assert_int_equal(query_log_consistency(s->st, 5, N + 1, &a, &c), TALLY_ERR_INVALID);
	assert_int_equal(query_log_consistency(s->st, 5, 0, &a, &c), TALLY_ERR_NOT_FOUND);
	tally_arena_release(&a);
}

/* Turns the store in dir into what issue 2's code left: schema 1, no
 * `tree` or `returned` database. damage also flips a bit of the stored
 * frontier. Raw LMDB, the store being closed. */
static void
make_v1(const char *dir, bool damage)
{
	static const char *const drop[] = { "tree", "returned" };
	uint8_t ver[4] = { 0, 0, 0, 1 };
	MDB_val k = { 6, "schema" }, v = { 4, ver };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (size_t i = 0; i < 2; i++) {
		int rc = mdb_dbi_open(txn, drop[i], 0, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;  /* already gone */
		assert_int_equal(rc, 0);
		assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	}
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	if (damage) {
		MDB_val fk = { 8, "frontier" }, fv;
		uint8_t buf[TALLY_FRONTIER_ENC_MAX];
		assert_int_equal(mdb_get(txn, dbi, &fk, &fv), 0);
		memcpy(buf, fv.mv_data, fv.mv_size);
		buf[fv.mv_size - 1] ^= 1;
		fv.mv_data = buf;
		assert_int_equal(mdb_put(txn, dbi, &fk, &fv, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static uint32_t
schema_of(struct store *st)
{
	struct store_txn t;
	const uint8_t *v;
	size_t vlen;
	uint32_t ver;

	assert_int_equal(store_txn_begin(st, &t, false), 0);
	assert_int_equal(store_txn_get(&t, STORE_DB_META, STORE_META_SCHEMA,
	    strlen(STORE_META_SCHEMA), &v, &vlen), 0);
	assert_int_equal(vlen, 4);
	ver = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	store_txn_abort(&t);
	return ver;
}

/* A schema 1 store gets its tree nodes on open, once; a schema 1 store
 * whose leaves disagree with its frontier is refused and left as it was. */
static void
test_migration(void **state)
{
	struct sfx *s = *state;
	struct store_txn t;
	size_t n;

	store_close(s->st);
	s->st = NULL;
	make_v1(s->dir, true);
	assert_int_equal(store_open(s->dir, 16u << 20, &s->st), TALLY_ERR_STORAGE);
	assert_null(s->st);
	make_v1(s->dir, true);  /* undo the damage (flip the same bit back) */
	assert_int_equal(store_open(s->dir, 16u << 20, &s->st), 0);
	assert_int_equal(schema_of(s->st), STORE_SCHEMA_VERSION);
	check_nodes(s);
	for (uint64_t size = 1; size <= N; size += 7) {
		check_inclusion(s, size / 2, size);
		check_consistency(s, size / 3 + 1, size);
	}
	assert_int_equal(store_txn_begin(s->st, &t, false), 0);
	assert_int_equal(store_txn_count(&t, STORE_DB_RETURNED, &n), 0);
	assert_int_equal(n, 0);
	store_txn_abort(&t);
	store_close(s->st);
	assert_int_equal(store_open(s->dir, 16u << 20, &s->st), 0);  /* once */
	check_nodes(s);
}

/* ---- through the writer, against signed checkpoints ---- */

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fx_setup(f, 64u << 20) != 0)
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

#define CPS 12

struct cps {
	char *note[CPS];
	uint64_t size[CPS];
	uint8_t root[CPS][32];
	size_t n;
};

/* A checkpoint now, verified with the appliance key, kept in c. */
static void
checkpoint(struct fx *f, struct cps *c)
{
	struct wreq *r = fx_run1(f, fx_req(f, WREQ_CHECKPOINT));
	char origin[TALLY_ORIGIN_MAX];

	assert_int_equal(r->error, 0);
	assert_true(c->n < CPS);
	tally_checkpoint_origin(f->key_id, origin);
	assert_int_equal(tally_checkpoint_verify((const char *)r->out, r->out_len, f->key,
	    origin, &c->size[c->n], c->root[c->n]), 0);
	assert_int_equal(c->size[c->n], r->tree_size);
	c->note[c->n++] = strdup((const char *)r->out);
	wreq_free(r);
}

static void
issue_n(struct fx *f, const uint8_t jig[32], uint32_t from, uint32_t n)
{
	struct wreq *r[64];

	assert_true(n <= 64);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t uid = from + i;
		r[i] = fx_req_issue(f, jig, "gizmo", &uid, sizeof(uid));
	}
	fx_run(f, r, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(r[i]->error, 0);
		wreq_free(r[i]);
	}
}

/* Every checkpoint's proofs verify against its signed root. */
static void
check_checkpoints(struct fx *f, const struct cps *c)
{
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__LogProofResponse p;
	Tally__LogConsistencyResponse cr;
	uint8_t leaf[32];

	for (size_t k = 0; k < c->n; k++) {
		for (uint64_t i = 0; i < c->size[k]; i += 1 + c->size[k] / 17) {
			assert_int_equal(query_log_proof(f->st, i, c->size[k], &a, &p), 0);
			assert_string_equal(p.checkpoint, c->note[k]);
			assert_memory_equal(p.root_hash.data, c->root[k], 32);
			tally_merkle_leaf_hash(p.entry.data, p.entry.len, leaf);
			assert_memory_equal(p.leaf_hash.data, leaf, 32);
			{
				uint8_t h[TALLY_PROOF_MAX][32];
				for (size_t j = 0; j < p.n_hashes; j++)
					memcpy(h[j], p.hashes[j].data, 32);
				assert_int_equal(tally_merkle_verify_inclusion(leaf, i, c->size[k],
				    (const uint8_t (*)[32])h, p.n_hashes, c->root[k]), 0);
			}
			tally_arena_release(&a);
		}
		for (size_t j = 0; j <= k; j++) {
			uint8_t h[TALLY_PROOF_MAX][32];
			assert_int_equal(query_log_consistency(f->st, c->size[j], c->size[k],
			    &a, &cr), 0);
			assert_string_equal(cr.from_checkpoint, c->note[j]);
			assert_string_equal(cr.to_checkpoint, c->note[k]);
			for (size_t x = 0; x < cr.n_hashes; x++)
				memcpy(h[x], cr.hashes[x].data, 32);
			assert_int_equal(tally_merkle_verify_consistency(c->size[j], c->size[k],
			    c->root[j], c->root[k], (const uint8_t (*)[32])h, cr.n_hashes), 0);
			tally_arena_release(&a);
		}
	}
	/* size 0: the latest checkpoint */
	assert_int_equal(query_log_proof(f->st, 0, 0, &a, &p), 0);
	assert_int_equal(p.tree_size, c->size[c->n - 1]);
	tally_arena_release(&a);
}

static void
cps_free(struct cps *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->note[i]);
}

/* Checkpoints at many sizes; proofs verify, also after a restart and after
 * the store was turned back into schema 1 and migrated; appends go on. */
static void
test_checkpoint_proofs(void **state)
{
	struct fx *f = *state;
	struct cps c = { 0 };
	uint8_t qid[16], jig[32];
	EVP_PKEY *jk;
	struct wreq *r;

	assert_int_equal(fx_import(f, "gizmo", 1000, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	checkpoint(f, &c);
	for (uint32_t k = 1; k <= 6; k++) {
		issue_n(f, jig, k * 100, k * 5 + (k & 1));
		checkpoint(f, &c);
	}
	/* nothing appended since: the stored checkpoint, not a new signature */
	r = fx_run1(f, fx_req(f, WREQ_CHECKPOINT));
	assert_int_equal(r->error, 0);
	assert_string_equal((const char *)r->out, c.note[c.n - 1]);
	wreq_free(r);
	check_checkpoints(f, &c);

	assert_int_equal(fx_restart(f), 0);
	check_checkpoints(f, &c);

	writer_stop(f->w, "test migration");
	store_close(f->st);
	f->w = NULL;
	make_v1(f->dir, false);
	assert_int_equal(store_open(f->dir, f->map_size, &f->st), 0);
	assert_int_equal(schema_of(f->st), STORE_SCHEMA_VERSION);
	assert_int_equal(writer_start(f->st, f->key, f->oem, f->ca_file, f->base, &f->w), 0);
	check_checkpoints(f, &c);
	issue_n(f, jig, 5000, 33);
	checkpoint(f, &c);
	check_checkpoints(f, &c);
	cps_free(&c);
	EVP_PKEY_free(jk);
}

/* Receipt of the checkpoint note (cosigned by the fixture's OEM key), imported. */
static void
import_receipt(struct fx *f, const char *note)
{
	struct wreq *r = fx_req(f, WREQ_RECEIPT_IMPORT);
	char *receipt;

	assert_int_equal(tally_cosign(f->oem, note, strlen(note), tally_now(), &receipt), 0);
	r->in.receipt.text = receipt;
	r->in.receipt.len = strlen(receipt);
	r->has_operator = true;
	r->operator_uid = 1000;
	fx_run1(f, r);
	assert_int_equal(r->error, 0);
	wreq_free(r);
}

struct ctxcount {
	size_t quotas, jigs;
	uint8_t jig[32];
};

static int
count_context(void *arg, int kind, const uint8_t *data, size_t len)
{
	struct ctxcount *cc = arg;
	Tally__LogJigEnrolled *je;

	if (kind == TALLY__EXPORT_RECORD__BODY_QUOTA) {
		assert_int_equal(cc->jigs, 0);  /* quotas first */
		cc->quotas++;
		return 0;
	}
	assert_int_equal(kind, TALLY__EXPORT_RECORD__BODY_JIG);
	assert_non_null(je = tally__log_jig_enrolled__unpack(NULL, len, data));
	assert_int_equal(je->jig_key_id.len, 32);
	if (memcmp(je->jig_key_id.data, cc->jig, 32) == 0)
		cc->jigs++;
	tally__log_jig_enrolled__free_unpacked(je, NULL);
	return 0;
}

/* Export header after a receipt: first_index is the receipted size, the
 * frontier's root is the receipted checkpoint's root, the consistency
 * proof verifies to the new checkpoint; --full starts at 0. */
static void
test_export_header(void **state)
{
	struct fx *f = *state;
	struct tally_arena a = TALLY_ARENA_INIT;
	struct tally_merkle_frontier fr;
	struct ctxcount cc = { 0 };
	struct cps c = { 0 };
	uint8_t qid[16], root[32], nodes[64][32], proof[TALLY_PROOF_MAX][32];
	Tally__ExportHeader h;
	EVP_PKEY *jk;

	assert_int_equal(fx_import(f, "gizmo", 1000, qid), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, cc.jig), 0);
	checkpoint(f, &c);
	issue_n(f, cc.jig, 1, 11);
	checkpoint(f, &c);
	assert_int_equal(query_export_header(f->st, false, c.size[1], &a, &h), 0);
	assert_int_equal(h.format_version, 2);
	assert_int_equal(h.first_index, 0);
	assert_int_equal(h.entry_count, c.size[1]);
	assert_int_equal(h.n_prev_frontier, 0);
	assert_int_equal(h.n_consistency_proof, 0);
	assert_string_equal(h.prev_checkpoint, "");
	tally_arena_release(&a);

	import_receipt(f, c.note[1]);
	issue_n(f, cc.jig, 100, 20);
	checkpoint(f, &c);
	assert_int_equal(query_export_header(f->st, false, c.size[0], &a, &h),
	    TALLY_ERR_INVALID);  /* the receipt is for more than that */
	assert_int_equal(query_export_header(f->st, false, c.size[2] + 1, &a, &h),
	    TALLY_ERR_NOT_FOUND);
	assert_int_equal(query_export_header(f->st, false, c.size[2], &a, &h), 0);
	assert_int_equal(h.first_index, c.size[1]);
	assert_int_equal(h.entry_count, c.size[2] - c.size[1]);
	assert_string_equal(h.prev_checkpoint, c.note[1]);
	assert_true(h.exported_at > 0);
	assert_int_equal(h.appliance_public_key.len > 0, 1);
	for (size_t i = 0; i < h.n_prev_frontier; i++)
		memcpy(nodes[i], h.prev_frontier[i].data, 32);
	assert_int_equal(tally_merkle_frontier_set(&fr, h.first_index,
	    (const uint8_t (*)[32])nodes, (unsigned)h.n_prev_frontier), 0);
	tally_merkle_frontier_root(&fr, root);
	assert_memory_equal(root, c.root[1], 32);
	for (size_t i = 0; i < h.n_consistency_proof; i++)
		memcpy(proof[i], h.consistency_proof[i].data, 32);
	assert_int_equal(tally_merkle_verify_consistency(c.size[1], c.size[2], c.root[1],
	    c.root[2], (const uint8_t (*)[32])proof, h.n_consistency_proof), 0);
	tally_arena_release(&a);

	assert_int_equal(query_export_header(f->st, true, c.size[2], &a, &h), 0);
	assert_int_equal(h.first_index, 0);
	assert_int_equal(h.entry_count, c.size[2]);
	assert_int_equal(h.n_consistency_proof, 0);
	tally_arena_release(&a);

	assert_int_equal(query_export_context(f->st, count_context, &cc), 0);
	assert_int_equal(cc.quotas, 1);
	assert_int_equal(cc.jigs, 1);
	cps_free(&c);
	EVP_PKEY_free(jk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree_nodes, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_proofs_every_size, setup_store,
		    teardown_store),
		cmocka_unit_test_setup_teardown(test_proof_refusals, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_migration, setup_store, teardown_store),
		cmocka_unit_test_setup_teardown(test_checkpoint_proofs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_header, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
