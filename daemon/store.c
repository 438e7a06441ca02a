/* store.c - the LMDB store and its sticky-error transactions, see store.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <openssl/crypto.h>
#include "err.h"
#include "key.h"
#include "log.h"
#include "store.h"

struct store {
	char *dir;         /* the data folder (statvfs on EIO) */
	MDB_env *env;
	MDB_dbi dbi[STORE_DB_COUNT];
	atomic_bool full;
};

static const char *const db_names[STORE_DB_COUNT] = {
	"meta", "quotas", "devices", "log", "leaves", "checkpoints", "jigs", "tree",
	"returned",
};

int
store_map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return TALLY_ERR_STORAGE_FULL;
	case ENOMEM:
		return TALLY_ERR_NOMEM;
	default:
		return TALLY_ERR_STORAGE;
	}
}

void
store_be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
store_be64_get(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* LMDB reports a short write (the file system filled up in the middle
 * of one) as EIO: a file system with less than FS_LOW_BYTES available
 * makes that EIO a full store. */
#define FS_LOW_BYTES (1u << 20)

static bool
fs_low(const struct store *st)
{
	struct statvfs vs;

	return st->dir != NULL && statvfs(st->dir, &vs) == 0 &&
	    (unsigned long long)vs.f_bavail * vs.f_frsize < FS_LOW_BYTES;
}

/* Records an LMDB failure in t (first one wins) and returns t->ret. */
static int
txn_fail(struct store_txn *t, int rc)
{
	if (t->ret == 0) {
		t->ret = rc == EIO && fs_low(t->st) ? TALLY_ERR_STORAGE_FULL :
		    store_map_err(rc);
		t->mdb_rc = rc;
	}
	return t->ret;
}

int
store_txn_begin(struct store *st, struct store_txn *t, bool write)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->st = st;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		t->txn = NULL;
		return txn_fail(t, rc);
	}
	return 0;
}

int
store_txn_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen, unsigned flags)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_put(t->txn, t->st->dbi[db], &k, &v, flags)) != 0)
		return txn_fail(t, rc);
	return 0;
}

int
store_txn_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const uint8_t **val, size_t *vlen)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if (t->ret != 0)
		return t->ret;
	rc = mdb_get(t->txn, t->st->dbi[db], &k, &v);
	if (rc == MDB_NOTFOUND)
		return TALLY_ERR_NOT_FOUND;
	if (rc != 0)
		return txn_fail(t, rc);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int
store_txn_each(struct store_txn *t, enum store_db db, const void *from,
    size_t fromlen, int (*fn)(void *arg, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen), void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k = { fromlen, (void *)from }, v;
	int rc, r = 0;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c)) != 0)
		return txn_fail(t, rc);
	rc = mdb_cursor_get(c, &k, &v, from != NULL ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if ((r = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return txn_fail(t, rc);
	return r > 0 ? 0 : r;
}

int
store_txn_last(struct store_txn *t, enum store_db db, const uint8_t **key,
    size_t *klen, const uint8_t **val, size_t *vlen)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c)) != 0)
		return txn_fail(t, rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return TALLY_ERR_NOT_FOUND;
	if (rc != 0)
		return txn_fail(t, rc);
	*key = k.mv_data;
	*klen = k.mv_size;
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int
store_txn_count(struct store_txn *t, enum store_db db, size_t *n)
{
	MDB_stat ms;
	int rc;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_stat(t->txn, t->st->dbi[db], &ms)) != 0)
		return txn_fail(t, rc);
	*n = ms.ms_entries;
	return 0;
}

int
store_txn_commit(struct store_txn *t)
{
	int rc;

	if (t->txn == NULL)
		return t->ret != 0 ? t->ret : TALLY_ERR_STORAGE;
	if (t->ret != 0) {
		mdb_txn_abort(t->txn);
		t->txn = NULL;
		return t->ret;
	}
	rc = mdb_txn_commit(t->txn);
	t->txn = NULL;
	if (rc != 0)
		return txn_fail(t, rc);
	return 0;
}

void
store_txn_abort(struct store_txn *t)
{
	if (t->txn != NULL)
		mdb_txn_abort(t->txn);
	t->txn = NULL;
}

void
store_set_full(struct store *st, bool full)
{
	atomic_store(&st->full, full);
}

bool
store_is_full(struct store *st)
{
	return atomic_load(&st->full);
}

bool
store_room_low(struct store *st)
{
	MDB_envinfo info;
	MDB_stat ms;
	size_t pages, reserve;

	if (mdb_env_info(st->env, &info) != 0 || mdb_env_stat(st->env, &ms) != 0 ||
	    ms.ms_psize == 0)
		return false;
	pages = info.me_mapsize / ms.ms_psize;
	reserve = pages / 8 < STORE_RESERVE_PAGES ? pages / 8 : STORE_RESERVE_PAGES;
	if (pages / 100 > reserve)
		reserve = pages / 100;
	return info.me_last_pgno + 1 + reserve >= pages;
}

int
store_tree_add(struct store_txn *t, struct tally_merkle_frontier *f,
    const uint8_t leaf[TALLY_HASH_LEN])
{
	uint8_t h[TALLY_HASH_LEN], key[9];
	uint64_t size = f->size + 1;
	unsigned level = 0;

	if (t->ret != 0)
		return t->ret;
	if (size == 0)
		return (t->ret = TALLY_ERR_TOO_LARGE);
	memcpy(h, leaf, TALLY_HASH_LEN);
	/* The merges of the frontier append: each completes a perfect subtree. */
	for (uint64_t s = size; (s & 1) == 0; s >>= 1) {
		level++;
		tally_merkle_node_hash(f->node[f->count - level], h, h);
		key[0] = (uint8_t)level;
		store_be64_put(key + 1, (size >> level) - 1);
		if (store_txn_put(t, STORE_DB_TREE, key, sizeof(key), h, sizeof(h), 0) != 0)
			return t->ret;
	}
	if (tally_merkle_frontier_append(f, leaf) != 0)
		return (t->ret = TALLY_ERR_TOO_LARGE);
	return 0;
}

int
store_tree_node(void *arg, unsigned level, uint64_t index, uint8_t out[TALLY_HASH_LEN])
{
	struct store_txn *t = arg;
	uint8_t key[9];
	const uint8_t *v;
	size_t vlen;
	int r;

	if (level >= TALLY_MERKLE_MAX_HEIGHT)
		return TALLY_ERR_INVALID;
	key[0] = (uint8_t)level;
	store_be64_put(key + 1, index);
	if (level == 0)
		r = store_txn_get(t, STORE_DB_LEAVES, key + 1, 8, &v, &vlen);
	else
		r = store_txn_get(t, STORE_DB_TREE, key, sizeof(key), &v, &vlen);
	if (r == TALLY_ERR_NOT_FOUND || (r == 0 && vlen != TALLY_HASH_LEN)) {
		log_err("Merkle node (level %u, index %llu) missing from the store",
		    level, (unsigned long long)index);
		return TALLY_ERR_STORAGE;
	}
	if (r == 0)
		memcpy(out, v, TALLY_HASH_LEN);
	return r;
}

int
store_tree_range(struct store_txn *t, uint64_t size, uint8_t nodes[][TALLY_HASH_LEN],
    unsigned *count)
{
	uint64_t start = 0;
	unsigned n = 0;
	int r;

	for (int b = TALLY_MERKLE_MAX_HEIGHT - 1; b >= 0; b--) {
		if ((size >> b & 1) == 0)
			continue;
		if ((r = store_tree_node(t, (unsigned)b, start >> b, nodes[n++])) != 0)
			return r;
		start += (uint64_t)1 << b;
	}
	*count = n;
	return 0;
}

/* State of the version 1 -> 2 migration. */
struct migrate {
	struct store_txn *t;
	struct tally_merkle_frontier f;
};

static int
migrate_leaf(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct migrate *m = arg;

	if (klen != 8 || vlen != TALLY_HASH_LEN || store_be64_get(key) != m->f.size)
		return TALLY_ERR_STORAGE;
	return store_tree_add(m->t, &m->f, val);
}

/* Schema 1 -> 2: every tree node from the leaves; the result must be the
 * frontier the store records. */
static void
migrate_v1(struct store_txn *t)
{
	struct migrate m = { .t = t };
	struct tally_merkle_frontier stored;
	const uint8_t *v;
	size_t vlen;
	int r;

	tally_merkle_frontier_init(&m.f);
	tally_merkle_frontier_init(&stored);
	if ((r = store_txn_each(t, STORE_DB_LEAVES, NULL, 0, migrate_leaf, &m)) != 0) {
		t->ret = t->ret != 0 ? t->ret : r;
		return;
	}
	r = store_txn_get(t, STORE_DB_META, STORE_META_FRONTIER,
	    strlen(STORE_META_FRONTIER), &v, &vlen);
	if ((r == 0 && tally_merkle_frontier_decode(&stored, v, vlen) != 0) ||
	    (r != 0 && r != TALLY_ERR_NOT_FOUND) || stored.size != m.f.size ||
	    memcmp(stored.node, m.f.node, (size_t)stored.count * TALLY_HASH_LEN) != 0) {
		log_err("store migration: the leaves do not give the stored frontier");
		t->ret = t->ret != 0 ? t->ret : TALLY_ERR_STORAGE;
		return;
	}
	log_info("store migrated to schema %u: %llu Merkle leaves, tree nodes added",
	    STORE_SCHEMA_VERSION, (unsigned long long)m.f.size);
}

/* Opens every named database and checks, migrates or writes the schema version. */
static int
open_dbs(struct store *st)
{
	struct store_txn t;
	const uint8_t *v;
	uint8_t ver[4] = { 0, 0, 0, STORE_SCHEMA_VERSION };
	size_t vlen;
	int rc, r;

	if ((r = store_txn_begin(st, &t, true)) != 0)
		return r;
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		if ((rc = mdb_dbi_open(t.txn, db_names[i], MDB_CREATE, &st->dbi[i])) != 0) {
			txn_fail(&t, rc);
			goto out;
		}
	}
	r = store_txn_get(&t, STORE_DB_META, STORE_META_SCHEMA,
	    strlen(STORE_META_SCHEMA), &v, &vlen);
	if (r != 0 && r != TALLY_ERR_NOT_FOUND)
		goto out;
	if (r == 0 && vlen == sizeof(ver) && memcmp(v, ver, vlen) == 0)
		goto out;
	if (r == 0 && vlen == sizeof(ver) && memcmp(v, "\0\0\0\1", vlen) == 0)
		migrate_v1(&t);
	else if (r == 0) {
		log_err("store schema differs from version %u", STORE_SCHEMA_VERSION);
		t.ret = TALLY_ERR_STORAGE;
		goto out;
	}
	store_txn_put(&t, STORE_DB_META, STORE_META_SCHEMA,
	    strlen(STORE_META_SCHEMA), ver, sizeof(ver), 0);
 out:
	return store_txn_commit(&t);
}

static int
env_open(struct store *st, const char *dir, size_t map_size)
{
	int rc, dead = 0;

	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		return store_map_err(rc);
	}
	if ((rc = mdb_env_set_maxdbs(st->env, STORE_DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, map_size)) != 0)
		return store_map_err(rc);
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0) {
		log_err("cannot open the store %s/data.mdb (lock file %s/lock.mdb): %s%s",
		    dir, dir, mdb_strerror(rc), rc == MDB_INVALID || rc == MDB_CORRUPTED ||
		    rc == MDB_VERSION_MISMATCH ? "; tallyd will not serve from this store" : "");
		return rc == ENOENT || rc == EACCES || rc == EROFS ? TALLY_ERR_IO :
		    store_map_err(rc);
	}
	if (store_check_size(st->env, dir) != 0)
		return TALLY_ERR_STORAGE;
	if ((rc = mdb_reader_check(st->env, &dead)) != 0)
		return store_map_err(rc);
	if (dead > 0)
		log_info("cleared %d stale store reader slot(s)", dead);
	return 0;
}

int
store_open(const char *dir, size_t map_size, struct store **out)
{
	struct store *st;
	struct stat sb;
	int r;

	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return TALLY_ERR_IO;
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->dir = strdup(dir)) == NULL) {
		free(st);
		return TALLY_ERR_NOMEM;
	}
	if ((r = env_open(st, dir, map_size)) != 0 || (r = open_dbs(st)) != 0 ||
	    (r = store_verify(st, dir)) != 0) {
		store_close(st);
		return r;
	}
	*out = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st->dir);
	free(st);
}

/* Compares or records key_id and spki inside t. */
static void
bind_key(struct store_txn *t, const uint8_t id[TALLY_KEY_ID_LEN],
    const uint8_t *spki, size_t spki_len)
{
	const uint8_t *v;
	size_t vlen;
	int r;

	r = store_txn_get(t, STORE_DB_META, STORE_META_KEY_ID,
	    strlen(STORE_META_KEY_ID), &v, &vlen);
	if (r == 0 && (vlen != TALLY_KEY_ID_LEN || memcmp(v, id, vlen) != 0)) {
		t->ret = TALLY_ERR_MISMATCH;
		return;
	}
	if (r == TALLY_ERR_NOT_FOUND)
		store_txn_put(t, STORE_DB_META, STORE_META_KEY_ID,
		    strlen(STORE_META_KEY_ID), id, TALLY_KEY_ID_LEN, 0);
	r = store_txn_get(t, STORE_DB_META, STORE_META_SPKI,
	    strlen(STORE_META_SPKI), &v, &vlen);
	if (r == TALLY_ERR_NOT_FOUND)
		store_txn_put(t, STORE_DB_META, STORE_META_SPKI,
		    strlen(STORE_META_SPKI), spki, spki_len, 0);
}

int
store_check_key(struct store *st, EVP_PKEY *key)
{
	struct store_txn t;
	uint8_t id[TALLY_KEY_ID_LEN], *spki = NULL;
	size_t spki_len;
	int r;

	if ((r = tally_key_id(key, id)) != 0 ||
	    (r = tally_key_spki(key, &spki, &spki_len)) != 0)
		return r;
	if ((r = store_txn_begin(st, &t, true)) == 0) {
		bind_key(&t, id, spki, spki_len);
		r = store_txn_commit(&t);
	}
	if (r == TALLY_ERR_MISMATCH)
		log_err("the store belongs to another appliance key");
	OPENSSL_free(spki);
	return r;
}

int
store_meta_u64(struct store_txn *t, const char *name, uint64_t *v)
{
	const uint8_t *val;
	size_t len;
	int r;

	*v = 0;
	r = store_txn_get(t, STORE_DB_META, name, strlen(name), &val, &len);
	if (r == TALLY_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if (len != 8)
		return TALLY_ERR_STORAGE;
	*v = store_be64_get(val);
	return 0;
}
