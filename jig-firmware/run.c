/* run.c - connecting with retries and serving a batch of DUTs, see run.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "err.h"
#include "log.h"
#include "run.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 8000

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Errors another try may cure: the appliance not up yet, a dropped link. */
static int
retryable(int r)
{
	return r == TALLY_ERR_IO || r == TALLY_ERR_TIMEOUT ||
	    r == TALLY_ERR_CLOSED || r == TALLY_ERR_NOT_FOUND;
}

/* One connection plus Hello. */
static int
connect_once(const struct jig_setup *s, struct jig_client **out,
    Tally__Response **hello, char *errmsg, size_t cap)
{
	struct jig_client *c = NULL;
	Tally__Response *resp = NULL;
	struct jig_refusal ref;
	char code[32];
	int r;

	r = jig_client_connect_ctx(s->cfg.host, s->cfg.port, s->tls,
	    s->cfg.appliance_key_id, &c);
	if (r == TALLY_ERR_IO) {
		snprintf(errmsg, cap, "appliance %s:%u: %s", s->cfg.host,
		    (unsigned)s->cfg.port, strerror(errno));
		return r;
	}
	if (r == 0)
		r = jig_client_set_timeout(c, s->cfg.timeout_s);
	if (r == 0)
		r = jig_client_hello(c, JIG_SOFTWARE, &resp, &ref);
	if (r == JIG_CLIENT_REFUSED) {
		snprintf(errmsg, cap, "appliance %s:%u refused this jig: %s (%s)",
		    s->cfg.host, (unsigned)s->cfg.port,
		    jig_error_name(ref.code, code, sizeof(code)), ref.message);
		r = TALLY_ERR_PERM;
	} else if (r == TALLY_ERR_MISMATCH) {
		snprintf(errmsg, cap, "appliance %s:%u: its key is not the "
		    "pinned appliance_key_id", s->cfg.host, (unsigned)s->cfg.port);
	} else if (r != 0) {
		snprintf(errmsg, cap, "appliance %s:%u: %s", s->cfg.host,
		    (unsigned)s->cfg.port, tally_strerror(r));
	}
	if (r != 0) {
		jig_client_close(c);
		return r;
	}
	*out = c;
	if (hello != NULL)
		*hello = resp;
	else
		tally__response__free_unpacked(resp, NULL);
	return 0;
}

int
jig_connect_retry(const struct jig_setup *s, unsigned attempts,
    struct jig_client **out, Tally__Response **hello, char *errmsg, size_t cap)
{
	unsigned try, wait = BACKOFF_FIRST_MS;
	int r;

	for (try = 0; ; try++) {
		r = connect_once(s, out, hello, errmsg, cap);
		if (r == 0 || !retryable(r) || try >= attempts)
			return r;
		log_warn("%s; trying again in %u ms (%u of %u)", errmsg, wait,
		    try + 1, attempts);
		sleep_ms(wait);
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
}

void
jig_unit_line(const struct jig_unit *u, char *buf, size_t cap)
{
	char code[32], tail[JIG_MESSAGE_MAX + 64] = "";
	int n;

	if (u->outcome == JIG_UNIT_REFUSED) {
		snprintf(buf, cap, "unit %s: refused: %s (%s)", u->name,
		    jig_error_name(u->refusal.code, code, sizeof(code)),
		    u->refusal.message);
		return;
	}
	if (u->report_refused)
		snprintf(tail, sizeof(tail), ", report refused: %s (%s)",
		    jig_error_name(u->report_refusal.code, code, sizeof(code)),
		    u->report_refusal.message);
	else if (u->unit_returned)
		snprintf(tail, sizeof(tail), ", unit returned to the quota");
	if (u->outcome == JIG_UNIT_PROGRAMMED) {
		n = snprintf(buf, cap, "unit %s: programmed, token #%" PRIu64,
		    u->name, u->token_index);
		if (n >= 0 && (size_t)n < cap && u->serial != 0)
			n += snprintf(buf + n, cap - (size_t)n, ", serial %" PRIu64, u->serial);
		if (n >= 0 && (size_t)n < cap)
			snprintf(buf + n, cap - (size_t)n, "%s%s",
			    u->reissued ? ", reissued" : "", tail);
		return;
	}
	if (u->bundle != NULL && u->stage == JIG_STAGE_DONE && u->report != NULL)
		snprintf(buf, cap, "unit %s: failed: %s, token #%" PRIu64 "%s",
		    u->name, u->reason, u->token_index, tail);
	else
		snprintf(buf, cap, "unit %s: failed: %s", u->name, u->reason);
}

/* jig_program with reconnects. 0 when the unit has its outcome. */
static int
stopped(const struct jig_run_opts *o)
{
	return o->stop != NULL && *o->stop != 0;
}

static int
program_unit(const struct jig_setup *s, const struct jig_run_opts *o,
    struct jig_client **c, struct jig_dut *dut, struct jig_unit *u,
    char *errmsg, size_t cap)
{
	unsigned round;
	int r;

	for (round = 0; ; round++) {
		if ((r = jig_program(*c, &s->params, dut, u)) == 0)
			return 0;
		jig_client_close(*c);
		*c = NULL;
		if (stopped(o)) {
			snprintf(errmsg, cap, "stopped by a signal");
			return TALLY_ERR_CLOSED;
		}
		if (round >= s->cfg.reconnect_attempts) {
			snprintf(errmsg, cap, "link to the appliance failed: %s",
			    tally_strerror(r));
			return r;
		}
		log_warn("link to the appliance lost (%s) during unit %s; reconnecting",
		    tally_strerror(r), u->name[0] != '\0' ? u->name : "?");
		r = jig_connect_retry(s, s->cfg.reconnect_attempts, c, NULL,
		    errmsg, cap);
		if (r != 0)
			return r;
	}
}

/* Was this jig itself refused? Then every later unit would be too. */
static int
jig_refused(const struct jig_unit *u)
{
	return u->outcome == JIG_UNIT_REFUSED &&
	    (u->refusal.code == TALLY__ERROR_CODE__JIG_REVOKED ||
	    u->refusal.code == TALLY__ERROR_CODE__JIG_NOT_ENROLLED);
}

static void
count(const struct jig_unit *u, struct jig_counts *counts)
{
	if (u->outcome == JIG_UNIT_PROGRAMMED)
		counts->programmed++;
	else if (u->outcome == JIG_UNIT_REFUSED)
		counts->refused++;
	else
		counts->failed++;
}

int
jig_run(const struct jig_setup *s, struct jig_dut_source *src,
    const struct jig_run_opts *o, struct jig_counts *counts,
    char *errmsg, size_t cap)
{
	struct jig_client *c = NULL;
	struct jig_dut dut = { 0 };
	struct jig_unit u;
	char line[1024];
	unsigned done = 0;
	int r;

	if ((r = jig_connect_retry(s, s->cfg.reconnect_attempts, &c, NULL,
	    errmsg, cap)) != 0)
		return r;
	while ((o->max_units == 0 || done < o->max_units) && !stopped(o)) {
		if ((r = src->next(src->ctx, &dut)) != 0) {
			if (r == TALLY_ERR_NOT_FOUND)
				r = 0;
			else
				snprintf(errmsg, cap, "DUT source: %s", tally_strerror(r));
			break;
		}
		jig_unit_init(&u);
		r = program_unit(s, o, &c, &dut, &u, errmsg, cap);
		if (r != 0 && u.outcome == JIG_UNIT_PENDING)
			snprintf(u.reason, sizeof(u.reason), "%s%s",
			    u.stage == JIG_STAGE_REPORT ?
			    "DUT programmed but its report was not delivered: " : "",
			    errmsg);
		if (r != 0)
			u.outcome = JIG_UNIT_FAILED;
		jig_unit_line(&u, line, sizeof(line));
		fprintf(o->out, "%s\n", line);
		fflush(o->out);
		count(&u, counts);
		if (r == 0 && jig_refused(&u)) {
			snprintf(errmsg, cap, "the appliance no longer accepts this "
			    "jig; stopping");
			r = TALLY_ERR_PERM;
		}
		jig_unit_clear(&u);
		jig_dut_close(&dut);
		done++;
		if (r != 0)
			break;
	}
	jig_client_close(c);
	return r;
}
