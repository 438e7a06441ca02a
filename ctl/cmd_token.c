/* cmd_token.c - tallyctl token show UID: every token issued to a device,
 * each checked against the appliance key before it is printed. */
#include <getopt.h>
#include <string.h>
#include "artifact.h"
#include "ctl.h"
#include "err.h"
#include "key.h"
#include "util.h"

static json_t *
token_json(const Tally__Token *t)
{
	return json_pack("{s:I, s:o, s:o, s:s, s:o, s:I, s:o, s:o, s:I}",
	    "log_index", (json_int_t)t->log_index,
	    "quota_id", ctl_json_hex(t->quota_id.data, t->quota_id.len),
	    "appliance_key_id", ctl_json_hex(t->appliance_key_id.data, t->appliance_key_id.len),
	    "product", t->product,
	    "device_uid", ctl_json_hex(t->device_uid.data, t->device_uid.len),
	    "serial_number", (json_int_t)t->serial_number,
	    "firmware_digest", ctl_json_hex(t->firmware_digest.data, t->firmware_digest.len),
	    "jig_key_id", ctl_json_hex(t->jig_key_id.data, t->jig_key_id.len),
	    "issued_at", (json_int_t)t->issued_at);
}

/* Field lengths were checked by tally_token_open (tally_token_check). */
static void
token_text(const Tally__Token *t)
{
	char hex[2 * TALLY_UID_MAX + 1], tm[32];

	printf("token at log entry %llu\n", (unsigned long long)t->log_index);
	printf("  quota:           %s\n", ctl_hex(t->quota_id.data, t->quota_id.len, hex));
	printf("  product:         %s\n", t->product);
	printf("  device UID:      %s\n", ctl_hex(t->device_uid.data, t->device_uid.len, hex));
	if (t->serial_number != 0)
		printf("  serial number:   %llu\n", (unsigned long long)t->serial_number);
	printf("  firmware digest: %s\n", ctl_hex(t->firmware_digest.data, 32, hex));
	printf("  jig key ID:      %s\n", ctl_hex(t->jig_key_id.data, 32, hex));
	printf("  issued at:       %s\n", ctl_time(t->issued_at, tm));
	printf("  signature:       valid (appliance key %s)\n",
	    ctl_hex(t->appliance_key_id.data, 32, hex));
}

static int
tokens_print(const struct ctl_cmd *self, const Tally__TokenShowResponse *ts,
    EVP_PKEY *appliance, int json)
{
	json_t *arr = json ? json_array() : NULL;
	Tally__Token *t;
	size_t i;
	int r, ex = CTL_EXIT_OK;

	for (i = 0; i < ts->n_tokens; i++) {
		r = tally_token_open(ts->tokens[i].data, ts->tokens[i].len, appliance, &t);
		if (r != 0) {
			ctl_errx(self, "token %zu from tallyd does not verify: %s", i,
			    tally_strerror(r));
			ex = CTL_EXIT_REFUSED;
			continue;
		}
		if (json)
			json_array_append_new(arr, token_json(t));
		else
			token_text(t);
		tally__token__free_unpacked(t, NULL);
	}
	if (json && ctl_json_print(self, arr) != CTL_EXIT_OK)
		ex = CTL_EXIT_USAGE;
	return ex;
}

static int
token_show(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    uint8_t *uid, size_t uid_len, int json)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__IdentityRequest idr = TALLY__IDENTITY_REQUEST__INIT;
	Tally__TokenShowRequest tsr = TALLY__TOKEN_SHOW_REQUEST__INIT;
	Tally__CtlResponse *id = NULL, *ts = NULL;
	struct ctl_client *c = NULL;
	EVP_PKEY *appliance = NULL;
	int ex;

	if ((ex = ctl_connect(ctx, self, &c)) != CTL_EXIT_OK)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	req.identity = &idr;
	if ((ex = ctl_call(ctx, self, c, &req, TALLY__CTL_RESPONSE__BODY_IDENTITY, &id)) != 0)
		goto out;
	if (tally_key_from_spki(id->identity->public_key.data,
	    id->identity->public_key.len, &appliance) != 0) {
		ex = ctl_io_failed(self, ctx, TALLY_ERR_INVALID);
		goto out;
	}
	tsr.device_uid.data = uid;
	tsr.device_uid.len = uid_len;
	req.body_case = TALLY__CTL_REQUEST__BODY_TOKEN_SHOW;
	req.token_show = &tsr;
	if ((ex = ctl_call(ctx, self, c, &req, TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW, &ts)) != 0)
		goto out;
	ex = tokens_print(self, ts->token_show, appliance, json);
 out:
	EVP_PKEY_free(appliance);
	if (id != NULL)
		tally__ctl_response__free_unpacked(id, NULL);
	if (ts != NULL)
		tally__ctl_response__free_unpacked(ts, NULL);
	ctl_client_close(c);
	return ex;
}

static int
token_show_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t uid[TALLY_UID_MAX];
	size_t uid_len = 0;
	int ch, text = 0, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "tjh", opts, NULL)) != -1) {
		switch (ch) {
		case 't': text = 1; break;
		case 'j': json = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	if (text && (uid_len = strlen(argv[optind])) >= 1 && uid_len <= TALLY_UID_MAX)
		memcpy(uid, argv[optind], uid_len);
	else if (text || tally_unhex_var(argv[optind], uid, sizeof(uid), &uid_len) != 0 ||
	    uid_len == 0) {
		ctl_errx(self, "%s: a device UID is 1 to %d bytes (%s)", argv[optind],
		    TALLY_UID_MAX, text ? "as text" : "in hex");
		return CTL_EXIT_USAGE;
	}
	return token_show(ctx, self, uid, uid_len, json);
}

const struct ctl_cmd ctl_cmd_token_show = {
	{
		"token", "show", "[--text] [--json] UID",
		"Show every token issued to a device UID, verified against the appliance key.",
		"  -t, --text        UID is a printable string, not hex\n"
		"  --json            print the tokens as JSON\n",
	},
	token_show_exec,
};
