/*
 * issue_attest.h - the quota's attestation policy on the token path
 * (issue.c, writer thread): a quota with ATTESTATION_REQUIRED gets a token
 * only for a DUT whose attestation record (lib/attest.h) was signed by one
 * of the quota's trusted attestation keys over this request's challenge
 * nonce and device UID. Checked before any unit is spent; a refusal is
 * ATTESTATION_FAILED and a LogAttestationFailed log entry.
 */
#ifndef TALLYD_ISSUE_ATTEST_H
#define TALLYD_ISSUE_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issue.h"

/* What a verified attestation puts into the token (Token fields 11-13). */
struct issue_attestation {
	bool present;                 /* false: the quota does not require attestation */
	uint8_t key_id[32];           /* SHA-256 of the attestation key's DER SPKI */
	uint8_t boot_key_hash[32];
	uint32_t software_version;
};

/* Applies qe's attestation policy to r (WREQ_ISSUE_TOKEN) inside batch
 * transaction t. ATTESTATION_NONE: r's attestation bytes are ignored, *out
 * is not present, returns 0. ATTESTATION_REQUIRED: the record in
 * r->in.issue.attestation must parse (exact layout and length), carry
 * r's nonce (the challenge the loop already took as fresh, single-use and
 * of this connection) and r's UID, name one of qe's trusted keys and
 * verify with it; when bound_key_id (32 bytes) is not NULL the key must
 * also be that one (the key of the UID's existing token: a reissue). On
 * success *out holds the record's key ID, boot key hash and version and 0
 * is returned. Otherwise returns -1 with r->error ATTESTATION_FAILED and a
 * message, having appended a LogAttestationFailed entry (jig, UID, quota,
 * reason, the record's key ID when it parsed; r->log_index is its index)
 * unless the store is marked full (then only tallyd's own log says it);
 * or INTERNAL when the check itself could not run (OpenSSL failure). No
 * counter changes either way. Cost: one record parse, at most
 * TALLY_ATT_KEYS_MAX SHA-256 of SPKIs, one key parse, one verification. */
int issue_attest(struct issue_ctx *ctx, struct store_txn *t,
    const struct quota_entry *qe, struct wreq *r, const uint8_t *bound_key_id,
    struct issue_attestation *out);

/* The policy for a reissue (the UID already has the token env, len
 * bytes, under qe): with ATTESTATION_REQUIRED the request needs a valid
 * attestation (as issue_attest) by the very key named in that token's
 * attestation_key_id; another trusted key is refused as a clone. Returns
 * 0 (the token may go out again) or -1 with r->error set as issue_attest
 * does (INTERNAL when the stored token names no attestation key). */
int issue_attest_reissue(struct issue_ctx *ctx, struct store_txn *t,
    const struct quota_entry *qe, const uint8_t *env, size_t len, struct wreq *r);

#endif
