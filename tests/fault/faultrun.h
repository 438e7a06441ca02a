/*
 * faultrun.h - the crash-consistency fault harness (issue 5): a real
 * tallyd built with -DTALLY_FAULT_INJECTION (daemon/fault.h) under load
 * from several jigs, killed with SIGKILL at many points, restarted and
 * checked after every kill.
 *
 * One kill point (a round):
 *   1. tallyd starts, with TALLY_FAULT=STAGE:N for a stage kill or
 *      without it for a random-delay kill;
 *   2. every jig (one thread each) pipelines Challenge + IssueToken for
 *      fresh device UIDs and reports each new token (INSTALLED, or FAILED
 *      for one in eight, which returns units within the scrap allowance);
 *      a control thread asks for checkpoints, imports OEM receipts of
 *      them and streams log exports;
 *   3. tallyd dies at the stage point, or gets SIGKILL after a random
 *      delay (also when its stage point was not reached in time);
 *   4. the load stops, tallyd starts again (no fault) and the checks run
 *      (fr_check.c): every token a jig received is in a full log export
 *      with the same bytes; one token per UID, token log_index = entry
 *      index, no index gap; the export reconciles with no anomaly and its
 *      checkpoint signs the recomputed root; quota issued/returned and
 *      status counters equal what the log says; every install report
 *      tallyd acknowledged is in the log; every checkpoint seen before
 *      (answered by tallyd or exported) is consistent with the new one
 *      (RFC 9162 consistency proof from tallyd, the stored note byte for
 *      byte); UIDs asked again get the same bytes with reissued set.
 *
 * Return conventions as in harness.h: 0 or a negative tally_err.
 */
#ifndef TALLY_FAULTRUN_H
#define TALLY_FAULTRUN_H

#include <stdbool.h>
#include <stdint.h>

#define FR_STAGES 8   /* the stages of daemon/fault.h, then "random" */

struct fr_opts {
	unsigned kills;          /* kill points to try (rounds), >= 1 */
	unsigned jigs;           /* jig threads, 1..8 */
	const char *tallyd;      /* the fault-enabled tallyd binary (path) */
	uint32_t seed;           /* 0: from the clock */
	unsigned max_seconds;    /* stop starting rounds after this; 0 = no limit */
	bool verbose;            /* one line per round on stderr */
	bool stop_on_failure;    /* end at the first failed check */
};

struct fr_result {
	unsigned tried;                 /* kill points tried */
	unsigned failed;                /* of which a check failed afterwards */
	unsigned by_stage[FR_STAGES];   /* kills per stage (last: random delay) */
	unsigned unreached;             /* stage kills whose point was not reached
	                                   in time: killed at a random moment instead */
	uint64_t tokens_received;       /* tokens the jigs got (reissues included) */
	uint64_t tokens_in_log, entries;/* at the end */
	uint64_t reports, checkpoints, receipts;  /* acknowledged by tallyd */
	uint64_t reasked;               /* UIDs asked again, same token back */
	double seconds;                 /* wall time of the rounds and checks */
};

/* Name of stage i (< FR_STAGES): "sign", ..., "random". */
const char *fr_stage_name(unsigned i);

/* Runs o->kills rounds (fewer when max_seconds is reached) in a fresh
 * harness folder (th_init with o->jigs jigs, removed afterwards) and
 * fills *res; failures are described on stderr as "# fault: ..." lines.
 * Returns 0 when every round was tried and no check failed,
 * TALLY_ERR_MISMATCH when a check failed, or the error that stopped the
 * harness itself (TALLY_ERR_INVALID for bad options, and those of
 * th_init / th_start). */
int fr_run(const struct fr_opts *o, struct fr_result *res);

#endif
