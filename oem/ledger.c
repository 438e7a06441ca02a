/* ledger.c - the OEM ledger's LMDB environment, transactions with a sticky
 * error (Knot DNS style), record access, the OEM root binding and the
 * digest. See ledger.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include "err.h"
#include "ledger_int.h"

#define META_SCHEMA "schema"
#define META_ROOT "root_key_id"

static const char *const db_names[LDB_COUNT] = {
	[LDB_META] = "meta",
	[LDB_APPLIANCES] = "appliances",
	[LDB_QUOTAS] = "quotas",
	[LDB_JIGS] = "jigs",
	[LDB_TOKENS] = "tokens",
	[LDB_UIDS] = "uids",
	[LDB_SERIALS] = "serials",
	[LDB_DAYS] = "days",
};

const char *
ledger_db_name(enum ledger_db db)
{
	return db_names[db];
}

static int
map_err(int rc)
{
	if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT)
		return TALLY_ERR_STORAGE_FULL;
	return TALLY_ERR_STORAGE;
}

void
ledger_be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

uint64_t
ledger_get64(const uint8_t in[8])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

int
oem_ledger_begin(struct oem_ledger *l, int write, struct oem_ledger_txn *t)
{
	t->l = l;
	t->ret = 0;
	if (mdb_txn_begin(l->env, NULL, write ? 0 : MDB_RDONLY, &t->txn) != 0) {
		t->txn = NULL;
		t->ret = TALLY_ERR_STORAGE;
	}
	return t->ret;
}

int
oem_ledger_commit(struct oem_ledger_txn *t)
{
	int rc;

	if (t->txn == NULL)
		return t->ret != 0 ? t->ret : TALLY_ERR_STORAGE;
	if (t->ret != 0) {
		mdb_txn_abort(t->txn);
	} else if ((rc = mdb_txn_commit(t->txn)) != 0) {
		t->ret = map_err(rc);
	}
	t->txn = NULL;
	return t->ret;
}

void
oem_ledger_abort(struct oem_ledger_txn *t)
{
	if (t->txn != NULL)
		mdb_txn_abort(t->txn);
	t->txn = NULL;
}

int
ledger_get(struct oem_ledger_txn *t, enum ledger_db db, const void *key, size_t klen,
    MDB_val *v)
{
	MDB_val k = { klen, (void *)key };
	int rc;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_get(t->txn, t->l->dbi[db], &k, v)) == MDB_NOTFOUND)
		return TALLY_ERR_NOT_FOUND;
	if (rc != 0)
		t->ret = map_err(rc);
	return t->ret;
}

int
ledger_put(struct oem_ledger_txn *t, enum ledger_db db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc;

	if (t->ret == 0 && (rc = mdb_put(t->txn, t->l->dbi[db], &k, &v, 0)) != 0)
		t->ret = map_err(rc);
	return t->ret;
}

int
ledger_scan(struct oem_ledger_txn *t, enum ledger_db db, const void *prefix, size_t plen,
    int (*fn)(void *arg, const MDB_val *k, const MDB_val *v), void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc, r = 0;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_cursor_open(t->txn, t->l->dbi[db], &c)) != 0)
		return t->ret = map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && r == 0) {
		if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		r = fn(arg, &k, &v);
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
		r = t->ret = map_err(rc);
	return r;
}

/* Opens every database; on a new ledger records the schema. */
static int
open_dbs(struct oem_ledger *l)
{
	struct oem_ledger_txn t = { 0 };
	uint8_t ver[4] = { 0, 0, 0, OEM_LEDGER_SCHEMA };
	MDB_val v;
	int i, rc;

	if (oem_ledger_begin(l, 1, &t) != 0)
		return t.ret;
	for (i = 0; i < LDB_COUNT && t.ret == 0; i++)
		if ((rc = mdb_dbi_open(t.txn, db_names[i], MDB_CREATE, &l->dbi[i])) != 0)
			t.ret = map_err(rc);
	rc = ledger_get(&t, LDB_META, META_SCHEMA, strlen(META_SCHEMA), &v);
	if (rc == TALLY_ERR_NOT_FOUND)
		ledger_put(&t, LDB_META, META_SCHEMA, strlen(META_SCHEMA), ver, sizeof(ver));
	else if (rc == 0 && (v.mv_size != sizeof(ver) || memcmp(v.mv_data, ver, 4) != 0))
		t.ret = TALLY_ERR_STORAGE;
	return oem_ledger_commit(&t);
}

int
oem_ledger_open(const char *dir, size_t map_size, struct oem_ledger **out)
{
	struct oem_ledger *l;
	int rc, dead, r;

	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return TALLY_ERR_IO;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return TALLY_ERR_NOMEM;
	if ((rc = mdb_env_create(&l->env)) != 0) {
		free(l);
		return TALLY_ERR_STORAGE;
	}
	if ((rc = mdb_env_set_maxdbs(l->env, LDB_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(l->env, map_size)) != 0 ||
	    (rc = mdb_env_open(l->env, dir, MDB_NOTLS, 0600)) != 0) {
		r = rc == ENOENT || rc == EACCES || rc == ENOTDIR ? TALLY_ERR_IO : map_err(rc);
		errno = rc > 0 ? rc : errno;
		goto fail;
	}
	mdb_reader_check(l->env, &dead);
	if ((r = open_dbs(l)) != 0)
		goto fail;
	*out = l;
	return 0;
 fail:
	mdb_env_close(l->env);
	free(l);
	return r;
}

void
oem_ledger_close(struct oem_ledger *l)
{
	if (l == NULL)
		return;
	mdb_env_close(l->env);
	free(l);
}

int
oem_ledger_bind_root(struct oem_ledger_txn *t, const uint8_t root_key_id[TALLY_KEY_ID_LEN])
{
	MDB_val v;
	int r;

	r = ledger_get(t, LDB_META, META_ROOT, strlen(META_ROOT), &v);
	if (r == TALLY_ERR_NOT_FOUND)
		return ledger_put(t, LDB_META, META_ROOT, strlen(META_ROOT), root_key_id,
		    TALLY_KEY_ID_LEN);
	if (r != 0)
		return r;
	if (v.mv_size != TALLY_KEY_ID_LEN || memcmp(v.mv_data, root_key_id,
	    TALLY_KEY_ID_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	return 0;
}

static int
digest_rec(void *arg, const MDB_val *k, const MDB_val *v)
{
	EVP_MD_CTX *ctx = arg;
	uint8_t len[8];

	ledger_be64(len, k->mv_size);
	if (EVP_DigestUpdate(ctx, len, 8) != 1 ||
	    EVP_DigestUpdate(ctx, k->mv_data, k->mv_size) != 1)
		return TALLY_ERR_CRYPTO;
	ledger_be64(len, v->mv_size);
	if (EVP_DigestUpdate(ctx, len, 8) != 1 ||
	    EVP_DigestUpdate(ctx, v->mv_data, v->mv_size) != 1)
		return TALLY_ERR_CRYPTO;
	return 0;
}

int
oem_ledger_digest(struct oem_ledger *l, uint8_t out[32])
{
	struct oem_ledger_txn t = { 0 };
	EVP_MD_CTX *ctx;
	unsigned int n = 32;
	int i, r;

	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return TALLY_ERR_CRYPTO;
	}
	if ((r = oem_ledger_begin(l, 0, &t)) != 0)
		goto out;
	for (i = 0; i < LDB_COUNT && r == 0; i++) {
		if (EVP_DigestUpdate(ctx, db_names[i], strlen(db_names[i]) + 1) != 1)
			r = TALLY_ERR_CRYPTO;
		else
			r = ledger_scan(&t, (enum ledger_db)i, NULL, 0, digest_rec, ctx);
	}
	oem_ledger_abort(&t);
	if (r == 0 && EVP_DigestFinal_ex(ctx, out, &n) != 1)
		r = TALLY_ERR_CRYPTO;
 out:
	EVP_MD_CTX_free(ctx);
	return r;
}
