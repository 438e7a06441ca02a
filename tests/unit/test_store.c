/* test_store.c - the LMDB store (store.h): open, sticky-error
 * transactions, error mapping, key binding, schema check, Merkle tree
 * nodes (store_tree_add, store_tree_node). Real LMDB in a
 * mkdtemp folder. */
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
#include "merkle.h"
#include "daemon/store.h"

struct fx {
	char dir[64];
	struct store *st;
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

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/tally-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL || store_open(f->dir, 1u << 20, &f->st) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	remove_store(f->dir);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void
test_open_missing_folder(void **state)
{
	struct store *st = NULL;

	(void)state;
	assert_int_equal(store_open("/tmp/tally-no-such-folder/x", 1u << 20, &st),
	    TALLY_ERR_IO);
	assert_null(st);
	store_close(NULL);
}

static int
collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	uint64_t *sum = arg;

	assert_int_equal(klen, 8);
	assert_int_equal(vlen, 1);
	*sum = *sum * 10 + store_be64_get(key);
	return val[0] == 'x' ? 1 : 0;  /* 'x' stops the walk */
}

/* Puts, gets, walks in key order, last, count, and what a commit keeps. */
static void
test_txn_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_txn t;
	const uint8_t *k, *v;
	uint8_t key[8];
	size_t klen, vlen, n;
	uint64_t sum = 0;

	assert_int_equal(store_txn_begin(f->st, &t, true), 0);
	for (uint64_t i = 1; i <= 5; i++) {
		store_be64_put(key, i);
		assert_int_equal(store_txn_put(&t, STORE_DB_LOG, key, 8, i == 4 ? "x" : "a",
		    1, MDB_APPEND), 0);
	}
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	store_be64_put(key, 3);
	assert_int_equal(store_txn_get(&t, STORE_DB_LOG, key, 8, &v, &vlen), 0);
	assert_int_equal(vlen, 1);
	assert_int_equal(store_txn_get(&t, STORE_DB_QUOTAS, key, 8, &v, &vlen),
	    TALLY_ERR_NOT_FOUND);
	assert_int_equal(t.ret, 0);  /* not found is not sticky */
	store_be64_put(key, 2);
	assert_int_equal(store_txn_each(&t, STORE_DB_LOG, key, 8, collect, &sum), 0);
	assert_int_equal(sum, 234);
	assert_int_equal(store_txn_last(&t, STORE_DB_LOG, &k, &klen, &v, &vlen), 0);
	assert_int_equal(store_be64_get(k), 5);
	assert_int_equal(store_txn_last(&t, STORE_DB_JIGS, &k, &klen, &v, &vlen),
	    TALLY_ERR_NOT_FOUND);
	assert_int_equal(store_txn_count(&t, STORE_DB_LOG, &n), 0);
	assert_int_equal(n, 5);
	store_txn_abort(&t);
	store_txn_abort(&t);  /* harmless twice */
}

/* After a failed step nothing else happens and commit writes nothing. */
static void
test_sticky_error(void **state)
{
	struct fx *f = *state;
	struct store_txn t;
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen, n;

	assert_int_equal(store_txn_begin(f->st, &t, true), 0);
	store_be64_put(key, 9);
	assert_int_equal(store_txn_put(&t, STORE_DB_LOG, key, 8, "a", 1, MDB_APPEND), 0);
	store_be64_put(key, 1);  /* not after 9: MDB_APPEND refuses */
	assert_int_equal(store_txn_put(&t, STORE_DB_LOG, key, 8, "b", 1, MDB_APPEND),
	    TALLY_ERR_STORAGE);
	assert_int_equal(t.mdb_rc, MDB_KEYEXIST);
	store_be64_put(key, 10);
	assert_int_equal(store_txn_put(&t, STORE_DB_LOG, key, 8, "c", 1, 0), TALLY_ERR_STORAGE);
	assert_int_equal(store_txn_get(&t, STORE_DB_LOG, key, 8, &v, &vlen), TALLY_ERR_STORAGE);
	assert_int_equal(store_txn_count(&t, STORE_DB_LOG, &n), TALLY_ERR_STORAGE);
	assert_int_equal(store_txn_commit(&t), TALLY_ERR_STORAGE);

	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_count(&t, STORE_DB_LOG, &n), 0);
	assert_int_equal(n, 0);
	store_txn_abort(&t);
}

/* A full map is TALLY_ERR_STORAGE_FULL; the store stays usable. */
static void
test_map_full(void **state)
{
	struct fx *f = *state;
	struct store_txn t;
	static uint8_t big[64 * 1024];
	uint8_t key[8];
	size_t n;
	int r = 0;

	for (uint64_t i = 0; i < 64 && r == 0; i++) {
		assert_int_equal(store_txn_begin(f->st, &t, true), 0);
		store_be64_put(key, i);
		store_txn_put(&t, STORE_DB_LOG, key, 8, big, sizeof(big), 0);
		r = store_txn_commit(&t);
	}
	assert_int_equal(r, TALLY_ERR_STORAGE_FULL);
	assert_int_equal(store_map_err(MDB_MAP_FULL), TALLY_ERR_STORAGE_FULL);
	assert_int_equal(store_map_err(MDB_CORRUPTED), TALLY_ERR_STORAGE);
	assert_int_equal(store_map_err(0), 0);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_count(&t, STORE_DB_LOG, &n), 0);
	assert_true(n > 0 && n < 64);
	store_txn_abort(&t);
	assert_false(store_is_full(f->st));
	store_set_full(f->st, true);
	assert_true(store_is_full(f->st));
}

/* The first key is recorded; the same key passes; another is refused,
 * also after a reopen. */
static void
test_key_binding(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *k1, *k2;
	struct store_txn t;
	const uint8_t *v;
	uint8_t id[32];
	size_t vlen;

	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &k1), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &k2), 0);
	assert_int_equal(store_check_key(f->st, k1), 0);
	assert_int_equal(store_check_key(f->st, k1), 0);
	assert_int_equal(store_check_key(f->st, k2), TALLY_ERR_MISMATCH);
	store_close(f->st);
	assert_int_equal(store_open(f->dir, 1u << 20, &f->st), 0);
	assert_int_equal(store_check_key(f->st, k2), TALLY_ERR_MISMATCH);
	assert_int_equal(store_check_key(f->st, k1), 0);
	assert_int_equal(tally_key_id(k1, id), 0);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_get(&t, STORE_DB_META, STORE_META_KEY_ID,
	    strlen(STORE_META_KEY_ID), &v, &vlen), 0);
	assert_int_equal(vlen, 32);
	assert_memory_equal(v, id, 32);
	store_txn_abort(&t);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

/* A store written by another schema version is refused. */
static void
test_schema_mismatch(void **state)
{
	struct fx *f = *state;
	struct store_txn t;
	uint8_t ver[4] = { 0, 0, 0, 99 };

	assert_int_equal(store_txn_begin(f->st, &t, true), 0);
	store_txn_put(&t, STORE_DB_META, STORE_META_SCHEMA, strlen(STORE_META_SCHEMA),
	    ver, sizeof(ver), 0);
	assert_int_equal(store_txn_commit(&t), 0);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->dir, 1u << 20, &f->st), TALLY_ERR_STORAGE);
	assert_null(f->st);
}

/* A new store records the current schema version. */
static void
test_schema_new(void **state)
{
	struct fx *f = *state;
	struct store_txn t;
	const uint8_t *v;
	uint8_t ver[4] = { 0, 0, 0, STORE_SCHEMA_VERSION };
	size_t vlen;

	assert_int_equal(STORE_SCHEMA_VERSION, 2);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_get(&t, STORE_DB_META, STORE_META_SCHEMA,
	    strlen(STORE_META_SCHEMA), &v, &vlen), 0);
	assert_int_equal(vlen, 4);
	assert_memory_equal(v, ver, 4);
	store_txn_abort(&t);
}

/* store_tree_add puts the completed subtrees (none for an odd size, two
 * for size 4) and appends to the frontier; after a failed step it writes
 * nothing and leaves the frontier as it was. */
static void
test_tree_add(void **state)
{
	struct fx *f = *state;
	struct tally_merkle_frontier fr;
	uint8_t leaf[4][32], n01[32], n23[32], n0123[32], got[32], key[8];
	struct store_txn t;
	size_t n;

	tally_merkle_frontier_init(&fr);
	for (int i = 0; i < 4; i++)
		tally_merkle_leaf_hash((const uint8_t *)&i, sizeof(i), leaf[i]);
	tally_merkle_node_hash(leaf[0], leaf[1], n01);
	tally_merkle_node_hash(leaf[2], leaf[3], n23);
	tally_merkle_node_hash(n01, n23, n0123);
	assert_int_equal(store_txn_begin(f->st, &t, true), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_tree_add(&t, &fr, leaf[i]), 0);
	assert_int_equal(store_txn_count(&t, STORE_DB_TREE, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_tree_node(&t, 1, 0, got), 0);
	assert_memory_equal(got, n01, 32);
	assert_int_equal(store_tree_add(&t, &fr, leaf[3]), 0);
	assert_int_equal(fr.size, 4);
	assert_int_equal(store_tree_node(&t, 1, 1, got), 0);
	assert_memory_equal(got, n23, 32);
	assert_int_equal(store_tree_node(&t, 2, 0, got), 0);
	assert_memory_equal(got, n0123, 32);
	assert_int_equal(store_tree_node(&t, 64, 0, got), TALLY_ERR_INVALID);
	store_be64_put(key, 9);  /* a failing step: the MDB_APPEND below refuses */
	store_txn_put(&t, STORE_DB_LOG, key, 8, "a", 1, MDB_APPEND);
	store_be64_put(key, 1);
	store_txn_put(&t, STORE_DB_LOG, key, 8, "b", 1, MDB_APPEND);
	assert_int_equal(store_tree_add(&t, &fr, leaf[0]), TALLY_ERR_STORAGE);
	assert_int_equal(fr.size, 4);
	assert_int_equal(store_txn_commit(&t), TALLY_ERR_STORAGE);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_count(&t, STORE_DB_TREE, &n), 0);
	assert_int_equal(n, 0);
	store_txn_abort(&t);
}

static void
test_be64(void **state)
{
	uint8_t b[8];

	(void)state;
	store_be64_put(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[7], 8);
	assert_int_equal(store_be64_get(b), 0x0102030405060708ull);
	store_be64_put(b, UINT64_MAX);
	assert_int_equal(store_be64_get(b), UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_missing_folder),
		cmocka_unit_test_setup_teardown(test_txn_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sticky_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_add, setup, teardown),
		cmocka_unit_test(test_be64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
