/*
 * reconcile_int.h - state shared by the files of the reconcile library
 * (reconcile.c reads the file, reconcile_entry.c checks entries,
 * reconcile_uid.c finds duplicate UIDs). Not a public interface.
 */
#ifndef TALLY_OEM_RECONCILE_INT_H
#define TALLY_OEM_RECONCILE_INT_H

#include "log.pb-c.h"
#include "reconcile.h"

/* An enrolled jig, as the log shows it so far. */
struct rc_jig {
	uint8_t id[TALLY_KEY_ID_LEN];
	EVP_PKEY *pub;               /* the certificate's public key, owned */
	int revoked;
};

struct rc {
	struct oem_reconcile_result *res;
	EVP_PKEY *oem_root;          /* not owned */
	EVP_PKEY *appliance;         /* from the header, owned */
	struct tally_merkle_frontier frontier;
	struct rc_jig *jigs;
	size_t n_jigs, cap_jigs;
	Tally__Quota **qmsg;         /* parsed quotas, parallel to res->quotas, owned */
	size_t cap_qmsg, cap_quotas, cap_tokens;
};

/* Grows *arr (elements of size elem, capacity *cap) to hold n + 1.
 * Returns 0 or TALLY_ERR_NOMEM. */
int rc_reserve(void **arr, size_t *cap, size_t n, size_t elem);

/* Checks one log entry (len bytes at position pos) and updates the
 * counts. Anomalies are recorded; returns 0 or TALLY_ERR_NOMEM. */
int rc_entry(struct rc *rc, const uint8_t *entry, size_t len, uint64_t pos);

/* Checks a token entry (the serialized token envelope env at log index
 * idx) and a report entry; reconcile_token.c. Return 0 or TALLY_ERR_NOMEM. */
int rc_token(struct rc *rc, const ProtobufCBinaryData *env, uint64_t idx);
int rc_report(struct rc *rc, const Tally__LogInstallReported *ir, uint64_t idx);

/* The jig with key ID id (len bytes), or NULL. */
struct rc_jig *rc_find_jig(struct rc *rc, const uint8_t *id, size_t len);

/* Slot in res->quotas of the quota with ID id (len bytes), or SIZE_MAX. */
size_t rc_find_quota(const struct oem_reconcile_result *res, const uint8_t *id, size_t len);

/* Records DUPLICATE_UID anomalies for UIDs with two tokens in res, and
 * DUPLICATE_SERIAL for a serial number assigned twice under one quota.
 * Returns 0 or TALLY_ERR_NOMEM. */
int rc_duplicates(struct oem_reconcile_result *res);

/* Frees the jig table and the parsed quotas. */
void rc_free(struct rc *rc);

#endif
