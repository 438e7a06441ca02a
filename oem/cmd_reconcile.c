/* cmd_reconcile.c - tally-oem reconcile --root OEMPUB [--json] EXPORT...:
 * verifies each export (reconcile.c), then device UIDs across them, and
 * prints the report (reconcile_print.c). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "key.h"
#include "oem.h"
#include "reconcile.h"
#include "reconcile_print.h"

static int
print_all(const struct oem_cmd *self, char **paths, struct oem_reconcile_result *res,
    const int *ok, size_t n, int json)
{
	json_t *arr = NULL, *top;
	uint64_t total = 0;
	size_t i;

	if (json && (arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (!ok[i])
			continue;
		total += res[i].anomalies_total;
		if (json)
			json_array_append_new(arr, oem_reconcile_json(paths[i], &res[i]));
		else
			oem_reconcile_print_text(stdout, paths[i], &res[i]);
	}
	if (!json)
		return total == 0 ? OEM_EXIT_OK : OEM_EXIT_ANOMALY;
	if ((top = json_pack("{s:o, s:I, s:b}", "exports", arr, "anomalies_total",
	    (json_int_t)total, "ok", total == 0)) == NULL)
		goto nomem;
	json_dumpf(top, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(top);
	return total == 0 ? OEM_EXIT_OK : OEM_EXIT_ANOMALY;
 nomem:
	oem_errx(self, "out of memory");
	return OEM_EXIT_USAGE;
}

static int
reconcile_all(const struct oem_cmd *self, EVP_PKEY *root, char **paths, size_t n,
    int json)
{
	struct oem_reconcile_result *res;
	int *ok, r, ex = OEM_EXIT_OK;
	size_t i;

	res = calloc(n, sizeof(*res));
	ok = calloc(n, sizeof(*ok));
	if (res == NULL || ok == NULL) {
		oem_errx(self, "out of memory");
		ex = OEM_EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = oem_reconcile_file(paths[i], root, &res[i])) == 0) {
			ok[i] = 1;
			continue;
		}
		oem_errx(self, "%s: %s", paths[i], res[i].error);
		ex = OEM_EXIT_USAGE;
		oem_reconcile_result_free(&res[i]);
		memset(&res[i], 0, sizeof(res[i]));
	}
	if (oem_reconcile_cross(res, n) != 0) {
		oem_errx(self, "out of memory");
		ex = OEM_EXIT_USAGE;
		goto out;
	}
	r = print_all(self, paths, res, ok, n, json);
	if (ex == OEM_EXIT_OK)
		ex = r;
 out:
	for (i = 0; res != NULL && i < n; i++)
		oem_reconcile_result_free(&res[i]);
	free(res);
	free(ok);
	return ex;
}

static int
reconcile_exec(const struct oem_cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root_path = NULL;
	EVP_PKEY *root = NULL;
	int ch, r, ex, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "r:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': root_path = optarg; break;
		case 'j': json = 1; break;
		case 'h': oem_usage(self, stdout); return OEM_EXIT_OK;
		default: oem_usage(self, stderr); return OEM_EXIT_USAGE;
		}
	}
	if (root_path == NULL || optind == argc) {
		oem_usage(self, stderr);
		return OEM_EXIT_USAGE;
	}
	if ((r = tally_key_load_public(root_path, &root)) != 0) {
		oem_errx(self, "--root %s: %s", root_path, tally_strerror(r));
		return OEM_EXIT_USAGE;
	}
	ex = reconcile_all(self, root, argv + optind, (size_t)(argc - optind), json);
	EVP_PKEY_free(root);
	return ex;
}

const struct oem_cmd oem_cmd_reconcile = {
	{
		"reconcile", NULL, "--root OEMPUB [--json] EXPORT...",
		"Verify appliance log exports; exit 1 on any anomaly.",
		"Checks every signature, the Merkle root against the signed checkpoint,\n"
		"tokens per quota, duplicate device UIDs and install reports.\n"
		"  -r, --root OEMPUB       the OEM root public key (PEM)\n"
		"  --json                  print the report as JSON\n",
	},
	reconcile_exec,
};
