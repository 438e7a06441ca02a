/* main.c - tally-faults: the crash-consistency fault harness, long form
 * (`make faults`); see faultrun.h. Prints one line per stage and ends
 * with "faults: tried=N failed=M". Exit 0 when none failed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "tests/fault/faultrun.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: tally-faults --tallyd PATH [--kills N] [--jigs N] "
	    "[--max-seconds S] [--verbose] [--stop-on-failure]\n"
	    "  PATH: a tallyd built with -DTALLY_FAULT_INJECTION (make faults)\n"
	    "  environment: TALLY_BUILD (tallyctl and the rest), default build/check\n");
}

/* A number in 1..max, or 0. */
static unsigned
num(const char *s, unsigned max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	return *s != '\0' && *end == '\0' && v >= 1 && v <= max ? (unsigned)v : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tallyd", required_argument, NULL, 't' },
		{ "kills", required_argument, NULL, 'k' },
		{ "jigs", required_argument, NULL, 'j' },
		{ "max-seconds", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "stop-on-failure", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fr_opts o = { .kills = 300, .jigs = 4 };
	struct fr_result res;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:k:j:s:vxh", opts, NULL)) != -1) {
		switch (c) {
		case 't': o.tallyd = optarg; break;
		case 'k': o.kills = num(optarg, 100000); break;
		case 'j': o.jigs = num(optarg, 8); break;
		case 's': o.max_seconds = num(optarg, 86400); break;
		case 'v': o.verbose = true; break;
		case 'x': o.stop_on_failure = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.tallyd == NULL || o.kills == 0 || o.jigs == 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	r = fr_run(&o, &res);
	for (unsigned i = 0; i < FR_STAGES; i++)
		printf("faults: stage %-10s %u kills\n", fr_stage_name(i), res.by_stage[i]);
	printf("faults: %u stage kills whose point was not reached in time (killed anyway)\n",
	    res.unreached);
	printf("faults: %llu tokens received, %llu in the log, %llu log entries, "
	    "%llu reports, %llu checkpoints, %llu receipts, %llu UIDs asked again\n",
	    (unsigned long long)res.tokens_received, (unsigned long long)res.tokens_in_log,
	    (unsigned long long)res.entries, (unsigned long long)res.reports,
	    (unsigned long long)res.checkpoints, (unsigned long long)res.receipts,
	    (unsigned long long)res.reasked);
	printf("faults: %.1f s\n", res.seconds);
	printf("faults: tried=%u failed=%u\n", res.tried, res.failed);
	if (r != 0 && r != TALLY_ERR_MISMATCH)
		fprintf(stderr, "tally-faults: the harness failed: %s\n", tally_strerror(r));
	return r == 0 ? 0 : 1;
}
