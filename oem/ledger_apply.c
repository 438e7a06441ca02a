/* ledger_apply.c - writes what a verified export adds to the OEM ledger,
 * inside the write transaction it was reconciled in. See ledger.h. */
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "ledger_int.h"

/* Unix day of t (seconds), rounded down, as a key part that sorts. */
static void
day_key(uint8_t out[8], int64_t t)
{
	int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);

	ledger_be64(out, (uint64_t)day ^ (1ull << 63));
}

static int
put_rec(struct oem_ledger_txn *t, enum ledger_db db, const uint8_t *key, size_t klen,
    struct lw *w)
{
	if (w->err != 0 && t->ret == 0)
		t->ret = w->err;
	ledger_put(t, db, key, klen, w->buf, w->len);
	w->len = 0;
	return t->ret;
}

static int
put_appliance(struct oem_ledger_txn *t, const struct oem_reconcile_result *res,
    int64_t now, struct lw *w)
{
	struct oem_ledger_appliance *a;
	size_t n = strlen(res->checkpoint);

	if (n > TALLY_NOTE_MAX || res->appliance_spki_len > sizeof(a->spki))
		return t->ret = TALLY_ERR_INVALID;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return t->ret = TALLY_ERR_NOMEM;
	memcpy(a->key_id, res->appliance_key_id, TALLY_KEY_ID_LEN);
	memcpy(a->spki, res->appliance_spki, res->appliance_spki_len);
	a->spki_len = res->appliance_spki_len;
	a->size = res->tree_size;
	memcpy(a->root, res->root, TALLY_HASH_LEN);
	memcpy(a->note, res->checkpoint, n + 1);
	a->frontier = res->frontier;
	a->last_time = res->last_time;
	a->verified_at = now;
	lrec_appliance_enc(w, a);
	free(a);
	return put_rec(t, LDB_APPLIANCES, res->appliance_key_id, TALLY_KEY_ID_LEN, w);
}

static int
put_quotas_jigs(struct oem_ledger_txn *t, const struct oem_reconcile_result *res,
    struct lw *w)
{
	uint8_t key[2 * TALLY_KEY_ID_LEN];
	size_t i;

	memcpy(key, res->appliance_key_id, TALLY_KEY_ID_LEN);
	for (i = 0; i < res->n_quotas && t->ret == 0; i++) {
		const struct oem_quota_count *c = &res->quotas[i];

		if (c->pending)
			continue;  /* imported before the file: not shown by the log */
		memcpy(key + TALLY_KEY_ID_LEN, c->quota_id, TALLY_QUOTA_ID_LEN);
		lrec_quota_enc(w, c, c->env, c->env_len);
		put_rec(t, LDB_QUOTAS, key, TALLY_KEY_ID_LEN + TALLY_QUOTA_ID_LEN, w);
	}
	for (i = 0; i < res->n_jigs && t->ret == 0; i++) {
		const struct oem_jig_rec *j = &res->jigs[i];

		if (j->pending || (j->from_ledger && !j->changed))
			continue;
		memcpy(key + TALLY_KEY_ID_LEN, j->id, TALLY_KEY_ID_LEN);
		lrec_jig_enc(w, j);
		put_rec(t, LDB_JIGS, key, sizeof(key), w);
	}
	return t->ret;
}

/* One more token for (appliance, day, quota). */
static int
count_day(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    const struct oem_token_rec *tok)
{
	uint8_t key[TALLY_KEY_ID_LEN + 8 + TALLY_QUOTA_ID_LEN], val[8];
	uint64_t n = 0;
	MDB_val v;
	int r;

	memcpy(key, key_id, TALLY_KEY_ID_LEN);
	day_key(key + TALLY_KEY_ID_LEN, tok->time);
	memcpy(key + TALLY_KEY_ID_LEN + 8, tok->quota_id, TALLY_QUOTA_ID_LEN);
	r = ledger_get(t, LDB_DAYS, key, sizeof(key), &v);
	if (r == 0 && v.mv_size == 8)
		n = ledger_get64(v.mv_data);
	else if (r != TALLY_ERR_NOT_FOUND)
		return t->ret != 0 ? t->ret : (t->ret = TALLY_ERR_STORAGE);
	ledger_be64(val, n + 1);
	return ledger_put(t, LDB_DAYS, key, sizeof(key), val, sizeof(val));
}

/* A token record (new or with new report flags) under appliance||index. */
static int
put_token(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    const struct oem_token_rec *tok, struct lw *w)
{
	uint8_t key[TALLY_KEY_ID_LEN + 8];

	memcpy(key, key_id, TALLY_KEY_ID_LEN);
	ledger_be64(key + TALLY_KEY_ID_LEN, tok->index);
	lrec_token_enc(w, tok);
	return put_rec(t, LDB_TOKENS, key, sizeof(key), w);
}

static int
put_tokens(struct oem_ledger_txn *t, const struct oem_reconcile_result *res, struct lw *w)
{
	const uint8_t *id = res->appliance_key_id;
	uint8_t skey[TALLY_QUOTA_ID_LEN + 8];
	size_t i;

	for (i = 0; i < res->n_tokens && t->ret == 0; i++) {
		const struct oem_token_rec *tok = &res->tokens[i];

		put_token(t, id, tok, w);
		lrec_ref_enc(w, id, tok->index);
		put_rec(t, LDB_UIDS, tok->uid, tok->uid_len, w);
		if (tok->serial != 0) {
			memcpy(skey, tok->quota_id, TALLY_QUOTA_ID_LEN);
			ledger_be64(skey + TALLY_QUOTA_ID_LEN, tok->serial);
			lrec_ref_enc(w, id, tok->index);
			put_rec(t, LDB_SERIALS, skey, sizeof(skey), w);
		}
		count_day(t, id, tok);
	}
	for (i = 0; i < res->n_prior_tokens && t->ret == 0; i++)
		put_token(t, id, &res->prior_tokens[i], w);
	return t->ret;
}

int
oem_ledger_apply(struct oem_ledger_txn *t, const struct oem_reconcile_result *res,
    int64_t now)
{
	struct lw w = { 0 };

	if (res->anomalies_total != 0 || !res->checkpoint_ok || res->checkpoint == NULL)
		return TALLY_ERR_INVALID;
	if (t->ret != 0)
		return t->ret;
	if (put_appliance(t, res, now, &w) == 0 && put_quotas_jigs(t, res, &w) == 0)
		put_tokens(t, res, &w);
	free(w.buf);
	return t->ret;
}
