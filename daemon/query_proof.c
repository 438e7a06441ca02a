/* query_proof.c - read-only views of the Merkle log for the loop thread:
 * RFC 9162 inclusion and consistency proofs and the export header and
 * context (format 2); see query.h. Every hash comes from the `leaves` and
 * `tree` databases (store_tree_node), so no log entry is reread or
 * rehashed: a proof costs O(log^2 size) LMDB lookups. */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "checkpoint.h"
#include "err.h"
#include "merkle.h"
#include "util.h"
#include "log.pb-c.h"
#include "store.pb-c.h"
#include "query.h"
#include "store.h"

/* Ends the read transaction of a query and returns r. */
static int
finish(struct store_txn *t, int r)
{
	store_txn_abort(t);
	return r;
}

/* Entries in the log (meta next_index; 0 on a new store). */
static int
log_size(struct store_txn *t, uint64_t *n)
{
	return store_meta_u64(t, STORE_META_NEXT, n);
}

/* *size, or when it is 0 the latest stored checkpoint's size. */
static int
resolve_size(struct store_txn *t, uint64_t *size)
{
	const uint8_t *k, *v;
	size_t klen, vlen;
	int r;

	if (*size != 0)
		return 0;
	if ((r = store_txn_last(t, STORE_DB_CHECKPOINTS, &k, &klen, &v, &vlen)) != 0)
		return r;
	if (klen != 8)
		return TALLY_ERR_STORAGE;
	*size = store_be64_get(k);
	return 0;
}

/* The stored checkpoint of size into *out (arena string); *out is left
 * as is when none is stored. 0 or an error. */
static int
checkpoint_dup(struct store_txn *t, struct tally_arena *a, uint64_t size, char **out)
{
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;
	char *s;
	int r;

	store_be64_put(key, size);
	r = store_txn_get(t, STORE_DB_CHECKPOINTS, key, 8, &v, &vlen);
	if (r == TALLY_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if ((s = tally_arena_alloc(a, vlen + 1)) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(s, v, vlen);
	*out = s;
	return 0;
}

/* n hashes into an arena array of 32-byte binaries. */
static int
hashes_dup(struct tally_arena *a, const uint8_t (*h)[TALLY_HASH_LEN], size_t n,
    ProtobufCBinaryData **out, size_t *nout)
{
	ProtobufCBinaryData *b;

	if ((b = tally_arena_alloc(a, (n ? n : 1) * sizeof(*b))) == NULL)
		return TALLY_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((b[i].data = tally_arena_dup(a, h[i], TALLY_HASH_LEN)) == NULL)
			return TALLY_ERR_NOMEM;
		b[i].len = TALLY_HASH_LEN;
	}
	*out = b;
	*nout = n;
	return 0;
}

static int
bin_dup(struct tally_arena *a, const void *p, size_t len, ProtobufCBinaryData *out)
{
	if ((out->data = tally_arena_dup(a, p, len ? len : 1)) == NULL)
		return TALLY_ERR_NOMEM;
	out->len = len;
	return 0;
}

/* RFC 9162 root of the first size leaves (size > 0) into out (arena). */
static int
root_dup(struct store_txn *t, struct tally_arena *a, uint64_t size, ProtobufCBinaryData *out)
{
	uint8_t root[TALLY_HASH_LEN];
	int r;

	if ((r = tally_merkle_range_hash(0, size, store_tree_node, t, root)) != 0)
		return r;
	return bin_dup(a, root, sizeof(root), out);
}

/* The proof part of query_log_proof inside t. */
static int
log_proof(struct store_txn *t, uint64_t index, uint64_t size, struct tally_arena *a,
    Tally__LogProofResponse *out)
{
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN], leaf[TALLY_HASH_LEN], key[8];
	const uint8_t *v;
	size_t n, vlen;
	int r;

	store_be64_put(key, index);
	if ((r = store_txn_get(t, STORE_DB_LOG, key, 8, &v, &vlen)) != 0)
		return r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	if ((r = bin_dup(a, v, vlen, &out->entry)) != 0 ||
	    (r = store_tree_node(t, 0, index, leaf)) != 0 ||
	    (r = bin_dup(a, leaf, sizeof(leaf), &out->leaf_hash)) != 0 ||
	    (r = tally_merkle_inclusion_proof(index, size, store_tree_node, t, proof, &n)) != 0 ||
	    (r = hashes_dup(a, (const uint8_t (*)[TALLY_HASH_LEN])proof, n, &out->hashes,
	    &out->n_hashes)) != 0 ||
	    (r = root_dup(t, a, size, &out->root_hash)) != 0)
		return r;
	return checkpoint_dup(t, a, size, &out->checkpoint);
}

int
query_log_proof(struct store *st, uint64_t index, uint64_t size,
    struct tally_arena *a, Tally__LogProofResponse *out)
{
	struct store_txn t;
	uint64_t n;
	int r;

	tally__log_proof_response__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = resolve_size(&t, &size)) != 0 || (r = log_size(&t, &n)) != 0)
		return finish(&t, r);
	if (index >= size || size > n)
		return finish(&t, TALLY_ERR_INVALID);
	out->index = index;
	out->tree_size = size;
	return finish(&t, log_proof(&t, index, size, a, out));
}

int
query_log_consistency(struct store *st, uint64_t from_size, uint64_t to_size,
    struct tally_arena *a, Tally__LogConsistencyResponse *out)
{
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN];
	struct store_txn t;
	uint64_t n;
	size_t len;
	int r;

	tally__log_consistency_response__init(out);
	if (from_size == 0)
		return TALLY_ERR_INVALID;
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	if ((r = resolve_size(&t, &to_size)) != 0 || (r = log_size(&t, &n)) != 0)
		return finish(&t, r);
	if (from_size > to_size || to_size > n)
		return finish(&t, TALLY_ERR_INVALID);
	out->from_size = from_size;
	out->to_size = to_size;
	if ((r = tally_merkle_consistency_proof(from_size, to_size, store_tree_node, &t,
	    proof, &len)) != 0 ||
	    (r = hashes_dup(a, (const uint8_t (*)[TALLY_HASH_LEN])proof, len, &out->hashes,
	    &out->n_hashes)) != 0 ||
	    (r = root_dup(&t, a, from_size, &out->from_root)) != 0 ||
	    (r = root_dup(&t, a, to_size, &out->to_root)) != 0 ||
	    (r = checkpoint_dup(&t, a, from_size, &out->from_checkpoint)) != 0)
		return finish(&t, r);
	return finish(&t, checkpoint_dup(&t, a, to_size, &out->to_checkpoint));
}

/* Size of the last receipt imported (0 when none). */
static int
receipt_size(struct store_txn *t, uint64_t *size)
{
	return store_meta_u64(t, STORE_META_RECEIPT, size);
}

/* Appliance identity of the header: SPKI and origin. */
static int
header_identity(struct store_txn *t, struct tally_arena *a, Tally__ExportHeader *out)
{
	char origin[TALLY_ORIGIN_MAX];
	const uint8_t *v;
	size_t vlen;
	int r;

	if ((r = store_txn_get(t, STORE_DB_META, STORE_META_KEY_ID,
	    strlen(STORE_META_KEY_ID), &v, &vlen)) != 0 || vlen != 32)
		return r == 0 || r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	tally_checkpoint_origin(v, origin);
	if ((out->origin = tally_arena_strdup(a, origin)) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = store_txn_get(t, STORE_DB_META, STORE_META_SPKI, strlen(STORE_META_SPKI),
	    &v, &vlen)) != 0)
		return r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	return bin_dup(a, v, vlen, &out->appliance_public_key);
}

/* prev_checkpoint, prev_frontier and consistency_proof from first (> 0) to size. */
static int
header_prev(struct store_txn *t, struct tally_arena *a, uint64_t first, uint64_t size,
    Tally__ExportHeader *out)
{
	uint8_t nodes[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN];
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN];
	unsigned count;
	size_t len;
	int r;

	if ((r = checkpoint_dup(t, a, first, &out->prev_checkpoint)) != 0)
		return r;
	if (out->prev_checkpoint == NULL || out->prev_checkpoint[0] == '\0')
		return TALLY_ERR_STORAGE;  /* receipts are only taken for stored ones */
	if ((r = store_tree_range(t, first, nodes, &count)) != 0 ||
	    (r = hashes_dup(a, (const uint8_t (*)[TALLY_HASH_LEN])nodes, count,
	    &out->prev_frontier, &out->n_prev_frontier)) != 0 ||
	    (r = tally_merkle_consistency_proof(first, size, store_tree_node, t,
	    proof, &len)) != 0)
		return r;
	return hashes_dup(a, (const uint8_t (*)[TALLY_HASH_LEN])proof, len,
	    &out->consistency_proof, &out->n_consistency_proof);
}

int
query_export_header(struct store *st, bool full, uint64_t tree_size,
    struct tally_arena *a, Tally__ExportHeader *out)
{
	struct store_txn t;
	const uint8_t *v;
	uint8_t key[8];
	uint64_t first = 0;
	size_t vlen;
	int r;

	tally__export_header__init(out);
	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	store_be64_put(key, tree_size);
	if ((r = store_txn_get(&t, STORE_DB_CHECKPOINTS, key, 8, &v, &vlen)) != 0 ||
	    (!full && (r = receipt_size(&t, &first)) != 0) ||
	    (r = header_identity(&t, a, out)) != 0)
		return finish(&t, r);
	if (first > tree_size)
		return finish(&t, TALLY_ERR_INVALID);
	out->format_version = 2;
	out->first_index = first;
	out->entry_count = tree_size - first;
	out->exported_at = tally_now();
	if (first > 0 && (r = header_prev(&t, a, first, tree_size, out)) != 0)
		return finish(&t, r);
	return finish(&t, 0);
}

/* State of query_export_context. */
struct context {
	struct store_txn *t;
	int (*emit)(void *, int, const uint8_t *, size_t);
	void *arg;
};

static int
context_quota(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct context *c = arg;
	Tally__QuotaRecord *rec;
	int r;

	(void)key;
	if (klen != 16 || (rec = tally__quota_record__unpack(NULL, vlen, val)) == NULL)
		return TALLY_ERR_STORAGE;
	r = c->emit(c->arg, TALLY__EXPORT_RECORD__BODY_QUOTA, rec->envelope.data,
	    rec->envelope.len);
	tally__quota_record__free_unpacked(rec, NULL);
	return r;
}

/* The LogJigEnrolled of jig id at log index, packed, to emit. */
static int
emit_enrolled(struct context *c, const uint8_t *id, uint64_t index)
{
	Tally__LogEntry *e;
	const uint8_t *v;
	uint8_t key[8], *buf = NULL;
	size_t vlen, n;
	int r;

	store_be64_put(key, index);
	if ((r = store_txn_get(c->t, STORE_DB_LOG, key, 8, &v, &vlen)) != 0)
		return r == TALLY_ERR_NOT_FOUND ? TALLY_ERR_STORAGE : r;
	if ((e = tally__log_entry__unpack(NULL, vlen, v)) == NULL)
		return TALLY_ERR_STORAGE;
	r = TALLY_ERR_STORAGE;
	if (e->body_case != TALLY__LOG_ENTRY__BODY_JIG_ENROLLED ||
	    e->jig_enrolled->jig_key_id.len != 32 ||
	    memcmp(e->jig_enrolled->jig_key_id.data, id, 32) != 0)
		goto out;
	n = tally__log_jig_enrolled__get_packed_size(e->jig_enrolled);
	r = TALLY_ERR_NOMEM;
	if ((buf = malloc(n ? n : 1)) == NULL)
		goto out;
	tally__log_jig_enrolled__pack(e->jig_enrolled, buf);
	r = c->emit(c->arg, TALLY__EXPORT_RECORD__BODY_JIG, buf, n);
 out:
	free(buf);
	tally__log_entry__free_unpacked(e, NULL);
	return r;
}

static int
context_jig(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct context *c = arg;
	Tally__JigRecord *rec;
	uint64_t index;

	if (klen != 32 || (rec = tally__jig_record__unpack(NULL, vlen, val)) == NULL)
		return TALLY_ERR_STORAGE;
	index = rec->enrolled_index;
	tally__jig_record__free_unpacked(rec, NULL);
	return emit_enrolled(c, key, index);
}

int
query_export_context(struct store *st,
    int (*emit)(void *arg, int kind, const uint8_t *data, size_t len), void *arg)
{
	struct context c = { .emit = emit, .arg = arg };
	struct store_txn t;
	int r;

	if ((r = store_txn_begin(st, &t, false)) != 0)
		return r;
	c.t = &t;
	if ((r = store_txn_each(&t, STORE_DB_QUOTAS, NULL, 0, context_quota, &c)) == 0)
		r = store_txn_each(&t, STORE_DB_JIGS, NULL, 0, context_jig, &c);
	return finish(&t, r);
}
