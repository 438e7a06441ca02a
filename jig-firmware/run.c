/* run.c - connecting with retries and serving a line of DUTs, see run.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The workers of one run: the DUT source, the output, the counts and the
 * first error are shared; each slot has its own appliance connection. */
struct line {
	const struct jig_setup *s;
	struct jig_dut_source *src;
	const struct jig_run_opts *o;
	atomic_int own_stop;           /* used when o->stop is NULL */
	atomic_int *stop;
	pthread_mutex_t mu;            /* out, counts, started, err */
	pthread_mutex_t src_mu;        /* one src->next at a time */
	struct jig_counts *counts;
	unsigned started;              /* units taken */
	int err;                       /* first error that ends the run */
	char errmsg[JIG_ERRMSG_MAX];
};

struct slot {
	struct line *l;
	struct jig_client *c;
	pthread_t thread;
	int running;
};

static int
stopped(const struct line *l)
{
	return atomic_load(l->stop) != 0;
}

/* Records the first error that ends the run and stops the other slots. */
static void
line_fail(struct line *l, int r, const char *msg)
{
	pthread_mutex_lock(&l->mu);
	if (l->err == 0) {
		l->err = r;
		snprintf(l->errmsg, sizeof(l->errmsg), "%s", msg);
	}
	pthread_mutex_unlock(&l->mu);
	atomic_store(l->stop, 1);
}

/* jig_program with reconnects. 0 when the unit has its outcome. */
static int
program_unit(struct slot *sl, struct jig_dut *dut, struct jig_unit *u,
    char *errmsg, size_t cap)
{
	const struct jig_setup *s = sl->l->s;
	unsigned round;
	int r;

	for (round = 0; ; round++) {
		if ((r = jig_program(sl->c, &s->params, dut, u)) == 0)
			return 0;
		jig_client_close(sl->c);
		sl->c = NULL;
		if (stopped(sl->l)) {
			snprintf(errmsg, cap, "the run is stopping, no reconnect");
			return TALLY_ERR_CLOSED;
		}
		if (round >= s->cfg.reconnect_attempts) {
			snprintf(errmsg, cap, "link to the appliance failed: %s",
			    tally_strerror(r));
			return r;
		}
		log_warn("link to the appliance lost (%s) during unit %s; reconnecting",
		    tally_strerror(r), u->name[0] != '\0' ? u->name : "?");
		r = jig_connect_retry(s, s->cfg.reconnect_attempts, &sl->c, NULL,
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

/* Prints the unit's line and counts it (serialized between slots). */
static void
unit_done(struct line *l, const struct jig_unit *u)
{
	char buf[1024];

	jig_unit_line(u, buf, sizeof(buf));
	pthread_mutex_lock(&l->mu);
	fprintf(l->o->out, "%s\n", buf);
	fflush(l->o->out);
	if (u->outcome == JIG_UNIT_PROGRAMMED)
		l->counts->programmed++;
	else if (u->outcome == JIG_UNIT_REFUSED)
		l->counts->refused++;
	else
		l->counts->failed++;
	pthread_mutex_unlock(&l->mu);
}

/* Programs one DUT: 0, or an error that ends the run (line_fail done). */
static int
serve_unit(struct slot *sl, struct jig_dut *dut)
{
	char msg[JIG_ERRMSG_MAX] = "";
	struct jig_unit u;
	int r;

	jig_unit_init(&u);
	r = program_unit(sl, dut, &u, msg, sizeof(msg));
	if (r != 0 && u.outcome == JIG_UNIT_PENDING &&
	    snprintf(u.reason, sizeof(u.reason), "%s%s",
	    u.stage == JIG_STAGE_REPORT ?
	    "DUT programmed but its report was not delivered: " : "",
	    msg) >= (int)sizeof(u.reason))
		log_debug("unit %s: reason cut", u.name);
	if (r != 0)
		u.outcome = JIG_UNIT_FAILED;
	unit_done(sl->l, &u);
	if (r == 0 && jig_refused(&u)) {
		snprintf(msg, sizeof(msg), "the appliance no longer accepts this "
		    "jig; stopping");
		r = TALLY_ERR_PERM;
	}
	if (r != 0)
		line_fail(sl->l, r, msg);
	jig_unit_clear(&u);
	return r;
}

/* May this slot start another unit? Counts it if so. */
static int
take(struct line *l)
{
	int ok;

	pthread_mutex_lock(&l->mu);
	ok = !stopped(l) &&
	    (l->o->max_units == 0 || l->started < l->o->max_units);
	if (ok)
		l->started++;
	pthread_mutex_unlock(&l->mu);
	return ok;
}

/* The next DUT, one caller at a time (a source need not be thread-safe).
 * 0, or 1 when the source has no more (ran out, stopped, idle past its
 * wait), or an error (line_fail done). */
static int
next_dut(struct line *l, struct jig_dut *dut)
{
	char msg[JIG_ERRMSG_MAX];
	int r;

	pthread_mutex_lock(&l->src_mu);
	r = stopped(l) ? TALLY_ERR_NOT_FOUND : l->src->next(l->src->ctx, dut);
	pthread_mutex_unlock(&l->src_mu);
	if (r == TALLY_ERR_NOT_FOUND || r == TALLY_ERR_TIMEOUT)
		return 1;
	if (r != 0) {
		snprintf(msg, sizeof(msg), "DUT source: %s", tally_strerror(r));
		line_fail(l, r, msg);
	}
	return r;
}

static void *
slot_main(void *arg)
{
	struct slot *sl = arg;
	struct jig_dut dut = { 0 };

	while (take(sl->l)) {
		if (next_dut(sl->l, &dut) != 0)
			break;
		if (serve_unit(sl, &dut) != 0) {
			jig_dut_close(&dut);
			break;
		}
		jig_dut_close(&dut);
	}
	return NULL;
}

static int
line_init(struct line *l, const struct jig_setup *s, struct jig_dut_source *src,
    const struct jig_run_opts *o, struct jig_counts *counts)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->src = src;
	l->o = o;
	l->counts = counts;
	atomic_init(&l->own_stop, 0);
	l->stop = o->stop != NULL ? o->stop : &l->own_stop;
	if (pthread_mutex_init(&l->mu, NULL) != 0)
		return TALLY_ERR_NOMEM;
	if (pthread_mutex_init(&l->src_mu, NULL) != 0) {
		pthread_mutex_destroy(&l->mu);
		return TALLY_ERR_NOMEM;
	}
	return 0;
}

/* Connects every slot (so an unreachable appliance is reported before any
 * DUT is touched), then runs them and waits for all. */
static int
run_slots(struct line *l, struct slot *slots, unsigned n, char *errmsg,
    size_t cap)
{
	unsigned i;
	int r;

	for (i = 0; i < n; i++) {
		slots[i].l = l;
		if ((r = jig_connect_retry(l->s, l->s->cfg.reconnect_attempts,
		    &slots[i].c, NULL, errmsg, cap)) != 0)
			return r;
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&slots[i].thread, NULL, slot_main, &slots[i]) != 0) {
			line_fail(l, TALLY_ERR_NOMEM, "cannot start a worker thread");
			break;
		}
		slots[i].running = 1;
	}
	for (i = 0; i < n; i++)
		if (slots[i].running)
			pthread_join(slots[i].thread, NULL);
	if (l->err != 0)
		snprintf(errmsg, cap, "%s", l->errmsg);
	return l->err;
}

int
jig_run(const struct jig_setup *s, struct jig_dut_source *src,
    const struct jig_run_opts *o, struct jig_counts *counts,
    char *errmsg, size_t cap)
{
	struct slot *slots;
	struct line l;
	unsigned i, n = o->slots == 0 ? 1 : o->slots;
	int r;

	if (n > JIG_SLOTS_MAX) {
		snprintf(errmsg, cap, "slots: at most %d", JIG_SLOTS_MAX);
		return TALLY_ERR_INVALID;
	}
	if ((slots = calloc(n, sizeof(*slots))) == NULL ||
	    line_init(&l, s, src, o, counts) != 0) {
		free(slots);
		snprintf(errmsg, cap, "out of memory");
		return TALLY_ERR_NOMEM;
	}
	r = run_slots(&l, slots, n, errmsg, cap);
	for (i = 0; i < n; i++)
		jig_client_close(slots[i].c);
	free(slots);
	pthread_mutex_destroy(&l.src_mu);
	pthread_mutex_destroy(&l.mu);
	return r;
}
