/*
 * writer.h - the writer thread (DESIGN.md §5): the only thread that opens
 * LMDB write transactions.
 *
 * The event loop submits requests that change state; the writer takes
 * everything queued, runs ONE write transaction for the whole batch (group
 * commit), signs tokens inside it, commits with sync, and only then hands
 * every request of the batch back to the loop, whose done() callback sends
 * the reply. A batch that fails to commit fails every request in it
 * (STORAGE_FULL or INTERNAL) and the writer reloads its caches from disk.
 */
#ifndef TALLYD_WRITER_H
#define TALLYD_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include "attest.h"

struct store;
struct writer;

enum wreq_kind {
	WREQ_ISSUE_TOKEN = 1,  /* jig: IssueToken */
	WREQ_REPORT_INSTALL,   /* jig: ReportInstall */
	WREQ_QUOTA_IMPORT,     /* control: quota import */
	WREQ_JIG_ENROLL,       /* control: jig enroll */
	WREQ_JIG_REVOKE,       /* control: jig revoke */
	WREQ_CHECKPOINT,       /* control: sign and store a checkpoint of the current log */
	WREQ_CONFIG,           /* start-up: log the configuration if it changed */
	WREQ_RECEIPT_IMPORT,   /* control: import an OEM receipt (cosigned checkpoint) */
};

struct wreq {
	enum wreq_kind kind;
	uint64_t conn_id;        /* the loop's connection, for routing the reply */
	uint64_t request_id;     /* echoed in the reply */
	uint8_t jig_key_id[32];  /* jig requests: the TLS peer's key ID */
	bool has_operator;       /* control requests: operator_uid is valid */
	uint32_t operator_uid;   /* control requests: SO_PEERCRED uid */

	union {
		struct {
			bool has_quota_id;
			uint8_t quota_id[16];
			char product[65];           /* NUL-terminated, used without quota_id */
			uint8_t uid[64];
			size_t uid_len;             /* 1..64 */
			uint8_t nonce[32];          /* already checked and consumed by the loop */
			bool has_firmware;
			uint8_t firmware[32];
			uint8_t attestation[TALLY_ATTESTATION_MAX]; /* the DUT's record, as sent */
			size_t attestation_len;     /* 0: none; checked in the writer */
		} issue;
		struct {
			uint8_t *env;               /* serialized report Envelope, owned (free()) */
			size_t len;
		} report;
		struct {
			uint8_t *env;               /* serialized quota Envelope, owned (free()) */
			size_t len;
		} quota;
		struct {
			uint8_t *cert;              /* DER X.509, owned (free()) */
			size_t len;
			char name[65];
		} enroll;
		struct {
			uint8_t jig_key_id[32];
		} revoke;
		struct {
			uint8_t *text;              /* the configuration file, owned (free()) */
			size_t len;
		} config;
		struct {
			char *text;                 /* the receipt note, owned (free()) */
			size_t len;
		} receipt;
	} in;

	/* Results, valid in done(). */
	int error;               /* Tally__ErrorCode; 0 (OK) on success */
	char message[192];       /* detail for error != 0 */
	uint64_t log_index;      /* the entry this request appended (token index, ...);
	                            config: 0 when the configuration was unchanged */
	bool reissued;           /* issue: existing token returned, no unit spent */
	bool unit_returned;      /* report: the failed unit went back to the quota */
	uint8_t id[32];          /* quota import: quota_id (16); enroll: jig key ID */
	uint8_t *out;            /* issue: serialized TokenBundle; checkpoint: note text
	                            (NUL-terminated); owned, freed by wreq_free */
	size_t out_len;
	uint64_t tree_size;      /* checkpoint, receipt: size covered */
	int64_t cosigned_at;     /* receipt: the OEM's cosignature time */
	uint8_t root[32];        /* checkpoint: root hash */

	/* Called on the loop thread after the batch committed (or failed). */
	void (*done)(struct wreq *r, void *arg);
	void *arg;
	struct wreq *next;       /* writer-internal */
};

/* A zeroed request of kind (calloc). NULL when out of memory. */
struct wreq *wreq_new(enum wreq_kind kind);

/* Frees r and everything it owns (in.*.env/cert, out). NULL is a no-op. */
void wreq_free(struct wreq *r);

/* Starts the writer thread on an open store. key is the appliance key
 * (signs tokens and checkpoints; not owned, must outlive the writer);
 * oem_root verifies quotas; jig_ca_file is the PEM CA jig certificates
 * must chain to. base is the loop's event_base (pthreads enabled with
 * evthread_use_pthreads() before it was made): done() callbacks run there.
 * Binds the store to key (store_check_key) and appends a Start entry
 * before returning; on a full store (no room for that entry) it starts
 * anyway, marks the store full (store_is_full) and serves what needs no
 * space (status, reissues, refusals). Errors: TALLY_ERR_NOMEM, TALLY_ERR_STORAGE,
 * TALLY_ERR_STORAGE_FULL, TALLY_ERR_IO (CA file), TALLY_ERR_MISMATCH (the
 * store belongs to another appliance key), TALLY_ERR_CRYPTO. */
int writer_start(struct store *st, EVP_PKEY *key, EVP_PKEY *oem_root,
    const char *jig_ca_file, struct event_base *base, struct writer **out);

/* Queues r (ownership passes to the writer until done(r, arg) is called,
 * after which the callee owns it and frees it with wreq_free).
 * Thread-safe, never blocks on disk. */
void writer_submit(struct writer *w, struct wreq *r);

/* Requests queued but not yet committed (for status and backpressure). */
size_t writer_pending(struct writer *w);

/* Is the jig with key ID id enrolled and not revoked? Reads the writer's
 * committed view; thread-safe. 0 ok, JIG_NOT_ENROLLED or JIG_REVOKED codes
 * (Tally__ErrorCode). */
int writer_jig_status(struct writer *w, const uint8_t id[32]);

/* Finishes the queue, appends a Stop entry (reason, e.g. "SIGTERM"),
 * commits, joins the thread and frees w. Pending done() callbacks run
 * before it returns if the loop is still dispatching; otherwise they are
 * freed without a call. Call it on the loop thread (from a callback) or
 * after the loop returned: "still dispatching" means that neither
 * event_base_loopexit nor event_base_loopbreak was called on base since
 * its loop started. Requests submitted while it stops get INTERNAL. */
void writer_stop(struct writer *w, const char *reason);

/* Counters since writer_start, for status, metrics and tests. */
struct writer_stats {
	uint64_t batches;          /* write transactions run for requests */
	uint64_t failed_batches;   /* of which aborted (STORAGE_FULL / INTERNAL) */
	uint64_t requests;         /* requests handed back */
	uint64_t tokens_issued;    /* new tokens committed (reissues not counted) */
	uint64_t largest_batch;    /* most requests in one transaction */
};

/* Copies the counters into *out. Thread-safe. */
void writer_stats(struct writer *w, struct writer_stats *out);

#endif
