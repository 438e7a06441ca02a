/* store_verify.c - start-up checks of the LMDB store for damage LMDB does
 * not see itself (it keeps no checksums); see store.h and docs/storage.md
 * "A damaged store". */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include "checkpoint.h"
#include "err.h"
#include "key.h"
#include "log.h"
#include "merkle.h"
#include "store.h"

int
store_check_size(MDB_env *env, const char *dir)
{
	char path[4096];
	MDB_envinfo info;
	MDB_stat ms;
	struct stat sb;
	unsigned long long need;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &ms) != 0 ||
	    stat(path, &sb) != 0)
		return TALLY_ERR_STORAGE;
	need = ((unsigned long long)info.me_last_pgno + 1) * ms.ms_psize;
	if ((unsigned long long)sb.st_size < need) {
		log_err("%s is truncated: %lld bytes, its pages need %llu; tallyd will not "
		    "serve from this store", path, (long long)sb.st_size, need);
		return TALLY_ERR_STORAGE;
	}
	return 0;
}

/* Walk of log + leaves: state. */
struct walk {
	struct store_txn *t;
	struct tally_merkle_frontier f;
	const char *what;   /* the first disagreement found */
};

/* The perfect subtrees leaf completes must be the stored tree nodes. */
static int
tree_check(struct walk *w, const uint8_t leaf[TALLY_HASH_LEN])
{
	uint8_t h[TALLY_HASH_LEN], key[9];
	uint64_t size = w->f.size + 1;
	const uint8_t *v;
	size_t vlen;
	unsigned level = 0;

	memcpy(h, leaf, TALLY_HASH_LEN);
	for (uint64_t s = size; (s & 1) == 0; s >>= 1) {
		level++;
		tally_merkle_node_hash(w->f.node[w->f.count - level], h, h);
		key[0] = (uint8_t)level;
		store_be64_put(key + 1, (size >> level) - 1);
		if (store_txn_get(w->t, STORE_DB_TREE, key, sizeof(key), &v, &vlen) != 0 ||
		    vlen != TALLY_HASH_LEN || memcmp(v, h, TALLY_HASH_LEN) != 0) {
			w->what = "a Merkle tree node differs from its leaves";
			return TALLY_ERR_STORAGE;
		}
	}
	return tally_merkle_frontier_append(&w->f, leaf) == 0 ? 0 : TALLY_ERR_STORAGE;
}

/* Entry k of `log` hashes to leaf k of `leaves`, and the tree agrees. */
static int
walk_entry(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct walk *w = arg;
	uint8_t h[TALLY_HASH_LEN];
	const uint8_t *leaf;
	size_t llen;

	if (klen != 8 || store_be64_get(key) != w->f.size) {
		w->what = "the log's indexes have a gap";
		return TALLY_ERR_STORAGE;
	}
	tally_merkle_leaf_hash(val, vlen, h);
	if (store_txn_get(w->t, STORE_DB_LEAVES, key, 8, &leaf, &llen) != 0 ||
	    llen != TALLY_HASH_LEN || memcmp(leaf, h, TALLY_HASH_LEN) != 0) {
		w->what = "a log entry does not hash to its stored leaf";
		return TALLY_ERR_STORAGE;
	}
	return tree_check(w, h);
}

static int
count_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	(void)key; (void)klen; (void)val; (void)vlen;
	(*(size_t *)arg)++;
	return 0;
}

/* Every record of every database is reachable and counted as LMDB says. */
static int
walk_all(struct store_txn *t, const char **what)
{
	size_t n, want;
	int r;

	for (int db = 0; db < STORE_DB_COUNT; db++) {
		n = 0;
		if ((r = store_txn_each(t, (enum store_db)db, NULL, 0, count_cb, &n)) != 0 ||
		    (r = store_txn_count(t, (enum store_db)db, &want)) != 0)
			return r;
		if (n != want) {
			*what = "a database holds another number of records than it says";
			return TALLY_ERR_STORAGE;
		}
	}
	return 0;
}

/* The latest checkpoint verifies with the bound appliance key and signs
 * the root the tree gives for its size. */
static int
check_checkpoint(struct store_txn *t, uint64_t log_size, const char **what)
{
	const uint8_t *k, *note, *spki, *id;
	size_t klen, nlen, slen, idlen;
	uint8_t root[TALLY_HASH_LEN], mine[TALLY_HASH_LEN];
	char origin[TALLY_ORIGIN_MAX];
	EVP_PKEY *pub = NULL;
	uint64_t size;
	int r;

	r = store_txn_last(t, STORE_DB_CHECKPOINTS, &k, &klen, &note, &nlen);
	if (r == TALLY_ERR_NOT_FOUND)
		return 0;
	if (r != 0 || (r = store_txn_get(t, STORE_DB_META, STORE_META_SPKI,
	    strlen(STORE_META_SPKI), &spki, &slen)) != 0 ||
	    (r = store_txn_get(t, STORE_DB_META, STORE_META_KEY_ID,
	    strlen(STORE_META_KEY_ID), &id, &idlen)) != 0 || idlen != 32) {
		*what = "a checkpoint without the appliance key binding";
		return TALLY_ERR_STORAGE;
	}
	tally_checkpoint_origin(id, origin);
	*what = "the latest checkpoint does not verify or does not sign the stored tree";
	if (klen != 8 || tally_key_from_spki(spki, slen, &pub) != 0) {
		EVP_PKEY_free(pub);
		return TALLY_ERR_STORAGE;
	}
	r = tally_checkpoint_verify((const char *)note, nlen, pub, origin, &size, root);
	EVP_PKEY_free(pub);
	if (r != 0 || size != store_be64_get(k) || size > log_size)
		return TALLY_ERR_STORAGE;
	if (size > 0 && (tally_merkle_range_hash(0, size, store_tree_node, t, mine) != 0 ||
	    memcmp(mine, root, TALLY_HASH_LEN) != 0))
		return TALLY_ERR_STORAGE;
	*what = NULL;
	return 0;
}

/* The meta frontier equals f (or is absent and f empty). */
static bool
frontier_same(struct store_txn *t, const struct tally_merkle_frontier *f)
{
	struct tally_merkle_frontier stored;
	const uint8_t *v;
	size_t vlen;
	int r;

	tally_merkle_frontier_init(&stored);
	r = store_txn_get(t, STORE_DB_META, STORE_META_FRONTIER,
	    strlen(STORE_META_FRONTIER), &v, &vlen);
	if (r == TALLY_ERR_NOT_FOUND)
		return f->size == 0;
	return r == 0 && tally_merkle_frontier_decode(&stored, v, vlen) == 0 &&
	    stored.size == f->size && stored.count == f->count &&
	    memcmp(stored.node, f->node, (size_t)f->count * TALLY_HASH_LEN) == 0;
}

int
store_verify(struct store *st, const char *dir)
{
	struct store_txn t;
	struct walk w = { .t = &t };
	size_t leaves = 0;
	int r;

	tally_merkle_frontier_init(&w.f);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = walk_all(&t, &w.what)) == 0 &&
	    (r = store_txn_each(&t, STORE_DB_LOG, NULL, 0, walk_entry, &w)) == 0 &&
	    (r = store_txn_count(&t, STORE_DB_LEAVES, &leaves)) == 0) {
		if (leaves != w.f.size) {
			w.what = "the log and its leaf hashes have other lengths";
			r = TALLY_ERR_STORAGE;
		} else if (!frontier_same(&t, &w.f)) {
			w.what = "the stored Merkle frontier is not that of the log";
			r = TALLY_ERR_STORAGE;
		} else
			r = check_checkpoint(&t, w.f.size, &w.what);
	}
	if (r != 0)
		log_err("%s/data.mdb is damaged: %s (%s); tallyd will not serve from this "
		    "store", dir, w.what != NULL ? w.what : "LMDB cannot read it",
		    t.mdb_rc != 0 ? mdb_strerror(t.mdb_rc) : tally_strerror(r));
	else
		log_info("store checked: %llu log entries, their leaves and tree nodes agree",
		    (unsigned long long)w.f.size);
	store_txn_abort(&t);
	return r == TALLY_ERR_NOMEM ? r : (r != 0 ? TALLY_ERR_STORAGE : 0);
}
