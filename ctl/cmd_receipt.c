/* cmd_receipt.c - tallyctl receipt import FILE: an OEM receipt (a
 * checkpoint of this appliance cosigned with the OEM root key, C2SP
 * tlog-cosignature, from `tally-oem receipt`) sent to tallyd, which
 * verifies it against the OEM root key and its own checkpoints, logs it
 * and resets the unreconciled window of every quota. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "ctl.h"
#include "err.h"
#include "util.h"

static int
receipt_print(const struct ctl_cmd *self, const Tally__ReceiptImportResponse *ri,
    const char *path, int json)
{
	char tm[32];

	if (json)
		return ctl_json_print(self, json_pack("{s:s, s:I, s:I, s:I}", "file", path,
		    "tree_size", (json_int_t)ri->tree_size, "log_index", (json_int_t)ri->log_index,
		    "cosigned_at", (json_int_t)ri->cosigned_at));
	printf("imported the OEM receipt for tree size %llu (cosigned %s, log entry %llu)\n",
	    (unsigned long long)ri->tree_size, ctl_time(ri->cosigned_at, tm),
	    (unsigned long long)ri->log_index);
	return CTL_EXIT_OK;
}

static int
receipt_import_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__ReceiptImportRequest body = TALLY__RECEIPT_IMPORT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	const char *path;
	uint8_t *buf = NULL;
	size_t len;
	int ex, json, first, r;

	if ((ex = ctl_std_opts(self, argc, argv, 1, &json, &first)) >= 0)
		return ex;
	path = argv[first];
	if ((r = tally_read_file(path, TALLY_NOTE_MAX, &buf, &len)) != 0) {
		ctl_errx(self, "%s: %s", path, r == TALLY_ERR_TOO_LARGE ?
		    "larger than a receipt (8192 bytes)" : strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		ctl_errx(self, "%s: not a receipt (empty, or not text)", path);
		free(buf);
		return CTL_EXIT_USAGE;
	}
	body.receipt = (char *)buf;   /* NUL-terminated by tally_read_file */
	req.body_case = TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT;
	req.receipt_import = &body;
	ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_RECEIPT_IMPORT, &resp);
	free(buf);
	if (ex != CTL_EXIT_OK)
		return ex;
	ex = receipt_print(self, resp->receipt_import, path, json);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

const struct ctl_cmd ctl_cmd_receipt_import = {
	{
		"receipt", "import", "[--json] FILE",
		"Import an OEM receipt (from tally-oem receipt): resets the unreconciled window.",
		"  --json            print the result as JSON\n",
	},
	receipt_import_exec,
};
