/* query_bundle.c - the token bundle of one device under one quota, for
 * `tallyctl token show --bundle-out`: rebuilt from the store with the
 * writer's own encoder (issue_bundle_encode), so the bytes are the ones
 * IssueToken gave the jig; see query.h. */
#include <stdlib.h>
#include <string.h>
#include "artifact.h"
#include "err.h"
#include "issue.h"
#include "store.pb-c.h"
#include "query.h"
#include "store.h"

/* The three parts of a bundle inside read transaction t. */
struct parts {
	ProtobufCBinaryData token;   /* token envelope (arena) */
	Tally__QuotaRecord *rec;     /* its quota (free_unpacked) */
	const uint8_t *spki;         /* appliance SPKI (in t) */
	size_t spki_len;
};

int
query_device_index(struct store_txn *t, const uint8_t qid[16], const uint8_t *uid,
    size_t uid_len, uint64_t *index)
{
	uint8_t key[16 + TALLY_UID_MAX];
	const uint8_t *v;
	size_t vlen;
	int r;

	if (uid_len < 1 || uid_len > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	memcpy(key, qid, 16);
	memcpy(key + 16, uid, uid_len);
	if ((r = store_txn_get(t, STORE_DB_DEVICES, key, 16 + uid_len, &v, &vlen)) != 0)
		return r;
	if (vlen != 8)
		return TALLY_ERR_STORAGE;
	*index = store_be64_get(v);
	return 0;
}

/* The quota record and appliance SPKI: a device row without them is a
 * broken store. */
static int
parts_get(struct store_txn *t, const uint8_t qid[16], struct parts *p)
{
	const uint8_t *v;
	size_t vlen;
	int r;

	if ((r = store_txn_get(t, STORE_DB_QUOTAS, qid, 16, &v, &vlen)) != 0)
		return r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	if ((p->rec = tally__quota_record__unpack(NULL, vlen, v)) == NULL ||
	    p->rec->envelope.len == 0)
		return TALLY_ERR_STORAGE;
	r = store_txn_get(t, STORE_DB_META, STORE_META_SPKI, strlen(STORE_META_SPKI),
	    &p->spki, &p->spki_len);
	if (r == 0 && p->spki_len == 0)
		r = TALLY_ERR_STORAGE;
	return r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
}

/* One entry in each of out's three lists, from arena a. */
static int
out_alloc(struct tally_arena *a, Tally__TokenShowResponse *out)
{
	if ((out->tokens = tally_arena_alloc(a, sizeof(*out->tokens))) == NULL ||
	    (out->bundles = tally_arena_alloc(a, sizeof(*out->bundles))) == NULL ||
	    (out->log_indexes = tally_arena_alloc(a, sizeof(uint64_t))) == NULL)
		return TALLY_ERR_NOMEM;
	return 0;
}

int
query_token_bundle(struct store *st, const uint8_t *uid, size_t uid_len,
    const uint8_t quota_id[16], struct tally_arena *a, Tally__TokenShowResponse *out)
{
	struct parts p = { .rec = NULL };
	struct store_txn t;
	uint8_t *b = NULL;
	size_t blen = 0;
	uint64_t index;
	int r;

	tally__token_show_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = query_device_index(&t, quota_id, uid, uid_len, &index)) != 0 ||
	    (r = out_alloc(a, out)) != 0 ||
	    (r = query_token_at(&t, a, index, &p.token)) != 0 ||
	    (r = parts_get(&t, quota_id, &p)) != 0 ||
	    (r = issue_bundle_encode(p.rec->envelope.data, p.rec->envelope.len,
	    p.token.data, p.token.len, p.spki, p.spki_len, &b, &blen)) != 0)
		goto out;
	if ((out->bundles[0].data = tally_arena_dup(a, b, blen)) == NULL) {
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	out->bundles[0].len = blen;
	out->tokens[0] = p.token;
	out->log_indexes[0] = index;
	out->n_tokens = out->n_bundles = out->n_log_indexes = 1;
 out:
	free(b);
	if (p.rec != NULL)
		tally__quota_record__free_unpacked(p.rec, NULL);
	store_txn_abort(&t);
	return r;
}
