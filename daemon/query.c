/* query.c - read-only views of the store for the loop thread; see query.h.
 * Each query runs in its own LMDB read transaction and builds its reply
 * from the caller's arena. */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "artifact.h"
#include "checkpoint.h"
#include "dsse.h"
#include "err.h"
#include "util.h"
#include "store.pb-c.h"
#include "log.pb-c.h"
#include "query.h"
#include "store.h"

/* State of a walk over the quotas database. */
struct walk {
	struct tally_arena *a;
	int64_t now;
	bool usable_only;      /* Hello: only quotas that can issue now */
	void **items;          /* arena array of reply messages */
	size_t n, cap;
	uint64_t tokens;       /* sum of issued */
	int (*fn)(struct walk *, const uint8_t *id, const Tally__QuotaRecord *,
	    const Tally__Quota *);
};

/* Decodes one quota record. Its signature and fields were checked at
 * import (issue_ctl.c) and only the writer writes the store, so they are
 * not checked again here: Hello and status stay O(quotas) protobuf
 * decodes, with no key parsing. */
static int
quota_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct walk *wk = arg;
	Tally__QuotaRecord *rec = NULL;
	Tally__Envelope *env = NULL;
	Tally__Quota *q = NULL;
	int r = TALLY_ERR_STORAGE;

	if (klen != 16 || (rec = tally__quota_record__unpack(NULL, vlen, val)) == NULL ||
	    tally_dsse_parse(rec->envelope.data, rec->envelope.len, TALLY_PT_QUOTA, &env) != 0 ||
	    (q = tally__quota__unpack(NULL, env->payload.len, env->payload.data)) == NULL)
		goto out;
	wk->tokens += rec->issued;
	r = wk->n < wk->cap ? wk->fn(wk, key, rec, q) : TALLY_ERR_STORAGE;
 out:
	if (q != NULL)
		tally__quota__free_unpacked(q, NULL);
	if (env != NULL)
		tally__envelope__free_unpacked(env, NULL);
	if (rec != NULL)
		tally__quota_record__free_unpacked(rec, NULL);
	return r;
}

/* Runs fn over every quota; wk->items gets room for all of them. */
static int
walk_quotas(struct store_txn *t, struct walk *wk)
{
	size_t n;
	int r;

	if ((r = store_txn_count(t, STORE_DB_QUOTAS, &n)) != 0)
		return r;
	if ((wk->items = tally_arena_alloc(wk->a, (n ? n : 1) * sizeof(void *))) == NULL)
		return TALLY_ERR_NOMEM;
	wk->cap = n;
	return store_txn_each(t, STORE_DB_QUOTAS, NULL, 0, quota_cb, wk);
}

static uint64_t
remaining(const Tally__QuotaRecord *rec, const Tally__Quota *q)
{
	uint64_t used = rec->issued - rec->returned;

	return used >= q->units ? 0 : q->units - used;
}

static int
product_status(struct walk *wk, const uint8_t *id, const Tally__QuotaRecord *rec,
    const Tally__Quota *q)
{
	Tally__ProductStatus *ps;

	if (wk->usable_only && (wk->now < q->not_before || wk->now >= q->not_after ||
	    remaining(rec, q) == 0))
		return 0;
	if ((ps = tally_arena_alloc(wk->a, sizeof(*ps))) == NULL)
		return TALLY_ERR_NOMEM;
	tally__product_status__init(ps);
	if ((ps->product = tally_arena_strdup(wk->a, q->product)) == NULL ||
	    (ps->quota_id.data = tally_arena_dup(wk->a, id, 16)) == NULL ||
	    (ps->firmware_digests = tally_arena_alloc(wk->a,
	    (q->n_firmware_digests + 1) * sizeof(ProtobufCBinaryData))) == NULL)
		return TALLY_ERR_NOMEM;
	ps->quota_id.len = 16;
	ps->units = q->units;
	ps->units_remaining = remaining(rec, q);
	ps->not_after = q->not_after;
	for (size_t i = 0; i < q->n_firmware_digests; i++) {
		ProtobufCBinaryData *d = &ps->firmware_digests[i];
		if ((d->data = tally_arena_dup(wk->a, q->firmware_digests[i].data,
		    q->firmware_digests[i].len)) == NULL)
			return TALLY_ERR_NOMEM;
		d->len = q->firmware_digests[i].len;
	}
	ps->n_firmware_digests = q->n_firmware_digests;
	wk->items[wk->n++] = ps;
	return 0;
}

/* Copies meta[name] into *out (arena). TALLY_ERR_NOT_FOUND when absent. */
static int
meta_dup(struct store_txn *t, struct tally_arena *a, const char *name,
    ProtobufCBinaryData *out)
{
	const uint8_t *v;
	size_t vlen;
	int r;

	if ((r = store_txn_get(t, STORE_DB_META, name, strlen(name), &v, &vlen)) != 0)
		return r;
	if ((out->data = tally_arena_dup(a, v, vlen)) == NULL)
		return TALLY_ERR_NOMEM;
	out->len = vlen;
	return 0;
}

/* Ends the read transaction of a query and returns r. */
static int
finish(struct store_txn *t, int r)
{
	store_txn_abort(t);
	return r;
}

int
query_hello(struct store *st, struct tally_arena *a, Tally__HelloResponse *out)
{
	struct walk wk = { .a = a, .now = tally_now(), .usable_only = true,
	    .fn = product_status };
	struct store_txn t;
	int r;

	tally__hello_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = meta_dup(&t, a, STORE_META_SPKI, &out->appliance_public_key)) != 0 ||
	    (r = meta_dup(&t, a, STORE_META_KEY_ID, &out->appliance_key_id)) != 0 ||
	    (r = walk_quotas(&t, &wk)) != 0)
		return finish(&t, r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r);
	out->products = (Tally__ProductStatus **)wk.items;
	out->n_products = wk.n;
	out->time = wk.now;
	return finish(&t, 0);
}

int
query_status(struct store *st, struct tally_arena *a, Tally__StatusResponse *out)
{
	struct walk wk = { .a = a, .now = tally_now(), .fn = product_status };
	struct store_txn t;
	int r;

	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = meta_dup(&t, a, STORE_META_KEY_ID, &out->appliance_key_id)) != 0 ||
	    (r = walk_quotas(&t, &wk)) != 0)
		return finish(&t, r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r);
	if ((r = store_meta_u64(&t, STORE_META_NEXT, &out->log_size)) != 0)
		return finish(&t, r);
	out->quotas = (Tally__ProductStatus **)wk.items;
	out->n_quotas = wk.n;
	out->tokens_issued = wk.tokens;
	out->storage_full = store_is_full(st);
	return finish(&t, 0);
}

int
query_identity(struct store *st, struct tally_arena *a, Tally__IdentityResponse *out)
{
	char origin[TALLY_ORIGIN_MAX];
	struct store_txn t;
	int r;

	tally__identity_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = meta_dup(&t, a, STORE_META_SPKI, &out->public_key)) != 0 ||
	    (r = meta_dup(&t, a, STORE_META_KEY_ID, &out->key_id)) != 0)
		return finish(&t, r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r);
	if (out->key_id.len != 32)
		return finish(&t, TALLY_ERR_STORAGE);
	tally_checkpoint_origin(out->key_id.data, origin);
	if ((out->origin = tally_arena_strdup(a, origin)) == NULL)
		return finish(&t, TALLY_ERR_NOMEM);
	return finish(&t, 0);
}

static int
quota_info(struct walk *wk, const uint8_t *id, const Tally__QuotaRecord *rec,
    const Tally__Quota *q)
{
	Tally__QuotaInfo *qi;

	if ((qi = tally_arena_alloc(wk->a, sizeof(*qi))) == NULL)
		return TALLY_ERR_NOMEM;
	tally__quota_info__init(qi);
	if ((qi->quota_id.data = tally_arena_dup(wk->a, id, 16)) == NULL ||
	    (qi->product = tally_arena_strdup(wk->a, q->product)) == NULL)
		return TALLY_ERR_NOMEM;
	qi->quota_id.len = 16;
	qi->units = q->units;
	qi->issued = rec->issued;
	qi->returned = rec->returned;
	qi->not_before = q->not_before;
	qi->not_after = q->not_after;
	qi->import_index = rec->import_index;
	wk->items[wk->n++] = qi;
	return 0;
}

int
query_quota_list(struct store *st, struct tally_arena *a, Tally__QuotaListResponse *out)
{
	struct walk wk = { .a = a, .fn = quota_info };
	struct store_txn t;
	int r;

	tally__quota_list_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = walk_quotas(&t, &wk)) != 0)
		return finish(&t, r);
	out->quotas = (Tally__QuotaInfo **)wk.items;
	out->n_quotas = wk.n;
	return finish(&t, 0);
}

static int
jig_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct walk *wk = arg;
	Tally__JigRecord *rec;
	Tally__JigInfo *ji;
	int r = TALLY_ERR_NOMEM;

	if (klen != 32 || wk->n >= wk->cap ||
	    (rec = tally__jig_record__unpack(NULL, vlen, val)) == NULL)
		return TALLY_ERR_STORAGE;
	if ((ji = tally_arena_alloc(wk->a, sizeof(*ji))) == NULL)
		goto out;
	tally__jig_info__init(ji);
	if ((ji->jig_key_id.data = tally_arena_dup(wk->a, key, 32)) == NULL ||
	    (ji->name = tally_arena_strdup(wk->a, rec->name)) == NULL ||
	    (ji->subject = tally_arena_strdup(wk->a, rec->subject)) == NULL)
		goto out;
	ji->jig_key_id.len = 32;
	ji->revoked = rec->status != TALLY__JIG_STATUS__JIG_STATUS_ACTIVE;
	ji->enrolled_index = rec->enrolled_index;
	ji->enrolled_at = rec->enrolled_at;
	ji->tokens_issued = rec->tokens_issued;
	wk->items[wk->n++] = ji;
	r = 0;
 out:
	tally__jig_record__free_unpacked(rec, NULL);
	return r;
}

int
query_jig_list(struct store *st, struct tally_arena *a, Tally__JigListResponse *out)
{
	struct walk wk = { .a = a };
	struct store_txn t;
	size_t n;
	int r;

	tally__jig_list_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = store_txn_count(&t, STORE_DB_JIGS, &n)) != 0)
		return finish(&t, r);
	if ((wk.items = tally_arena_alloc(a, (n ? n : 1) * sizeof(void *))) == NULL)
		return finish(&t, TALLY_ERR_NOMEM);
	wk.cap = n;
	if ((r = store_txn_each(&t, STORE_DB_JIGS, NULL, 0, jig_cb, &wk)) != 0)
		return finish(&t, r);
	out->jigs = (Tally__JigInfo **)wk.items;
	out->n_jigs = wk.n;
	return finish(&t, 0);
}

/* State of token_show: the device's token under each quota. */
struct show {
	struct store_txn *t;
	struct tally_arena *a;
	const uint8_t *uid;
	size_t uid_len;
	Tally__TokenShowResponse *out;
	size_t cap;
};

int
query_token_at(struct store_txn *t, struct tally_arena *a, uint64_t index,
    ProtobufCBinaryData *out)
{
	Tally__LogEntry *e;
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;
	int r;

	store_be64_put(key, index);
	if ((r = store_txn_get(t, STORE_DB_LOG, key, 8, &v, &vlen)) != 0)
		return r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	if ((e = tally__log_entry__unpack(NULL, vlen, v)) == NULL)
		return TALLY_ERR_STORAGE;
	r = TALLY_ERR_STORAGE;
	if (e->body_case == TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED) {
		out->len = e->token_issued->token.len;
		out->data = tally_arena_dup(a, e->token_issued->token.data, out->len);
		r = out->data != NULL ? 0 : TALLY_ERR_NOMEM;
	}
	tally__log_entry__free_unpacked(e, NULL);
	return r;
}

static int
show_cb(void *arg, const uint8_t *qid, size_t klen, const uint8_t *val, size_t vlen)
{
	struct show *s = arg;
	size_t n = s->out->n_tokens;
	int r;

	(void)val;
	(void)vlen;
	if (klen != 16 || n >= s->cap)
		return TALLY_ERR_STORAGE;
	r = query_device_index(s->t, qid, s->uid, s->uid_len, &s->out->log_indexes[n]);
	if (r == TALLY_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if ((r = query_token_at(s->t, s->a, s->out->log_indexes[n], &s->out->tokens[n])) != 0)
		return r;
	s->out->n_tokens = s->out->n_log_indexes = n + 1;
	return 0;
}

int
query_token_show(struct store *st, const uint8_t *uid, size_t uid_len,
    struct tally_arena *a, Tally__TokenShowResponse *out)
{
	struct show s = { .a = a, .uid = uid, .uid_len = uid_len, .out = out };
	struct store_txn t;
	size_t n;
	int r;

	tally__token_show_response__init(out);
	if (uid_len < 1 || uid_len > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	s.t = &t;
	if ((r = store_txn_count(&t, STORE_DB_QUOTAS, &n)) != 0)
		return finish(&t, r);
	if ((out->tokens = tally_arena_alloc(a, (n + 1) * sizeof(*out->tokens))) == NULL ||
	    (out->log_indexes = tally_arena_alloc(a, (n + 1) * sizeof(uint64_t))) == NULL)
		return finish(&t, TALLY_ERR_NOMEM);
	s.cap = n;
	if ((r = store_txn_each(&t, STORE_DB_QUOTAS, NULL, 0, show_cb, &s)) != 0)
		return finish(&t, r);
	return finish(&t, out->n_tokens > 0 ? 0 : TALLY_ERR_NOT_FOUND);
}

/* Checks a stored note with the appliance key and takes its root. */
static int
note_root(struct store_txn *t, struct tally_arena *a, const uint8_t *note,
    size_t len, Tally__CheckpointResponse *out)
{
	ProtobufCBinaryData spki, id;
	char origin[TALLY_ORIGIN_MAX];
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	uint64_t size;
	uint8_t root[TALLY_HASH_LEN];
	int r;

	if ((r = meta_dup(t, a, STORE_META_SPKI, &spki)) != 0 ||
	    (r = meta_dup(t, a, STORE_META_KEY_ID, &id)) != 0 || id.len != 32)
		return r == 0 || r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	p = spki.data;
	if ((pub = d2i_PUBKEY(NULL, &p, (long)spki.len)) == NULL)
		return TALLY_ERR_STORAGE;
	tally_checkpoint_origin(id.data, origin);
	r = tally_checkpoint_verify((const char *)note, len, pub, origin, &size, root);
	EVP_PKEY_free(pub);
	if (r != 0 || size != out->tree_size)
		return TALLY_ERR_STORAGE;
	if ((out->root_hash.data = tally_arena_dup(a, root, sizeof(root))) == NULL ||
	    (out->note = tally_arena_alloc(a, len + 1)) == NULL)
		return TALLY_ERR_NOMEM;
	out->root_hash.len = sizeof(root);
	memcpy(out->note, note, len);
	return 0;
}

int
query_checkpoint(struct store *st, struct tally_arena *a, Tally__CheckpointResponse *out)
{
	const uint8_t *k, *v;
	struct store_txn t;
	size_t klen, vlen;
	int r;

	tally__checkpoint_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = store_txn_last(&t, STORE_DB_CHECKPOINTS, &k, &klen, &v, &vlen)) != 0)
		return finish(&t, r);
	if (klen != 8 || vlen == 0 || vlen > TALLY_NOTE_MAX)
		return finish(&t, TALLY_ERR_STORAGE);
	out->tree_size = store_be64_get(k);
	return finish(&t, note_root(&t, a, v, vlen, out));
}

/* State of query_log_range. */
struct range {
	uint64_t next, end;
	int (*emit)(void *, uint64_t, const uint8_t *, size_t);
	void *arg;
};

static int
range_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct range *rg = arg;
	int r;

	if (klen != 8 || store_be64_get(key) != rg->next)
		return TALLY_ERR_NOT_FOUND;
	if ((r = rg->emit(rg->arg, rg->next, val, vlen)) != 0)
		return r;
	return ++rg->next == rg->end ? 1 : 0;
}

int
query_log_range(struct store *st, uint64_t first, uint64_t count,
    int (*emit)(void *arg, uint64_t index, const uint8_t *entry, size_t len), void *arg)
{
	struct range rg = { .next = first, .end = first + count, .emit = emit, .arg = arg };
	struct store_txn t;
	uint8_t key[8];
	int r;

	if (count == 0)
		return 0;
	if (rg.end < first)
		return TALLY_ERR_INVALID;
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	store_be64_put(key, first);
	r = store_txn_each(&t, STORE_DB_LOG, key, 8, range_cb, &rg);
	if (r == 0 && rg.next != rg.end)
		r = TALLY_ERR_NOT_FOUND;
	return finish(&t, r);
}
