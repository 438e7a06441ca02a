/* cmd_jig_revoke.c - tallyctl jig revoke ID: ID is the jig key ID in hex,
 * or a prefix of it that names exactly one enrolled jig. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "ctl.h"
#include "err.h"
#include "util.h"

#define PREFIX_MIN 4  /* hex digits a prefix needs, against typos */

/* Finds the one jig whose hex key ID starts with prefix. */
static int
resolve_prefix(const struct ctl_cmd *self, const Tally__JigListResponse *l,
    const char *prefix, uint8_t id[32])
{
	char hex[65];
	size_t i, n = 0, plen = strlen(prefix);

	for (i = 0; i < l->n_jigs; i++) {
		if (l->jigs[i]->jig_key_id.len != 32)
			continue;
		tally_hex(l->jigs[i]->jig_key_id.data, 32, hex);
		if (strncasecmp(hex, prefix, plen) != 0)
			continue;
		memcpy(id, l->jigs[i]->jig_key_id.data, 32);
		n++;
	}
	if (n == 1)
		return CTL_EXIT_OK;
	ctl_errx(self, n == 0 ? "no enrolled jig has a key ID starting with %s" :
	    "%s names more than one jig; give more digits", prefix);
	return CTL_EXIT_REFUSED;
}

static int
jig_lookup(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    struct ctl_client *c, const char *prefix, uint8_t id[32])
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__JigListRequest body = TALLY__JIG_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int r, ex;

	req.body_case = TALLY__CTL_REQUEST__BODY_JIG_LIST;
	req.jig_list = &body;
	if ((r = ctl_client_call(c, &req, &resp)) != 0)
		return ctl_io_failed(self, ctx, r);
	if (resp->error != TALLY__ERROR_CODE__OK)
		ex = ctl_refused(self, resp);
	else if (resp->body_case != TALLY__CTL_RESPONSE__BODY_JIG_LIST)
		ex = ctl_io_failed(self, ctx, TALLY_ERR_INVALID);
	else
		ex = resolve_prefix(self, resp->jig_list, prefix, id);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

static int
jig_revoke_send(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    struct ctl_client *c, uint8_t id[32], int json)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__JigRevokeRequest body = TALLY__JIG_REVOKE_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	char hex[65];
	int r, ex = CTL_EXIT_OK;

	body.jig_key_id.data = id;
	body.jig_key_id.len = 32;
	req.body_case = TALLY__CTL_REQUEST__BODY_JIG_REVOKE;
	req.jig_revoke = &body;
	if ((r = ctl_client_call(c, &req, &resp)) != 0)
		return ctl_io_failed(self, ctx, r);
	if (resp->error != TALLY__ERROR_CODE__OK)
		ex = ctl_refused(self, resp);
	else if (resp->body_case != TALLY__CTL_RESPONSE__BODY_JIG_REVOKE)
		ex = ctl_io_failed(self, ctx, TALLY_ERR_INVALID);
	else if (json)
		ex = ctl_json_print(self, json_pack("{s:o, s:I, s:I}",
		    "jig_key_id", ctl_json_hex(id, 32),
		    "log_index", (json_int_t)resp->jig_revoke->log_index,
		    "connections_closed", (json_int_t)resp->jig_revoke->connections_closed));
	else
		printf("revoked jig %s (log entry %llu, %u connection(s) closed)\n",
		    ctl_hex(id, 32, hex), (unsigned long long)resp->jig_revoke->log_index,
		    resp->jig_revoke->connections_closed);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

static int
check_hex(const char *s)
{
	size_t i, n = strlen(s);

	if (n < PREFIX_MIN || n > 64)
		return -1;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return -1;
	return 0;
}

static int
jig_revoke_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	struct ctl_client *c = NULL;
	uint8_t id[32];
	const char *arg;
	int ex, json, first;

	if ((ex = ctl_std_opts(self, argc, argv, 1, &json, &first)) >= 0)
		return ex;
	arg = argv[first];
	if (check_hex(arg) != 0) {
		ctl_errx(self, "%s: not a jig key ID (%d to 64 hex digits)", arg, PREFIX_MIN);
		return CTL_EXIT_USAGE;
	}
	if ((ex = ctl_connect(ctx, self, &c)) != CTL_EXIT_OK)
		return ex;
	if (strlen(arg) == 64)
		ex = tally_unhex(arg, id, 32) == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	else
		ex = jig_lookup(ctx, self, c, arg, id);
	if (ex == CTL_EXIT_OK)
		ex = jig_revoke_send(ctx, self, c, id, json);
	ctl_client_close(c);
	return ex;
}

const struct ctl_cmd ctl_cmd_jig_revoke = {
	{
		"jig", "revoke", "[--json] ID",
		"Revoke a jig: ID is its key ID in hex, or a unique prefix (4+ digits).",
		"  --json            print the log index as JSON\n",
	},
	jig_revoke_exec,
};
