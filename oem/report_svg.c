/* report_svg.c - stacked bar charts as inline SVG for the HTML report:
 * one bar per UTC day, one colour per series, counts on a y axis, dates
 * under the bars, a legend under the axis, a <title> per segment (the
 * browser shows it on hover; no script). See report.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "report.h"

#define W 760
#define PLOT_X 52
#define PLOT_Y 40
#define PLOT_W (W - PLOT_X - 16)
#define PLOT_H 150
#define LEGEND_ROW 18
#define LEGEND_PER_ROW 3

static const char *const palette[] = {
	"#2f6db5", "#e08a1e", "#3a9a4f", "#b8433e", "#7d5ab5", "#8a6d3b",
	"#d35fa8", "#5f6b7a",
};
#define NCOLORS (sizeof(palette) / sizeof(palette[0]))

static void
fmt_day(int64_t day, const char *fmt, char *out, size_t len)
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, fmt, &tm) == 0)
		snprintf(out, len, "?");
}

static uint64_t
day_total(const struct oem_chart *c, size_t d)
{
	uint64_t sum = 0;
	size_t s;

	for (s = 0; s < c->n_series; s++)
		sum += c->v[d * c->n_series + s];
	return sum;
}

static void
axis(FILE *f, uint64_t max)
{
	int i;

	for (i = 0; i <= 2; i++) {
		double y = PLOT_Y + PLOT_H - PLOT_H * i / 2.0;

		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
		    "<text x=\"%d\" y=\"%.1f\" class=\"ylab\">%llu</text>\n", PLOT_X, y,
		    PLOT_X + PLOT_W, y, PLOT_X - 6, y + 4,
		    (unsigned long long)(max * (uint64_t)i / 2));
	}
}

/* One day's stacked bar, its total above it and its date below. */
static void
bar(FILE *f, const struct oem_chart *c, size_t d, uint64_t max, double slot, int label)
{
	double bw = slot * 0.7 > 48 ? 48 : slot * 0.7;
	double x = PLOT_X + slot * (double)d + (slot - bw) / 2, y = PLOT_Y + PLOT_H;
	char date[16], full[16];
	size_t s;

	fmt_day(c->days[d], "%m-%d", date, sizeof(date));
	fmt_day(c->days[d], "%Y-%m-%d", full, sizeof(full));
	for (s = 0; s < c->n_series; s++) {
		uint64_t v = c->v[d * c->n_series + s];
		double h = (double)PLOT_H * (double)v / (double)max;

		if (v == 0)
			continue;
		y -= h;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"%s\"><title>%s ", x, y, bw, h, palette[s % NCOLORS], full);
		oem_html_escape(f, c->names[s]);
		fprintf(f, ": %llu</title></rect>\n", (unsigned long long)v);
	}
	if (c->n_days <= 31)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"val\">%llu</text>\n",
		    x + bw / 2, y - 3, (unsigned long long)day_total(c, d));
	if (label)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xlab\">%s</text>\n",
		    x + bw / 2, PLOT_Y + PLOT_H + 16, date);
}

static void
legend(FILE *f, const struct oem_chart *c)
{
	size_t s;

	for (s = 0; s < c->n_series; s++) {
		int row = (int)(s / LEGEND_PER_ROW), col = (int)(s % LEGEND_PER_ROW);
		int x = PLOT_X + col * (PLOT_W / LEGEND_PER_ROW);
		int y = PLOT_Y + PLOT_H + 32 + row * LEGEND_ROW;

		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		    "<text x=\"%d\" y=\"%d\" class=\"leg\">", x, y, palette[s % NCOLORS],
		    x + 18, y + 10);
		oem_html_escape(f, c->names[s]);
		fprintf(f, "</text>\n");
	}
}

void
oem_chart_svg(FILE *f, const struct oem_chart *c)
{
	size_t rows = (c->n_series + LEGEND_PER_ROW - 1) / LEGEND_PER_ROW, d, step;
	int h = PLOT_Y + PLOT_H + 36 + (int)rows * LEGEND_ROW;
	uint64_t max = 1;
	double slot;

	for (d = 0; d < c->n_days; d++)
		if (day_total(c, d) > max)
			max = day_total(c, d);
	if (max % 2 != 0)
		max++;  /* whole numbers on the middle tick */
	/* inline in HTML: the parser gives <svg> its namespace, no xmlns */
	fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
	    "height=\"%d\" role=\"img\" aria-label=\"", W, h, W, h);
	oem_html_escape(f, c->title);
	fprintf(f, "\">\n<text x=\"%d\" y=\"16\" class=\"title\">", PLOT_X);
	oem_html_escape(f, c->title);
	fprintf(f, "</text>\n");
	axis(f, max);
	if (c->n_days == 0)
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"empty\">no tokens yet</text>\n",
		    PLOT_X + PLOT_W / 2, PLOT_Y + PLOT_H / 2);
	slot = c->n_days > 0 ? (double)PLOT_W / (double)c->n_days : 0;
	step = c->n_days / 12 + 1;
	for (d = 0; d < c->n_days; d++)
		bar(f, c, d, max, slot, d % step == 0 || d + 1 == c->n_days);
	legend(f, c);
	fprintf(f, "</svg>\n");
}
