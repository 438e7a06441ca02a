/*
 * th_issue.h - helpers shared by the token-issuance integration tests
 * (concurrency, restart, crash, quota import) on top of harness.h: the
 * jig's real TLS client (jig-firmware/client.h) connected to the
 * harness's tallyd, pipelined Challenge + IssueToken batches, quota
 * counters and log size through the control socket, a log export written
 * to a file the way `tallyctl log export` writes it, and the token
 * entries read back out of such a file.
 *
 * Return conventions as in harness.h: 0 or a negative tally_err.
 */
#ifndef TALLY_TH_ISSUE_H
#define TALLY_TH_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "jig-firmware/client.h"
#include "log.pb-c.h"

/* Most requests th_issue_pipelined sends at once: tallyd keeps at most
 * 64 outstanding challenges and 64 requests in flight per connection. */
#define TH_PIPELINE_MAX 64

/* Connects jig i of t (its certificate and key, pinning t's appliance key
 * ID) to 127.0.0.1:port (0 = t->port) with jig_client_connect. *out:
 * jig_client_close. Errors: TALLY_ERR_INVALID (i >= t->njigs) and those
 * of jig_client_connect. */
int th_jig_connect(struct th *t, unsigned i, uint16_t port, struct jig_client **out);

/* Outcome of one IssueToken of a batch. */
struct th_issue_res {
	int code;            /* Tally__ErrorCode; -1 while no answer came */
	uint8_t *bundle;     /* serialized TokenBundle when code == 0 (free()) */
	size_t bundle_len;
	bool reissued;
};

/* Pipelines n (1..TH_PIPELINE_MAX) Challenges, receives their nonces,
 * then pipelines n IssueTokens for product (no firmware digest), UID k
 * being the uid_len (1..64) bytes at uids + k * uid_len, and receives
 * the answers in whatever order they come, matched by request_id into
 * res[k] (res[k].code stays -1 for a request never answered). Returns 0
 * when all n were answered; otherwise the first error of the link
 * (res keeps what arrived before it: call th_issue_res_clear in any case).
 * Errors: TALLY_ERR_INVALID (arguments, a Challenge refused, or an answer
 * matching no request), and those of jig_client_send / jig_client_recv. */
int th_issue_pipelined(struct jig_client *c, const char *product,
    const uint8_t *uids, size_t uid_len, size_t n, struct th_issue_res *res);

/* Frees the bundles of res[0..n) and resets each entry to code -1. */
void th_issue_res_clear(struct th_issue_res *res, size_t n);

/* The token Envelope (bytes, exactly as signed) inside a serialized
 * TokenBundle: *env (free()), *env_len. Errors: TALLY_ERR_INVALID,
 * TALLY_ERR_NOMEM. */
int th_bundle_token(const uint8_t *bundle, size_t len, uint8_t **env, size_t *env_len);

/* QuotaInfo of quota_id (16 bytes) from `quota list`: *units, *issued
 * (either may be NULL). Errors: TALLY_ERR_NOT_FOUND, TALLY_ERR_INVALID
 * (refused or not a quota list), and those of th_ctl. */
int th_quota_counts(struct th *t, const uint8_t quota_id[16], uint64_t *units,
    uint64_t *issued);

/* StatusResponse.log_size. Errors as th_quota_counts. */
int th_log_size(struct th *t, uint64_t *size);

/* Streams a log export through the control socket into path (mode 0600):
 * frames of a 4-byte big-endian length and an ExportRecord, as tallyctl
 * log export writes them. *entries (may be NULL) receives the number of
 * entries. Errors: TALLY_ERR_IO, TALLY_ERR_INVALID (refused, or records
 * out of order), and those of th_ctl_send / th_ctl_recv. */
int th_export(struct th *t, const char *path, uint64_t *entries);

/* One LogTokenIssued entry of an export. */
struct th_log_token {
	uint64_t index;        /* LogEntry.index */
	uint8_t *env;          /* the token Envelope bytes (free()) */
	size_t env_len;
	uint8_t uid[64];       /* device UID from the token payload */
	size_t uid_len;
	uint64_t token_index;  /* Token.log_index inside the envelope */
};

struct th_log_tokens {
	struct th_log_token *v;
	size_t n;
	uint64_t entries;      /* log entries in the file, tokens or not */
};

/* Reads every entry of the export file at path, checks that entry k
 * has LogEntry.index k (no gap, the export starting at 0), and keeps the
 * tokens (payload parsed without checking the signature:
 * oem_reconcile_file does that). Errors: TALLY_ERR_IO, TALLY_ERR_INVALID
 * (a frame that is not an ExportRecord or LogEntry, an index out of
 * place, a token payload that does not parse),
 * TALLY_ERR_NOMEM. Release with th_log_tokens_free, even on error. */
int th_export_tokens(const char *path, struct th_log_tokens *out);

/* Calls fn(entry, ctx) for every log entry of the export file at path, in
 * order, after checking that entry k has LogEntry.index k (no gap, the
 * export starting at 0); other records are skipped. Stops at the first
 * non-zero return of fn and returns it. *entries (may be NULL) receives
 * the number of entries read. Errors: TALLY_ERR_IO, TALLY_ERR_INVALID (a
 * frame that is not an ExportRecord or LogEntry, an index out of place),
 * TALLY_ERR_NOMEM, or fn's. */
int th_export_each_entry(const char *path,
    int (*fn)(const Tally__LogEntry *e, void *ctx), void *ctx, uint64_t *entries);
void th_log_tokens_free(struct th_log_tokens *lt);

/* Stops tallyd with SIGTERM (20 s at most) and checks it went well:
 * exit status 0 (so no leak report from a sanitizer build) and no
 * sanitizer report in tallyd.log from this or any earlier run of the
 * test. Returns 0, or TALLY_ERR_MISMATCH with the reason on stderr. */
int th_stop_clean(struct th *t);

#endif
