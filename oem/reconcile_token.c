/* reconcile_token.c - checks of token and install-report entries, and the
 * per-quota counts. See reconcile.h for what is checked. */
#include <string.h>
#include "dsse.h"
#include "err.h"
#include "ledger.h"
#include "reconcile_int.h"
#include "util.h"

/* Is the token consistent with its quota q (slot qi)? */
static int
token_vs_quota(struct rc *rc, const Tally__Token *t, size_t qi, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	const Tally__Quota *q = rc->qmsg[qi];

	if (strcmp(t->product, q->product) != 0)
		return oem_anomaly_add(res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "token for product \"%s\" under a quota for \"%s\"", t->product,
		    q->product);
	if (!tally_quota_allows_firmware(q, t->firmware_digest.data))
		return oem_anomaly_add(res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "token names a firmware digest its quota does not allow");
	if (q->serial_first == 0 && q->serial_last == 0 ? t->serial_number != 0 :
	    t->serial_number < q->serial_first || t->serial_number > q->serial_last)
		return oem_anomaly_add(res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "token serial number %llu outside its quota's range",
		    (unsigned long long)t->serial_number);
	if (t->issued_at < q->not_before || t->issued_at >= q->not_after)
		return oem_anomaly_add(res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "token issued at %lld, outside its quota's validity [%lld, %lld)",
		    (long long)t->issued_at, (long long)q->not_before,
		    (long long)q->not_after);
	return rc_token_attestation(rc, t, qi, idx);
}

/* Counts the token against its quota: at most units, plus the units
 * returned by failed installs up to scrap_allowance. With a ledger the
 * count goes on from the ledger's. */
static int
token_count(struct rc *rc, size_t qi, uint64_t idx)
{
	struct oem_quota_count *c = &rc->res->quotas[qi];
	uint64_t back = c->returned < c->scrap_allowance ? c->returned : c->scrap_allowance;
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];

	c->issued++;
	if (c->pending && c->pending_use == OEM_NO_INDEX)
		c->pending_use = idx;
	if (c->issued <= c->units + back || c->over_reported)
		return 0;
	c->over_reported = 1;
	tally_hex(c->quota_id, TALLY_QUOTA_ID_LEN, hex);
	return oem_anomaly_add(rc->res, OEM_ANOM_OVER_QUOTA, idx,
	    "quota %s: token %llu issued, but the quota grants %llu units "
	    "(+%llu returned)", hex, (unsigned long long)c->issued,
	    (unsigned long long)c->units, (unsigned long long)back);
}

size_t
rc_jig_use(struct rc *rc, const uint8_t *id, size_t len, uint64_t idx)
{
	size_t slot = rc_find_jig(rc->res, id, len);
	struct oem_jig_rec *j;

	if (slot == SIZE_MAX)
		return SIZE_MAX;
	j = &rc->res->jigs[slot];
	if (j->pending && j->pending_use == OEM_NO_INDEX)
		j->pending_use = idx;
	return slot;
}

static int
token_checks(struct rc *rc, const Tally__Token *t, size_t qi, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	size_t j;
	int r;

	if (memcmp(t->appliance_key_id.data, res->appliance_key_id, TALLY_KEY_ID_LEN) != 0 &&
	    (r = oem_anomaly_add(res, OEM_ANOM_TOKEN_BINDING, idx,
	    "token names another appliance key")) != 0)
		return r;
	if (t->log_index != idx &&
	    (r = oem_anomaly_add(res, OEM_ANOM_TOKEN_BINDING, idx,
	    "token says it is log entry %llu", (unsigned long long)t->log_index)) != 0)
		return r;
	j = rc_jig_use(rc, t->jig_key_id.data, t->jig_key_id.len, idx);
	if ((j == SIZE_MAX || res->jigs[j].revoked) &&
	    (r = oem_anomaly_add(res, OEM_ANOM_TOKEN_JIG, idx, "token issued to a jig %s",
	    j == SIZE_MAX ? "that is not enrolled" : "that was revoked")) != 0)
		return r;
	if (qi == SIZE_MAX)
		return oem_anomaly_add(res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "token under a quota not imported before it");
	if ((r = token_vs_quota(rc, t, qi, idx)) != 0)
		return r;
	return token_count(rc, qi, idx);
}

static int
token_record(struct rc *rc, const Tally__Token *t, size_t qi, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_token_rec *rec;
	int r;

	if ((r = rc_reserve((void **)&res->tokens, &rc->cap_tokens, res->n_tokens,
	    sizeof(*res->tokens))) != 0)
		return r;
	rec = &res->tokens[res->n_tokens++];
	memset(rec, 0, sizeof(*rec));
	rec->index = idx;
	rec->quota = qi;
	memcpy(rec->quota_id, t->quota_id.data, TALLY_QUOTA_ID_LEN);
	memcpy(rec->jig_key_id, t->jig_key_id.data, TALLY_KEY_ID_LEN);
	memcpy(rec->uid, t->device_uid.data, t->device_uid.len);
	rec->uid_len = (uint8_t)t->device_uid.len;
	rec->serial = t->serial_number;
	rec->time = t->issued_at;
	return rc_ledger_dups(rc, rec);
}

int
rc_token(struct rc *rc, const ProtobufCBinaryData *env, uint64_t idx)
{
	Tally__Token *t = NULL;
	size_t qi;
	int r;

	if ((r = tally_token_open(env->data, env->len, rc->appliance, &t)) != 0)
		return oem_anomaly_add(rc->res, OEM_ANOM_TOKEN_SIGNATURE, idx,
		    "token does not verify with the appliance key: %s", tally_strerror(r));
	qi = rc_find_quota(rc->res, t->quota_id.data, t->quota_id.len);
	if ((r = token_checks(rc, t, qi, idx)) == 0)
		r = token_record(rc, t, qi, idx);
	tally__token__free_unpacked(t, NULL);
	return r;
}

/* Binary search by index in n records sorted by index; *at is where a
 * missing one would go. */
static struct oem_token_rec *
search(struct oem_token_rec *recs, size_t n, uint64_t index, size_t *at)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (recs[mid].index == index)
			return &recs[mid];
		if (recs[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return NULL;
}

/* A token the ledger verified before this file (index below its size):
 * kept, sorted by index, in prior_tokens while reports change it. Reports
 * come roughly in token order, so the insertion moves little. */
static int
prior_token(struct rc *rc, uint64_t index, struct oem_token_rec **out)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_token_rec rec;
	size_t at = 0;
	int r;

	if ((*out = search(res->prior_tokens, res->n_prior_tokens, index, &at)) != NULL)
		return 0;
	r = oem_ledger_token_get(rc->lt, res->appliance_key_id, index, &rec);
	if (r != 0)
		return r;
	rec.quota = rc_find_quota(res, rec.quota_id, sizeof(rec.quota_id));
	if ((r = rc_reserve((void **)&res->prior_tokens, &rc->cap_ptok,
	    res->n_prior_tokens, sizeof(rec))) != 0)
		return r;
	memmove(&res->prior_tokens[at + 1], &res->prior_tokens[at],
	    (res->n_prior_tokens - at) * sizeof(rec));
	res->prior_tokens[at] = rec;
	res->n_prior_tokens++;
	*out = &res->prior_tokens[at];
	return 0;
}

/* The token a report at idx names: in this file, in the ledger, or
 * (*out NULL, return 1) before the file with no ledger to look in. */
static int
report_token(struct rc *rc, uint64_t index, struct oem_token_rec **out)
{
	struct oem_reconcile_result *res = rc->res;
	size_t at;
	int r;

	if ((*out = search(res->tokens, res->n_tokens, index, &at)) != NULL)
		return 0;
	if (rc->lt != NULL && index < rc->skip_below) {
		r = prior_token(rc, index, out);
		return r == TALLY_ERR_NOT_FOUND ? 0 : r;
	}
	return rc->lt == NULL && index < res->first_index ? 1 : 0;
}

/* The enrolled jig whose key signed env, with the report opened by it. */
static int
report_open(struct rc *rc, const ProtobufCBinaryData *env, uint64_t idx,
    size_t *jig, Tally__InstallReport **rep)
{
	Tally__Envelope *e = NULL;
	size_t i;
	int r;

	*jig = SIZE_MAX;
	if ((r = tally_dsse_parse(env->data, env->len, TALLY_PT_REPORT, &e)) != 0)
		return oem_anomaly_add(rc->res, OEM_ANOM_REPORT_SIGNATURE, idx,
		    "install report is not a report envelope: %s", tally_strerror(r));
	for (i = 0; i < e->n_signatures && i < TALLY_DSSE_MAX_SIGS && *jig == SIZE_MAX; i++)
		*jig = rc_jig_use(rc, e->signatures[i]->keyid.data,
		    e->signatures[i]->keyid.len, idx);
	tally__envelope__free_unpacked(e, NULL);
	if (*jig == SIZE_MAX)
		return oem_anomaly_add(rc->res, OEM_ANOM_REPORT_SIGNATURE, idx,
		    "install report signed by no enrolled jig");
	if (rc->res->jigs[*jig].revoked)
		return oem_anomaly_add(rc->res, OEM_ANOM_REPORT_SIGNATURE, idx,
		    "install report signed by a revoked jig");
	if ((r = tally_report_open(env->data, env->len, rc->jig_pub[*jig], rep)) != 0)
		return oem_anomaly_add(rc->res, OEM_ANOM_REPORT_SIGNATURE, idx,
		    "install report does not verify with its jig's key: %s",
		    tally_strerror(r));
	return 0;
}

static int
report_unit_returned(struct rc *rc, struct oem_token_rec *tok,
    const Tally__InstallReport *rep, uint64_t idx)
{
	struct oem_quota_count *c;

	if (rep->result != TALLY__INSTALL_RESULT__FAILED)
		return oem_anomaly_add(rc->res, OEM_ANOM_SCRAP, idx,
		    "unit returned for an install reported as successful");
	if (tok->returned)
		return oem_anomaly_add(rc->res, OEM_ANOM_SCRAP, idx,
		    "unit of token %llu returned a second time",
		    (unsigned long long)tok->index);
	tok->returned = 1;
	if (tok->quota == SIZE_MAX)
		return 0;
	c = &rc->res->quotas[tok->quota];
	if (++c->returned > c->scrap_allowance)
		return oem_anomaly_add(rc->res, OEM_ANOM_SCRAP, idx,
		    "%llu units returned, the quota's scrap allowance is %llu",
		    (unsigned long long)c->returned,
		    (unsigned long long)c->scrap_allowance);
	return 0;
}

/* Applies a report's result to its token and its quota's counts. */
static void
report_apply(struct rc *rc, struct oem_token_rec *tok, int installed)
{
	int was_reported = tok->installed || tok->failed;
	int was_failed = tok->failed && !tok->installed;
	struct oem_quota_count *c;

	if (installed)
		tok->installed = 1;
	else
		tok->failed = 1;
	if (tok->quota == SIZE_MAX)
		return;
	c = &rc->res->quotas[tok->quota];
	if (!was_reported)
		c->reported++;
	if (was_failed && tok->installed)
		c->failed--;
	else if (!was_failed && tok->failed && !tok->installed)
		c->failed++;
}

static int
report_checks(struct rc *rc, size_t jig, const Tally__InstallReport *rep,
    int returned, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_token_rec *tok;
	int installed = rep->result == TALLY__INSTALL_RESULT__INSTALLED, r;

	if ((r = report_token(rc, rep->token_log_index, &tok)) < 0)
		return r;
	if (r == 1) {  /* before the file, no ledger: the signature is all we can check */
		res->reports_unchecked++;
		if (installed)
			res->reports_installed++;
		else
			res->reports_failed++;
		return 0;
	}
	if (tok == NULL)
		return oem_anomaly_add(res, OEM_ANOM_REPORT_BINDING, idx,
		    "install report for entry %llu, which holds no valid token",
		    (unsigned long long)rep->token_log_index);
	if (rep->device_uid.len != tok->uid_len ||
	    memcmp(rep->device_uid.data, tok->uid, tok->uid_len) != 0)
		return oem_anomaly_add(res, OEM_ANOM_REPORT_BINDING, idx,
		    "install report names another device UID than token %llu",
		    (unsigned long long)tok->index);
	if (memcmp(res->jigs[jig].id, tok->jig_key_id, TALLY_KEY_ID_LEN) != 0)
		return oem_anomaly_add(res, OEM_ANOM_REPORT_BINDING, idx,
		    "install report for token %llu signed by another jig than the "
		    "one it was issued to", (unsigned long long)tok->index);
	if (installed)
		res->reports_installed++;
	else
		res->reports_failed++;
	report_apply(rc, tok, installed);
	return returned ? report_unit_returned(rc, tok, rep, idx) : 0;
}

int
rc_report(struct rc *rc, const Tally__LogInstallReported *ir, uint64_t idx)
{
	Tally__InstallReport *rep = NULL;
	size_t jig;
	int r;

	if ((r = report_open(rc, &ir->report, idx, &jig, &rep)) != 0 || rep == NULL)
		return r;
	r = report_checks(rc, jig, rep, ir->unit_returned, idx);
	tally__install_report__free_unpacked(rep, NULL);
	return r;
}
