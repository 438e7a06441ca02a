/* cmd_status.c - tallyctl status: what tallyd is doing now. */
#include <stdio.h>
#include "ctl.h"

static json_t *
status_json(const Tally__StatusResponse *s)
{
	json_t *o = json_object(), *qs = json_array();
	size_t i;

	for (i = 0; i < s->n_quotas; i++) {
		const Tally__ProductStatus *p = s->quotas[i];

		json_array_append_new(qs, json_pack("{s:s, s:o, s:I, s:I, s:I}",
		    "product", p->product,
		    "quota_id", ctl_json_hex(p->quota_id.data, p->quota_id.len),
		    "units", (json_int_t)p->units,
		    "units_remaining", (json_int_t)p->units_remaining,
		    "not_after", (json_int_t)p->not_after));
	}
	json_object_set_new(o, "version", json_string(s->version));
	json_object_set_new(o, "appliance_key_id",
	    ctl_json_hex(s->appliance_key_id.data, s->appliance_key_id.len));
	json_object_set_new(o, "listen", json_string(s->listen));
	json_object_set_new(o, "log_size", json_integer((json_int_t)s->log_size));
	json_object_set_new(o, "jig_connections", json_integer(s->jig_connections));
	json_object_set_new(o, "tokens_issued", json_integer((json_int_t)s->tokens_issued));
	json_object_set_new(o, "started_at", json_integer(s->started_at));
	json_object_set_new(o, "storage_full", json_boolean(s->storage_full));
	json_object_set_new(o, "quotas", qs);
	return o;
}

static void
status_text(const Tally__StatusResponse *s)
{
	char hex[65], qid[33], t[32];
	size_t i;

	printf("tallyd %s, running since %s\n", s->version, ctl_time(s->started_at, t));
	if (s->appliance_key_id.len == 32)
		printf("appliance key ID: %s\n",
		    ctl_hex(s->appliance_key_id.data, 32, hex));
	printf("jig listener:     %s (%u connected)\n", s->listen, s->jig_connections);
	printf("log entries:      %llu\n", (unsigned long long)s->log_size);
	printf("tokens issued:    %llu\n", (unsigned long long)s->tokens_issued);
	if (s->storage_full)
		printf("STORAGE FULL: token issuance is stopped\n");
	if (s->n_quotas == 0)
		printf("no usable quota\n");
	for (i = 0; i < s->n_quotas; i++) {
		const Tally__ProductStatus *p = s->quotas[i];

		printf("quota %s  %-20s %llu of %llu units left, until %s\n",
		    p->quota_id.len == 16 ? ctl_hex(p->quota_id.data, 16, qid) : "?",
		    p->product, (unsigned long long)p->units_remaining,
		    (unsigned long long)p->units, ctl_time(p->not_after, t));
	}
}

static int
status_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__StatusRequest body = TALLY__STATUS_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int ex, json, first;

	if ((ex = ctl_std_opts(self, argc, argv, 0, &json, &first)) >= 0)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_STATUS;
	req.status = &body;
	if ((ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_STATUS, &resp)) != 0)
		return ex;
	if (json)
		ex = ctl_json_print(self, status_json(resp->status));
	else
		status_text(resp->status);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

const struct ctl_cmd ctl_cmd_status = {
	{
		"status", NULL, "[--json]",
		"Show tallyd's version, listener, log size, tokens issued and quotas.",
		"  --json            print the status as JSON\n",
	},
	status_exec,
};
