/*
 * fault.h - test-only fault injection: kill points on tallyd's write path.
 *
 * TALLY_FAULT("stage") marks a point. In a normal build (release, `make
 * check`'s tallyd) it compiles to nothing. Built with
 * -DTALLY_FAULT_INJECTION (mk/faults.mk: `make faults`, the tallyd-faults
 * binary), the point reads the environment variable TALLY_FAULT, of the
 * form "STAGE:N" (STAGE at most 31 bytes, N 1..2^31-1): the Nth time the
 * process passes a point named STAGE, it sends itself SIGKILL (no
 * handler, no atexit, no LMDB commit: a power cut as far as the store can
 * tell). Any other value, or none, means no kill. Each point counts its
 * own passes with a function-local static counter; a stage name used at
 * several points counts each point separately.
 *
 * Stages (docs/storage.md "Crash consistency"):
 *   sign        issue.c: a token was signed, before its log entry is put
 *   batch       writer.c: one request of a batch ran, before the next
 *   flush       writer.c: the batch's records written, before the commit
 *   commit      writer.c: the batch committed, before its replies go out
 *   checkpoint  issue_ctl.c: a checkpoint note was signed, before it is put
 *   receipt     issue_receipt.c: a receipt's tokens were reconciled, before
 *               its entry is appended
 *   export      ctl_export.c: an export is streaming (one entry sent)
 *
 * This is test code: the counters are the only mutable state outside
 * main, and only in a binary built for fault tests.
 */
#ifndef TALLYD_FAULT_H
#define TALLYD_FAULT_H

#ifdef TALLY_FAULT_INJECTION

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Passes point stage whose counter is *n: SIGKILL on the Nth pass when
 * TALLY_FAULT is "stage:N". */
static inline void
tally_fault_pass(const char *stage, atomic_ulong *n)
{
	const char *spec = getenv("TALLY_FAULT"), *colon;
	size_t len = strlen(stage);
	unsigned long want, now;
	char *end;

	if (spec == NULL || (colon = strchr(spec, ':')) == NULL ||
	    (size_t)(colon - spec) != len || memcmp(spec, stage, len) != 0)
		return;
	want = strtoul(colon + 1, &end, 10);
	now = atomic_fetch_add(n, 1) + 1;
	if (*end == '\0' && want > 0 && now == want)
		kill(getpid(), SIGKILL);
}

#define TALLY_FAULT(stage) do {                                   \
		static atomic_ulong tally_fault_n_;                       \
		tally_fault_pass((stage), &tally_fault_n_);               \
	} while (0)

#else

#define TALLY_FAULT(stage) do { } while (0)

#endif

#endif
