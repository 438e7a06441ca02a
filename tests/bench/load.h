/*
 * load.h - tally-bench internals shared by load.c (the run: phases,
 * timers, results) and conn.c (one jig connection: TLS, framing,
 * Challenge -> IssueToken pipeline).
 */
#ifndef TALLY_BENCH_LOAD_H
#define TALLY_BENCH_LOAD_H

#include <stdint.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include "bench.h"

enum load_phase {
	PHASE_CONNECT = 0,  /* handshakes running, nothing sent yet */
	PHASE_WARMUP,       /* sending; replies not counted */
	PHASE_MEASURE,      /* sending; IssueToken replies counted */
	PHASE_DRAIN,        /* nothing new sent; waiting for replies in flight */
	PHASE_DONE,
};

enum slot_kind { SLOT_FREE = 0, SLOT_CHALLENGE, SLOT_ISSUE };

/* One request in flight; request_id = (seq << 16) | slot index. */
struct slot {
	enum slot_kind kind;
	uint64_t id;
	uint64_t sent_ns;   /* CLOCK_MONOTONIC when the request was queued */
	uint64_t uid_ctr;   /* IssueToken: the device UID's counter part */
};

#define BENCH_UID_LEN 16  /* device UIDs: 8 random bytes per run + 8-byte counter */

struct load;

struct conn {
	struct load *ld;
	unsigned idx;
	const struct bench_jig *jig;
	struct bufferevent *bev;
	int up;             /* TLS handshake done */
	int dead;           /* closed after an error; bev freed */
	unsigned issues;    /* IssueTokens in flight */
	unsigned challenges;/* Challenges in flight */
	unsigned nnonces;   /* unused nonces in stock */
	uint8_t (*nonces)[32];
	struct slot *slots;
	unsigned nslots;
	uint16_t *free_slots;
	unsigned nfree;
	uint64_t seq;
};

struct load {
	const struct bench_opts *o;
	const struct bench_env *env;
	struct bench_result *res;
	struct event_base *base;
	struct event *tick;
	struct event *sig;  /* env->sig_fd readable: stop early */
	struct conn *conns;
	unsigned nconns;
	enum load_phase phase;
	uint64_t t_begin;   /* connects started */
	uint64_t t_start;   /* first request (warm-up begins) */
	uint64_t t_measure; /* window begins */
	uint64_t t_end;     /* window ends, drain begins */
	uint64_t t_report;  /* last progress line */
	unsigned alive;     /* connections not dead */
	unsigned settled;   /* connections up or failed before coming up */
	unsigned in_flight; /* requests in flight, all connections */
	uint64_t tokens_at_report; /* res->tokens_all at the last progress line */
	uint64_t uid_ctr;
	uint8_t uid_prefix[8];
	unsigned errors_logged;
	struct bench_lat lat;
	struct bench_cpu_snap cpu0; /* at the start of the window */
	int failed;         /* a local failure (memory) ended the run */
	int interrupted;    /* a signal ended the run */
};

/* Allocates c's slot table and nonce stock for pipeline depth k and
 * starts the TLS connection to env->listen. TALLY_ERR_NOMEM, TALLY_ERR_IO. */
int conn_open(struct load *ld, struct conn *c, unsigned idx);

/* Sends what the pipeline allows: Challenges to keep k nonces coming,
 * IssueTokens while fewer than k are in flight and a nonce is in stock.
 * Does nothing outside PHASE_WARMUP and PHASE_MEASURE. */
void conn_pump(struct conn *c);

/* Closes c (if open) and frees its tables. */
void conn_free(struct conn *c);

/* load.c callbacks used by conn.c. */
void load_conn_up(struct load *ld, struct conn *c);
void load_conn_lost(struct load *ld, struct conn *c);
/* An IssueToken reply for device uid (BENCH_UID_LEN bytes): error code,
 * latency in ns, serialized TokenBundle (OK only; NULL when it could not
 * be copied), reissued flag. */
void load_issue_done(struct load *ld, int error, uint64_t ns, const uint8_t *uid,
    const uint8_t *bundle, size_t len, int reissued);

/* The device UID of counter value ctr for this run. */
void load_uid(const struct load *ld, uint64_t ctr, uint8_t uid[BENCH_UID_LEN]);


#endif
