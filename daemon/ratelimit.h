/*
 * ratelimit.h - per-jig request rate limit (issue 5, "hostile network"):
 * one token bucket per jig key ID, shared by all of that jig's
 * connections, kept in the daemon context (struct session_table in
 * daemon.h) and used on the loop thread only.
 *
 * The bucket is the Generic Cell Rate Algorithm (GCRA, ITU-T I.371, the
 * "virtual scheduling" form), which is a token bucket held as one number:
 * the theoretical arrival time (TAT) of the next request. With an
 * emission interval T = 1/rate, a request at time t is allowed when
 * max(TAT, t) - t <= (burst - 1) * T, and then TAT = max(TAT, t) + T; a
 * refused request changes nothing. So up to `burst` requests may come at
 * once, then `rate` per second; a jig that slows down recovers by itself.
 *
 * The table has as many entries as there may be sessions (max_connections):
 * an entry is held (refs > 0) by every authenticated session of its jig,
 * and kept after the last one closes so that reconnecting does not refill
 * the bucket; a new jig takes an unused entry or, failing that, one no
 * session holds.
 */
#ifndef TALLYD_RATELIMIT_H
#define TALLYD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit_entry {
	uint8_t jig_id[32];   /* key ID (SHA-256 of the certificate's SPKI) */
	bool used;            /* jig_id is set */
	uint32_t refs;        /* sessions holding this entry */
	uint64_t tat_ns;      /* GCRA theoretical arrival time, tally_mono_ns() clock */
	uint64_t refused;     /* requests refused since the last allowed one */
};

struct ratelimit {
	struct ratelimit_entry *e;  /* cap entries */
	uint32_t cap;
};

/* Allocates cap (1..65536) empty entries. Returns 0, TALLY_ERR_INVALID
 * (cap out of range) or TALLY_ERR_NOMEM. */
int ratelimit_init(struct ratelimit *rl, uint32_t cap);

/* Frees the entries; rl is zeroed. A zeroed rl is a no-op. */
void ratelimit_free(struct ratelimit *rl);

/* The entry of the jig with key ID jig_id (32 bytes), made if absent (its
 * bucket full), with one more reference. NULL only when every entry is
 * held by a session of another jig, which cannot happen while there are
 * no more sessions than entries. Release with ratelimit_release. */
struct ratelimit_entry *ratelimit_acquire(struct ratelimit *rl, const uint8_t jig_id[32]);

/* Drops one reference taken by ratelimit_acquire. NULL is a no-op. */
void ratelimit_release(struct ratelimit_entry *e);

/* One request of e's jig at now_ns (tally_mono_ns): true when allowed
 * (the bucket gives one token), false when refused (e->refused counts it,
 * nothing else changes). rate is requests per second, 0 = no limit (always
 * true); burst (>= 1) is how many may come at once. */
bool ratelimit_take(struct ratelimit_entry *e, uint32_t rate, uint32_t burst, uint64_t now_ns);

#endif
