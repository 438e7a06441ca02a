/* issue.c - the writer's operations: context, log appends, batch flush and
 * token issue (DESIGN.md §4 invariants 1-3); see issue.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "fault.h"
#include "key.h"
#include "log.h"
#include "jig.pb-c.h"
#include "issue.h"
#include "issue_attest.h"
#include "writer.h"

#define TOKEN_PAYLOAD_MAX 1024   /* a Token is < 400 bytes with every field at its maximum */

void
issue_fail(struct wreq *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->error = code;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

int
issue_ctx_init(struct issue_ctx *ctx, struct store *st, EVP_PKEY *key,
    EVP_PKEY *oem_root, const char *jig_ca_file)
{
	const unsigned char *p;
	int r;

	memset(ctx, 0, sizeof(*ctx));
	ctx->st = st;
	ctx->key = key;
	ctx->oem_root = oem_root;
	tally_merkle_frontier_init(&ctx->frontier);
	if ((r = tally_signer_new(key, &ctx->signer)) != 0 ||
	    (r = tally_key_spki(key, &ctx->spki, &ctx->spki_len)) != 0)
		return r;
	memcpy(ctx->key_id, tally_signer_key_id(ctx->signer), TALLY_KEY_ID_LEN);
	p = ctx->spki;
	if ((ctx->pub = d2i_PUBKEY(NULL, &p, (long)ctx->spki_len)) == NULL)
		return TALLY_ERR_CRYPTO;
	tally_checkpoint_origin(ctx->key_id, ctx->origin);
	if ((ctx->ca = X509_STORE_new()) == NULL)
		return TALLY_ERR_NOMEM;
	if (X509_STORE_load_file(ctx->ca, jig_ca_file) != 1) {
		tally_log_openssl(__func__, jig_ca_file);
		return TALLY_ERR_IO;
	}
	return 0;
}

void
issue_batch_begin(struct issue_ctx *ctx, int64_t now)
{
	ctx->now = now;
	ctx->meta_dirty = ctx->jigs_changed = false;
	ctx->room_low = store_room_low(ctx->st);
}

int
issue_append(struct issue_ctx *ctx, struct store_txn *t, Tally__LogEntry *e,
    uint64_t *index)
{
	uint8_t key[8], leaf[TALLY_HASH_LEN];
	size_t n;
	uint8_t *p;

	if (t->ret != 0)
		return t->ret;
	e->index = ctx->next_index;
	e->time = ctx->now;
	n = tally__log_entry__get_packed_size(e);
	if (n > ctx->scratch_cap) {
		if ((p = realloc(ctx->scratch, n)) == NULL)
			return TALLY_ERR_NOMEM;
		ctx->scratch = p;
		ctx->scratch_cap = n;
	}
	tally__log_entry__pack(e, ctx->scratch);
	tally_merkle_leaf_hash(ctx->scratch, n, leaf);
	store_be64_put(key, e->index);
	store_txn_put(t, STORE_DB_LOG, key, 8, ctx->scratch, n, MDB_APPEND);
	store_txn_put(t, STORE_DB_LEAVES, key, 8, leaf, sizeof(leaf), MDB_APPEND);
	if (store_tree_add(t, &ctx->frontier, leaf) != 0)
		return t->ret;
	ctx->next_index++;
	ctx->meta_dirty = true;
	if (index != NULL)
		*index = e->index;
	return 0;
}

/* Packs message m and puts it under key in db. */
static int
put_packed(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf;

	if (t->ret != 0)
		return t->ret;
	if ((buf = malloc(n ? n : 1)) == NULL)
		return (t->ret = TALLY_ERR_NOMEM);
	protobuf_c_message_pack(m, buf);
	store_txn_put(t, db, key, klen, buf, n, 0);
	free(buf);
	return t->ret;
}

int
issue_flush(struct issue_ctx *ctx, struct store_txn *t)
{
	uint8_t buf[TALLY_FRONTIER_ENC_MAX], next[8];
	size_t n;

	for (size_t i = 0; i < ctx->n_quotas; i++) {
		struct quota_entry *qe = &ctx->quotas[i];
		if (qe->dirty)
			put_packed(t, STORE_DB_QUOTAS, qe->id, 16, &qe->rec->base);
		qe->dirty = false;
	}
	for (size_t i = 0; i < ctx->n_jigs; i++) {
		struct jig_entry *je = &ctx->jigs[i];
		if (je->dirty)
			put_packed(t, STORE_DB_JIGS, je->id, 32, &je->rec->base);
		je->dirty = false;
	}
	if (ctx->meta_dirty) {
		n = tally_merkle_frontier_encode(&ctx->frontier, buf);
		store_be64_put(next, ctx->next_index);
		store_txn_put(t, STORE_DB_META, STORE_META_FRONTIER,
		    strlen(STORE_META_FRONTIER), buf, n, 0);
		store_txn_put(t, STORE_DB_META, STORE_META_NEXT,
		    strlen(STORE_META_NEXT), next, 8, 0);
	}
	return t->ret;
}

void
issue_run(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	r->error = TALLY__ERROR_CODE__OK;
	r->message[0] = '\0';
	switch (r->kind) {
	case WREQ_ISSUE_TOKEN:
		issue_token(ctx, t, r);
		break;
	case WREQ_REPORT_INSTALL:
		issue_report(ctx, t, r);
		break;
	case WREQ_QUOTA_IMPORT:
		issue_quota_import(ctx, t, r);
		break;
	case WREQ_JIG_ENROLL:
		issue_jig_enroll(ctx, t, r);
		break;
	case WREQ_JIG_REVOKE:
		issue_jig_revoke(ctx, t, r);
		break;
	case WREQ_CHECKPOINT:
		issue_checkpoint(ctx, t, r);
		break;
	case WREQ_CONFIG:
		issue_config(ctx, t, r);
		break;
	case WREQ_RECEIPT_IMPORT:
		issue_receipt_import(ctx, t, r);
		break;
	default:
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST, "unknown request kind %d",
		    (int)r->kind);
	}
	if (r->error == 0 && t->ret != 0)
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "store write failed");
}

/* devices key: quota_id || uid; returns its length. */
static size_t
device_key(uint8_t out[16 + TALLY_UID_MAX], const uint8_t qid[16],
    const uint8_t *uid, size_t len)
{
	memcpy(out, qid, 16);
	memcpy(out + 16, uid, len);
	return 16 + len;
}

/* Token index of (quota, uid): 0, TALLY_ERR_NOT_FOUND or the sticky error. */
static int
device_lookup(struct store_txn *t, const uint8_t qid[16], const uint8_t *uid,
    size_t len, uint64_t *index)
{
	uint8_t key[16 + TALLY_UID_MAX];
	const uint8_t *v;
	size_t vlen;
	int r;

	r = store_txn_get(t, STORE_DB_DEVICES, key, device_key(key, qid, uid, len),
	    &v, &vlen);
	if (r != 0)
		return r;
	if (vlen != 8)
		return (t->ret = TALLY_ERR_STORAGE);
	*index = store_be64_get(v);
	return 0;
}

int
issue_bundle_encode(const uint8_t *quota, size_t quota_len, const uint8_t *token,
    size_t token_len, const uint8_t *spki, size_t spki_len, uint8_t **out,
    size_t *out_len)
{
	Tally__TokenBundle b = TALLY__TOKEN_BUNDLE__INIT;
	size_t n;

	b.quota = (ProtobufCBinaryData){ quota_len, (uint8_t *)quota };
	b.token = (ProtobufCBinaryData){ token_len, (uint8_t *)token };
	b.appliance_public_key = (ProtobufCBinaryData){ spki_len, (uint8_t *)spki };
	n = tally__token_bundle__get_packed_size(&b);
	if ((*out = malloc(n)) == NULL)
		return TALLY_ERR_NOMEM;
	*out_len = tally__token_bundle__pack(&b, *out);
	return 0;
}

/* r->out = serialized TokenBundle {quota envelope, token envelope, SPKI}. */
static int
bundle_pack(struct issue_ctx *ctx, const struct quota_entry *qe,
    const uint8_t *tok, size_t tok_len, struct wreq *r)
{
	return issue_bundle_encode(qe->rec->envelope.data, qe->rec->envelope.len,
	    tok, tok_len, ctx->spki, ctx->spki_len, &r->out, &r->out_len);
}

/* Returns the token already issued at index, rebuilt from the log, once
 * the quota's attestation policy allows it (issue_attest_reissue). */
static void
reissue(struct issue_ctx *ctx, struct store_txn *t, const struct quota_entry *qe,
    uint64_t index, struct wreq *r)
{
	Tally__LogEntry *e = NULL;
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;

	store_be64_put(key, index);
	if (store_txn_get(t, STORE_DB_LOG, key, 8, &v, &vlen) != 0 ||
	    (e = tally__log_entry__unpack(NULL, vlen, v)) == NULL ||
	    e->body_case != TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED) {
		log_err("token at log index %llu is unreadable",
		    (unsigned long long)index);
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "stored token unreadable");
		goto out;
	}
	if (issue_attest_reissue(ctx, t, qe, e->token_issued->token.data,
	    e->token_issued->token.len, r) != 0)
		goto out;   /* refused: r->error is set */
	if (bundle_pack(ctx, qe, e->token_issued->token.data,
	    e->token_issued->token.len, r) != 0) {
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "out of memory");
		goto out;
	}
	r->reissued = true;
	r->log_index = index;
 out:
	if (e != NULL)
		tally__log_entry__free_unpacked(e, NULL);
}

/* Has qe as many tokens not covered by a receipt as its max_unreconciled? */
static bool
quota_unreconciled_full(const struct quota_entry *qe)
{
	uint64_t m = qe->q->max_unreconciled;

	return m > 0 && qe->rec->issued - qe->rec->reconciled >= m;
}

/* Can qe serve r now (time window, firmware, units, unreconciled window)? */
static bool
quota_usable(const struct issue_ctx *ctx, const struct quota_entry *qe,
    const struct wreq *r)
{
	const Tally__Quota *q = qe->q;

	if (ctx->now < q->not_before || ctx->now >= q->not_after)
		return false;
	if (r->in.issue.has_firmware &&
	    !tally_quota_allows_firmware(q, r->in.issue.firmware))
		return false;
	if (quota_unreconciled_full(qe))
		return false;
	return qe->rec->issued - qe->rec->returned < q->units;
}

/* Quota for r by product: the device's existing token under any quota of
 * that product (returns 0 and *index), else the usable quota with units
 * left and the earliest not_after, else (for a precise refusal) the one
 * with the latest not_after (TALLY_ERR_NOT_FOUND). r->error is set when
 * the product is unknown. */
static int
find_by_product(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r,
    struct quota_entry **qe, uint64_t *index)
{
	struct quota_entry *best = NULL, *last = NULL, *e;
	const char *product = r->in.issue.product;
	int rc;

	if (strnlen(product, sizeof(r->in.issue.product)) >= sizeof(r->in.issue.product) ||
	    product[0] == '\0') {
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST, "no quota ID and no product");
		return TALLY_ERR_INVALID;
	}
	for (size_t i = 0; i < ctx->n_quotas; i++) {
		e = &ctx->quotas[i];
		if (strcmp(e->q->product, product) != 0)
			continue;
		rc = device_lookup(t, e->id, r->in.issue.uid, r->in.issue.uid_len, index);
		if (rc != TALLY_ERR_NOT_FOUND) {
			*qe = e;
			return rc;
		}
		if (quota_usable(ctx, e, r) &&
		    (best == NULL || e->q->not_after < best->q->not_after))
			best = e;
		if (last == NULL || e->q->not_after > last->q->not_after)
			last = e;
	}
	if (last == NULL) {
		issue_fail(r, TALLY__ERROR_CODE__UNKNOWN_PRODUCT,
		    "no quota for product %s", product);
		return TALLY_ERR_NOT_FOUND;
	}
	*qe = best != NULL ? best : last;
	return TALLY_ERR_NOT_FOUND;
}

/* Checks of DESIGN.md §5 for a new token before attestation (time,
 * firmware); *fw: the digest to bind. */
static int
check_quota(const struct issue_ctx *ctx, const struct quota_entry *qe,
    struct wreq *r, const uint8_t **fw)
{
	const Tally__Quota *q = qe->q;

	if (ctx->now < q->not_before)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_NOT_YET_VALID, "quota not valid yet");
	else if (ctx->now >= q->not_after)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_EXPIRED, "quota expired");
	else if (r->in.issue.has_firmware &&
	    !tally_quota_allows_firmware(q, r->in.issue.firmware))
		issue_fail(r, TALLY__ERROR_CODE__FIRMWARE_NOT_ALLOWED,
		    "firmware digest not allowed by the quota");
	else if (!r->in.issue.has_firmware && q->n_firmware_digests != 1)
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST,
		    "firmware digest required: the quota allows %zu", q->n_firmware_digests);
	if (r->error != 0)
		return -1;
	*fw = r->in.issue.has_firmware ? r->in.issue.firmware :
	    q->firmware_digests[0].data;
	return 0;
}

/* Checks after attestation: units left, unreconciled window. */
static int
check_units(const struct quota_entry *qe, struct wreq *r)
{
	const Tally__Quota *q = qe->q;

	if (qe->rec->issued - qe->rec->returned >= q->units)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_EXHAUSTED,
		    "quota exhausted: %llu of %llu units issued",
		    (unsigned long long)qe->rec->issued, (unsigned long long)q->units);
	else if (quota_unreconciled_full(qe))
		issue_fail(r, TALLY__ERROR_CODE__UNRECONCILED_LIMIT,
		    "%llu tokens not covered by an OEM receipt (max_unreconciled %llu): "
		    "export the log and import the receipt",
		    (unsigned long long)(qe->rec->issued - qe->rec->reconciled),
		    (unsigned long long)q->max_unreconciled);
	return r->error != 0 ? -1 : 0;
}

/* Signs the token payload for log index ctx->next_index. */
static int
sign_token(struct issue_ctx *ctx, const struct quota_entry *qe,
    const uint8_t *fw, const struct issue_attestation *att, const struct wreq *r,
    uint8_t **env, size_t *envlen)
{
	Tally__Token tok = TALLY__TOKEN__INIT;
	const Tally__Quota *q = qe->q;
	uint8_t payload[TOKEN_PAYLOAD_MAX];
	size_t n;

	tok.log_index = ctx->next_index;
	tok.quota_id.data = (uint8_t *)qe->id;
	tok.quota_id.len = 16;
	tok.appliance_key_id.data = ctx->key_id;
	tok.appliance_key_id.len = 32;
	tok.product = q->product;
	tok.device_uid.data = (uint8_t *)r->in.issue.uid;
	tok.device_uid.len = r->in.issue.uid_len;
	if (q->serial_first != 0 || q->serial_last != 0)
		tok.serial_number = q->serial_first + qe->rec->issued;
	tok.firmware_digest.data = (uint8_t *)fw;
	tok.firmware_digest.len = TALLY_DIGEST_LEN;
	tok.jig_key_id.data = (uint8_t *)r->jig_key_id;
	tok.jig_key_id.len = 32;
	tok.issued_at = ctx->now;
	tok.nonce.data = (uint8_t *)r->in.issue.nonce;
	tok.nonce.len = TALLY_NONCE_LEN;
	if (att->present) {
		tok.attestation_key_id = (ProtobufCBinaryData){ 32, (uint8_t *)att->key_id };
		tok.boot_key_hash = (ProtobufCBinaryData){ 32, (uint8_t *)att->boot_key_hash };
		tok.software_version = att->software_version;
	}
	if ((n = tally__token__get_packed_size(&tok)) > sizeof(payload))
		return TALLY_ERR_TOO_LARGE;
	tally__token__pack(&tok, payload);
	return tally_dsse_sign_with(ctx->signer, TALLY_PT_TOKEN, payload, n, env, envlen);
}

/* Issues a new token under qe: sign, log, devices, counters, bundle. */
static void
make_token(struct issue_ctx *ctx, struct store_txn *t, struct quota_entry *qe,
    struct jig_entry *je, const uint8_t *fw, const struct issue_attestation *att,
    struct wreq *r)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogTokenIssued ti = TALLY__LOG_TOKEN_ISSUED__INIT;
	uint8_t *env = NULL, key[16 + TALLY_UID_MAX], val[8];
	size_t envlen;
	uint64_t index;
	int rc;

	if (ctx->room_low) {   /* the reserve is for checkpoints and exports */
		issue_fail(r, TALLY__ERROR_CODE__STORAGE_FULL,
		    "appliance storage is full: no token can be issued");
		return;
	}
	if ((rc = sign_token(ctx, qe, fw, att, r, &env, &envlen)) != 0) {
		log_tally_err(rc, "cannot sign a token");
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "token signing failed");
		return;
	}
	TALLY_FAULT("sign");
	ti.token.data = env;
	ti.token.len = envlen;
	e.body_case = TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED;
	e.token_issued = &ti;
	if (issue_append(ctx, t, &e, &index) != 0)
		goto out;
	store_be64_put(val, index);
	if (store_txn_put(t, STORE_DB_DEVICES, key, device_key(key, qe->id,
	    r->in.issue.uid, r->in.issue.uid_len), val, 8, MDB_NOOVERWRITE) != 0)
		goto out;
	qe->rec->issued++;
	qe->dirty = true;
	je->rec->tokens_issued++;
	je->dirty = true;
	ctx->tokens++;
	r->log_index = index;
	if (bundle_pack(ctx, qe, env, envlen, r) != 0)
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "out of memory");
 out:
	if (t->ret == 0 && r->error == 0 && r->out == NULL)
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "token not issued");
	free(env);
}

struct jig_entry *
issue_active_jig(struct issue_ctx *ctx, struct wreq *r)
{
	struct jig_entry *je = issue_jig_find(ctx, r->jig_key_id);

	if (je == NULL)
		issue_fail(r, TALLY__ERROR_CODE__JIG_NOT_ENROLLED, "jig not enrolled");
	else if (je->rec->status != TALLY__JIG_STATUS__JIG_STATUS_ACTIVE)
		issue_fail(r, TALLY__ERROR_CODE__JIG_REVOKED, "jig revoked");
	else
		return je;
	return NULL;
}

void
issue_token(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	struct quota_entry *qe = NULL;
	struct issue_attestation att;
	struct jig_entry *je;
	const uint8_t *fw;
	uint64_t index;
	int rc;

	if ((je = issue_active_jig(ctx, r)) == NULL)
		return;
	if (r->in.issue.uid_len < 1 || r->in.issue.uid_len > TALLY_UID_MAX) {
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST, "device UID must be 1..64 bytes");
		return;
	}
	if (r->in.issue.has_quota_id) {
		if ((qe = issue_quota_find(ctx, r->in.issue.quota_id)) == NULL) {
			issue_fail(r, TALLY__ERROR_CODE__UNKNOWN_QUOTA, "no such quota");
			return;
		}
		rc = device_lookup(t, qe->id, r->in.issue.uid, r->in.issue.uid_len, &index);
	} else
		rc = find_by_product(ctx, t, r, &qe, &index);
	if (rc == 0)
		reissue(ctx, t, qe, index, r);
	else if (rc == TALLY_ERR_NOT_FOUND && r->error == 0 &&
	    check_quota(ctx, qe, r, &fw) == 0 &&
	    issue_attest(ctx, t, qe, r, NULL, &att) == 0 && check_units(qe, r) == 0)
		make_token(ctx, t, qe, je, fw, &att, r);
}

