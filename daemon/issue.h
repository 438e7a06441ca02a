/*
 * issue.h - the state-changing operations of tallyd (DESIGN.md §4-§5), run
 * by the writer thread inside its one write transaction per batch:
 * token issue, install report, quota import, jig enrol and revoke,
 * checkpoint. Each state change appends one LogEntry (proto/log.proto) to
 * the log and its RFC 9162 leaf hash to the Merkle frontier.
 *
 * The context keeps the committed state in memory (quotas parsed once,
 * with their counters; jigs with their public keys; the frontier and the
 * next log index) so the per-token path reads nothing but the devices
 * database. Operations update these caches as they write; changed quota
 * and jig records and the meta records are written once per batch by
 * issue_flush. If a batch fails to commit, the caller must reload the
 * caches from disk with issue_cache_load.
 *
 * Not thread-safe: one writer thread owns a context.
 */
#ifndef TALLYD_ISSUE_H
#define TALLYD_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include "checkpoint.h"
#include "key.h"
#include "merkle.h"
#include "artifacts.pb-c.h"
#include "log.pb-c.h"
#include "store.pb-c.h"
#include "store.h"

struct wreq;

struct quota_entry {
	uint8_t id[16];
	Tally__Quota *q;           /* parsed quota (owned, free_unpacked) */
	Tally__QuotaRecord *rec;   /* envelope and counters (owned, free_unpacked) */
	bool dirty;                /* rec changed in this batch */
};

struct jig_entry {
	uint8_t id[32];
	Tally__JigRecord *rec;     /* owned, free_unpacked */
	EVP_PKEY *pub;             /* the certificate's public key (owned) */
	bool dirty;
};

struct issue_ctx {
	struct store *st;
	EVP_PKEY *key;             /* appliance key, not owned */
	struct tally_signer *signer; /* the same key for tokens, writer thread only */
	EVP_PKEY *oem_root;        /* not owned */
	X509_STORE *ca;            /* jig CA (owned) */
	uint8_t key_id[32];
	uint8_t *spki;             /* appliance DER SPKI (OPENSSL_free) */
	EVP_PKEY *pub;             /* the appliance public key alone, from spki (owned):
	                              verifies its own checkpoints in receipts */
	size_t spki_len;
	char origin[TALLY_ORIGIN_MAX];

	/* Caches: committed state plus the changes of the running batch. */
	struct tally_merkle_frontier frontier;
	uint64_t next_index;       /* == frontier.size */
	uint64_t receipt_size;     /* tree size of the last OEM receipt imported (0: none) */
	struct quota_entry *quotas;
	size_t n_quotas, cap_quotas;
	struct jig_entry *jigs;
	size_t n_jigs, cap_jigs;
	bool meta_dirty;           /* entries appended in this batch */
	bool jigs_changed;         /* a jig was enrolled or revoked in this batch */

	int64_t now;               /* time of the running batch, Unix seconds */
	bool room_low;             /* at batch start only the map's reserve was left
	                              (store_room_low: the committed state, the same
	                              for every request of the batch) */
	uint64_t tokens;           /* tokens issued by this context (stats) */
	uint8_t *scratch;          /* LogEntry packing buffer */
	size_t scratch_cap;
};

/* Sets up ctx for store st: key (appliance key, not owned), oem_root (not
 * owned), jig_ca_file (PEM CA bundle loaded into an X509_STORE). Does not
 * read the store (see issue_cache_load). Errors: TALLY_ERR_IO (CA file
 * unreadable or without certificates), TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
int issue_ctx_init(struct issue_ctx *ctx, struct store *st, EVP_PKEY *key,
    EVP_PKEY *oem_root, const char *jig_ca_file);

/* Frees everything ctx owns. Safe on a zeroed or failed ctx. */
void issue_ctx_free(struct issue_ctx *ctx);

/* (Re)loads every cache from the committed store in a read transaction.
 * Errors: TALLY_ERR_STORAGE (unreadable or inconsistent records),
 * TALLY_ERR_NOMEM. The caches are empty after a failure. */
int issue_cache_load(struct issue_ctx *ctx);

/* Starts a batch at time now (Unix seconds). */
void issue_batch_begin(struct issue_ctx *ctx, int64_t now);

/* Runs request r inside write transaction t: validates, and only when
 * every check passes, signs and writes. The outcome goes to r->error
 * (Tally__ErrorCode, 0 on success), r->message and the result fields.
 * A failed store step is left in t->ret (the batch must then be aborted). */
void issue_run(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);

/* Appends entry e (its index and time are set here; the body and the
 * operator fields are the caller's) to the log: log[index], leaves[index],
 * the tree nodes it completes (store_tree_add), frontier. *index (may be NULL) receives its index.
 * Returns t->ret or TALLY_ERR_NOMEM / TALLY_ERR_TOO_LARGE (not sticky). */
int issue_append(struct issue_ctx *ctx, struct store_txn *t,
    Tally__LogEntry *e, uint64_t *index);

/* Writes the changed quota and jig records and the meta records (frontier,
 * next index) of this batch. Returns t->ret. */
int issue_flush(struct issue_ctx *ctx, struct store_txn *t);

/* Cache lookups; NULL when absent. */
struct quota_entry *issue_quota_find(struct issue_ctx *ctx, const uint8_t id[16]);
struct jig_entry *issue_jig_find(struct issue_ctx *ctx, const uint8_t id[32]);

/* Cache insertions (used when a quota is imported or a jig enrolled):
 * rec is packed and a private copy kept; for quotas q is taken over.
 * Errors: TALLY_ERR_NOMEM, TALLY_ERR_INVALID (unusable certificate). */
int issue_quota_add(struct issue_ctx *ctx, const Tally__QuotaRecord *rec,
    Tally__Quota *q);
int issue_jig_add(struct issue_ctx *ctx, const uint8_t id[32],
    const Tally__JigRecord *rec);

/* The jig that sent r (r->jig_key_id) if enrolled and not revoked; else
 * NULL with r->error JIG_NOT_ENROLLED or JIG_REVOKED. */
struct jig_entry *issue_active_jig(struct issue_ctx *ctx, struct wreq *r);

/* Individual operations (issue_run dispatches to these). */
void issue_token(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);
/* Install report: result FAILED returns the token's unit to its quota
 * (returned++, `returned` DB record, r->unit_returned) only while the
 * quota's returned < scrap_allowance and only once per token; the log
 * entry records unit_returned either way. */
void issue_report(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);
void issue_quota_import(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);
void issue_jig_enroll(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);
void issue_jig_revoke(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);
/* Checkpoint: when a checkpoint of the current log size is already stored
 * it is returned as is (the checkpoint timer asks every interval);
 * otherwise one is signed and stored. */
void issue_checkpoint(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);

/* WREQ_RECEIPT_IMPORT (issue_receipt.c): r->in.receipt must be a note
 * cosigned by the OEM root key (lib/cosignature.h) whose text is, byte for
 * byte, the text of a checkpoint this appliance signed and stored, with
 * the appliance's own signature still verifying, for a size no smaller
 * than the last receipt's. Then appends LogReceiptImported (operator uid),
 * records meta "receipt_size" and adds to each quota's `reconciled` the
 * tokens under it at log indexes [old receipt size, new size) (one scan of
 * those entries). Refusals (nothing written): BAD_REQUEST (empty, over
 * TALLY_NOTE_MAX, older than the receipt already imported),
 * RECEIPT_INVALID (no valid OEM cosignature, appliance signature fails),
 * RECEIPT_UNKNOWN_CHECKPOINT (another origin, no stored checkpoint of
 * that size, or a different text). Results: r->tree_size, r->cosigned_at,
 * r->log_index. */
void issue_receipt_import(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);

/* WREQ_CONFIG: appends a LogConfigChanged entry (SHA-256 and text of
 * r->in.config) and records the digest in meta, unless the digest equals
 * the last one recorded; then r->log_index stays 0. Text over
 * ISSUE_CONFIG_TEXT_MAX bytes is logged by digest only. */
#define ISSUE_CONFIG_TEXT_MAX 16384
void issue_config(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r);

/* The serialized TokenBundle (proto/artifacts.proto) of a quota envelope
 * exactly as imported (quota, quota_len bytes), a token envelope exactly
 * as logged (token, token_len) and the appliance's DER SPKI (spki,
 * spki_len), into a new buffer *out (free()) of *out_len bytes. The one
 * encoder of bundles: IssueToken sends its result to the jig and `token
 * show` returns it (query_token_bundle), so both are the same bytes.
 * Nothing is checked here. Errors: TALLY_ERR_NOMEM. */
int issue_bundle_encode(const uint8_t *quota, size_t quota_len, const uint8_t *token,
    size_t token_len, const uint8_t *spki, size_t spki_len, uint8_t **out,
    size_t *out_len);

/* Sets r->error = code and a printf-style r->message. */
void issue_fail(struct wreq *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
