/* reconcile_print.c - text and JSON forms of a reconcile result. */
#include "oem.h"
#include "reconcile_print.h"
#include "report.h"
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
		fprintf(f, "  quota %s  %-16s units %llu, issued %llu, returned %llu,"
		    " failed %llu (scrap allowance %llu)\n", hex, q->product,
		    (unsigned long long)q->units, (unsigned long long)q->issued,
		    (unsigned long long)q->returned, (unsigned long long)q->failed,
		    (unsigned long long)q->scrap_allowance);
	}
}

/* DUTs the appliance refused for their attestation: per quota and per
 * jig (totals, from entry 0 with a ledger). Information, not anomalies. */
static void
text_attestation(FILE *f, const struct oem_reconcile_result *res)
{
	char hex[2 * TALLY_KEY_ID_LEN + 1];
	size_t i;

	fprintf(f, "attestation failures: %llu (DUTs refused for their attestation: "
	    "clones or wrong parts; not an anomaly)\n",
	    (unsigned long long)res->attestation_failed);
	for (i = 0; i < res->n_quotas; i++) {
		if (res->quotas[i].attestation_failed == 0)
			continue;
		tally_hex(res->quotas[i].quota_id, TALLY_QUOTA_ID_LEN, hex);
		fprintf(f, "  under quota %s: %llu\n", hex,
		    (unsigned long long)res->quotas[i].attestation_failed);
	}
	for (i = 0; i < res->n_jigs; i++) {
		if (res->jigs[i].attestation_failed == 0)
			continue;
		tally_hex(res->jigs[i].id, TALLY_KEY_ID_LEN, hex);
		fprintf(f, "  by jig %s: %llu\n", hex,
		    (unsigned long long)res->jigs[i].attestation_failed);
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

static void
text_ledger(FILE *f, const struct oem_reconcile_result *res, int status)
{
	if (status < 0)
		return;
	if (!res->ledger_known)
		fprintf(f, "ledger:           new appliance\n");
	else
		fprintf(f, "ledger:           had verified %llu entries; entries below "
		    "that were only hashed\n", (unsigned long long)res->ledger_size);
}

void
oem_reconcile_print_text(FILE *f, const char *path,
    const struct oem_reconcile_result *res, int ledger_status)
{
	char kid[2 * TALLY_KEY_ID_LEN + 1], root[2 * TALLY_HASH_LEN + 1];

	tally_hex(res->appliance_key_id, TALLY_KEY_ID_LEN, kid);
	tally_hex(res->root, TALLY_HASH_LEN, root);
	fprintf(f, "export %s\n", path);
	fprintf(f, "appliance key ID: %s\n", kid);
	fprintf(f, "origin:           %s\n", res->origin);
	fprintf(f, "entries:          %llu (%llu..%llu, format %u)\n",
	    (unsigned long long)res->entries, (unsigned long long)res->first_index,
	    (unsigned long long)(res->first_index + res->entries),
	    (unsigned)res->format_version);
	text_ledger(f, res, ledger_status);
	fprintf(f, "root hash:        %s\n", root);
	fprintf(f, "checkpoint:       %llu entries, %s\n", (unsigned long long)res->tree_size,
	    res->checkpoint_ok ? "signed by the appliance, size, root and consistency "
	    "verified" : "DOES NOT VERIFY");
	fprintf(f, "jigs enrolled:    %llu\n", (unsigned long long)res->jigs_enrolled);
	fprintf(f, "config changes:   %llu (configurations tallyd started with)\n",
	    (unsigned long long)res->config_changes);
	fprintf(f, "receipts:         %llu (OEM receipts imported)\n",
	    (unsigned long long)res->receipts);
	text_quotas(f, res);
	fprintf(f, "tokens:           %zu\n", res->n_tokens);
	fprintf(f, "install reports:  %llu installed, %llu failed\n",
	    (unsigned long long)res->reports_installed,
	    (unsigned long long)res->reports_failed);
	if (res->reports_unchecked > 0)
		fprintf(f, "                  %llu of them for tokens before this export, "
		    "unchecked without a ledger\n", (unsigned long long)res->reports_unchecked);
	text_attestation(f, res);
	text_unreported(f, res);
	text_anomalies(f, res);
	fprintf(f, "result:           %s\n", res->anomalies_total == 0 ?
	    "OK, no anomaly" : "ANOMALIES FOUND");
	if (ledger_status == 1)
		fprintf(f, "ledger:           updated: verified up to %llu entries\n",
		    (unsigned long long)res->tree_size);
	else if (ledger_status == 0)
		fprintf(f, "ledger:           unchanged (export refused)\n");
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
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; a != NULL && i < res->n_quotas; i++) {
		const struct oem_quota_count *q = &res->quotas[i];

		o = json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "quota_id", hexj(q->quota_id, TALLY_QUOTA_ID_LEN), "product", q->product,
		    "units", (json_int_t)q->units, "issued", (json_int_t)q->issued,
		    "returned", (json_int_t)q->returned, "failed", (json_int_t)q->failed,
		    "unreported", (json_int_t)(q->issued - (q->reported < q->issued ?
		    q->reported : q->issued)),
		    "scrap_allowance", (json_int_t)q->scrap_allowance);
		if (o != NULL && q->import_index != OEM_NO_INDEX)
			json_object_set_new(o, "import_index",
			    json_integer((json_int_t)q->import_index));
		if (o != NULL)
			json_object_set_new(o, "attestation_failed",
			    json_integer((json_int_t)q->attestation_failed));
		json_array_append_new(a, o);
	}
	return a;
}

/* Jigs with attestation failures: [{jig_key_id, count}]. */
static json_t *
json_attestation_jigs(const struct oem_reconcile_result *res)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < res->n_jigs; i++)
		if (res->jigs[i].attestation_failed > 0)
			json_array_append_new(a, json_pack("{s:o, s:I}",
			    "jig_key_id", hexj(res->jigs[i].id, TALLY_KEY_ID_LEN),
			    "count", (json_int_t)res->jigs[i].attestation_failed));
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

		o = json_pack("{s:s, s:o, s:s}", "type", oem_anomaly_name(an->kind),
		    "appliance", hexj(res->appliance_key_id, TALLY_KEY_ID_LEN),
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
	json_t *o = json_pack("{s:s, s:o, s:s, s:i, s:I, s:I, s:I, s:o, s:b, s:I, s:I, s:I, "
	    "s:o, s:I, s:{s:I, s:I, s:I}, s:o, s:o, s:I}",
	    "file", path,
	    "appliance_key_id", hexj(res->appliance_key_id, TALLY_KEY_ID_LEN),
	    "origin", res->origin,
	    "format_version", (int)res->format_version,
	    "first_index", (json_int_t)res->first_index,
	    "entries", (json_int_t)res->entries,
	    "tree_size", (json_int_t)res->tree_size,
	    "root", hexj(res->root, TALLY_HASH_LEN),
	    "checkpoint_ok", res->checkpoint_ok,
	    "jigs_enrolled", (json_int_t)res->jigs_enrolled,
	    "config_changes", (json_int_t)res->config_changes,
	    "receipts", (json_int_t)res->receipts,
	    "quotas", json_quotas(res),
	    "tokens", (json_int_t)res->n_tokens,
	    "reports", "installed", (json_int_t)res->reports_installed,
	    "failed", (json_int_t)res->reports_failed,
	    "unchecked", (json_int_t)res->reports_unchecked,
	    "unreported", json_unreported(res),
	    "anomalies", json_anomalies(res),
	    "anomalies_total", (json_int_t)res->anomalies_total);

	if (o != NULL && (json_object_set_new(o, "attestation_failed",
	    json_integer((json_int_t)res->attestation_failed)) != 0 ||
	    json_object_set_new(o, "attestation_failed_by_jig",
	    json_attestation_jigs(res)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
oem_ledger_print_text(FILE *f, struct oem_ledger *l, const char *dir)
{
	struct oem_report rep;
	char hex[2 * TALLY_QUOTA_ID_LEN + 1], when[32];
	size_t i, k;
	int r;

	if ((r = oem_report_init(&rep, 0, dir, NULL, NULL, NULL, NULL, 0)) != 0 ||
	    (r = oem_report_from_ledger(&rep, l)) != 0)
		goto out;
	fprintf(f, "ledger %s: %zu appliance%s\n", dir, rep.n_appliances,
	    rep.n_appliances == 1 ? "" : "s");
	for (i = 0; i < rep.n_appliances; i++) {
		const struct oem_report_appliance *a = &rep.appliances[i];

		fprintf(f, "appliance %s: verified %llu entries, last entry %s\n", a->origin,
		    (unsigned long long)a->size, oem_fmt_time(a->last_time, when));
		for (k = 0; k < a->n_quotas; k++) {
			const struct oem_report_quota *q = &a->quotas[k];

			tally_hex(q->quota_id, TALLY_QUOTA_ID_LEN, hex);
			fprintf(f, "  quota %s  %-16s units %llu, issued %llu, returned %llu, "
			    "failed %llu (scrap allowance %llu)\n", hex, q->product,
			    (unsigned long long)q->units, (unsigned long long)q->issued,
			    (unsigned long long)q->returned, (unsigned long long)q->failed,
			    (unsigned long long)q->scrap_allowance);
			if (q->attestation_failed > 0)
				fprintf(f, "    attestation failures: %llu\n",
				    (unsigned long long)q->attestation_failed);
		}
	}
 out:
	oem_report_free(&rep);
	return r;
}
