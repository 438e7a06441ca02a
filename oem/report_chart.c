/* report_chart.c - the chart data of the HTML report: the days with
 * tokens (the latest OEM_REPORT_DAYS_MAX), one series per appliance or
 * per quota, drawn by report_svg.c. See report.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "report.h"
#include "util.h"

#define NAME_MAX_LEN (TALLY_ORIGIN_MAX + TALLY_PRODUCT_MAX + 32)

struct cdata {
	int64_t *days;
	size_t n_days;
	uint64_t *v;
	char (*names)[NAME_MAX_LEN];
	const char **ptrs;
	size_t n_series;
};

static int
cmp_day(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return a < b ? -1 : a > b;
}

/* Adds the days of a to the list (duplicates removed later). */
static int
collect(struct cdata *c, size_t *cap, const struct oem_report_appliance *a)
{
	size_t i;
	int64_t *p;

	for (i = 0; i < a->n_days; i++) {
		if (c->n_days == *cap) {
			*cap = *cap == 0 ? 64 : 2 * *cap;
			if ((p = realloc(c->days, *cap * sizeof(*p))) == NULL)
				return TALLY_ERR_NOMEM;
			c->days = p;
		}
		c->days[c->n_days++] = a->days[i].day;
	}
	return 0;
}

/* Sorts and dedups the days, keeps the latest, allocates the values. */
static int
finish_days(struct cdata *c)
{
	size_t i, n = 0;

	if (c->n_days > 1)
		qsort(c->days, c->n_days, sizeof(*c->days), cmp_day);
	for (i = 0; i < c->n_days; i++)
		if (n == 0 || c->days[n - 1] != c->days[i])
			c->days[n++] = c->days[i];
	if (n > OEM_REPORT_DAYS_MAX) {
		memmove(c->days, c->days + (n - OEM_REPORT_DAYS_MAX),
		    OEM_REPORT_DAYS_MAX * sizeof(*c->days));
		n = OEM_REPORT_DAYS_MAX;
	}
	c->n_days = n;
	c->v = calloc(n * c->n_series + 1, sizeof(*c->v));
	c->names = calloc(c->n_series + 1, sizeof(*c->names));
	c->ptrs = calloc(c->n_series + 1, sizeof(*c->ptrs));
	if (c->v == NULL || c->names == NULL || c->ptrs == NULL)
		return TALLY_ERR_NOMEM;
	for (i = 0; i < c->n_series; i++)
		c->ptrs[i] = c->names[i];
	return 0;
}

/* count tokens of series s on day (ignored when the day is not drawn). */
static void
put(struct cdata *c, int64_t day, size_t s, uint64_t count)
{
	int64_t *d = bsearch(&day, c->days, c->n_days, sizeof(*c->days), cmp_day);

	if (d != NULL)
		c->v[(size_t)(d - c->days) * c->n_series + s] += count;
}

static void
draw(FILE *f, const struct cdata *c, const char *title)
{
	struct oem_chart ch = { title, c->n_days, c->n_series, c->days,
	    (const char *const *)c->ptrs, c->v };

	oem_chart_svg(f, &ch);
}

static void
cdata_free(struct cdata *c)
{
	free(c->days);
	free(c->v);
	free(c->names);
	free(c->ptrs);
}

int
oem_report_charts(FILE *f, const struct oem_report *rep)
{
	struct cdata c = { 0 };
	size_t cap = 0, i, k;
	int r = 0;

	c.n_series = rep->n_appliances;
	for (i = 0; i < rep->n_appliances && r == 0; i++)
		r = collect(&c, &cap, &rep->appliances[i]);
	if (r == 0 && (r = finish_days(&c)) == 0) {
		for (i = 0; i < rep->n_appliances; i++) {
			const struct oem_report_appliance *a = &rep->appliances[i];

			snprintf(c.names[i], NAME_MAX_LEN, "%s", a->origin);
			for (k = 0; k < a->n_days; k++)
				put(&c, a->days[k].day, i, a->days[k].count);
		}
		fputs("<section id=\"chart\"><h2>Units per day, per appliance</h2>\n", f);
		draw(f, &c, "tokens issued per UTC day, stacked by appliance");
		fputs("</section>\n", f);
	}
	cdata_free(&c);
	return r;
}

int
oem_report_appliance_charts(FILE *f, const struct oem_report_appliance *a)
{
	struct cdata c = { 0 };
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	size_t cap = 0, i;
	int r;

	c.n_series = a->n_quotas;
	if ((r = collect(&c, &cap, a)) == 0 && (r = finish_days(&c)) == 0) {
		for (i = 0; i < a->n_quotas; i++) {
			tally_hex(a->quotas[i].quota_id, TALLY_QUOTA_ID_LEN, hex);
			snprintf(c.names[i], NAME_MAX_LEN, "%s (quota %.8s)",
			    a->quotas[i].product, hex);
		}
		for (i = 0; i < a->n_days; i++)
			if (a->days[i].quota < a->n_quotas)
				put(&c, a->days[i].day, a->days[i].quota, a->days[i].count);
		fputs("<h3>Units per day, per quota</h3>\n", f);
		draw(f, &c, "tokens issued per UTC day, stacked by quota");
	}
	cdata_free(&c);
	return r;
}
