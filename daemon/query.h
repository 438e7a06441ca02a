/*
 * query.h - read-only views of the store for the loop thread: each opens an
 * LMDB read transaction (MDB_NOTLS), fills a reply message from arena `a`
 * (tally_arena_release frees it) and closes the transaction.
 * All return 0, TALLY_ERR_NOMEM, TALLY_ERR_STORAGE, or as noted.
 */
#ifndef TALLYD_QUERY_H
#define TALLYD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "jig.pb-c.h"
#include "ctl.pb-c.h"

struct store;
struct store_txn;

/* Products with a usable quota and units remaining, for Hello. */
int query_hello(struct store *st, struct tally_arena *a, Tally__HelloResponse *out);

/* Status fields that come from the store (log_size, tokens_issued, quotas,
 * appliance_key_id, storage_full). The caller initialises out
 * (tally__status_response__init) and fills listen, version, started_at and
 * jig_connections; only the fields above are set here. The other queries
 * initialise their out themselves. */
int query_status(struct store *st, struct tally_arena *a, Tally__StatusResponse *out);

int query_identity(struct store *st, struct tally_arena *a, Tally__IdentityResponse *out);
int query_quota_list(struct store *st, struct tally_arena *a, Tally__QuotaListResponse *out);
int query_jig_list(struct store *st, struct tally_arena *a, Tally__JigListResponse *out);

/* Every token issued to uid (1..64 bytes), one per quota, with its log
 * index. TALLY_ERR_NOT_FOUND when none, TALLY_ERR_INVALID for a uid
 * length outside 1..64. */
int query_token_show(struct store *st, const uint8_t *uid, size_t uid_len,
    struct tally_arena *a, Tally__TokenShowResponse *out);

/* The token issued to uid (1..64 bytes) under quota quota_id (16 bytes),
 * with its TokenBundle: out->tokens[0], out->log_indexes[0] and
 * out->bundles[0], the bundle made by issue_bundle_encode from the quota
 * envelope as imported, the token envelope as logged and the appliance
 * SPKI the store is bound to, so it is byte for byte what IssueToken gave
 * the jig. TALLY_ERR_NOT_FOUND when uid has no token under that quota,
 * TALLY_ERR_INVALID for a uid length outside 1..64, TALLY_ERR_STORAGE
 * when the device's log entry, quota record or SPKI is missing. */
int query_token_bundle(struct store *st, const uint8_t *uid, size_t uid_len,
    const uint8_t quota_id[16], struct tally_arena *a, Tally__TokenShowResponse *out);

/* Inside the caller's read transaction t: copies the token envelope of
 * the log entry at index into *out (arena a). TALLY_ERR_STORAGE when the
 * entry is missing or is not a token, TALLY_ERR_NOMEM. */
int query_token_at(struct store_txn *t, struct tally_arena *a, uint64_t index,
    ProtobufCBinaryData *out);

/* Inside the caller's read transaction t: the log index of the token
 * issued to uid (uid_len bytes, 1..64) under quota quota_id (16 bytes),
 * from the devices table, into *index. TALLY_ERR_NOT_FOUND when uid has no
 * token under that quota, TALLY_ERR_INVALID for a uid length outside
 * 1..64, TALLY_ERR_STORAGE for a malformed row. */
int query_device_index(struct store_txn *t, const uint8_t quota_id[16],
    const uint8_t *uid, size_t uid_len, uint64_t *index);

/* Latest stored checkpoint. TALLY_ERR_NOT_FOUND when none yet. */
int query_checkpoint(struct store *st, struct tally_arena *a, Tally__CheckpointResponse *out);

/* Streaming read of log entries [first, first+count), for exports:
 * calls emit(arg, index, entry bytes, len) per entry inside one read
 * transaction; emit returns 0 to go on or a negative code to stop with it.
 * TALLY_ERR_NOT_FOUND if an index is missing, TALLY_ERR_INVALID if
 * first + count overflows. count == 0 returns 0 at once. */
int query_log_range(struct store *st, uint64_t first, uint64_t count,
    int (*emit)(void *arg, uint64_t index, const uint8_t *entry, size_t len), void *arg);

/* RFC 9162 §2.1.3 inclusion proof of entry index in the tree of size
 * entries (0: the latest checkpoint's size), with the entry, its leaf hash,
 * the root and the checkpoint of that size when one is stored.
 * Errors: TALLY_ERR_INVALID (index >= size, size > log size),
 * TALLY_ERR_NOT_FOUND (size 0 and no checkpoint yet). */
int query_log_proof(struct store *st, uint64_t index, uint64_t size,
    struct tally_arena *a, Tally__LogProofResponse *out);

/* RFC 9162 §2.1.4 consistency proof from from_size to to_size (0: the
 * latest checkpoint's size), with both roots and stored checkpoints.
 * Errors: TALLY_ERR_INVALID (0 or from > to or to > log size),
 * TALLY_ERR_NOT_FOUND. */
int query_log_consistency(struct store *st, uint64_t from_size, uint64_t to_size,
    struct tally_arena *a, Tally__LogConsistencyResponse *out);

/* Header of an export that ends at the stored checkpoint of tree_size:
 * first_index = 0 when full, else the size of the last imported receipt;
 * prev_checkpoint, prev_frontier and consistency_proof per ctl.proto;
 * format_version 2, origin, appliance key, counts, exported_at = now.
 * Errors: TALLY_ERR_NOT_FOUND (no checkpoint of tree_size stored),
 * TALLY_ERR_INVALID (the last receipt is for a size above tree_size),
 * TALLY_ERR_STORAGE (the receipted checkpoint or a tree node is missing). */
int query_export_header(struct store *st, bool full, uint64_t tree_size,
    struct tally_arena *a, Tally__ExportHeader *out);

/* Export context: calls emit(arg, TALLY__EXPORT_RECORD__BODY_QUOTA, envelope)
 * for every imported quota, then emit(arg, TALLY__EXPORT_RECORD__BODY_JIG,
 * serialized LogJigEnrolled) for every jig ever enrolled (revoked too), in
 * one read transaction. emit returns 0 to go on or an error to stop. */
int query_export_context(struct store *st,
    int (*emit)(void *arg, int kind, const uint8_t *data, size_t len), void *arg);

#endif
