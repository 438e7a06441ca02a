/*
 * report.h - what the reconcile report shows, whatever its form: the
 * exports of this run with their anomalies, and per appliance its
 * checkpoint, quotas and tokens per UTC day per quota. Built from the
 * ledger (every appliance it holds) or, without a ledger, from the
 * exports themselves. report_html.c renders it as one self-contained
 * HTML page (inline CSS and SVG, no script, no external resource).
 */
#ifndef TALLY_OEM_REPORT_H
#define TALLY_OEM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "ledger.h"
#include "reconcile.h"

#define OEM_REPORT_DAYS_MAX 62       /* days drawn per chart (the latest) */

struct oem_report_quota {
	uint8_t quota_id[TALLY_QUOTA_ID_LEN];
	char product[TALLY_PRODUCT_MAX + 1];
	uint64_t units, scrap_allowance, issued, returned, failed, reported;
	uint64_t attestation_failed;  /* DUTs refused for their attestation */
};

/* A jig of one appliance with attestation failures (only those). */
struct oem_report_jig {
	uint8_t id[TALLY_KEY_ID_LEN];
	uint64_t attestation_failed;
};

/* Tokens issued by one appliance under one quota (slot) on one day. */
struct oem_report_day {
	int64_t day;                 /* Unix time / 86400 */
	size_t quota;                /* slot in the appliance's quotas */
	uint64_t count;
};

struct oem_report_appliance {
	uint8_t key_id[TALLY_KEY_ID_LEN];
	char origin[TALLY_ORIGIN_MAX];
	uint64_t size;               /* last verified checkpoint (0: none) */
	uint8_t root[TALLY_HASH_LEN];
	int verified;                /* size/root are a verified checkpoint */
	int64_t last_time, verified_at;  /* verified_at 0: not from a ledger */
	struct oem_report_quota *quotas;
	size_t n_quotas;
	struct oem_report_day *days;
	size_t n_days;
	struct oem_report_jig *jigs;  /* jigs with attestation failures */
	size_t n_jigs;
};

/* One export of this run. */
struct oem_report_export {
	const char *file;            /* as given, not owned */
	const struct oem_reconcile_result *res;  /* not owned; NULL when unreadable */
	const char *error;           /* why it could not be read, or NULL */
	int ledger_status;           /* -1 no ledger, 0 refused (unchanged), 1 taken */
};

struct oem_report {
	int64_t generated_at;
	const char *ledger_dir;      /* NULL: no ledger */
	struct oem_report_export *exports;   /* owned array */
	size_t n_exports;
	struct oem_report_appliance *appliances;  /* owned, key ID order */
	size_t n_appliances;
	uint64_t anomalies_total;
	size_t unreadable;           /* exports that could not be read */
};

/* Starts a report (zeroed) for n exports (files[i], results res[i] or
 * NULL with errors[i], statuses[i] as in oem_report_export; arrays not
 * copied deeply: they must outlive the report). Returns 0 or
 * TALLY_ERR_NOMEM. */
int oem_report_init(struct oem_report *rep, int64_t now, const char *ledger_dir,
    char *const *files, const struct oem_reconcile_result *res,
    const char *const *errors, const int *statuses, size_t n);

/* Fills the appliances from the ledger (every appliance it holds, in a
 * read transaction). Errors: TALLY_ERR_NOMEM, TALLY_ERR_STORAGE. */
int oem_report_from_ledger(struct oem_report *rep, struct oem_ledger *l);

/* Fills the appliances from the exports (no ledger): one per appliance
 * key, from its export with the largest checkpoint; quotas and days from
 * that export's tokens. Returns 0 or TALLY_ERR_NOMEM. */
int oem_report_from_exports(struct oem_report *rep);

/* Frees what rep owns. */
void oem_report_free(struct oem_report *rep);

/* Writes the report as one self-contained HTML page to f: anomalies
 * first (each with its type, appliance, export, entry and message), the
 * exports, then per appliance its checkpoint, quotas and a chart of
 * tokens per day per quota, and a chart of tokens per day per appliance.
 * Every string that comes from an export is HTML-escaped. Returns 0 or
 * TALLY_ERR_IO (a write to f failed). */
int oem_report_html(FILE *f, const struct oem_report *rep);

/* Writes s to f with & < > " ' escaped as HTML character references. */
void oem_html_escape(FILE *f, const char *s);

/* One series of a stacked bar chart: its name and a value per day. */
struct oem_chart {
	const char *title;
	size_t n_days, n_series;
	const int64_t *days;         /* ascending, n_days */
	const char *const *names;    /* n_series legend names (escaped when drawn) */
	const uint64_t *v;           /* n_days * n_series, v[d * n_series + s] */
};

/* Draws c as an inline <svg> bar chart (stacked per day, a legend, a y
 * axis with counts and a date under each bar or every few bars). */
void oem_chart_svg(FILE *f, const struct oem_chart *c);

/* The charts of the page (report_chart.c): tokens per day per appliance
 * (a section of its own), and an appliance's tokens per day per quota.
 * The latest OEM_REPORT_DAYS_MAX days with tokens are drawn. Return 0 or
 * TALLY_ERR_NOMEM. */
int oem_report_charts(FILE *f, const struct oem_report *rep);
int oem_report_appliance_charts(FILE *f, const struct oem_report_appliance *a);

#endif
