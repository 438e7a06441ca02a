/*
 * query.h - read-only views of the store for the loop thread: each opens an
 * LMDB read transaction (MDB_NOTLS), fills a reply message from arena `a`
 * (tally_arena_release frees it) and closes the transaction.
 * All return 0, TALLY_ERR_NOMEM, TALLY_ERR_STORAGE, or as noted.
 */
#ifndef TALLYD_QUERY_H
#define TALLYD_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "jig.pb-c.h"
#include "ctl.pb-c.h"

struct store;

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

/* Latest stored checkpoint. TALLY_ERR_NOT_FOUND when none yet. */
int query_checkpoint(struct store *st, struct tally_arena *a, Tally__CheckpointResponse *out);

/* Streaming read of log entries [first, first+count), for exports:
 * calls emit(arg, index, entry bytes, len) per entry inside one read
 * transaction; emit returns 0 to go on or a negative code to stop with it.
 * TALLY_ERR_NOT_FOUND if an index is missing, TALLY_ERR_INVALID if
 * first + count overflows. count == 0 returns 0 at once. */
int query_log_range(struct store *st, uint64_t first, uint64_t count,
    int (*emit)(void *arg, uint64_t index, const uint8_t *entry, size_t len), void *arg);

#endif
