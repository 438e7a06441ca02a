/* report_html.c - the reconcile report as one self-contained HTML page:
 * inline CSS, inline SVG charts (report_svg.c), no script and no external
 * resource, every string from an export escaped. See report.h. */
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "oem.h"
#include "report.h"
#include "util.h"

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    "color:#1d232b;background:#f4f6f8;margin:0;padding:24px}"
    "main{max-width:1100px;margin:0 auto}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 10px}"
    "h3{font-size:15px;margin:14px 0 6px}"
    ".sub{color:#5b6672;margin:0 0 16px}"
    "section{background:#fff;border:1px solid #d9dee4;border-radius:6px;"
    "padding:16px 18px;margin:0 0 18px}"
    ".bad{border:2px solid #c62828;background:#fff5f5}.bad h2{color:#b71c1c}"
    ".good{border:2px solid #2e7d32;background:#f3fbf4}.good h2{color:#1b5e20}"
    "table{border-collapse:collapse;width:100%;margin:4px 0 8px}"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e7eb;"
    "vertical-align:top}th{background:#eef1f4;font-weight:600}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;"
    "word-break:break-all}"
    ".type{font-weight:700;color:#b71c1c;white-space:nowrap}"
    ".ok{color:#1b5e20;font-weight:600}.no{color:#b71c1c;font-weight:700}"
    ".meter{background:#e3e7eb;border-radius:3px;height:10px;width:120px}"
    ".meter div{background:#2f6db5;height:10px;border-radius:3px}"
    ".meter div.over{background:#c62828}"
    "svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}"
    "svg .grid{stroke:#e3e7eb}svg text{font:11px system-ui,Arial,sans-serif;fill:#3b4550}"
    "svg .ylab{text-anchor:end}svg .xlab,svg .val,svg .empty{text-anchor:middle}"
    "svg .title{font-weight:600;font-size:13px}";

void
oem_html_escape(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

static void
hex_cell(FILE *f, const uint8_t *b, size_t len)
{
	char hex[2 * 64 + 1];

	tally_hex(b, len, hex);
	fprintf(f, "<td class=\"mono\">%s</td>", hex);
}

static void
head(FILE *f, const struct oem_report *rep)
{
	char when[32];

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>tally reconciliation report</title>\n<style>%s</style>\n</head>\n"
	    "<body>\n<main>\n<h1>tally reconciliation report</h1>\n<p class=\"sub\">"
	    "Generated %s &middot; ", css, oem_fmt_time(rep->generated_at, when));
	if (rep->ledger_dir != NULL) {
		fputs("ledger ", f);
		oem_html_escape(f, rep->ledger_dir);
	} else {
		fputs("no ledger: each export checked on its own", f);
	}
	fprintf(f, " &middot; %zu export%s, %zu appliance%s</p>\n", rep->n_exports,
	    rep->n_exports == 1 ? "" : "s", rep->n_appliances,
	    rep->n_appliances == 1 ? "" : "s");
}

static void
anomaly_row(FILE *f, const struct oem_report_export *e, const struct oem_anomaly *a)
{
	fprintf(f, "<tr><td class=\"type\">%s</td><td class=\"mono\">",
	    oem_anomaly_name(a->kind));
	oem_html_escape(f, e->res->origin);
	fputs("</td><td>", f);
	oem_html_escape(f, e->file);
	if (a->index == OEM_NO_INDEX)
		fputs("</td><td class=\"num\">&ndash;</td><td>", f);
	else
		fprintf(f, "</td><td class=\"num\">%llu</td><td>", (unsigned long long)a->index);
	oem_html_escape(f, a->msg);
	fputs("</td></tr>\n", f);
}

static void
anomalies(FILE *f, const struct oem_report *rep)
{
	size_t i, k;

	if (rep->anomalies_total == 0 && rep->unreadable == 0) {
		fputs("<section class=\"good\" id=\"anomalies\"><h2>No anomaly</h2>"
		    "<p>Every export given was verified.</p></section>\n", f);
		return;
	}
	fprintf(f, "<section class=\"bad\" id=\"anomalies\"><h2>%llu anomal%s",
	    (unsigned long long)rep->anomalies_total, rep->anomalies_total == 1 ? "y" : "ies");
	if (rep->unreadable > 0)
		fprintf(f, ", %zu unreadable export%s", rep->unreadable,
		    rep->unreadable == 1 ? "" : "s");
	fputs("</h2>\n<table><tr><th>type</th><th>appliance</th><th>export</th>"
	    "<th class=\"num\">entry</th><th>what failed</th></tr>\n", f);
	for (i = 0; i < rep->n_exports; i++) {
		const struct oem_report_export *e = &rep->exports[i];

		if (e->res == NULL) {
			fputs("<tr><td class=\"type\">unreadable</td><td></td><td>", f);
			oem_html_escape(f, e->file);
			fputs("</td><td class=\"num\">&ndash;</td><td>", f);
			oem_html_escape(f, e->error != NULL ? e->error : "");
			fputs("</td></tr>\n", f);
			continue;
		}
		for (k = 0; k < e->res->n_anomalies; k++)
			anomaly_row(f, e, &e->res->anomalies[k]);
		if (e->res->anomalies_total > e->res->n_anomalies)
			fprintf(f, "<tr><td colspan=\"5\">&hellip; and %llu more not kept</td></tr>\n",
			    (unsigned long long)(e->res->anomalies_total - e->res->n_anomalies));
	}
	fputs("</table></section>\n", f);
}

static const char *
export_status(const struct oem_report_export *e)
{
	if (e->res == NULL)
		return "<span class=\"no\">unreadable</span>";
	if (e->ledger_status == 1)
		return "<span class=\"ok\">verified, ledger updated</span>";
	if (e->ledger_status == 0)
		return "<span class=\"no\">refused, ledger unchanged</span>";
	return e->res->anomalies_total == 0 ? "<span class=\"ok\">verified</span>" :
	    "<span class=\"no\">anomalies</span>";
}

static void
exports(FILE *f, const struct oem_report *rep)
{
	size_t i;

	if (rep->n_exports == 0)
		return;
	fputs("<section id=\"exports\"><h2>Exports</h2>\n<table><tr><th>file</th>"
	    "<th>appliance</th><th class=\"num\">entries</th><th class=\"num\">"
	    "checkpoint size</th><th class=\"num\">anomalies</th><th>result</th></tr>\n", f);
	for (i = 0; i < rep->n_exports; i++) {
		const struct oem_report_export *e = &rep->exports[i];
		const struct oem_reconcile_result *r = e->res;

		fputs("<tr><td>", f);
		oem_html_escape(f, e->file);
		fputs("</td>", f);
		if (r != NULL)
			fprintf(f, "<td class=\"mono\">%s</td><td class=\"num\">%llu&ndash;%llu"
			    "</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>",
			    r->origin, (unsigned long long)r->first_index,
			    (unsigned long long)(r->first_index + r->entries),
			    (unsigned long long)r->tree_size,
			    (unsigned long long)r->anomalies_total);
		else
			fputs("<td></td><td></td><td></td><td></td>", f);
		fprintf(f, "<td>%s</td></tr>\n", export_status(e));
	}
	fputs("</table></section>\n", f);
}

static void
quota_rows(FILE *f, const struct oem_report_appliance *a)
{
	size_t i;

	for (i = 0; i < a->n_quotas; i++) {
		const struct oem_report_quota *q = &a->quotas[i];
		uint64_t pct = q->units == 0 ? 0 : q->issued * 100 / q->units;

		fputs("<tr>", f);
		hex_cell(f, q->quota_id, TALLY_QUOTA_ID_LEN);
		fputs("<td>", f);
		oem_html_escape(f, q->product);
		fprintf(f, "</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>"
		    "<td class=\"num\">%llu</td><td class=\"num\">%llu</td>"
		    "<td class=\"num\">%llu</td><td class=\"num\">%llu</td>"
		    "<td class=\"num\">%llu</td>"
		    "<td><div class=\"meter\"><div%s style=\"width:%llu%%\"></div></div></td></tr>\n",
		    (unsigned long long)q->units, (unsigned long long)q->issued,
		    (unsigned long long)q->returned, (unsigned long long)q->failed,
		    (unsigned long long)(q->issued - (q->reported < q->issued ? q->reported : q->issued)),
		    (unsigned long long)q->scrap_allowance,
		    (unsigned long long)q->attestation_failed, pct > 100 ? " class=\"over\"" : "",
		    (unsigned long long)(pct > 100 ? 100 : pct));
	}
}

/* Jigs whose DUTs the appliance refused for their attestation (clones or
 * wrong parts: information for the OEM, not an anomaly). */
static void
attestation_jigs(FILE *f, const struct oem_report_appliance *a)
{
	size_t i;

	if (a->n_jigs == 0)
		return;
	fputs("<h3>Attestation failures by jig</h3>\n<p class=\"sub\">DUTs this "
	    "appliance refused because their attestation did not verify: cloned or "
	    "wrong parts. Nothing was issued for them.</p>\n<table><tr><th>jig key ID"
	    "</th><th class=\"num\">attestation failures</th></tr>\n", f);
	for (i = 0; i < a->n_jigs; i++) {
		fputs("<tr>", f);
		hex_cell(f, a->jigs[i].id, TALLY_KEY_ID_LEN);
		fprintf(f, "<td class=\"num\">%llu</td></tr>\n",
		    (unsigned long long)a->jigs[i].attestation_failed);
	}
	fputs("</table>\n", f);
}

static void
appliance(FILE *f, const struct oem_report_appliance *a)
{
	char t1[32], t2[32];

	fprintf(f, "<section class=\"appliance\"><h2>Appliance %s</h2>\n<table>"
	    "<tr><th>key ID</th>", a->origin);
	hex_cell(f, a->key_id, TALLY_KEY_ID_LEN);
	fprintf(f, "</tr>\n<tr><th>checkpoint</th><td>%llu entries, %s</td></tr>\n"
	    "<tr><th>root hash</th>", (unsigned long long)a->size, a->verified ?
	    "<span class=\"ok\">verified</span>" : "<span class=\"no\">NOT verified</span>");
	hex_cell(f, a->root, TALLY_HASH_LEN);
	fprintf(f, "</tr>\n<tr><th>last entry</th><td>%s</td></tr>\n",
	    oem_fmt_time(a->last_time, t1));
	if (a->verified_at != 0)
		fprintf(f, "<tr><th>taken into the ledger</th><td>%s</td></tr>\n",
		    oem_fmt_time(a->verified_at, t2));
	fputs("</table>\n<h3>Quotas</h3>\n<table><tr><th>quota</th><th>product</th>"
	    "<th class=\"num\">units</th><th class=\"num\">issued</th><th class=\"num\">"
	    "returned</th><th class=\"num\">failed</th><th class=\"num\">unreported</th>"
	    "<th class=\"num\">scrap allowance</th><th class=\"num\">attestation "
	    "failures</th><th>used</th></tr>\n", f);
	quota_rows(f, a);
	fputs("</table>\n", f);
	attestation_jigs(f, a);
}

int
oem_report_html(FILE *f, const struct oem_report *rep)
{
	size_t i;
	int r = 0;

	head(f, rep);
	anomalies(f, rep);
	exports(f, rep);
	if (rep->n_appliances > 0 && (r = oem_report_charts(f, rep)) != 0)
		return r;
	for (i = 0; i < rep->n_appliances && r == 0; i++) {
		appliance(f, &rep->appliances[i]);
		r = oem_report_appliance_charts(f, &rep->appliances[i]);
		fputs("</section>\n", f);
	}
	fputs("<p class=\"sub\">tally-oem " TALLY_VERSION "</p>\n</main>\n</body>\n</html>\n", f);
	if (r == 0 && (fflush(f) != 0 || ferror(f)))
		r = TALLY_ERR_IO;
	return r;
}
