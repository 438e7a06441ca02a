/*
 * reconcile.h - OEM-side verification of one appliance export file
 * (DESIGN.md §8), as a library so tests call it directly.
 *
 * Export file (proto/ctl.proto): frames of a 4-byte big-endian length
 * (1..TALLY_FRAME_MAX) and a serialized ExportRecord: one ExportHeader,
 * the log entries in index order from 0 (each a serialized LogEntry, the
 * exact RFC 9162 Merkle leaf bytes), one checkpoint (C2SP signed note).
 * The file is read frame by frame; it is never loaded whole.
 *
 * Checked, each failure recorded as an anomaly (the reconcile goes on):
 *  - the header's origin is tally_checkpoint_origin(appliance key ID), its
 *    entry_count the number of entries; LogStart names this appliance;
 *  - each entry is a LogEntry whose index equals its position;
 *  - quotas (LogQuotaImported): signed by the OEM root, bound to this
 *    appliance's key ID, quota ID imported once;
 *  - jigs (LogJigEnrolled): the certificate's key ID equals jig_key_id;
 *  - tokens (LogTokenIssued): signed by the appliance key, bound to this
 *    appliance, log_index equal to the entry index, under a quota imported
 *    earlier, product and firmware digest allowed by it, issued_at within
 *    its validity, its serial number inside the quota's range (0 when
 *    the quota has none), to a jig enrolled and not revoked at that point;
 *    tokens per quota <= units + units returned (at most scrap_allowance);
 *  - install reports: signed by the key of an enrolled jig's certificate,
 *    for a token in the log, same device UID, signed by the jig the token
 *    was issued to; units returned only for FAILED, once per token, and
 *    within scrap_allowance;
 *  - no device UID has two tokens; no serial number is assigned twice
 *    under one quota;
 *  - the checkpoint is signed by the appliance key under the origin of
 *    its key ID, its size equals the number of entries and its root the
 *    Merkle Tree Hash (RFC 9162 §2.1) of the entries.
 * Tokens without an install report are listed ("unreported"); that alone
 * is not an anomaly.
 */
#ifndef TALLY_OEM_RECONCILE_H
#define TALLY_OEM_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "checkpoint.h"
#include "key.h"
#include "merkle.h"

#define OEM_NO_INDEX UINT64_MAX      /* anomaly not tied to one entry */
#define OEM_ANOMALY_MSG 256          /* bytes of an anomaly message, NUL included */
#define OEM_ANOMALIES_MAX 10000      /* anomalies kept; more are only counted */
#define OEM_ERROR_MSG 256

enum oem_anomaly_kind {
	OEM_ANOM_APPLIANCE = 1,      /* header or LogStart names another appliance */
	OEM_ANOM_ENTRY_MALFORMED,    /* entry is not a LogEntry, or an empty one */
	OEM_ANOM_ENTRY_INDEX,        /* entry index differs from its position */
	OEM_ANOM_QUOTA_SIGNATURE,    /* quota not signed by the OEM root, or invalid */
	OEM_ANOM_QUOTA_APPLIANCE,    /* quota bound to another appliance */
	OEM_ANOM_QUOTA_REPLAYED,     /* the same quota ID imported twice */
	OEM_ANOM_TOKEN_SIGNATURE,    /* token not signed by the appliance key, or invalid */
	OEM_ANOM_TOKEN_BINDING,      /* token's log_index or appliance key ID wrong */
	OEM_ANOM_TOKEN_QUOTA,        /* unknown quota, product, firmware or time outside it */
	OEM_ANOM_TOKEN_JIG,          /* token issued to a jig not enrolled, or revoked */
	OEM_ANOM_OVER_QUOTA,         /* more tokens than units (+ returned units) */
	OEM_ANOM_DUPLICATE_UID,      /* one device UID with two tokens */
	OEM_ANOM_DUPLICATE_SERIAL,   /* one serial number twice under a quota */
	OEM_ANOM_REPORT_SIGNATURE,   /* report not signed by an enrolled jig */
	OEM_ANOM_REPORT_BINDING,     /* report for no token, other UID, other jig */
	OEM_ANOM_SCRAP,              /* unit returned twice, for INSTALLED, or past scrap_allowance */
	OEM_ANOM_JIG,                /* enrolment whose certificate does not match its key ID */
	OEM_ANOM_CHECKPOINT_SIGNATURE, /* checkpoint not validly signed by the appliance */
	OEM_ANOM_CHECKPOINT_SIZE,    /* checkpoint or header size differs from the entries */
	OEM_ANOM_ROOT_MISMATCH,      /* entries do not hash to the checkpoint root */
};

struct oem_anomaly {
	enum oem_anomaly_kind kind;
	uint64_t index;              /* entry index, or OEM_NO_INDEX */
	char msg[OEM_ANOMALY_MSG];
};

/* One imported quota and what the log shows against it. */
struct oem_quota_count {
	uint8_t quota_id[TALLY_QUOTA_ID_LEN];
	char product[TALLY_PRODUCT_MAX + 1];
	uint64_t units;
	uint64_t scrap_allowance;
	int64_t not_before, not_after;
	uint64_t import_index;       /* log index of the LogQuotaImported entry */
	uint64_t issued;             /* tokens in the log under this quota */
	uint64_t returned;           /* units returned by FAILED reports */
	int over_reported;           /* an OVER_QUOTA anomaly was recorded */
};

/* One token found in the log. */
struct oem_token_rec {
	uint64_t index;              /* its log index */
	size_t quota;                /* slot in quotas[], or SIZE_MAX if unknown */
	uint8_t jig_key_id[TALLY_KEY_ID_LEN];
	uint8_t uid[TALLY_UID_MAX];
	uint8_t uid_len;
	uint64_t serial;             /* assigned serial number, 0 = none */
	uint8_t installed;           /* INSTALLED reports seen */
	uint8_t failed;              /* FAILED reports seen */
	uint8_t returned;            /* 1 once a report returned its unit */
};

struct oem_reconcile_result {
	uint8_t appliance_key_id[TALLY_KEY_ID_LEN];
	char origin[TALLY_ORIGIN_MAX];        /* tally_checkpoint_origin(key ID) */
	uint64_t entries;                     /* entries in the file */
	uint64_t tree_size;                   /* from the checkpoint, if it verified */
	uint8_t root[TALLY_HASH_LEN];         /* computed Merkle root of the entries */
	int checkpoint_ok;                    /* signature, size and root all match */
	struct oem_quota_count *quotas;
	size_t n_quotas;
	struct oem_token_rec *tokens;         /* in log order */
	size_t n_tokens;
	uint64_t reports_installed, reports_failed, jigs_enrolled;
	uint64_t config_changes;              /* LogConfigChanged entries (tallyd starts
	                                         with an edited configuration) */
	uint64_t unreported;                  /* tokens without any install report */
	struct oem_anomaly *anomalies;
	size_t n_anomalies;                   /* kept, at most OEM_ANOMALIES_MAX */
	uint64_t anomalies_total;             /* found, including those not kept */
	char error[OEM_ERROR_MSG];            /* detail when the call fails */
};

/* Verifies the export file at path against the OEM root public key
 * oem_root (not owned) and fills *res (zeroed first; release it with
 * oem_reconcile_result_free even on error). Returns 0 when the file could
 * be read to its end, whatever anomalies were found (res->anomalies_total
 * says). Errors (res->error names what failed): TALLY_ERR_IO (cannot
 * open or read; errno kept), TALLY_ERR_INVALID (truncated, a frame that is
 * not an ExportRecord, no header first, no checkpoint last, or data after
 * it; the appliance public key in the header is not a P-256/Ed25519 SPKI),
 * TALLY_ERR_TOO_LARGE (frame over TALLY_FRAME_MAX), TALLY_ERR_UNSUPPORTED
 * (format_version other than 1, or first_index other than 0),
 * TALLY_ERR_NOMEM. */
int oem_reconcile_file(const char *path, EVP_PKEY *oem_root,
    struct oem_reconcile_result *res);

/* Frees what res holds; res itself is the caller's. NULL is allowed. */
void oem_reconcile_result_free(struct oem_reconcile_result *res);

/* Short stable name of kind for reports and JSON, e.g. "root_mismatch". */
const char *oem_anomaly_name(enum oem_anomaly_kind kind);

/* Records an anomaly in res (printf-style message). Returns 0 or
 * TALLY_ERR_NOMEM. Used by the checks and by oem_reconcile_cross. */
int oem_anomaly_add(struct oem_reconcile_result *res, enum oem_anomaly_kind kind,
    uint64_t index, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Finds device UIDs with tokens in more than one of the n results
 * (exports of other appliances, or the same UID at another log index of
 * the same appliance) and records DUPLICATE_UID anomalies in the result
 * holding the later token. Duplicates inside one file are already found
 * by oem_reconcile_file. Returns 0 or TALLY_ERR_NOMEM. */
int oem_reconcile_cross(struct oem_reconcile_result *res, size_t n);

#endif
