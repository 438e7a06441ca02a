/* cmd_reconcile.c - tally-oem reconcile [--ledger DIR] --root OEMPUB
 * [--json] [--html FILE] EXPORT...: verifies each export on its own
 * (reconcile.c, then device UIDs across them) or against the ledger
 * (ledger.h: each verified export is taken in one transaction), prints
 * the report (reconcile_print.c) and writes the HTML page (report.h). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "key.h"
#include "ledger.h"
#include "oem.h"
#include "reconcile.h"
#include "reconcile_print.h"
#include "report.h"
#include "util.h"

struct run {
	const struct oem_cmd *self;
	EVP_PKEY *root;
	const char *ledger_dir, *html;
	int json;
	char **paths;
	size_t n;
	struct oem_reconcile_result *res;
	const char **errors;         /* per export: why unreadable, or NULL */
	int *status;                 /* per export: -1 no ledger, 0 refused, 1 taken */
	struct oem_ledger *l;
	int64_t now;
};

/* Each export on its own, then UIDs across them. Returns the exit status. */
static int
run_stateless(struct run *u)
{
	int ex = OEM_EXIT_OK;
	size_t i;

	for (i = 0; i < u->n; i++) {
		u->status[i] = -1;
		if (oem_reconcile_file(u->paths[i], u->root, &u->res[i]) == 0)
			continue;
		oem_errx(u->self, "%s: %s", u->paths[i], u->res[i].error);
		u->errors[i] = u->res[i].error;
		ex = OEM_EXIT_USAGE;
	}
	if (oem_reconcile_cross(u->res, u->n) != 0) {
		oem_errx(u->self, "out of memory");
		return OEM_EXIT_USAGE;
	}
	return ex;
}

/* Each export against the ledger, in the order given. */
static int
run_ledger(struct run *u)
{
	int ex = OEM_EXIT_OK, r, applied;
	size_t i;

	if ((r = oem_ledger_open(u->ledger_dir, OEM_LEDGER_MAP_SIZE, &u->l)) != 0) {
		oem_errx(u->self, "--ledger %s: %s", u->ledger_dir, r == TALLY_ERR_IO ?
		    strerror(errno) : tally_strerror(r));
		return OEM_EXIT_USAGE;
	}
	for (i = 0; i < u->n; i++) {
		r = oem_ledger_reconcile(u->l, u->paths[i], u->root, u->now, &u->res[i],
		    &applied);
		u->status[i] = applied;
		if (r == 0)
			continue;
		oem_errx(u->self, "%s: %s", u->paths[i], u->res[i].error[0] != '\0' ?
		    u->res[i].error : tally_strerror(r));
		u->errors[i] = u->res[i].error[0] != '\0' ? u->res[i].error : tally_strerror(r);
		ex = OEM_EXIT_USAGE;
		if (r == TALLY_ERR_MISMATCH)
			break;  /* the wrong root: no export can be checked */
	}
	return ex;
}

static int
print_json(struct run *u)
{
	json_t *arr = json_array(), *o, *top;
	uint64_t total = 0;
	size_t i;

	for (i = 0; arr != NULL && i < u->n; i++) {
		if (u->errors[i] != NULL)
			continue;
		total += u->res[i].anomalies_total;
		o = oem_reconcile_json(u->paths[i], &u->res[i]);
		if (o != NULL && u->status[i] >= 0)
			json_object_set_new(o, "ledger", json_string(u->status[i] ?
			    "updated" : "unchanged"));
		json_array_append_new(arr, o);
	}
	if ((top = json_pack("{s:o, s:I, s:b}", "exports", arr, "anomalies_total",
	    (json_int_t)total, "ok", total == 0)) == NULL) {
		oem_errx(u->self, "out of memory");
		return OEM_EXIT_USAGE;
	}
	json_dumpf(top, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(top);
	return 0;
}

/* The page, written whole or not at all. */
static int
write_html(struct run *u)
{
	struct oem_report rep;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int r;

	if ((r = oem_report_init(&rep, u->now, u->ledger_dir, u->paths, u->res,
	    u->errors, u->status, u->n)) == 0)
		r = u->l != NULL ? oem_report_from_ledger(&rep, u->l) :
		    oem_report_from_exports(&rep);
	if (r == 0 && (f = open_memstream(&buf, &len)) == NULL)
		r = TALLY_ERR_NOMEM;
	if (r == 0)
		r = oem_report_html(f, &rep);
	if (f != NULL && fclose(f) != 0 && r == 0)
		r = TALLY_ERR_IO;
	if (r == 0 && (r = tally_write_file(u->html, (const uint8_t *)buf, len, 0644)) != 0)
		oem_errx(u->self, "--html %s: %s", u->html, strerror(errno));
	else if (r != 0)
		oem_errx(u->self, "--html %s: %s", u->html, tally_strerror(r));
	free(buf);
	oem_report_free(&rep);
	return r == 0 ? 0 : OEM_EXIT_USAGE;
}

static int
report(struct run *u, int ex)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < u->n; i++)
		if (u->errors[i] == NULL)
			total += u->res[i].anomalies_total;
	if (u->json && print_json(u) != 0)
		ex = OEM_EXIT_USAGE;
	for (i = 0; !u->json && i < u->n; i++)
		if (u->errors[i] == NULL)
			oem_reconcile_print_text(stdout, u->paths[i], &u->res[i], u->status[i]);
	if (!u->json && u->n == 0 && oem_ledger_print_text(stdout, u->l, u->ledger_dir) != 0)
		ex = OEM_EXIT_USAGE;
	if (u->html != NULL && write_html(u) != 0)
		ex = OEM_EXIT_USAGE;
	if (ex == OEM_EXIT_OK && total > 0)
		ex = OEM_EXIT_ANOMALY;
	return ex;
}

static int
reconcile_all(struct run *u)
{
	int ex;
	size_t i;

	u->res = calloc(u->n + 1, sizeof(*u->res));
	u->errors = calloc(u->n + 1, sizeof(*u->errors));
	u->status = calloc(u->n + 1, sizeof(*u->status));
	if (u->res == NULL || u->errors == NULL || u->status == NULL) {
		oem_errx(u->self, "out of memory");
		ex = OEM_EXIT_USAGE;
		goto out;
	}
	u->now = tally_now();
	ex = u->ledger_dir != NULL ? run_ledger(u) : run_stateless(u);
	if (u->l != NULL || u->ledger_dir == NULL)
		ex = report(u, ex);
 out:
	for (i = 0; u->res != NULL && i < u->n; i++)
		oem_reconcile_result_free(&u->res[i]);
	oem_ledger_close(u->l);
	free(u->res);
	free(u->errors);
	free(u->status);
	return ex;
}

static int
reconcile_exec(const struct oem_cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "html", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run u = { 0 };
	const char *root_path = NULL;
	int ch, r, ex;

	u.self = self;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "r:l:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': root_path = optarg; break;
		case 'l': u.ledger_dir = optarg; break;
		case 'j': u.json = 1; break;
		case 'H': u.html = optarg; break;
		case 'h': oem_usage(self, stdout); return OEM_EXIT_OK;
		default: oem_usage(self, stderr); return OEM_EXIT_USAGE;
		}
	}
	if (root_path == NULL || (optind == argc && u.ledger_dir == NULL)) {
		oem_usage(self, stderr);
		return OEM_EXIT_USAGE;
	}
	if ((r = tally_key_load_public(root_path, &u.root)) != 0) {
		oem_errx(self, "--root %s: %s", root_path, tally_strerror(r));
		return OEM_EXIT_USAGE;
	}
	u.paths = argv + optind;
	u.n = (size_t)(argc - optind);
	ex = reconcile_all(&u);
	EVP_PKEY_free(u.root);
	return ex;
}

const struct oem_cmd oem_cmd_reconcile = {
	{
		"reconcile", NULL,
		"[--ledger DIR] --root OEMPUB [--json] [--html FILE] EXPORT...",
		"Verify appliance log exports; exit 1 on any anomaly.",
		"Checks every signature, the Merkle root and consistency proof against the\n"
		"signed checkpoints, tokens per quota, duplicate device UIDs and serial\n"
		"numbers, install reports, failed units and entry times. With --ledger,\n"
		"each export is checked against what the ledger verified before (rollback,\n"
		"fork, gap, counts and duplicates across every appliance) and, when it has\n"
		"no anomaly, taken into the ledger; an export with an anomaly changes\n"
		"nothing. Give an appliance's exports in the order they were made.\n"
		"  -r, --root OEMPUB       the OEM root public key (PEM)\n"
		"  -l, --ledger DIR        the OEM ledger folder (made when missing); with no\n"
		"                          EXPORT, reports what the ledger holds\n"
		"  --json                  print the report as JSON\n"
		"  --html FILE             also write the report as a self-contained HTML page\n",
	},
	reconcile_exec,
};
