/*
 * reconcile_int.h - state shared by the files of the reconcile library:
 * reconcile.c reads the file, reconcile_header.c checks the header,
 * checkpoint and consistency, reconcile_ctx.c the context records and the
 * ledger's prior state, reconcile_entry.c and reconcile_token.c the
 * entries, reconcile_uid.c duplicate UIDs and serials. Not a public
 * interface.
 */
#ifndef TALLY_OEM_RECONCILE_INT_H
#define TALLY_OEM_RECONCILE_INT_H

#include "ctl.pb-c.h"
#include "log.pb-c.h"
#include "reconcile.h"

struct rc {
	struct oem_reconcile_result *res;
	EVP_PKEY *oem_root;          /* not owned */
	EVP_PKEY *appliance;         /* from the header, owned */
	struct oem_ledger_txn *lt;   /* ledger, or NULL */
	uint64_t skip_below;         /* entries below were verified by the ledger */
	uint8_t ledger_root[TALLY_HASH_LEN]; /* root at skip_below */
	int ledger_root_done;        /* the root at skip_below was compared */
	int checkable;               /* the file starts at 0 or the ledger covers
	                                what precedes it */
	uint64_t declared;           /* header entry_count */
	int frontier_ok;             /* prev_frontier was usable */
	uint8_t prev_root[TALLY_HASH_LEN];
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN]; /* consistency proof */
	size_t proof_len;
	int64_t last_time;           /* time of the last checked entry */
	int have_time;
	uint64_t n_context;
	EVP_PKEY **jig_pub;          /* parallel to res->jigs, owned */
	Tally__Quota **qmsg;         /* parsed quotas, parallel to res->quotas, owned */
	size_t cap_qmsg, cap_quotas, cap_tokens, cap_ptok, cap_jigs, cap_jig_pub;
};

/* Grows *arr (elements of size elem, capacity *cap) to hold n + 1.
 * Returns 0 or TALLY_ERR_NOMEM. */
int rc_reserve(void **arr, size_t *cap, size_t n, size_t elem);

/* Header checks (format, appliance key, origin, prev_checkpoint,
 * prev_frontier, consistency proof kept for later, the ledger's state of
 * this appliance); reconcile_header.c. Returns 0 or a tally_err with
 * res->error set. */
int rc_header(struct rc *rc, const Tally__ExportHeader *h);

/* Called after the frontier grew (or was set): compares the root at the
 * ledger's size with the ledger's root. Returns 0 or TALLY_ERR_NOMEM. */
int rc_ledger_root_check(struct rc *rc);

/* Checkpoint checks: signature, size, root, consistency proof, rollback
 * against the ledger. Returns 0 or TALLY_ERR_NOMEM. */
int rc_checkpoint(struct rc *rc, const char *note);

/* Context records (format 2, before the entries); reconcile_ctx.c.
 * Return 0 or TALLY_ERR_NOMEM. */
int rc_ctx_quota(struct rc *rc, const ProtobufCBinaryData *env);
int rc_ctx_jig(struct rc *rc, const ProtobufCBinaryData *je);

/* Loads this appliance's quotas and jigs from the ledger. Returns 0,
 * TALLY_ERR_NOMEM, TALLY_ERR_STORAGE (res->error set). */
int rc_prior_load(struct rc *rc);

/* Adds a quota (parsed q, taken over on success; its envelope env of
 * len bytes is copied) with the counts of *init (NULL: zero). Returns 0 or
 * TALLY_ERR_NOMEM. */
int rc_quota_add(struct rc *rc, Tally__Quota *q, const uint8_t *env, size_t len,
    const struct oem_quota_count *init);

/* Adds a jig with public key pub (taken over on success). Returns the new
 * record through *out; 0 or TALLY_ERR_NOMEM. */
int rc_jig_add(struct rc *rc, const uint8_t id[TALLY_KEY_ID_LEN], EVP_PKEY *pub,
    struct oem_jig_rec **out);

/* Checks one log entry (len bytes at position pos) and updates the
 * counts. Anomalies are recorded; returns 0 or TALLY_ERR_NOMEM. */
int rc_entry(struct rc *rc, const uint8_t *entry, size_t len, uint64_t pos);

/* Checks a token entry (the serialized token envelope env at log index
 * idx) and a report entry; reconcile_token.c. Return 0, TALLY_ERR_NOMEM,
 * TALLY_ERR_STORAGE. */
int rc_token(struct rc *rc, const ProtobufCBinaryData *env, uint64_t idx);
int rc_report(struct rc *rc, const Tally__LogInstallReported *ir, uint64_t idx);

/* The jig slot (key ID id, len bytes) a token, report or attestation
 * failure at idx names, marking a context jig as used; SIZE_MAX when
 * unknown; reconcile_token.c. */
size_t rc_jig_use(struct rc *rc, const uint8_t *id, size_t len, uint64_t idx);

/* Attestation (reconcile_attest.c): a token t under quota slot qi whose
 * quota requires attestation must name one of its trusted keys; and a
 * LogAttestationFailed entry is checked and counted. Return 0 or
 * TALLY_ERR_NOMEM. */
int rc_token_attestation(struct rc *rc, const Tally__Token *t, size_t qi, uint64_t idx);
int rc_attestation_failed(struct rc *rc, const Tally__LogAttestationFailed *af,
    uint64_t idx);

/* Public key (*pub, EVP_PKEY_free) and key ID of a DER X.509 jig
 * certificate. Returns 0 or TALLY_ERR_INVALID. */
int rc_cert_jig(const ProtobufCBinaryData *cert, uint8_t id[TALLY_KEY_ID_LEN],
    EVP_PKEY **pub);

/* The jig with key ID id (len bytes), its slot in res->jigs, or SIZE_MAX. */
size_t rc_find_jig(const struct oem_reconcile_result *res, const uint8_t *id, size_t len);

/* Slot in res->quotas of the quota with ID id (len bytes), or SIZE_MAX. */
size_t rc_find_quota(const struct oem_reconcile_result *res, const uint8_t *id, size_t len);

/* A new token's UID and serial against the ledger (every appliance):
 * DUPLICATE_UID / DUPLICATE_SERIAL anomalies. Returns 0, TALLY_ERR_NOMEM,
 * TALLY_ERR_STORAGE. No-op without a ledger. */
int rc_ledger_dups(struct rc *rc, const struct oem_token_rec *tok);

/* Records DUPLICATE_UID anomalies for UIDs with two tokens in res, and
 * DUPLICATE_SERIAL for a serial number assigned twice under one quota.
 * Returns 0 or TALLY_ERR_NOMEM. */
int rc_duplicates(struct oem_reconcile_result *res);

/* End-of-file checks: context quotas and jigs never confirmed by the log,
 * failed units against scrap allowances, unreported tokens. Returns 0 or
 * TALLY_ERR_NOMEM. */
int rc_final(struct rc *rc);

/* Frees the jig keys and the parsed quotas. */
void rc_free(struct rc *rc);

#endif
