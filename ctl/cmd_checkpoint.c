/* cmd_checkpoint.c - tallyctl checkpoint: the latest signed checkpoint. */
#include <stdio.h>
#include <string.h>
#include "ctl.h"

static int
checkpoint_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__CheckpointRequest body = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	Tally__CheckpointResponse *cp;
	int ex, json, first;

	if ((ex = ctl_std_opts(self, argc, argv, 0, &json, &first)) >= 0)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	req.checkpoint = &body;
	if ((ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_CHECKPOINT, &resp)) != 0)
		return ex;
	cp = resp->checkpoint;
	if (json)
		ex = ctl_json_print(self, json_pack("{s:s, s:I, s:o}", "note", cp->note,
		    "tree_size", (json_int_t)cp->tree_size,
		    "root_hash", ctl_json_hex(cp->root_hash.data, cp->root_hash.len)));
	else
		fputs(cp->note, stdout);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

const struct ctl_cmd ctl_cmd_checkpoint = {
	{
		"checkpoint", NULL, "[--json]",
		"Print the latest checkpoint: a signed note of the log size and root hash.",
		"  --json            print the note, tree size and root hash as JSON\n",
	},
	checkpoint_exec,
};
