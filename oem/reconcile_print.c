/* reconcile_print.c - text and JSON forms of a reconcile result. */
#include "reconcile_print.h"
#include "util.h"

static void
text_quotas(FILE *f, const struct oem_reconcile_result *res)
{
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	size_t i;

	fprintf(f, "quotas:           %zu\n", res->n_quotas);
	for (i = 0; i < res->n_quotas; i++) {
		const struct oem_quota_count *q = &res->quotas[i];

		tally_hex(q->quota_id, TALLY_QUOTA_ID_LEN, hex);
		fprintf(f, "  quota %s  %-16s units %llu, issued %llu, returned %llu"
		    " (scrap allowance %llu)\n", hex, q->product,
		    (unsigned long long)q->units, (unsigned long long)q->issued,
		    (unsigned long long)q->returned, (unsigned long long)q->scrap_allowance);
	}
}

static void
text_unreported(FILE *f, const struct oem_reconcile_result *res)
{
	char hex[2 * TALLY_UID_MAX + 1];
	uint64_t shown = 0;
	size_t i;

	fprintf(f, "unreported tokens: %llu (no install report yet)\n",
	    (unsigned long long)res->unreported);
	for (i = 0; i < res->n_tokens && shown < OEM_TEXT_UNREPORTED_MAX; i++) {
		const struct oem_token_rec *t = &res->tokens[i];

		if (t->installed || t->failed)
			continue;
		tally_hex(t->uid, t->uid_len, hex);
		fprintf(f, "  unreported: entry %llu, device UID %s\n",
		    (unsigned long long)t->index, hex);
		shown++;
	}
	if (res->unreported > shown)
		fprintf(f, "  ... and %llu more (see --json)\n",
		    (unsigned long long)(res->unreported - shown));
}

static void
text_anomalies(FILE *f, const struct oem_reconcile_result *res)
{
	size_t i;

	fprintf(f, "anomalies:         %llu\n", (unsigned long long)res->anomalies_total);
	for (i = 0; i < res->n_anomalies; i++) {
		const struct oem_anomaly *a = &res->anomalies[i];

		if (a->index == OEM_NO_INDEX)
			fprintf(f, "  ANOMALY %s: %s\n", oem_anomaly_name(a->kind), a->msg);
		else
			fprintf(f, "  ANOMALY %s: entry %llu: %s\n", oem_anomaly_name(a->kind),
			    (unsigned long long)a->index, a->msg);
	}
	if (res->anomalies_total > res->n_anomalies)
		fprintf(f, "  ... and %llu more not kept\n",
		    (unsigned long long)(res->anomalies_total - res->n_anomalies));
}

void
oem_reconcile_print_text(FILE *f, const char *path,
    const struct oem_reconcile_result *res)
{
	char kid[2 * TALLY_KEY_ID_LEN + 1], root[2 * TALLY_HASH_LEN + 1];

	tally_hex(res->appliance_key_id, TALLY_KEY_ID_LEN, kid);
	tally_hex(res->root, TALLY_HASH_LEN, root);
	fprintf(f, "export %s\n", path);
	fprintf(f, "appliance key ID: %s\n", kid);
	fprintf(f, "origin:           %s\n", res->origin);
	fprintf(f, "entries:          %llu\n", (unsigned long long)res->entries);
	fprintf(f, "root hash:        %s\n", root);
	fprintf(f, "checkpoint:       %s\n", res->checkpoint_ok ?
	    "signed by the appliance, size and root match" : "DOES NOT MATCH");
	fprintf(f, "jigs enrolled:    %llu\n", (unsigned long long)res->jigs_enrolled);
	fprintf(f, "config changes:   %llu (configurations tallyd started with)\n",
	    (unsigned long long)res->config_changes);
	text_quotas(f, res);
	fprintf(f, "tokens:           %zu\n", res->n_tokens);
	fprintf(f, "install reports:  %llu installed, %llu failed\n",
	    (unsigned long long)res->reports_installed,
	    (unsigned long long)res->reports_failed);
	text_unreported(f, res);
	text_anomalies(f, res);
	fprintf(f, "result:           %s\n", res->anomalies_total == 0 ?
	    "OK, no anomaly" : "ANOMALIES FOUND");
}

static json_t *
hexj(const uint8_t *buf, size_t len)
{
	char hex[2 * 64 + 1];

	tally_hex(buf, len, hex);
	return json_string(hex);
}

static json_t *
json_quotas(const struct oem_reconcile_result *res)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < res->n_quotas; i++) {
		const struct oem_quota_count *q = &res->quotas[i];

		json_array_append_new(a, json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:I}",
		    "quota_id", hexj(q->quota_id, TALLY_QUOTA_ID_LEN), "product", q->product,
		    "units", (json_int_t)q->units, "issued", (json_int_t)q->issued,
		    "returned", (json_int_t)q->returned,
		    "scrap_allowance", (json_int_t)q->scrap_allowance,
		    "import_index", (json_int_t)q->import_index));
	}
	return a;
}

static json_t *
json_unreported(const struct oem_reconcile_result *res)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < res->n_tokens; i++) {
		const struct oem_token_rec *t = &res->tokens[i];

		if (!t->installed && !t->failed)
			json_array_append_new(a, json_pack("{s:I, s:o}",
			    "index", (json_int_t)t->index,
			    "device_uid", hexj(t->uid, t->uid_len)));
	}
	return a;
}

static json_t *
json_anomalies(const struct oem_reconcile_result *res)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; a != NULL && i < res->n_anomalies; i++) {
		const struct oem_anomaly *an = &res->anomalies[i];

		o = json_pack("{s:s, s:s}", "type", oem_anomaly_name(an->kind),
		    "message", an->msg);
		if (o != NULL && an->index != OEM_NO_INDEX)
			json_object_set_new(o, "index", json_integer((json_int_t)an->index));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
oem_reconcile_json(const char *path, const struct oem_reconcile_result *res)
{
	return json_pack("{s:s, s:o, s:s, s:I, s:I, s:o, s:b, s:I, s:I, s:o, s:I, "
	    "s:{s:I, s:I}, s:o, s:o, s:I}",
	    "file", path,
	    "appliance_key_id", hexj(res->appliance_key_id, TALLY_KEY_ID_LEN),
	    "origin", res->origin,
	    "entries", (json_int_t)res->entries,
	    "tree_size", (json_int_t)res->tree_size,
	    "root", hexj(res->root, TALLY_HASH_LEN),
	    "checkpoint_ok", res->checkpoint_ok,
	    "jigs_enrolled", (json_int_t)res->jigs_enrolled,
	    "config_changes", (json_int_t)res->config_changes,
	    "quotas", json_quotas(res),
	    "tokens", (json_int_t)res->n_tokens,
	    "reports", "installed", (json_int_t)res->reports_installed,
	    "failed", (json_int_t)res->reports_failed,
	    "unreported", json_unreported(res),
	    "anomalies", json_anomalies(res),
	    "anomalies_total", (json_int_t)res->anomalies_total);
}
