/* issue_receipt.c - importing an OEM receipt (DESIGN.md §3: a C2SP
 * tlog-cosignature by the OEM root key on a checkpoint this appliance
 * signed): verification against the OEM root key and the appliance's own
 * checkpoint history, the LogReceiptImported entry, and the reset of the
 * unreconciled window of every quota (max_unreconciled); see issue.h. */
#include <stdlib.h>
#include <string.h>
#include "artifact.h"
#include "cosignature.h"
#include "dsse.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "jig.pb-c.h"
#include "issue.h"
#include "writer.h"

/* The tree size of checkpoint text (len bytes: origin line, size line,
 * root line, extension lines) when its origin is origin. 0,
 * TALLY_ERR_MISMATCH (another origin) or TALLY_ERR_INVALID. */
static int
text_size(const char *text, size_t len, const char *origin, uint64_t *size)
{
	const char *nl = memchr(text, '\n', len), *p, *end;
	size_t olen = strlen(origin);
	uint64_t v = 0;

	if (nl == NULL)
		return TALLY_ERR_INVALID;
	if ((size_t)(nl - text) != olen || memcmp(text, origin, olen) != 0)
		return TALLY_ERR_MISMATCH;
	p = nl + 1;
	if ((end = memchr(p, '\n', len - (size_t)(p - text))) == NULL || end == p ||
	    end - p > 20 || (*p == '0' && end - p > 1))
		return TALLY_ERR_INVALID;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return TALLY_ERR_INVALID;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*size = v;
	return 0;
}

/* Is text (len bytes) exactly the text of the checkpoint of size stored by
 * this appliance? 0, TALLY_ERR_NOT_FOUND, TALLY_ERR_MISMATCH or t->ret. */
static int
text_stored(struct store_txn *t, uint64_t size, const char *text, size_t len)
{
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;
	int rc;

	store_be64_put(key, size);
	if ((rc = store_txn_get(t, STORE_DB_CHECKPOINTS, key, 8, &v, &vlen)) != 0)
		return rc;
	/* A stored note is its text, a blank line, the signature lines. */
	if (vlen <= len || memcmp(v, text, len) != 0 || v[len] != '\n')
		return TALLY_ERR_MISMATCH;
	return 0;
}

/* Every check of a receipt; *size and *ts on success, else r->error. */
static int
receipt_check(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r,
    uint64_t *size, int64_t *ts)
{
	const char *note = r->in.receipt.text;
	size_t len = r->in.receipt.len, text_len;
	uint8_t root[TALLY_HASH_LEN];
	uint64_t vsize;
	int rc;

	if (note == NULL || len == 0 || len > TALLY_NOTE_MAX ||
	    memchr(note, '\0', len) != NULL) {
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST,
		    "receipt must be 1..%d bytes of note text", TALLY_NOTE_MAX);
		return -1;
	}
	rc = tally_cosignature_verify(note, len, ctx->oem_root, ts, &text_len);
	if (rc != 0) {
		issue_fail(r, TALLY__ERROR_CODE__RECEIPT_INVALID, rc == TALLY_ERR_SIGNATURE ?
		    "receipt not cosigned by the OEM root key" :
		    "receipt is not a cosigned note: %s", tally_strerror(rc));
		return -1;
	}
	rc = text_size(note, text_len, ctx->origin, size);
	if (rc == TALLY_ERR_MISMATCH)
		issue_fail(r, TALLY__ERROR_CODE__RECEIPT_UNKNOWN_CHECKPOINT,
		    "receipt is for another appliance (origin is not %s)", ctx->origin);
	else if (rc != 0)
		issue_fail(r, TALLY__ERROR_CODE__RECEIPT_INVALID,
		    "receipt text is not a checkpoint");
	else if ((rc = text_stored(t, *size, note, text_len)) != 0 && t->ret == 0)
		issue_fail(r, TALLY__ERROR_CODE__RECEIPT_UNKNOWN_CHECKPOINT, rc ==
		    TALLY_ERR_NOT_FOUND ? "this appliance signed no checkpoint of size %llu" :
		    "receipt differs from the checkpoint this appliance signed at size %llu",
		    (unsigned long long)*size);
	else if (rc == 0 && (tally_checkpoint_verify(note, len, ctx->pub, ctx->origin,
	    &vsize, root) != 0 || vsize != *size))
		issue_fail(r, TALLY__ERROR_CODE__RECEIPT_INVALID,
		    "the appliance's signature on the receipted checkpoint does not verify");
	else if (rc == 0 && *size <= ctx->receipt_size)
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST, *size == ctx->receipt_size ?
		    "a receipt for size %llu is already imported" :
		    "receipt for size %llu is older than the receipt already imported (%llu)",
		    (unsigned long long)*size, (unsigned long long)ctx->receipt_size);
	return r->error != 0 || t->ret != 0 ? -1 : 0;
}

/* State of the scan of the newly receipted entries. */
struct reconcile {
	struct issue_ctx *ctx;
	uint64_t next, end;
	uint64_t *counts;      /* per ctx->quotas[i] */
};

/* The quota ID of a LogTokenIssued entry. */
static int
token_quota(const Tally__LogEntry *e, uint8_t qid[16])
{
	Tally__Envelope *env = NULL;
	Tally__Token *tok = NULL;
	int r = TALLY_ERR_STORAGE;

	if (tally_dsse_parse(e->token_issued->token.data, e->token_issued->token.len,
	    TALLY_PT_TOKEN, &env) != 0 ||
	    (tok = tally__token__unpack(NULL, env->payload.len, env->payload.data)) == NULL ||
	    tok->quota_id.len != 16)
		goto out;
	memcpy(qid, tok->quota_id.data, 16);
	r = 0;
 out:
	if (tok != NULL)
		tally__token__free_unpacked(tok, NULL);
	if (env != NULL)
		tally__envelope__free_unpacked(env, NULL);
	return r;
}

static int
reconcile_cb(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct reconcile *rc = arg;
	Tally__LogEntry *e;
	struct quota_entry *qe;
	uint8_t qid[16];
	int r = 0;

	if (rc->next == rc->end)
		return 1;
	if (klen != 8 || store_be64_get(key) != rc->next ||
	    (e = tally__log_entry__unpack(NULL, vlen, val)) == NULL)
		return TALLY_ERR_STORAGE;
	if (e->body_case == TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED) {
		if ((r = token_quota(e, qid)) == 0 &&
		    (qe = issue_quota_find(rc->ctx, qid)) != NULL)
			rc->counts[qe - rc->ctx->quotas]++;
		else if (r == 0)
			r = TALLY_ERR_STORAGE;  /* a token under a quota never imported */
	}
	tally__log_entry__free_unpacked(e, NULL);
	rc->next++;
	return r;
}

/* reconciled += tokens at log indexes [ctx->receipt_size, size), per quota. */
static int
reconcile(struct issue_ctx *ctx, struct store_txn *t, uint64_t size)
{
	struct reconcile rc = { .ctx = ctx, .next = ctx->receipt_size, .end = size };
	uint8_t key[8];
	int r = 0;

	if (size == ctx->receipt_size)
		return 0;
	if ((rc.counts = calloc(ctx->n_quotas + 1, sizeof(uint64_t))) == NULL)
		return TALLY_ERR_NOMEM;
	store_be64_put(key, rc.next);
	if ((r = store_txn_each(t, STORE_DB_LOG, key, 8, reconcile_cb, &rc)) == 0 &&
	    rc.next != rc.end)
		r = TALLY_ERR_STORAGE;
	for (size_t i = 0; r == 0 && i < ctx->n_quotas; i++) {
		if (rc.counts[i] == 0)
			continue;
		ctx->quotas[i].rec->reconciled += rc.counts[i];
		ctx->quotas[i].dirty = true;
	}
	free(rc.counts);
	return r;
}

/* Logs the receipt and records its size. */
static int
receipt_write(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r,
    uint64_t size, int64_t ts)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogReceiptImported ri = TALLY__LOG_RECEIPT_IMPORTED__INIT;
	uint8_t val[8];
	uint64_t index;
	int rc;

	if ((ri.receipt = strndup(r->in.receipt.text, r->in.receipt.len)) == NULL)
		return (t->ret = TALLY_ERR_NOMEM);
	ri.tree_size = size;
	ri.cosigned_at = ts;
	e.has_operator = r->has_operator;
	e.operator_uid = r->operator_uid;
	e.body_case = TALLY__LOG_ENTRY__BODY_RECEIPT_IMPORTED;
	e.receipt_imported = &ri;
	store_be64_put(val, size);
	if ((rc = issue_append(ctx, t, &e, &index)) == 0)
		store_txn_put(t, STORE_DB_META, STORE_META_RECEIPT,
		    strlen(STORE_META_RECEIPT), val, 8, 0);
	else if (t->ret == 0)
		t->ret = rc;  /* counters already advanced in the cache: abort, reload */
	free(ri.receipt);
	if (t->ret == 0)
		r->log_index = index;
	return t->ret;
}

void
issue_receipt_import(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	uint64_t size;
	int64_t ts;
	int rc;

	if (receipt_check(ctx, t, r, &size, &ts) != 0)
		return;
	if ((rc = reconcile(ctx, t, size)) != 0) {
		/* counters are applied only after a whole scan: nothing changed */
		log_tally_err(rc, "cannot scan the log entries the receipt covers");
		if (t->ret == 0)
			issue_fail(r, TALLY__ERROR_CODE__INTERNAL,
			    "log entries the receipt covers are unreadable");
		return;
	}
	TALLY_FAULT("receipt");
	if (receipt_write(ctx, t, r, size, ts) != 0)
		return;
	log_info("OEM receipt imported: tree size %llu, cosigned at %lld",
	    (unsigned long long)size, (long long)ts);
	ctx->receipt_size = size;
	r->tree_size = size;
	r->cosigned_at = ts;
}
