/* issue_attest.c - the quota's attestation policy on the token path;
 * see issue_attest.h. Runs in the writer thread, which holds the quota
 * cache and the batch transaction the refusal entry goes into. */
#include <string.h>
#include <openssl/crypto.h>
#include "attest.h"
#include "dsse.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "jig.pb-c.h"
#include "issue_attest.h"
#include "writer.h"

/* Appends LogAttestationFailed for r and sets ATTESTATION_FAILED. */
static void
refuse(struct issue_ctx *ctx, struct store_txn *t, const struct quota_entry *qe,
    struct wreq *r, const char *reason, const uint8_t *key_id)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogAttestationFailed af = TALLY__LOG_ATTESTATION_FAILED__INIT;
	char uid[2 * TALLY_UID_MAX + 1], jig[17];
	int rc;

	tally_hex(r->in.issue.uid, r->in.issue.uid_len, uid);
	tally_hex(r->jig_key_id, 8, jig);
	log_warn("jig %s, device UID %s: attestation refused: %s", jig, uid, reason);
	issue_fail(r, TALLY__ERROR_CODE__ATTESTATION_FAILED, "attestation refused: %s",
	    reason);
	if (store_is_full(ctx->st)) {
		log_warn("the store is full: this attestation failure is not in the log");
		return;
	}
	af.jig_key_id = (ProtobufCBinaryData){ 32, r->jig_key_id };
	af.device_uid = (ProtobufCBinaryData){ r->in.issue.uid_len, r->in.issue.uid };
	af.quota_id = (ProtobufCBinaryData){ TALLY_QUOTA_ID_LEN, (uint8_t *)qe->id };
	af.reason = (char *)reason;
	if (key_id != NULL)
		af.attestation_key_id = (ProtobufCBinaryData){ 32, (uint8_t *)key_id };
	e.body_case = TALLY__LOG_ENTRY__BODY_ATTESTATION_FAILED;
	e.attestation_failed = &af;
	if ((rc = issue_append(ctx, t, &e, &r->log_index)) != 0 && t->ret == 0)
		log_tally_err(rc, "cannot log an attestation failure");
}

/* The reason a record that parsed does not verify (rc from
 * tally_attestation_verify), or NULL when rc is not the DUT's fault. */
static const char *
verify_reason(int rc, const struct tally_attestation *a, const struct wreq *r)
{
	switch (rc) {
	case TALLY_ERR_MISMATCH:
		return CRYPTO_memcmp(a->nonce, r->in.issue.nonce, TALLY_NONCE_LEN) != 0 ?
		    "the record is for another challenge nonce" :
		    "the record is for another device UID";
	case TALLY_ERR_NOT_FOUND:
		return "attestation key not trusted by the quota";
	case TALLY_ERR_SIGNATURE:
		return "attestation signature does not verify";
	default:
		return NULL;
	}
}

static void
keep(const struct tally_attestation *a, struct issue_attestation *out)
{
	out->present = true;
	memcpy(out->key_id, a->key_id, sizeof(out->key_id));
	memcpy(out->boot_key_hash, a->boot_key_hash, sizeof(out->boot_key_hash));
	out->software_version = a->software_version;
}

int
issue_attest(struct issue_ctx *ctx, struct store_txn *t,
    const struct quota_entry *qe, struct wreq *r, const uint8_t *bound_key_id,
    struct issue_attestation *out)
{
	const Tally__Quota *q = qe->q;
	struct tally_attestation a;
	const char *why;
	int rc;

	memset(out, 0, sizeof(*out));
	if (q->attestation != TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED)
		return 0;
	if (r->in.issue.attestation_len == 0) {
		refuse(ctx, t, qe, r, "no attestation, and the quota requires one", NULL);
		return -1;
	}
	if (tally_attestation_parse(r->in.issue.attestation, r->in.issue.attestation_len,
	    &a) != 0) {
		refuse(ctx, t, qe, r, "malformed attestation record", NULL);
		return -1;
	}
	rc = tally_attestation_verify(&a, r->in.issue.nonce, r->in.issue.uid,
	    r->in.issue.uid_len, q->attestation_public_keys,
	    q->n_attestation_public_keys, NULL);
	if (rc != 0 && (why = verify_reason(rc, &a, r)) == NULL) {
		log_tally_err(rc, "cannot check an attestation");
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "attestation could not be checked");
		return -1;
	}
	if (rc == 0 && bound_key_id != NULL &&
	    CRYPTO_memcmp(a.key_id, bound_key_id, sizeof(a.key_id)) != 0) {
		rc = TALLY_ERR_MISMATCH;
		why = "attestation key differs from the one this device UID's token "
		    "was issued with (cloned UID?)";
	}
	if (rc != 0) {
		refuse(ctx, t, qe, r, why, a.key_id);
		return -1;
	}
	keep(&a, out);
	return 0;
}

/* The attestation key ID of a token envelope this appliance signed (not
 * verified again): 0, TALLY_ERR_INVALID, TALLY_ERR_NOT_FOUND (none). */
static int
token_attestation_key(const uint8_t *env, size_t len, uint8_t key_id[32])
{
	Tally__Envelope *e = NULL;
	Tally__Token *tok = NULL;
	int r;

	if ((r = tally_dsse_parse(env, len, TALLY_PT_TOKEN, &e)) != 0 ||
	    (tok = tally__token__unpack(NULL, e->payload.len, e->payload.data)) == NULL)
		r = TALLY_ERR_INVALID;
	else if (tok->attestation_key_id.len != 32)
		r = TALLY_ERR_NOT_FOUND;
	else
		memcpy(key_id, tok->attestation_key_id.data, 32);
	if (tok != NULL)
		tally__token__free_unpacked(tok, NULL);
	if (e != NULL)
		tally__envelope__free_unpacked(e, NULL);
	return r;
}

int
issue_attest_reissue(struct issue_ctx *ctx, struct store_txn *t,
    const struct quota_entry *qe, const uint8_t *env, size_t len, struct wreq *r)
{
	struct issue_attestation att;
	uint8_t bound[32];

	if (qe->q->attestation != TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED)
		return 0;
	if (token_attestation_key(env, len, bound) != 0) {
		log_err("a token under an attested quota has no attestation key ID");
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "stored token unreadable");
		return -1;
	}
	return issue_attest(ctx, t, qe, r, bound, &att);
}
