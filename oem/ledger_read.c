/* ledger_read.c - reading the OEM ledger: appliances, their quotas, jigs,
 * tokens and days, and where a device UID or serial number was seen.
 * See ledger.h. */
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "ledger_int.h"

/* A decode failure is damage: it also stops the transaction. */
static int
damaged(struct oem_ledger_txn *t, int r)
{
	if (r != 0 && t->ret == 0)
		t->ret = r;
	return r;
}

int
oem_ledger_appliance_get(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    struct oem_ledger_appliance *out)
{
	MDB_val v;
	int r;

	if ((r = ledger_get(t, LDB_APPLIANCES, key_id, TALLY_KEY_ID_LEN, &v)) != 0)
		return r;
	memcpy(out->key_id, key_id, TALLY_KEY_ID_LEN);
	return damaged(t, lrec_appliance_dec(&v, out));
}

struct app_walk {
	struct oem_ledger_txn *t;
	struct oem_ledger_appliance *a;
	int (*fn)(void *arg, const struct oem_ledger_appliance *a);
	void *arg;
};

static int
app_one(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct app_walk *w = arg;

	if (k->mv_size != TALLY_KEY_ID_LEN)
		return damaged(w->t, TALLY_ERR_STORAGE);
	memcpy(w->a->key_id, k->mv_data, TALLY_KEY_ID_LEN);
	if (damaged(w->t, lrec_appliance_dec(v, w->a)) != 0)
		return TALLY_ERR_STORAGE;
	return w->fn(w->arg, w->a);
}

int
oem_ledger_appliance_each(struct oem_ledger_txn *t,
    int (*fn)(void *arg, const struct oem_ledger_appliance *a), void *arg)
{
	struct app_walk w = { t, NULL, fn, arg };
	int r;

	if ((w.a = malloc(sizeof(*w.a))) == NULL)
		return TALLY_ERR_NOMEM;
	r = ledger_scan(t, LDB_APPLIANCES, NULL, 0, app_one, &w);
	free(w.a);
	return r;
}

struct quota_walk {
	struct oem_ledger_txn *t;
	int (*fn)(void *arg, const struct oem_quota_count *q, const uint8_t *env,
	    size_t env_len);
	void *arg;
};

static int
quota_one(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct quota_walk *w = arg;
	struct oem_quota_count c;
	const uint8_t *env;
	size_t len;

	if (k->mv_size != TALLY_KEY_ID_LEN + TALLY_QUOTA_ID_LEN ||
	    damaged(w->t, lrec_quota_dec(v, &c, &env, &len)) != 0)
		return damaged(w->t, TALLY_ERR_STORAGE);
	memcpy(c.quota_id, (const uint8_t *)k->mv_data + TALLY_KEY_ID_LEN,
	    TALLY_QUOTA_ID_LEN);
	return w->fn(w->arg, &c, env, len);
}

int
oem_ledger_quota_each(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    int (*fn)(void *arg, const struct oem_quota_count *q, const uint8_t *env,
    size_t env_len), void *arg)
{
	struct quota_walk w = { t, fn, arg };

	return ledger_scan(t, LDB_QUOTAS, key_id, TALLY_KEY_ID_LEN, quota_one, &w);
}

struct jig_walk {
	struct oem_ledger_txn *t;
	int (*fn)(void *arg, const struct oem_jig_rec *j);
	void *arg;
};

static int
jig_one(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct jig_walk *w = arg;
	struct oem_jig_rec j;

	memset(&j, 0, sizeof(j));
	if (k->mv_size != 2 * TALLY_KEY_ID_LEN || damaged(w->t, lrec_jig_dec(v, &j)) != 0)
		return damaged(w->t, TALLY_ERR_STORAGE);
	memcpy(j.id, (const uint8_t *)k->mv_data + TALLY_KEY_ID_LEN, TALLY_KEY_ID_LEN);
	return w->fn(w->arg, &j);
}

int
oem_ledger_jig_each(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    int (*fn)(void *arg, const struct oem_jig_rec *j), void *arg)
{
	struct jig_walk w = { t, fn, arg };

	return ledger_scan(t, LDB_JIGS, key_id, TALLY_KEY_ID_LEN, jig_one, &w);
}

int
oem_ledger_token_get(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    uint64_t index, struct oem_token_rec *out)
{
	uint8_t key[TALLY_KEY_ID_LEN + 8];
	MDB_val v;
	int r;

	memcpy(key, key_id, TALLY_KEY_ID_LEN);
	ledger_be64(key + TALLY_KEY_ID_LEN, index);
	if ((r = ledger_get(t, LDB_TOKENS, key, sizeof(key), &v)) != 0)
		return r;
	if ((r = damaged(t, lrec_token_dec(&v, out))) == 0)
		out->index = index;
	return r;
}

int
oem_ledger_uid_get(struct oem_ledger_txn *t, const uint8_t *uid, size_t len,
    uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t *index)
{
	MDB_val v;
	int r;

	if (len == 0 || len > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	if ((r = ledger_get(t, LDB_UIDS, uid, len, &v)) != 0)
		return r;
	return damaged(t, lrec_ref_dec(&v, key_id, index));
}

int
oem_ledger_serial_get(struct oem_ledger_txn *t, const uint8_t quota_id[TALLY_QUOTA_ID_LEN],
    uint64_t serial, uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t *index)
{
	uint8_t key[TALLY_QUOTA_ID_LEN + 8];
	MDB_val v;
	int r;

	memcpy(key, quota_id, TALLY_QUOTA_ID_LEN);
	ledger_be64(key + TALLY_QUOTA_ID_LEN, serial);
	if ((r = ledger_get(t, LDB_SERIALS, key, sizeof(key), &v)) != 0)
		return r;
	return damaged(t, lrec_ref_dec(&v, key_id, index));
}

struct day_walk {
	struct oem_ledger_txn *t;
	int (*fn)(void *arg, const struct oem_ledger_day *d);
	void *arg;
};

static int
day_one(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct day_walk *w = arg;
	const uint8_t *key = k->mv_data;
	struct oem_ledger_day d;

	if (k->mv_size != TALLY_KEY_ID_LEN + 8 + TALLY_QUOTA_ID_LEN || v->mv_size != 8)
		return damaged(w->t, TALLY_ERR_STORAGE);
	d.day = (int64_t)(ledger_get64(key + TALLY_KEY_ID_LEN) ^ (1ull << 63));
	memcpy(d.quota_id, key + TALLY_KEY_ID_LEN + 8, TALLY_QUOTA_ID_LEN);
	d.count = ledger_get64(v->mv_data);
	return w->fn(w->arg, &d);
}

int
oem_ledger_day_each(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    int (*fn)(void *arg, const struct oem_ledger_day *d), void *arg)
{
	struct day_walk w = { t, fn, arg };

	return ledger_scan(t, LDB_DAYS, key_id, TALLY_KEY_ID_LEN, day_one, &w);
}
