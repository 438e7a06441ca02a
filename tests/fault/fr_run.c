/* fr_run.c - the rounds of the fault harness: start, load, kill, restart,
 * check; see faultrun.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "err.h"
#include "tls.h"
#include "util.h"
#include "tests/fault/fr_int.h"
#include "tests/harness/th_issue.h"

#define STAGE_WAIT_MS 4000   /* for a stage point to be reached */
#define RECONCILE_EVERY 10   /* rounds; and once more after the last */

/* The stages of daemon/fault.h with the range of N tried for each, then
 * the random-delay kill (delay range in milliseconds). */
static const struct {
	const char *name;
	unsigned lo, hi;
} stages[FR_STAGES] = {
	{ "sign", 1, 40 }, { "batch", 1, 40 }, { "flush", 2, 12 },
	{ "commit", 2, 12 }, { "checkpoint", 1, 4 }, { "receipt", 1, 3 },
	{ "export", 1, 80 }, { "random", 5, 250 },
};

const char *
fr_stage_name(unsigned i)
{
	return i < FR_STAGES ? stages[i].name : "?";
}

/* Was this tallyd's end a SIGKILL (ours or its own)? */
static bool
killed(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* Waits up to ms for tallyd to kill itself; reaps it. -1 when it lives. */
static int
wait_death(struct th *t, unsigned ms, int *status)
{
	for (unsigned waited = 0; waited <= ms; waited += 5) {
		pid_t p = waitpid(t->pid, status, WNOHANG);

		if (p == t->pid || (p < 0 && errno == ECHILD)) {
			t->pid = 0;
			return 0;
		}
		fr_sleep_ms(5);
	}
	return -1;
}

/* Load on, tallyd killed at stage s, load off. */
static int
loaded_kill(struct fr *fr, unsigned s)
{
	pthread_t tid[FR_JIGS_MAX + 1];
	unsigned n = 0, i;
	int status = 0;

	fr->port = fr->t->port;
	atomic_store(&fr->stop, false);
	for (i = 0; i < fr->o->jigs; i++)
		if (pthread_create(&tid[n], NULL, fr_jig_main, &fr->jig[i]) == 0)
			n++;
	if (pthread_create(&tid[n], NULL, fr_ctl_main, fr) == 0)
		n++;
	if (s == FR_STAGES - 1) {
		fr_sleep_ms(fr_rand(stages[s].lo, stages[s].hi));
		status = th_kill(fr->t, SIGKILL);
	} else if (wait_death(fr->t, STAGE_WAIT_MS, &status) != 0) {
		fr->res->unreached++;
		status = th_kill(fr->t, SIGKILL);
	}
	atomic_store(&fr->stop, true);
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	if (n != fr->o->jigs + 1) {
		fprintf(stderr, "# fault: load threads did not start\n");
		return TALLY_ERR_NOMEM;
	}
	if (!killed(status)) {
		fprintf(stderr, "# fault: tallyd ended otherwise than by SIGKILL (status %#x)\n",
		    (unsigned)status);
		return TALLY_ERR_MISMATCH;
	}
	return 0;
}

/* One kill point at stage s, the restart and the checks (with the
 * reconcile when asked). */
static int
one_round(struct fr *fr, unsigned s, bool reconcile)
{
	struct th *t = fr->t;
	int r, status;

	if (s < FR_STAGES - 1)
		snprintf(t->extra_env, sizeof(t->extra_env), "TALLY_FAULT=%s:%u",
		    stages[s].name, fr_rand(stages[s].lo, stages[s].hi));
	else
		t->extra_env[0] = '\0';
	r = th_start(t);
	if (r == TALLY_ERR_CLOSED && s < FR_STAGES - 1) {
		/* the stage point came while starting: a kill point too */
		status = th_kill(t, SIGKILL);
		r = status == -1 || killed(status) ? 0 : TALLY_ERR_MISMATCH;
	} else if (r == 0)
		r = loaded_kill(fr, s);
	t->extra_env[0] = '\0';
	fr->res->by_stage[s]++;
	fr->res->tried++;
	if (r != 0 && r != TALLY_ERR_MISMATCH)
		return r;
	if (th_start(t) != 0) {
		fprintf(stderr, "# fault: tallyd did not start again after the kill\n");
		return TALLY_ERR_MISMATCH;
	}
	if (fr_check(fr, reconcile) != 0)
		r = TALLY_ERR_MISMATCH;
	th_kill(t, SIGKILL);
	return r;
}

/* Enrolment, quota and the jigs' TLS contexts. */
static int
prepare(struct fr *fr)
{
	struct th_quota q = { .product = FR_PRODUCT, .units = FR_UNITS,
	    .scrap_allowance = FR_SCRAP };
	uint8_t *env = NULL;
	size_t len;
	int r;

	for (unsigned i = 0; i < fr->o->jigs; i++) {
		fr->jig[i] = (struct fr_jig){ .fr = fr, .id = i };
		if (th_enroll(fr->t, i) != 0 ||
		    tally_tls_client_ctx(fr->t->jig[i].cert_path, fr->t->jig[i].key,
		    fr->t->appliance_key_id, &fr->jig[i].ctx) != 0)
			return TALLY_ERR_INVALID;
	}
	if ((r = th_make_quota(fr->t, &q, fr->qid, &env, &len)) != 0)
		return r;
	r = th_import_code(fr->t, env, len) == 0 ? 0 : TALLY_ERR_INVALID;
	free(env);
	return r;
}

static void
fr_free(struct fr *fr)
{
	for (unsigned i = 0; i < FR_JIGS_MAX; i++) {
		for (size_t k = 0; k < fr->jig[i].n_tok; k++)
			free(fr->jig[i].tok[k].env);
		free(fr->jig[i].tok);
		SSL_CTX_free(fr->jig[i].ctx);
	}
	fr_notes_clear(fr);
	th_cleanup(fr->t);
}

/* Rounds until o->kills or the time limit; half at a stage (in turn),
 * half after a random delay. */
static int
rounds(struct fr *fr, uint64_t t0)
{
	unsigned next_stage = 0, s;
	int r, ret = 0;

	for (unsigned i = 0; i < fr->o->kills; i++) {
		if (fr->o->max_seconds != 0 &&
		    tally_mono_ns() - t0 > (uint64_t)fr->o->max_seconds * 1000000000u)
			break;
		if (fr_rand(0, 1) == 0)
			s = FR_STAGES - 1;
		else
			s = next_stage++ % (FR_STAGES - 1);
		r = one_round(fr, s, i % RECONCILE_EVERY == RECONCILE_EVERY - 1);
		if (fr->o->verbose)
			fprintf(stderr, "# round %u: %s kill: %s, %llu tokens in the log\n", i + 1,
			    stages[s].name, r == 0 ? "checks passed" : "FAILED",
			    (unsigned long long)fr->res->tokens_in_log);
		if (r == TALLY_ERR_MISMATCH) {
			fr->res->failed++;
			ret = r;
			if (fr->o->stop_on_failure)
				break;
		} else if (r != 0)
			return r;
	}
	return ret;
}

int
fr_run(const struct fr_opts *o, struct fr_result *res)
{
	/* jigs pipeline as fast as tallyd answers: no per-jig rate limit */
	struct th_opts to = { .njigs = o->jigs, .extra_config = "rate_limit = 0\n" };
	struct fr fr = { .o = o, .res = res };
	uint64_t t0 = tally_mono_ns();
	int r;

	memset(res, 0, sizeof(*res));
	if (o->kills == 0 || o->jigs == 0 || o->jigs > FR_JIGS_MAX || o->tallyd == NULL)
		return TALLY_ERR_INVALID;
	if ((fr.t = calloc(1, sizeof(*fr.t))) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = th_init(fr.t, &to)) != 0)
		goto out;
	snprintf(fr.t->tallyd_path, sizeof(fr.t->tallyd_path), "%s", o->tallyd);
	fr.t->quiet = true;
	if ((r = th_start(fr.t)) != 0 || (r = prepare(&fr)) != 0)
		goto out;
	th_kill(fr.t, SIGKILL);
	r = rounds(&fr, t0);
	if (r == 0 || r == TALLY_ERR_MISMATCH) {
		if (th_start(fr.t) != 0 || fr_check(&fr, true) != 0) {
			fprintf(stderr, "# fault: the final check (with the reconcile) failed\n");
			fr.res->failed++;
			r = TALLY_ERR_MISMATCH;
		}
		if (th_stop_clean(fr.t) != 0) {
			fprintf(stderr, "# fault: tallyd did not stop cleanly at the end, or a "
			    "sanitizer reported something in tallyd.log\n");
			r = TALLY_ERR_MISMATCH;
		}
	}
 out:
	for (unsigned i = 0; i < o->jigs; i++) {
		res->tokens_received += fr.jig[i].received;
		res->reports += fr.jig[i].reports;
	}
	res->checkpoints = fr.checkpoints;
	res->receipts = fr.receipts;
	res->seconds = (double)(tally_mono_ns() - t0) / 1e9;
	fr_free(&fr);
	return r;
}
