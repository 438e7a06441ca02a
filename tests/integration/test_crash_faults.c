/* test_crash_faults.c - the short form of the crash-consistency fault
 * harness (tests/fault/faultrun.h; the long form is `make faults`): a
 * tallyd built with -DTALLY_FAULT_INJECTION ($TALLY_BUILD/tallyd-faults)
 * under load from 3 jigs, killed with SIGKILL SHORT_KILLS times (at each
 * stage of the write path in turn, and after random delays), restarted
 * and checked after every kill: received tokens in the log byte for byte,
 * counters equal to the log, no index gap, the root signed by the
 * checkpoint, checkpoints consistent, the same token for a UID asked
 * again. At most SHORT_SECONDS of rounds. Real tallyd, TLS and LMDB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/fault/faultrun.h"

#define SHORT_KILLS 40
#define SHORT_SECONDS 40

static void
test_kill_points(void **state)
{
	const char *build = getenv("TALLY_BUILD");
	char bin[256];
	struct fr_opts o = { .kills = SHORT_KILLS, .jigs = 3, .max_seconds = SHORT_SECONDS };
	struct fr_result res;
	int r;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/tallyd-faults", build != NULL ? build : "build/check");
	if (access(bin, X_OK) != 0)
		fail_msg("%s is missing: it is built with the tests (mk/faults.mk)", bin);
	o.tallyd = bin;
	r = fr_run(&o, &res);
	print_message("faults: tried=%u failed=%u (%.1f s; %u not at their stage point; "
	    "%llu tokens in the log, %llu entries, %llu reports, %llu checkpoints, "
	    "%llu receipts, %llu UIDs asked again)\n", res.tried, res.failed, res.seconds,
	    res.unreached, (unsigned long long)res.tokens_in_log,
	    (unsigned long long)res.entries, (unsigned long long)res.reports,
	    (unsigned long long)res.checkpoints, (unsigned long long)res.receipts,
	    (unsigned long long)res.reasked);
	for (unsigned i = 0; i < FR_STAGES; i++)
		print_message("faults: stage %s: %u kills\n", fr_stage_name(i), res.by_stage[i]);
	assert_int_equal(r, 0);
	assert_int_equal(res.failed, 0);
	assert_true(res.tried >= 14);   /* every stage at least once, at worst */
	assert_true(res.tokens_in_log > 0);
	assert_true(res.reasked > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_points),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
