/*
 * reconcile.h - OEM-side verification of one appliance export file
 * (DESIGN.md §8), as a library so tests call it directly; optionally
 * against the OEM ledger (ledger.h), which remembers every appliance.
 *
 * Export file (proto/ctl.proto, docs/formats.md "Export file"): frames of
 * a 4-byte big-endian length (1..TALLY_FRAME_MAX) and a serialized
 * ExportRecord: one ExportHeader; in format 2 the context records (every
 * quota envelope the appliance imported, every LogJigEnrolled it logged);
 * the log entries [first_index, first_index + entry_count) in index order
 * (each a serialized LogEntry, the exact RFC 9162 Merkle leaf bytes); one
 * checkpoint (C2SP signed note). Format 1 is format 2 with first_index 0
 * and no context. The file is read frame by frame, never loaded whole.
 *
 * Checked, each failure recorded as an anomaly (the reconcile goes on):
 *  - the header's origin is tally_checkpoint_origin(appliance key ID);
 *    LogStart names this appliance;
 *  - format 2 with first_index F > 0: prev_checkpoint is signed by the
 *    appliance and covers F entries; prev_frontier is a compact range of
 *    F leaves whose root is prev_checkpoint's; with F = 0 both are empty;
 *  - the entries appended to that frontier give the checkpoint's size and
 *    root (RFC 9162 §2.1); each entry's index is its position; the
 *    checkpoint is signed by the appliance key under its origin; the
 *    consistency proof from F to the checkpoint size verifies (RFC 9162
 *    §2.1.4);
 *  - entry times never go backwards;
 *  - quotas (entries and context): signed by the OEM root, bound to this
 *    appliance, quota ID imported once; jigs: the certificate's key ID
 *    equals jig_key_id;
 *  - tokens: signed by the appliance key, bound to this appliance,
 *    log_index equal to the entry index, under a quota imported earlier
 *    (in the entries, the context or the ledger), product, firmware, time
 *    and serial number within it, to a jig enrolled and not revoked; tokens
 *    per quota <= units + units returned (at most scrap_allowance);
 *  - install reports: signed by an enrolled jig, for a token of this
 *    appliance with the same device UID, by the jig the token was issued
 *    to; units returned only for FAILED, once per token, within
 *    scrap_allowance; failed units (tokens reported FAILED and never
 *    INSTALLED) per quota at most scrap_allowance;
 *  - no device UID with two tokens, no serial number twice under a quota;
 *  - receipts (LogReceiptImported): cosigned by the OEM root, covering
 *    entries logged before them;
 *  - tokens under a quota that requires attestation name one of its
 *    trusted attestation keys (attestation_key_id) and a 32-byte boot key
 *    hash;
 *  - attestation failures (LogAttestationFailed): well-formed (jig key ID
 *    32 bytes, UID 1..64, quota ID 16, reason 1..256 printable, key ID
 *    empty or 32), by an enrolled jig, under a quota imported earlier that
 *    requires attestation. They are counted per quota and per jig, not
 *    anomalies: a refused DUT (a clone, a wrong part) is information.
 * Tokens without an install report are listed ("unreported").
 *
 * With a ledger transaction (oem_reconcile_ledger), also: an appliance the
 * ledger has never seen must start at entry 0; the checkpoint size is at
 * least the ledger's last verified size L for it; the export starts at or
 * before L; the root of the first L entries equals the ledger's; counts,
 * device UIDs, serial numbers, jigs and install reports continue from the
 * ledger's state, and UIDs and serials are compared with those of every
 * appliance in the ledger. Entries below L were verified and counted when
 * the ledger took them: they are only hashed (the root at L proves they
 * are the same bytes).
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
#define OEM_CONTEXT_MAX 100000       /* context records (quotas + jigs) accepted */

struct oem_ledger_txn;               /* ledger.h */

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
	OEM_ANOM_CONSISTENCY,        /* prev_checkpoint, prev_frontier or the consistency
	                                proof do not verify */
	OEM_ANOM_ROLLBACK,           /* checkpoint smaller than the ledger's verified one */
	OEM_ANOM_FORK,               /* the first L entries do not give the ledger's root */
	OEM_ANOM_GAP,                /* export starts after the ledger's verified size */
	OEM_ANOM_UNKNOWN_APPLIANCE,  /* appliance new to the ledger, export not from 0 */
	OEM_ANOM_TIME,               /* an entry time before the previous one */
	OEM_ANOM_FAILURE_RATE,       /* failed units under a quota beyond scrap_allowance */
	OEM_ANOM_RECEIPT,            /* a logged receipt the OEM root did not cosign,
	                                or one covering entries not yet logged */
	OEM_ANOM_CONTEXT,            /* a context quota or jig the log never shows
	                                imported or enrolled */
};

struct oem_anomaly {
	enum oem_anomaly_kind kind;
	uint64_t index;              /* entry index, or OEM_NO_INDEX */
	char msg[OEM_ANOMALY_MSG];
};

/* One quota and what the log (and the ledger, when given) shows against
 * it: counts are totals from entry 0 with a ledger, else for this file. */
struct oem_quota_count {
	uint8_t quota_id[TALLY_QUOTA_ID_LEN];
	char product[TALLY_PRODUCT_MAX + 1];
	uint64_t units;
	uint64_t scrap_allowance;
	int64_t not_before, not_after;
	uint64_t import_index;       /* log index of the LogQuotaImported entry, or
	                                OEM_NO_INDEX when it is before the file and
	                                unknown (a context quota without a ledger) */
	uint64_t issued;             /* tokens in the log under this quota */
	uint64_t returned;           /* units returned by FAILED reports */
	uint64_t failed;             /* tokens reported FAILED and never INSTALLED */
	uint64_t reported;           /* tokens with at least one install report */
	uint64_t attestation_failed; /* LogAttestationFailed entries under it */
	int over_reported;           /* an OVER_QUOTA anomaly was recorded */
	int from_ledger;             /* the ledger knew it before this file */
	int pending;                 /* from the context, import not seen yet */
	uint64_t pending_use;        /* first token under it while pending, or OEM_NO_INDEX */
	uint8_t *env;                /* the quota envelope as the OEM signed it
	                                (owned by the result) */
	size_t env_len;
};

#define OEM_TOK_INSTALLED 0x01
#define OEM_TOK_FAILED 0x02
#define OEM_TOK_RETURNED 0x04

/* One token found in the log (or, in prior_tokens, in the ledger). */
struct oem_token_rec {
	uint64_t index;              /* its log index */
	size_t quota;                /* slot in quotas[], or SIZE_MAX if unknown */
	uint8_t quota_id[TALLY_QUOTA_ID_LEN];
	uint8_t jig_key_id[TALLY_KEY_ID_LEN];
	uint8_t uid[TALLY_UID_MAX];
	uint8_t uid_len;
	uint64_t serial;             /* assigned serial number, 0 = none */
	int64_t time;                /* issued_at */
	uint8_t installed;           /* INSTALLED reports seen */
	uint8_t failed;              /* FAILED reports seen */
	uint8_t returned;            /* 1 once a report returned its unit */
};

/* One jig of this appliance: from the ledger, the context or the entries. */
struct oem_jig_rec {
	uint8_t id[TALLY_KEY_ID_LEN];
	uint8_t spki[TALLY_SPKI_MAX];  /* the certificate's public key (DER SPKI) */
	size_t spki_len;
	uint64_t enrolled_index;     /* OEM_NO_INDEX: unknown (context, no ledger) */
	int revoked;
	int from_ledger;             /* the ledger knew it before this file */
	int pending;                 /* from the context, enrolment not seen yet */
	uint64_t pending_use;        /* first token/report naming it while pending */
	int changed;                 /* enrolled, revoked or attestation failures in this file */
	uint64_t attestation_failed; /* LogAttestationFailed entries naming it */
};

struct oem_reconcile_result {
	uint8_t appliance_key_id[TALLY_KEY_ID_LEN];
	char origin[TALLY_ORIGIN_MAX];        /* tally_checkpoint_origin(key ID) */
	uint8_t appliance_spki[TALLY_SPKI_MAX];
	size_t appliance_spki_len;
	uint32_t format_version;
	uint64_t first_index;                 /* F: first entry in the file */
	uint64_t entries;                     /* entries in the file */
	uint64_t tree_size;                   /* from the checkpoint, if it verified */
	uint8_t root[TALLY_HASH_LEN];         /* computed Merkle root of the entries */
	int checkpoint_ok;                    /* signature, size and root all match */
	char *checkpoint;                     /* the checkpoint note (NUL-terminated) */
	struct tally_merkle_frontier frontier; /* compact range after the last entry */
	int64_t last_time;                    /* time of the last entry (or the ledger's) */
	int ledger_known;                     /* ledger mode: the ledger had this appliance */
	uint64_t ledger_size;                 /* ... and had verified this many entries */
	struct oem_quota_count *quotas;
	size_t n_quotas;
	struct oem_token_rec *tokens;         /* new tokens, in log order */
	size_t n_tokens;
	struct oem_token_rec *prior_tokens;   /* ledger tokens this file's reports changed */
	size_t n_prior_tokens;
	struct oem_jig_rec *jigs;
	size_t n_jigs;
	uint64_t reports_installed, reports_failed, jigs_enrolled;
	uint64_t reports_unchecked;           /* reports for tokens before the file
	                                         (no ledger): signature checked only */
	uint64_t config_changes;              /* LogConfigChanged entries */
	uint64_t receipts;                    /* LogReceiptImported entries */
	uint64_t attestation_failed;          /* LogAttestationFailed entries checked in
	                                         the file (with a ledger: past its size) */
	uint64_t unreported;                  /* new tokens without any install report */
	struct oem_anomaly *anomalies;
	size_t n_anomalies;                   /* kept, at most OEM_ANOMALIES_MAX */
	uint64_t anomalies_total;             /* found, including those not kept */
	char error[OEM_ERROR_MSG];            /* detail when the call fails */
};

/* Verifies the export file at path against the OEM root public key
 * oem_root (not owned), on its own (no ledger), and fills *res (zeroed
 * first; release it with oem_reconcile_result_free even on error).
 * Returns 0 when the file could be read to its end, whatever anomalies
 * were found (res->anomalies_total says). Errors (res->error names what
 * failed): TALLY_ERR_IO (cannot open or read; errno kept),
 * TALLY_ERR_INVALID (truncated, a frame that is not an ExportRecord, no
 * header first, no checkpoint last, context after an entry, data after
 * the checkpoint; the appliance public key is not a P-256/Ed25519 SPKI;
 * a prev_frontier or consistency_proof hash not of 32 bytes, or more of
 * them than a tree can have), TALLY_ERR_TOO_LARGE (frame over
 * TALLY_FRAME_MAX, more than OEM_CONTEXT_MAX context records),
 * TALLY_ERR_UNSUPPORTED (format_version other than 1 or 2, format 1 not
 * from entry 0), TALLY_ERR_NOMEM. */
int oem_reconcile_file(const char *path, EVP_PKEY *oem_root,
    struct oem_reconcile_result *res);

/* The same against an open ledger write transaction lt (ledger.h; read
 * only here: oem_ledger_apply writes the result). lt == NULL is
 * oem_reconcile_file. Additional errors: TALLY_ERR_STORAGE (ledger read
 * failed or a ledger record is corrupt). */
int oem_reconcile_ledger(const char *path, EVP_PKEY *oem_root,
    struct oem_ledger_txn *lt, struct oem_reconcile_result *res);

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
 * by oem_reconcile_file. For runs without a ledger (the ledger compares
 * with everything it holds). Returns 0 or TALLY_ERR_NOMEM. */
int oem_reconcile_cross(struct oem_reconcile_result *res, size_t n);

#endif
