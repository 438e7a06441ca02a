/* ratelimit.c - per-jig GCRA request buckets, see ratelimit.h. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ratelimit.h"

#define NS_PER_S 1000000000ull

int
ratelimit_init(struct ratelimit *rl, uint32_t cap)
{
	memset(rl, 0, sizeof(*rl));
	if (cap == 0 || cap > 65536)
		return TALLY_ERR_INVALID;
	if ((rl->e = calloc(cap, sizeof(*rl->e))) == NULL)
		return TALLY_ERR_NOMEM;
	rl->cap = cap;
	return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	free(rl->e);
	memset(rl, 0, sizeof(*rl));
}

struct ratelimit_entry *
ratelimit_acquire(struct ratelimit *rl, const uint8_t jig_id[32])
{
	struct ratelimit_entry *e, *unused = NULL, *idle = NULL;
	uint32_t i;

	for (i = 0; i < rl->cap; i++) {
		e = &rl->e[i];
		if (!e->used) {
			if (unused == NULL)
				unused = e;
		} else if (memcmp(e->jig_id, jig_id, sizeof(e->jig_id)) == 0) {
			e->refs++;
			return e;
		} else if (e->refs == 0 && (idle == NULL || e->tat_ns < idle->tat_ns)) {
			idle = e;   /* the one whose bucket refilled first */
		}
	}
	if ((e = unused != NULL ? unused : idle) == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	memcpy(e->jig_id, jig_id, sizeof(e->jig_id));
	e->used = true;
	e->refs = 1;
	return e;
}

void
ratelimit_release(struct ratelimit_entry *e)
{
	if (e != NULL && e->refs > 0)
		e->refs--;
}

bool
ratelimit_take(struct ratelimit_entry *e, uint32_t rate, uint32_t burst, uint64_t now_ns)
{
	uint64_t t = NS_PER_S / (rate != 0 ? rate : 1);   /* emission interval */
	uint64_t tat;

	if (rate == 0)
		return true;
	if (burst == 0)
		burst = 1;
	tat = e->tat_ns > now_ns ? e->tat_ns : now_ns;
	if (tat - now_ns > (uint64_t)(burst - 1) * t) {
		e->refused++;
		return false;
	}
	e->tat_ns = tat + t;
	return true;
}
