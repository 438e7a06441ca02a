/*
 * store.h - the appliance's LMDB store (DESIGN.md §5, docs/storage.md).
 * Owned by daemon/store.c; the writer thread is the only writer.
 *
 * Named databases (keys, values):
 *   meta         "schema" -> 4-byte BE version; "appliance_key_id" -> 32 B;
 *                "appliance_spki" -> DER SPKI; "frontier" -> Merkle frontier
 *                (tally_merkle_frontier_encode form); "next_index" -> 8-byte BE;
 *                "config_digest" -> SHA-256 of the last configuration logged;
 *                "receipt_size" -> 8-byte BE tree size of the last OEM receipt
 *   quotas       quota_id (16 B) -> QuotaRecord (proto/store.proto)
 *   devices      quota_id (16 B) || device UID (1..64 B) -> 8-byte BE log
 *                index of the token
 *   log          8-byte BE index -> serialized LogEntry (proto/log.proto)
 *   leaves       8-byte BE index -> 32-byte RFC 9162 leaf hash of that entry
 *   checkpoints  8-byte BE tree size -> signed note text (no NUL)
 *   jigs         jig key ID (32 B) -> JigRecord (proto/store.proto)
 *   tree         level (1 B, >= 1) || index (8-byte BE) -> 32-byte hash of
 *                the perfect subtree over leaves [index << level,
 *                (index + 1) << level) (RFC 9162 MTH); level 0 is `leaves`
 *   returned     8-byte BE token log index -> 8-byte BE log index of the
 *                install report that returned its unit (scrap allowance)
 *
 * Transactions follow Knot DNS's knot_lmdb model: a struct store_txn holds
 * a sticky error; once a step fails every later step is a no-op returning
 * that error, and store_txn_commit aborts and returns it. LMDB errors map
 * to MDB_MAP_FULL / ENOSPC / EDQUOT -> TALLY_ERR_STORAGE_FULL, anything
 * else -> TALLY_ERR_STORAGE. The environment is opened with MDB_NOTLS, so
 * read transactions may be used from any one thread at a time; commits of
 * write transactions are synced (no MDB_NOSYNC).
 */
#ifndef TALLYD_STORE_H
#define TALLYD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include "merkle.h"

struct store;

/* Version 2 (issue 3) added `tree` and `returned`; a version 1 store is
 * migrated on open (tree nodes backfilled from `leaves`). */
#define STORE_SCHEMA_VERSION 2u

#define STORE_META_SCHEMA   "schema"
#define STORE_META_KEY_ID   "appliance_key_id"
#define STORE_META_SPKI     "appliance_spki"
#define STORE_META_FRONTIER "frontier"
#define STORE_META_NEXT     "next_index"
#define STORE_META_CONFIG   "config_digest"
#define STORE_META_RECEIPT  "receipt_size"

enum store_db {
	STORE_DB_META = 0,
	STORE_DB_QUOTAS,
	STORE_DB_DEVICES,
	STORE_DB_LOG,
	STORE_DB_LEAVES,
	STORE_DB_CHECKPOINTS,
	STORE_DB_JIGS,
	STORE_DB_TREE,
	STORE_DB_RETURNED,
	STORE_DB_COUNT
};

/* A transaction with a sticky error (ret). Zero it before begin. */
struct store_txn {
	struct store *st;
	MDB_txn *txn;
	int ret;      /* 0 or the first tally_err of any step */
	int mdb_rc;   /* the LMDB code behind ret, for logs (0 if none) */
};

/* Opens (creating when absent) the LMDB environment in folder dir (must
 * exist, mode 0700 recommended) with a map of map_size bytes, runs
 * mdb_reader_check, checks the schema version. A version 1 store is
 * migrated to version 2 in one write transaction: the `tree` nodes are
 * computed from `leaves` (O(log size) memory, one pass) and their
 * frontier is checked against meta "frontier". *out: store_close.
 * Errors: TALLY_ERR_IO (no such folder, cannot open), TALLY_ERR_NOMEM,
 * TALLY_ERR_STORAGE (corrupt, other schema, leaves that disagree with the
 * stored frontier), TALLY_ERR_STORAGE_FULL (also: no room to migrate). */
int store_open(const char *dir, size_t map_size, struct store **out);

/* Start-up checks against a damaged data file (LMDB keeps no checksums;
 * store_open runs both, docs/storage.md "A damaged store").
 * store_check_size: data.mdb (in folder dir) is at least as long as the
 * pages the environment's meta page says are in use (a truncated file
 * would otherwise fault when a missing page is read).
 * store_verify: in one read transaction, every record of every database
 * is reached by a cursor walk and their number is the one LMDB records;
 * the log has indexes 0..n-1, each entry hashes (RFC 9162 leaf hash) to
 * the stored leaf of its index, every stored perfect-subtree node equals
 * the hash recomputed from the leaves, the meta frontier is the log's,
 * and the latest stored checkpoint verifies with the bound appliance
 * key and signs the root of the tree of its size. O(entries) time:
 * about one SHA-256 per entry and one LMDB lookup per leaf and node.
 * Both log what is wrong, naming DIR/data.mdb. Errors: TALLY_ERR_STORAGE
 * (damaged, or unreadable), TALLY_ERR_NOMEM. */
int store_check_size(MDB_env *env, const char *dir);
int store_verify(struct store *st, const char *dir);

/* Closes the environment. NULL is a no-op. No transaction may be open. */
void store_close(struct store *st);

/* Binds the store to the appliance key: on a store that records no key
 * yet, records the key ID (SHA-256 of key's DER SPKI) and the SPKI; on a
 * store that does, refuses a different key. Call before writer_start
 * (writer_start calls it too). Errors: TALLY_ERR_MISMATCH (the store
 * belongs to another appliance key), TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM,
 * TALLY_ERR_STORAGE, TALLY_ERR_STORAGE_FULL. */
int store_check_key(struct store *st, EVP_PKEY *key);

/* Starts a read (write == false) or write transaction into *t.
 * Returns 0 or the mapped LMDB error (also left in t->ret). */
int store_txn_begin(struct store *st, struct store_txn *t, bool write);

/* Puts key -> val into db (flags: LMDB put flags such as MDB_APPEND or
 * MDB_NOOVERWRITE). Returns t->ret after the step. */
int store_txn_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen, unsigned flags);

/* Looks key up in db. *val points into the map (valid until the txn ends
 * or, in a write txn, until the next put). Returns 0, TALLY_ERR_NOT_FOUND
 * (not sticky: the transaction goes on) or the sticky error. */
int store_txn_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const uint8_t **val, size_t *vlen);

/* An optional 8-byte big-endian counter of meta (e.g. STORE_META_NEXT,
 * STORE_META_RECEIPT) into *v; 0 when it is absent. Errors: those of
 * store_txn_get but TALLY_ERR_NOT_FOUND, TALLY_ERR_STORAGE (not 8 bytes). */
int store_meta_u64(struct store_txn *t, const char *name, uint64_t *v);

/* Calls fn(arg, key, klen, val, vlen) for every record of db whose key is
 * >= from (fromlen bytes; NULL/0: from the first), in key order, until fn
 * returns non-zero (1 stops with 0; a negative code stops with it, not
 * sticky) or the end. Returns 0, that code or the sticky error. */
int store_txn_each(struct store_txn *t, enum store_db db, const void *from,
    size_t fromlen, int (*fn)(void *arg, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen), void *arg);

/* The record with the largest key of db. Returns 0, TALLY_ERR_NOT_FOUND
 * (db empty, not sticky) or the sticky error. */
int store_txn_last(struct store_txn *t, enum store_db db, const uint8_t **key,
    size_t *klen, const uint8_t **val, size_t *vlen);

/* Number of records in db (mdb_stat). Returns 0 or the sticky error. */
int store_txn_count(struct store_txn *t, enum store_db db, size_t *n);

/* Commits (write txn: synced to disk) or, if any step failed, aborts.
 * Returns 0 or the error; the transaction is finished either way. */
int store_txn_commit(struct store_txn *t);

/* Aborts (or, for a read txn, ends). Safe on a finished/zeroed txn. */
void store_txn_abort(struct store_txn *t);

/* Marks the store full (the writer saw TALLY_ERR_STORAGE_FULL) or not;
 * read by query_status. Thread-safe. */
void store_set_full(struct store *st, bool full);
bool store_is_full(struct store *st);

/* Room kept for what must work on a full store (checkpoints for status
 * and exports, receipts, quota imports, enrolment): new tokens stop when
 * fewer than max(min(STORE_RESERVE_PAGES, 1/8 of the map), 1% of the map)
 * pages are left (about 10 MiB of the default 1 GiB map). */
#define STORE_RESERVE_PAGES 64

/* Is the data file's high-water mark of pages (mdb_env_info
 * me_last_pgno, the last committed state) within that reserve of the map
 * size? Then the writer refuses new tokens with STORAGE_FULL
 * (issue.c) and keeps the store marked full. Thread-safe. */
bool store_room_low(struct store *st);

/* The tally_err for an LMDB return code (0 -> 0). */
int store_map_err(int mdb_rc);

/* Appends leaf hash leaf (of log index f->size) to the Merkle tree kept in
 * write transaction t: puts into `tree` the hash of every perfect subtree
 * this leaf completes (ctz(f->size + 1) nodes, one on average), computed
 * from f's compact range, then appends leaf to f. Does not write `leaves`
 * (the caller does). Returns t->ret after the puts, or TALLY_ERR_TOO_LARGE
 * (the tree is full; made sticky) with f unchanged. */
int store_tree_add(struct store_txn *t, struct tally_merkle_frontier *f,
    const uint8_t leaf[TALLY_HASH_LEN]);

/* tally_merkle_node_fn (lib/merkle.h) over a read or write transaction:
 * arg is a struct store_txn *. Level 0 reads `leaves`, levels 1..63 read
 * `tree`. Returns 0, TALLY_ERR_STORAGE (node absent or not 32 bytes: the
 * store is inconsistent; not sticky), TALLY_ERR_INVALID (level > 63) or
 * the transaction's sticky error. */
int store_tree_node(void *arg, unsigned level, uint64_t index,
    uint8_t out[TALLY_HASH_LEN]);

/* The compact range of [0, size) read from the tree: one hash per set
 * bit of size, largest subtree first (the lib/merkle.h frontier order),
 * into nodes (room for TALLY_MERKLE_MAX_HEIGHT); *count gets popcount(size).
 * Errors: those of store_tree_node. */
int store_tree_range(struct store_txn *t, uint64_t size,
    uint8_t nodes[][TALLY_HASH_LEN], unsigned *count);

/* 8-byte big-endian encoding of v (keys of log, leaves, checkpoints). */
void store_be64_put(uint8_t out[8], uint64_t v);
uint64_t store_be64_get(const uint8_t in[8]);

#endif
