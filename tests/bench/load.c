/*
 * load.c - one load run: open the connections, start every pipeline once
 * all handshakes are done, a warm-up that is not counted, the measured
 * window, a bounded drain; then latency percentiles and rates.
 * One event_base, one thread; a 100 ms timer moves the phases.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "load.h"
#include "artifact.h"
#include "jig.pb-c.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define NS 1000000000ull
#define CONNECT_TIMEOUT_NS (15 * NS)
#define DRAIN_TIMEOUT_NS (10 * NS)
#define VERIFY_SAMPLES 8

void
load_uid(const struct load *ld, uint64_t ctr, uint8_t uid[BENCH_UID_LEN])
{
	int i;

	memcpy(uid, ld->uid_prefix, 8);
	for (i = 0; i < 8; i++)
		uid[8 + i] = (uint8_t)(ctr >> (56 - 8 * i));
}

static void
start_sending(struct load *ld)
{
	unsigned i;

	bench_say("%u of %u connections up; warming up for %u s", ld->res->connected,
	    ld->nconns, ld->o->warmup);
	ld->phase = PHASE_WARMUP;
	ld->t_start = ld->t_report = tally_mono_ns();
	for (i = 0; i < ld->nconns; i++)
		conn_pump(&ld->conns[i]);
}

static void
settle(struct load *ld)
{
	if (ld->phase != PHASE_CONNECT || ++ld->settled < ld->nconns)
		return;
	if (ld->res->connected > 0)
		start_sending(ld);
	else
		event_base_loopbreak(ld->base);
}

void
load_conn_up(struct load *ld, struct conn *c)
{
	ld->res->connected++;
	if (ld->phase == PHASE_WARMUP || ld->phase == PHASE_MEASURE)
		conn_pump(c);  /* came up after the connect timeout */
	settle(ld);
}

void
load_conn_lost(struct load *ld, struct conn *c)
{
	ld->res->conn_failures++;
	if (!c->up)
		settle(ld);
	if (--ld->alive == 0)
		event_base_loopbreak(ld->base);
}

static void
verify_sample(struct load *ld, const uint8_t *uid, const uint8_t *bundle, size_t len)
{
	int r = tally_bundle_verify(bundle, len, ld->env->oem_root, uid, BENCH_UID_LEN,
	    ld->env->firmware, tally_now(), NULL);

	if (r == 0) {
		ld->res->verified++;
		return;
	}
	ld->res->bad_tokens++;
	log_tally_err(r, "a token bundle from tallyd does not verify");
}

void
load_issue_done(struct load *ld, int error, uint64_t ns, const uint8_t *uid,
    const uint8_t *bundle, size_t len, int reissued)
{
	struct bench_result *res = ld->res;

	if (error != TALLY__ERROR_CODE__OK) {
		res->errors[(unsigned)error < BENCH_ERR_CODES ? error : BENCH_ERR_CODES - 1]++;
		return;
	}
	res->tokens_all++;
	if (reissued)
		res->reissued++;
	if (bundle != NULL && res->verified + res->bad_tokens < VERIFY_SAMPLES)
		verify_sample(ld, uid, bundle, len);
	if (ld->phase != PHASE_MEASURE)
		return;
	res->tokens++;
	if (bench_lat_add(&ld->lat, ns / 1000) != 0) {
		ld->failed = 1;
		event_base_loopbreak(ld->base);
	}
}

static void
report(struct load *ld, uint64_t now)
{
	double dt = (double)(now - ld->t_report) / NS;
	const char *what = ld->phase == PHASE_WARMUP ? "warm-up" :
	    ld->phase == PHASE_MEASURE ? "measuring" : "draining";

	if (dt < 1.0)
		return;
	bench_say("%-9s %8.0f tokens/s, %u requests in flight, %u connections",
	    what, (double)(ld->res->tokens_all - ld->tokens_at_report) / dt,
	    ld->in_flight, ld->alive);
	ld->t_report = now;
	ld->tokens_at_report = ld->res->tokens_all;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;
	uint64_t now = tally_mono_ns();

	(void)fd;
	(void)what;
	if (ld->failed) {
		event_base_loopbreak(ld->base);
		return;
	}
	switch (ld->phase) {
	case PHASE_CONNECT:
		if (now - ld->t_begin < CONNECT_TIMEOUT_NS)
			return;
		log_warn("only %u of %u connections came up in time",
		    ld->res->connected, ld->nconns);
		if (ld->res->connected == 0) {
			event_base_loopbreak(ld->base);
			return;
		}
		start_sending(ld);
		return;
	case PHASE_WARMUP:
		if (now - ld->t_start >= ld->o->warmup * NS) {
			ld->phase = PHASE_MEASURE;
			bench_cpu_snap(ld->env->tallyd, &ld->cpu0);
			ld->t_measure = tally_mono_ns();
			bench_say("measuring for %u s", ld->o->seconds);
		}
		break;
	case PHASE_MEASURE:
		if (now - ld->t_measure >= ld->o->seconds * NS) {
			struct bench_cpu_snap cpu1;

			bench_cpu_snap(ld->env->tallyd, &cpu1);
			ld->phase = PHASE_DRAIN;
			ld->t_end = tally_mono_ns();
			bench_cpu_diff(&ld->cpu0, &cpu1, ld->env->tallyd,
			    (double)(ld->t_end - ld->t_measure) / NS, &ld->res->cpu);
			bench_say("window closed; waiting for %u replies in flight",
			    ld->in_flight);
		}
		break;
	case PHASE_DRAIN:
		if (ld->in_flight == 0 || now - ld->t_end >= DRAIN_TIMEOUT_NS) {
			if (ld->in_flight != 0)
				log_warn("%u replies still missing after the drain timeout",
				    ld->in_flight);
			ld->phase = PHASE_DONE;
			event_base_loopbreak(ld->base);
		}
		return;
	case PHASE_DONE:
		return;
	}
	report(ld, now);
}

static void
sig_cb(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;

	(void)fd;
	(void)what;
	if (!bench_interrupted(ld->env))
		return;
	ld->interrupted = 1;
	event_base_loopbreak(ld->base);
}

static void
finish(struct load *ld)
{
	struct bench_result *res = ld->res;
	uint64_t end = ld->t_end;

	if (ld->t_measure == 0)
		return;
	if (end == 0)  /* stopped early: every connection gone */
		end = tally_mono_ns();
	res->window_s = (double)(end - ld->t_measure) / NS;
	if (res->window_s > 0)
		res->tokens_per_s = (double)res->tokens / res->window_s;
	res->p50_ms = bench_lat_pct(&ld->lat, 50);
	res->p99_ms = bench_lat_pct(&ld->lat, 99);
	res->max_ms = ld->lat.max / 1000.0;
}

static int
open_all(struct load *ld)
{
	unsigned i;

	ld->t_begin = tally_mono_ns();
	ld->alive = ld->nconns;
	for (i = 0; i < ld->nconns; i++) {
		int r = conn_open(ld, &ld->conns[i], i);

		if (r != 0) {
			log_tally_err(r, "connection %u", i);
			conn_free(&ld->conns[i]);
			ld->conns[i].dead = 1;
			ld->alive--;
			ld->res->conn_failures++;
			ld->settled++;
		}
	}
	return ld->alive > 0 ? 0 : TALLY_ERR_IO;
}

int
bench_load_run(const struct bench_opts *o, const struct bench_env *env,
    struct bench_result *res)
{
	struct load ld = { .o = o, .env = env, .res = res, .nconns = o->connections };
	struct timeval tv = { 0, 100000 };
	unsigned i;
	int r = TALLY_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	if (RAND_bytes(ld.uid_prefix, sizeof(ld.uid_prefix)) != 1)
		return TALLY_ERR_CRYPTO;
	if ((ld.base = event_base_new()) == NULL ||
	    (ld.conns = calloc(ld.nconns, sizeof(*ld.conns))) == NULL ||
	    (ld.tick = event_new(ld.base, -1, EV_PERSIST, tick_cb, &ld)) == NULL ||
	    event_add(ld.tick, &tv) != 0)
		goto out;
	if (env->sig_fd >= 0 &&
	    ((ld.sig = event_new(ld.base, env->sig_fd, EV_READ | EV_PERSIST, sig_cb, &ld)) == NULL ||
	    event_add(ld.sig, NULL) != 0))
		goto out;
	bench_say("opening %u TLS connections as %u jigs, %u IssueTokens in flight each",
	    ld.nconns, env->njigs, o->pipeline);
	if ((r = open_all(&ld)) != 0)
		goto out;
	event_base_dispatch(ld.base);
	finish(&ld);
	if (ld.interrupted) {
		r = TALLY_ERR_CLOSED;
		res->failure = "interrupted";
	} else if (ld.failed) {
		r = TALLY_ERR_NOMEM;
		res->failure = "out of memory";
	} else if (res->connected == 0) {
		r = TALLY_ERR_IO;
		res->failure = "no jig connection could be made";
	} else if (ld.phase < PHASE_DRAIN) {
		r = TALLY_ERR_IO;
		res->failure = "every connection was lost before the window closed";
	} else if (res->tokens == 0) {
		r = TALLY_ERR_INVALID;
		res->failure = "no token was issued in the measured window";
	}
 out:
	for (i = 0; ld.conns != NULL && i < ld.nconns; i++)
		conn_free(&ld.conns[i]);
	free(ld.conns);
	if (ld.tick != NULL)
		event_free(ld.tick);
	if (ld.sig != NULL)
		event_free(ld.sig);
	if (ld.base != NULL)
		event_base_free(ld.base);
	bench_lat_free(&ld.lat);
	return r;
}
