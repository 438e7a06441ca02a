/*
 * th_log.h - helpers for the Merkle log integration tests on top of
 * harness.h: a log export read into memory record by record (format 2
 * order checked, the RFC 9162 root recomputed with O(log n) memory), a
 * checkpoint note verified with the appliance key, tallyd's resident
 * memory, and the real tallyctl binary run against the harness's tallyd.
 *
 * Return conventions as in harness.h: 0 or a negative tally_err; a
 * failed check also prints one "# ..." line on stderr saying which.
 */
#ifndef TALLY_TH_LOG_H
#define TALLY_TH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* What one export stream held. */
struct th_export_seen {
	Tally__ExportHeader *hdr;         /* owned */
	uint64_t quotas, jigs, entries;   /* records of each kind */
	uint64_t bytes;                   /* entry bytes */
	char *note;                       /* the final checkpoint (free()) */
	uint8_t root[32];                 /* RFC 9162 root of [0, first_index + entries),
	                                     from prev_frontier and the entries */
};

/* Sends LogExportRequest{full} on a new control connection and reads the
 * whole answer into *s, checking: every response OK with an ExportRecord,
 * `last` only on the final one; the order header (format 2), quotas, jigs,
 * entries (LogEntry.index = first_index, first_index + 1, ...), checkpoint;
 * entry_count entries; the checkpoint signed by the appliance key for the
 * recomputed root of first_index + entries entries. When pause_ms > 0 it
 * stops reading for pause_ms after the header and stores tallyd's VmRSS
 * (kB) then in *rss_kb. Release *s with th_export_seen_free, also on error.
 * Errors: TALLY_ERR_INVALID (refused, order, counts, indexes),
 * TALLY_ERR_SIGNATURE, TALLY_ERR_MISMATCH (root), and those of th_ctl_*. */
int th_export_read(struct th *t, bool full, int pause_ms, long *rss_kb,
    struct th_export_seen *s);
void th_export_seen_free(struct th_export_seen *s);

/* Verifies note (C2SP checkpoint) with t's appliance key and origin; its
 * tree size and root into *size and root. Errors: those of
 * tally_checkpoint_verify, TALLY_ERR_INVALID (note NULL). */
int th_note_verify(struct th *t, const char *note, uint64_t *size, uint8_t root[32]);

/* VmRSS of process pid in kB (/proc/PID/status), or -1. */
long th_rss_kb(pid_t pid);

/* Runs $TALLY_BUILD/tallyctl -s t->sock_path args... (NULL-terminated, at
 * most 12) with stdout and stderr into files of t->dir, read back into
 * *out and *err (NUL-terminated, free()). Returns its exit status
 * (0..255), or a negative tally_err when it could not be run or read. */
int th_run_tallyctl(struct th *t, char **out, char **err, const char *const *args);

#endif
