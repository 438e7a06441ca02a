/* issue_cache.c - the writer's in-memory view of quotas, jigs and the
 * Merkle frontier, loaded from the store; see issue.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "key.h"
#include "log.h"
#include "issue.h"

struct quota_entry *
issue_quota_find(struct issue_ctx *ctx, const uint8_t id[16])
{
	for (size_t i = 0; i < ctx->n_quotas; i++)
		if (memcmp(ctx->quotas[i].id, id, 16) == 0)
			return &ctx->quotas[i];
	return NULL;
}

struct jig_entry *
issue_jig_find(struct issue_ctx *ctx, const uint8_t id[32])
{
	for (size_t i = 0; i < ctx->n_jigs; i++)
		if (memcmp(ctx->jigs[i].id, id, 32) == 0)
			return &ctx->jigs[i];
	return NULL;
}

/* Grows *arr (of *cap elements of size sz) to hold one more than n. */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(*arr, ncap, sz)) == NULL)
		return TALLY_ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Parses the quota inside a stored envelope (verified when imported). */
static int
parse_stored_quota(const uint8_t *env, size_t len, Tally__Quota **out)
{
	Tally__Envelope *e = NULL;
	Tally__Quota *q;
	int r;

	if ((r = tally_dsse_parse(env, len, TALLY_PT_QUOTA, &e)) != 0)
		return TALLY_ERR_STORAGE;
	q = tally__quota__unpack(NULL, e->payload.len, e->payload.data);
	tally__envelope__free_unpacked(e, NULL);
	if (q == NULL || tally_quota_check(q) != 0) {
		if (q != NULL)
			tally__quota__free_unpacked(q, NULL);
		return TALLY_ERR_STORAGE;
	}
	*out = q;
	return 0;
}

/* Adds a quota entry from a packed QuotaRecord; q may be NULL (parsed here). */
static int
quota_add_packed(struct issue_ctx *ctx, const uint8_t *val, size_t len,
    Tally__Quota *q)
{
	Tally__QuotaRecord *rec;
	struct quota_entry *qe;
	int r;

	if ((rec = tally__quota_record__unpack(NULL, len, val)) == NULL) {
		if (q != NULL)
			tally__quota__free_unpacked(q, NULL);
		return TALLY_ERR_STORAGE;
	}
	if (q == NULL &&
	    (r = parse_stored_quota(rec->envelope.data, rec->envelope.len, &q)) != 0)
		goto fail;
	if ((r = grow((void **)&ctx->quotas, &ctx->cap_quotas, ctx->n_quotas,
	    sizeof(*ctx->quotas))) != 0)
		goto fail;
	qe = &ctx->quotas[ctx->n_quotas++];
	memset(qe, 0, sizeof(*qe));
	memcpy(qe->id, q->quota_id.data, 16);
	qe->q = q;
	qe->rec = rec;
	return 0;
 fail:
	tally__quota_record__free_unpacked(rec, NULL);
	if (q != NULL)
		tally__quota__free_unpacked(q, NULL);
	return r;
}

int
issue_quota_add(struct issue_ctx *ctx, const Tally__QuotaRecord *rec, Tally__Quota *q)
{
	size_t n = tally__quota_record__get_packed_size(rec);
	uint8_t *buf = malloc(n ? n : 1);
	int r;

	if (buf == NULL) {
		tally__quota__free_unpacked(q, NULL);
		return TALLY_ERR_NOMEM;
	}
	tally__quota_record__pack(rec, buf);
	if ((r = quota_add_packed(ctx, buf, n, q)) == 0)
		ctx->quotas[ctx->n_quotas - 1].dirty = true;
	free(buf);
	return r;
}

/* The public key of a stored certificate. */
static EVP_PKEY *
cert_pubkey(const Tally__JigRecord *rec)
{
	const unsigned char *p = rec->certificate.data;
	X509 *x = d2i_X509(NULL, &p, (long)rec->certificate.len);
	EVP_PKEY *pub = NULL;

	if (x != NULL) {
		pub = X509_get_pubkey(x);
		X509_free(x);
	}
	return pub;
}

static int
jig_add_packed(struct issue_ctx *ctx, const uint8_t id[32], const uint8_t *val,
    size_t len)
{
	Tally__JigRecord *rec;
	struct jig_entry *je;
	EVP_PKEY *pub = NULL;
	int r = TALLY_ERR_STORAGE;

	if ((rec = tally__jig_record__unpack(NULL, len, val)) == NULL)
		return TALLY_ERR_STORAGE;
	if ((pub = cert_pubkey(rec)) == NULL)
		goto fail;
	if ((r = grow((void **)&ctx->jigs, &ctx->cap_jigs, ctx->n_jigs,
	    sizeof(*ctx->jigs))) != 0)
		goto fail;
	je = &ctx->jigs[ctx->n_jigs++];
	memset(je, 0, sizeof(*je));
	memcpy(je->id, id, 32);
	je->rec = rec;
	je->pub = pub;
	return 0;
 fail:
	EVP_PKEY_free(pub);
	tally__jig_record__free_unpacked(rec, NULL);
	return r;
}

int
issue_jig_add(struct issue_ctx *ctx, const uint8_t id[32], const Tally__JigRecord *rec)
{
	size_t n = tally__jig_record__get_packed_size(rec);
	uint8_t *buf = malloc(n ? n : 1);
	int r;

	if (buf == NULL)
		return TALLY_ERR_NOMEM;
	tally__jig_record__pack(rec, buf);
	r = jig_add_packed(ctx, id, buf, n);
	if (r == TALLY_ERR_STORAGE)
		r = TALLY_ERR_INVALID;
	if (r == 0)
		ctx->jigs[ctx->n_jigs - 1].dirty = true;
	free(buf);
	return r;
}

static void
cache_clear(struct issue_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_quotas; i++) {
		tally__quota__free_unpacked(ctx->quotas[i].q, NULL);
		tally__quota_record__free_unpacked(ctx->quotas[i].rec, NULL);
	}
	for (size_t i = 0; i < ctx->n_jigs; i++) {
		tally__jig_record__free_unpacked(ctx->jigs[i].rec, NULL);
		EVP_PKEY_free(ctx->jigs[i].pub);
	}
	ctx->n_quotas = ctx->n_jigs = 0;
	tally_merkle_frontier_init(&ctx->frontier);
	ctx->next_index = 0;
	ctx->receipt_size = 0;
	ctx->meta_dirty = ctx->jigs_changed = false;
}

static int
load_quota(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct issue_ctx *ctx = arg;
	int r;

	if (klen != 16)
		return TALLY_ERR_STORAGE;
	if ((r = quota_add_packed(ctx, val, vlen, NULL)) != 0)
		return r;
	if (memcmp(ctx->quotas[ctx->n_quotas - 1].id, key, 16) != 0)
		return TALLY_ERR_STORAGE;
	return 0;
}

static int
load_jig(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	if (klen != 32)
		return TALLY_ERR_STORAGE;
	return jig_add_packed(arg, key, val, vlen);
}

/* The log's last entry must be next_index - 1 (none on a new store). */
static int
check_log_end(struct issue_ctx *ctx, struct store_txn *t)
{
	const uint8_t *k, *v;
	size_t klen, vlen;
	int r;

	r = store_txn_last(t, STORE_DB_LOG, &k, &klen, &v, &vlen);
	if (r == TALLY_ERR_NOT_FOUND)
		return ctx->next_index == 0 ? 0 : TALLY_ERR_STORAGE;
	if (r != 0)
		return r;
	if (klen != 8 || store_be64_get(k) + 1 != ctx->next_index) {
		log_err("log ends at another index than the store's next index %llu",
		    (unsigned long long)ctx->next_index);
		return TALLY_ERR_STORAGE;
	}
	return 0;
}

/* The frontier's subtrees must be the tree's nodes (proofs come from those). */
static int
check_tree(struct issue_ctx *ctx, struct store_txn *t)
{
	uint8_t nodes[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN];
	unsigned count;
	int r;

	if ((r = store_tree_range(t, ctx->frontier.size, nodes, &count)) != 0)
		return r;
	if (count != ctx->frontier.count ||
	    memcmp(nodes, ctx->frontier.node, (size_t)count * TALLY_HASH_LEN) != 0) {
		log_err("the stored Merkle tree disagrees with the stored frontier");
		return TALLY_ERR_STORAGE;
	}
	return 0;
}

/* Size of the last receipt imported (0 when none). */
static int
load_receipt(struct issue_ctx *ctx, struct store_txn *t)
{
	int r;

	if ((r = store_meta_u64(t, STORE_META_RECEIPT, &ctx->receipt_size)) != 0)
		return r;
	return ctx->receipt_size <= ctx->next_index ? 0 : TALLY_ERR_STORAGE;
}

/* Frontier and next index from meta; both absent on a new store. */
static int
load_meta(struct issue_ctx *ctx, struct store_txn *t)
{
	const uint8_t *v;
	size_t vlen;
	int r;

	r = store_txn_get(t, STORE_DB_META, STORE_META_FRONTIER,
	    strlen(STORE_META_FRONTIER), &v, &vlen);
	if (r == TALLY_ERR_NOT_FOUND)
		return check_log_end(ctx, t);
	if (r != 0)
		return r;
	if (tally_merkle_frontier_decode(&ctx->frontier, v, vlen) != 0)
		return TALLY_ERR_STORAGE;
	r = store_txn_get(t, STORE_DB_META, STORE_META_NEXT,
	    strlen(STORE_META_NEXT), &v, &vlen);
	if (r != 0 || vlen != 8)
		return TALLY_ERR_STORAGE;
	ctx->next_index = store_be64_get(v);
	if (ctx->next_index != ctx->frontier.size)
		return TALLY_ERR_STORAGE;
	if ((r = check_log_end(ctx, t)) != 0 || (r = check_tree(ctx, t)) != 0)
		return r;
	return load_receipt(ctx, t);
}

int
issue_cache_load(struct issue_ctx *ctx)
{
	struct store_txn t;
	int r;

	cache_clear(ctx);
	if ((r = store_txn_begin(ctx->st, &t, false)) != 0)
		return r;
	if ((r = load_meta(ctx, &t)) == 0 &&
	    (r = store_txn_each(&t, STORE_DB_QUOTAS, NULL, 0, load_quota, ctx)) == 0)
		r = store_txn_each(&t, STORE_DB_JIGS, NULL, 0, load_jig, ctx);
	store_txn_abort(&t);
	if (r != 0) {
		log_tally_err(r, "cannot load the store into memory");
		cache_clear(ctx);
	}
	ctx->jigs_changed = true;  /* publish the loaded statuses */
	return r;
}

void
issue_ctx_free(struct issue_ctx *ctx)
{
	cache_clear(ctx);
	free(ctx->quotas);
	free(ctx->jigs);
	free(ctx->scratch);
	X509_STORE_free(ctx->ca);
	tally_signer_free(ctx->signer);
	OPENSSL_free(ctx->spki);
	EVP_PKEY_free(ctx->pub);
	memset(ctx, 0, sizeof(*ctx));
}
