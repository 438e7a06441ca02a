/*
 * ledger.h - the OEM ledger (DESIGN.md §8, docs/oem-guide.md "The
 * ledger"): an LMDB folder in which tally-oem remembers every appliance
 * across exports, so that each export is verified against what the OEM
 * already verified (rollback, fork, gap, counts, duplicates across
 * appliances) and receipts cosign only verified checkpoints.
 *
 * Named databases (keys -> values; integers 8-byte big-endian, byte
 * strings with a 2-byte big-endian length; the layout of each value is in
 * ledger_rec.c):
 *   meta        "schema" -> 4 B version; "root_key_id" -> 32 B, the OEM
 *               root key the ledger was made with
 *   appliances  key ID (32) -> SPKI, last verified checkpoint (size, root,
 *               note), the compact range at that size, last entry time,
 *               time verified
 *   quotas      appliance key ID (32) || quota ID (16) -> units, scrap
 *               allowance, validity, import index, counts (issued,
 *               returned, failed, reported), product, the quota envelope,
 *               attestation failures (only when not 0)
 *   jigs        appliance key ID || jig key ID (32) -> SPKI, enrolment
 *               index, revoked, attestation failures (only when not 0)
 *   tokens      appliance key ID || log index (8) -> quota ID, jig key ID,
 *               serial, issued_at, report flags (OEM_TOK_*), device UID
 *   uids        device UID (1..64) -> appliance key ID, log index
 *   serials     quota ID || serial (8) -> appliance key ID, log index
 *   days        appliance key ID || day (8: Unix time / 86400, rounded
 *               down, sign bit flipped so keys sort) || quota ID -> tokens
 *               issued that day (UTC)
 *
 * Transactions follow the Knot DNS model (STYLE.md): struct
 * oem_ledger_txn carries a sticky error; once a step fails the later ones
 * are no-ops and commit aborts and returns that error. One export is
 * verified and applied in ONE write transaction: nothing is written
 * unless every check passed. LMDB errors map to TALLY_ERR_STORAGE_FULL
 * (MDB_MAP_FULL, ENOSPC, EDQUOT) or TALLY_ERR_STORAGE; a record that does
 * not decode is TALLY_ERR_STORAGE. Commits are synced.
 */
#ifndef TALLY_OEM_LEDGER_H
#define TALLY_OEM_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include "checkpoint.h"
#include "reconcile.h"

#define OEM_LEDGER_SCHEMA 1u
#define OEM_LEDGER_MAP_SIZE ((size_t)1 << 32)   /* bytes of address space (sparse) */

struct oem_ledger;

/* A transaction with a sticky error (ret). Zero it before begin. */
struct oem_ledger_txn {
	struct oem_ledger *l;
	MDB_txn *txn;
	int ret;                     /* 0 or the first tally_err of any step */
};

/* What the ledger remembers of one appliance. */
struct oem_ledger_appliance {
	uint8_t key_id[TALLY_KEY_ID_LEN];
	uint8_t spki[TALLY_SPKI_MAX];
	size_t spki_len;
	uint64_t size;                         /* last verified checkpoint */
	uint8_t root[TALLY_HASH_LEN];
	char note[TALLY_NOTE_MAX + 1];         /* its signed note, NUL-terminated */
	struct tally_merkle_frontier frontier; /* compact range of [0, size) */
	int64_t last_time;                     /* time of entry size - 1 */
	int64_t verified_at;                   /* when the ledger took it (Unix s) */
};

/* Tokens under one quota issued by one appliance on one UTC day. */
struct oem_ledger_day {
	int64_t day;                           /* Unix time / 86400 */
	uint8_t quota_id[TALLY_QUOTA_ID_LEN];
	uint64_t count;
};

/* Opens (creating the folder, mode 0700, and the databases when absent)
 * the ledger in dir with a map of map_size bytes, runs mdb_reader_check
 * and checks the schema version. *out: oem_ledger_close. Errors:
 * TALLY_ERR_IO (cannot create or open the folder; errno kept),
 * TALLY_ERR_NOMEM, TALLY_ERR_STORAGE (not a ledger, other schema),
 * TALLY_ERR_STORAGE_FULL. */
int oem_ledger_open(const char *dir, size_t map_size, struct oem_ledger **out);

/* Closes the ledger. NULL is a no-op. No transaction may be open. */
void oem_ledger_close(struct oem_ledger *l);

/* Starts a transaction (write != 0: the single writer) into *t, which
 * must be zeroed. Returns t->ret: 0, TALLY_ERR_STORAGE. */
int oem_ledger_begin(struct oem_ledger *l, int write, struct oem_ledger_txn *t);

/* Commits (synced) when t->ret is 0, else aborts. Returns the final
 * t->ret: 0 or the first error (TALLY_ERR_STORAGE_FULL on a full map). */
int oem_ledger_commit(struct oem_ledger_txn *t);

/* Aborts t. A finished or never-begun t is a no-op. */
void oem_ledger_abort(struct oem_ledger_txn *t);

/* Binds the ledger to the OEM root key ID (32 bytes): records it in a
 * ledger that has none (t must be a write transaction), else compares.
 * Errors: TALLY_ERR_MISMATCH (the ledger belongs to another OEM root),
 * TALLY_ERR_STORAGE, TALLY_ERR_STORAGE_FULL. */
int oem_ledger_bind_root(struct oem_ledger_txn *t, const uint8_t root_key_id[TALLY_KEY_ID_LEN]);

/* The record of appliance key_id into *out. Errors: TALLY_ERR_NOT_FOUND,
 * TALLY_ERR_STORAGE. A NOT_FOUND does not set t->ret. */
int oem_ledger_appliance_get(struct oem_ledger_txn *t,
    const uint8_t key_id[TALLY_KEY_ID_LEN], struct oem_ledger_appliance *out);

/* Calls fn for every appliance in key ID order; fn returns 0 to go on or
 * an error to stop with it. Errors: those of fn, TALLY_ERR_STORAGE. */
int oem_ledger_appliance_each(struct oem_ledger_txn *t,
    int (*fn)(void *arg, const struct oem_ledger_appliance *a), void *arg);

/* Calls fn for every quota of appliance key_id: its counts (from_ledger
 * set, pending 0) and the quota envelope as the OEM signed it (env_len
 * bytes, valid during the call). Errors: those of fn, TALLY_ERR_STORAGE. */
int oem_ledger_quota_each(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    int (*fn)(void *arg, const struct oem_quota_count *q, const uint8_t *env,
    size_t env_len), void *arg);

/* Calls fn for every jig of appliance key_id (from_ledger set). Errors:
 * those of fn, TALLY_ERR_STORAGE. */
int oem_ledger_jig_each(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    int (*fn)(void *arg, const struct oem_jig_rec *j), void *arg);

/* The token at log index of appliance key_id into *out (its quota slot
 * is SIZE_MAX). Errors: TALLY_ERR_NOT_FOUND, TALLY_ERR_STORAGE. */
int oem_ledger_token_get(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    uint64_t index, struct oem_token_rec *out);

/* Where device UID uid (1..TALLY_UID_MAX bytes) got its token: appliance
 * key ID and log index. Errors: TALLY_ERR_NOT_FOUND, TALLY_ERR_INVALID
 * (length), TALLY_ERR_STORAGE. */
int oem_ledger_uid_get(struct oem_ledger_txn *t, const uint8_t *uid, size_t len,
    uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t *index);

/* Where serial number serial of quota quota_id was assigned. Errors:
 * TALLY_ERR_NOT_FOUND, TALLY_ERR_STORAGE. */
int oem_ledger_serial_get(struct oem_ledger_txn *t, const uint8_t quota_id[TALLY_QUOTA_ID_LEN],
    uint64_t serial, uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t *index);

/* Calls fn for every (day, quota) of appliance key_id, days ascending.
 * Errors: those of fn, TALLY_ERR_STORAGE. */
int oem_ledger_day_each(struct oem_ledger_txn *t, const uint8_t key_id[TALLY_KEY_ID_LEN],
    int (*fn)(void *arg, const struct oem_ledger_day *d), void *arg);

/* Writes what the verified export res adds (write transaction t, the one
 * res was reconciled in): the appliance's checkpoint, frontier and last
 * time; every quota's counts; jigs enrolled or revoked; new tokens (index
 * >= the ledger's size) with their UIDs, serials and days; report flags
 * of earlier tokens. now (Unix seconds) is recorded as verified_at.
 * Refuses a result with an anomaly or an unverified checkpoint. Errors:
 * TALLY_ERR_INVALID (res not verified), TALLY_ERR_NOMEM,
 * TALLY_ERR_STORAGE, TALLY_ERR_STORAGE_FULL. */
int oem_ledger_apply(struct oem_ledger_txn *t, const struct oem_reconcile_result *res,
    int64_t now);

/* Verifies the export at path against the ledger and the OEM root
 * oem_root in ONE write transaction: binds the ledger to the root key,
 * reconciles (oem_reconcile_ledger), and when the export is verified (no
 * anomaly) applies it (oem_ledger_apply, verified_at = now) and commits;
 * otherwise aborts, so the ledger is unchanged. *applied says which.
 * *res as oem_reconcile_ledger (free it with oem_reconcile_result_free).
 * Returns 0 whatever the anomalies, or: TALLY_ERR_MISMATCH (the ledger
 * belongs to another OEM root; res->error), the errors of
 * oem_reconcile_ledger, oem_ledger_apply and oem_ledger_commit. */
int oem_ledger_reconcile(struct oem_ledger *l, const char *path, EVP_PKEY *oem_root,
    int64_t now, struct oem_reconcile_result *res, int *applied);

/* A receipt (C2SP tlog-cosignature, cosignature.h) of the checkpoint the
 * ledger last verified for appliance key_id: tally_cosign with oem_key
 * (the OEM root private key) at time ts (Unix seconds). *receipt
 * (free()) is the cosigned note; *a, when not NULL, receives the
 * appliance's record. Errors: TALLY_ERR_NOT_FOUND (the ledger has no
 * verified checkpoint of that appliance), TALLY_ERR_MISMATCH (oem_key is
 * not the root the ledger was made with), TALLY_ERR_STORAGE, and those of
 * tally_cosign. */
int oem_ledger_receipt(struct oem_ledger *l, EVP_PKEY *oem_key,
    const uint8_t key_id[TALLY_KEY_ID_LEN], int64_t ts, char **receipt,
    struct oem_ledger_appliance *a);

/* SHA-256 over every record of every database, in order (database name,
 * then each key and value with their lengths): equal digests mean equal
 * ledgers. For tests and audits. Errors: TALLY_ERR_STORAGE,
 * TALLY_ERR_CRYPTO. */
int oem_ledger_digest(struct oem_ledger *l, uint8_t out[32]);

#endif
