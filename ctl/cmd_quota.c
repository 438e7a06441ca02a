/* cmd_quota.c - tallyctl quota import FILE, tallyctl quota list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "dsse.h"
#include "err.h"
#include "util.h"

static int
quota_import_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaImportRequest body = TALLY__QUOTA_IMPORT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint8_t *buf = NULL;
	size_t len;
	char hex[33];
	int r, ex, json, first;

	if ((ex = ctl_std_opts(self, argc, argv, 1, &json, &first)) >= 0)
		return ex;
	if ((r = tally_read_file(argv[first], TALLY_ENVELOPE_MAX, &buf, &len)) != 0) {
		ctl_errx(self, "%s: %s", argv[first], r == TALLY_ERR_IO ?
		    strerror(errno) : r == TALLY_ERR_TOO_LARGE ?
		    "larger than a quota envelope can be" : tally_strerror(r));
		return CTL_EXIT_USAGE;
	}
	body.quota.data = buf;
	body.quota.len = len;
	req.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT;
	req.quota_import = &body;
	ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_QUOTA_IMPORT, &resp);
	free(buf);
	if (ex != CTL_EXIT_OK)
		return ex;
	if (json)
		ex = ctl_json_print(self, json_pack("{s:o, s:I}", "quota_id",
		    ctl_json_hex(resp->quota_import->quota_id.data,
		    resp->quota_import->quota_id.len), "log_index",
		    (json_int_t)resp->quota_import->log_index));
	else if (resp->quota_import->quota_id.len == 16)
		printf("imported quota %s (log entry %llu)\n",
		    ctl_hex(resp->quota_import->quota_id.data, 16, hex),
		    (unsigned long long)resp->quota_import->log_index);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

static json_t *
quota_list_json(const Tally__QuotaListResponse *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n_quotas; i++) {
		const Tally__QuotaInfo *q = l->quotas[i];

		json_array_append_new(a, json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "quota_id", ctl_json_hex(q->quota_id.data, q->quota_id.len),
		    "product", q->product, "units", (json_int_t)q->units,
		    "issued", (json_int_t)q->issued, "returned", (json_int_t)q->returned,
		    "not_before", (json_int_t)q->not_before,
		    "not_after", (json_int_t)q->not_after,
		    "import_index", (json_int_t)q->import_index));
	}
	return a;
}

static void
quota_list_text(const Tally__QuotaListResponse *l)
{
	char hex[33], t1[32], t2[32];
	size_t i;

	if (l->n_quotas == 0) {
		printf("no quota imported\n");
		return;
	}
	printf("%-32s  %-16s %10s %10s %8s  %-20s  %s\n", "QUOTA", "PRODUCT",
	    "UNITS", "ISSUED", "RETURNED", "NOT BEFORE", "NOT AFTER");
	for (i = 0; i < l->n_quotas; i++) {
		const Tally__QuotaInfo *q = l->quotas[i];

		printf("%-32s  %-16s %10llu %10llu %8llu  %-20s  %s\n",
		    q->quota_id.len == 16 ? ctl_hex(q->quota_id.data, 16, hex) : "?",
		    q->product, (unsigned long long)q->units,
		    (unsigned long long)q->issued, (unsigned long long)q->returned,
		    ctl_time(q->not_before, t1), ctl_time(q->not_after, t2));
	}
}

static int
quota_list_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaListRequest body = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int ex, json, first;

	if ((ex = ctl_std_opts(self, argc, argv, 0, &json, &first)) >= 0)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	req.quota_list = &body;
	if ((ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_QUOTA_LIST, &resp)) != 0)
		return ex;
	if (json)
		ex = ctl_json_print(self, quota_list_json(resp->quota_list));
	else
		quota_list_text(resp->quota_list);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

const struct ctl_cmd ctl_cmd_quota_import = {
	{
		"quota", "import", "[--json] FILE",
		"Import an OEM-signed quota file (from tally-oem quota create).",
		"  --json            print the quota ID and log index as JSON\n",
	},
	quota_import_exec,
};

const struct ctl_cmd ctl_cmd_quota_list = {
	{
		"quota", "list", "[--json]",
		"List imported quotas with units, issued and returned counts.",
		"  --json            print as JSON\n",
	},
	quota_list_exec,
};
