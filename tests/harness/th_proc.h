/*
 * th_proc.h - runs a program of the build (tally-dutsim, tally-jig, ...)
 * as a child of the test with a time limit and captures its output,
 * leaving no process behind: the child gets its own session (setsid) and
 * SIGKILL when the test process dies (PR_SET_PDEATHSIG); when its time is
 * up it gets SIGTERM, then SIGKILL; whatever is still alive in its
 * session after it ended (grandchildren it started and did not end) is
 * killed and counted.
 *
 * Return conventions as in harness.h: 0 or a negative tally_err.
 */
#ifndef TALLY_TH_PROC_H
#define TALLY_TH_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/* Grace between SIGTERM and SIGKILL when a run overstays, milliseconds:
 * longer than tally-dutsim's own 10 s wait for its COMMAND. */
#define TH_PROC_TERM_GRACE_MS 15000

/* Output files larger than this are an error (bytes). */
#define TH_PROC_OUTPUT_MAX (4u << 20)

struct th_proc_res {
	pid_t pid;          /* the child's process ID (sanitizer reports name it) */
	int status;         /* its waitpid status */
	bool timed_out;     /* it overstayed timeout_ms and was stopped */
	unsigned leftover;  /* processes of its session alive after it ended (killed) */
	long ms;            /* wall time it ran, milliseconds */
	char *out, *err;    /* its stdout and stderr, NUL-terminated */
};

/* Runs argv (argv[0] a path; NULL-terminated) with stdin from /dev/null
 * and stdout and stderr into dir/proc.out and dir/proc.err (removed
 * afterwards), waits up to timeout_ms (> 0) for it to exit, and fills
 * *res (release with th_proc_res_free, also on error). The environment is
 * the test's. Errors: TALLY_ERR_IO (files, fork, or reading the output
 * back), TALLY_ERR_TOO_LARGE (output over TH_PROC_OUTPUT_MAX),
 * TALLY_ERR_INVALID (argv empty, timeout_ms <= 0). A program that cannot
 * be executed exits 127 with the reason in res->err. */
int th_proc_run(const char *dir, const char *const *argv, int timeout_ms,
    struct th_proc_res *res);

void th_proc_res_free(struct th_proc_res *res);

/* The exit code (0..255) of a status, or -1 when it died of a signal. */
int th_proc_exit_code(int status);

#endif
