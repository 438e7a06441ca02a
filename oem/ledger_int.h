/*
 * ledger_int.h - inside the OEM ledger: the environment, the sticky-error
 * record access of ledger.c, and the record codecs of ledger_rec.c. Not a
 * public interface; see ledger.h.
 */
#ifndef TALLY_OEM_LEDGER_INT_H
#define TALLY_OEM_LEDGER_INT_H

#include "ledger.h"

enum ledger_db {
	LDB_META = 0,
	LDB_APPLIANCES,
	LDB_QUOTAS,
	LDB_JIGS,
	LDB_TOKENS,
	LDB_UIDS,
	LDB_SERIALS,
	LDB_DAYS,
	LDB_COUNT
};

struct oem_ledger {
	MDB_env *env;
	MDB_dbi dbi[LDB_COUNT];
};

/* Name of database db, for the digest. */
const char *ledger_db_name(enum ledger_db db);

/* Reads key (klen bytes) of db into *v (valid until the transaction
 * ends). Returns 0, TALLY_ERR_NOT_FOUND (t->ret untouched) or t->ret set
 * to TALLY_ERR_STORAGE. A failed t returns its error at once. */
int ledger_get(struct oem_ledger_txn *t, enum ledger_db db, const void *key,
    size_t klen, MDB_val *v);

/* Writes key -> val in db. Sticky: no-op once t->ret is set. Returns t->ret. */
int ledger_put(struct oem_ledger_txn *t, enum ledger_db db, const void *key,
    size_t klen, const void *val, size_t vlen);

/* Calls fn for every record of db whose key starts with prefix (plen
 * bytes; 0: all), in key order; fn returns 0 to go on or an error to stop
 * with it. Returns 0, fn's error, TALLY_ERR_STORAGE (sets t->ret). */
int ledger_scan(struct oem_ledger_txn *t, enum ledger_db db, const void *prefix,
    size_t plen, int (*fn)(void *arg, const MDB_val *k, const MDB_val *v), void *arg);

/* Big-endian integers. */
void ledger_be64(uint8_t out[8], uint64_t v);
uint64_t ledger_get64(const uint8_t in[8]);

/* A growing record buffer with a sticky error (TALLY_ERR_NOMEM). */
struct lw {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

/* A bounded record reader; err is TALLY_ERR_STORAGE after a short read. */
struct lr {
	const uint8_t *p;
	size_t len, pos;
	int err;
};

void lw_u64(struct lw *w, uint64_t v);
void lw_bytes(struct lw *w, const void *p, size_t n);     /* raw */
void lw_blob(struct lw *w, const void *p, size_t n);      /* 2-byte length, then bytes */
uint64_t lr_u64(struct lr *r);
void lr_bytes(struct lr *r, void *out, size_t n);
const uint8_t *lr_blob(struct lr *r, size_t *n);          /* points into the record */

/* Key buffers: appliance key ID || suffix. */
#define LKEY_MAX (TALLY_KEY_ID_LEN + 8 + TALLY_QUOTA_ID_LEN)

/* Record codecs (ledger_rec.c). Encoders append to w; decoders return 0
 * or TALLY_ERR_STORAGE (a record that does not decode: damage). */
void lrec_appliance_enc(struct lw *w, const struct oem_ledger_appliance *a);
int lrec_appliance_dec(const MDB_val *v, struct oem_ledger_appliance *a);
void lrec_quota_enc(struct lw *w, const struct oem_quota_count *c, const uint8_t *env,
    size_t env_len);
int lrec_quota_dec(const MDB_val *v, struct oem_quota_count *c, const uint8_t **env,
    size_t *env_len);
void lrec_jig_enc(struct lw *w, const struct oem_jig_rec *j);
int lrec_jig_dec(const MDB_val *v, struct oem_jig_rec *j);
void lrec_token_enc(struct lw *w, const struct oem_token_rec *t);
int lrec_token_dec(const MDB_val *v, struct oem_token_rec *t);
void lrec_ref_enc(struct lw *w, const uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t index);
int lrec_ref_dec(const MDB_val *v, uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t *index);

#endif
