/*
 * stats.c - latency samples and nearest-rank percentiles for tally-bench.
 */
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "err.h"

int
bench_lat_add(struct bench_lat *l, uint64_t us)
{
	uint32_t v = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 65536;
		uint32_t *p = realloc(l->us, cap * sizeof(*p));

		if (p == NULL)
			return TALLY_ERR_NOMEM;
		l->us = p;
		l->cap = cap;
	}
	l->us[l->n++] = v;
	if (v > l->max)
		l->max = v;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

double
bench_lat_pct(struct bench_lat *l, double p)
{
	size_t rank;

	if (l->n == 0 || p <= 0 || p > 100)
		return 0;
	/* Sorting twice is harmless: qsort of sorted data is cheap enough here. */
	qsort(l->us, l->n, sizeof(*l->us), cmp_u32);
	rank = (size_t)((p / 100.0) * (double)l->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return l->us[rank - 1] / 1000.0;
}

void
bench_lat_free(struct bench_lat *l)
{
	free(l->us);
	memset(l, 0, sizeof(*l));
}
