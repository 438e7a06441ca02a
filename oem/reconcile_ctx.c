/* reconcile_ctx.c - quotas and jigs known before the entries: from the
 * export's context records (format 2) and from the ledger; and the checks
 * at the end of the file (context never confirmed by the log, failed
 * units against the scrap allowance, unreported tokens). See reconcile.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "err.h"
#include "ledger.h"
#include "reconcile_int.h"
#include "util.h"

int
rc_quota_add(struct rc *rc, Tally__Quota *q, const uint8_t *env, size_t len,
    const struct oem_quota_count *init)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_quota_count *c;
	uint8_t *copy;
	int r;

	if ((r = rc_reserve((void **)&res->quotas, &rc->cap_quotas, res->n_quotas,
	    sizeof(*res->quotas))) != 0 ||
	    (r = rc_reserve((void **)&rc->qmsg, &rc->cap_qmsg, res->n_quotas,
	    sizeof(*rc->qmsg))) != 0)
		return r;
	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(copy, env, len);
	c = &res->quotas[res->n_quotas];
	if (init != NULL)
		*c = *init;
	else
		memset(c, 0, sizeof(*c));
	memcpy(c->quota_id, q->quota_id.data, TALLY_QUOTA_ID_LEN);
	snprintf(c->product, sizeof(c->product), "%s", q->product);
	c->units = q->units;
	c->scrap_allowance = q->scrap_allowance;
	c->not_before = q->not_before;
	c->not_after = q->not_after;
	c->pending = 0;
	c->pending_use = OEM_NO_INDEX;
	c->env = copy;
	c->env_len = len;
	if (init == NULL)
		c->import_index = OEM_NO_INDEX;
	rc->qmsg[res->n_quotas++] = q;
	return 0;
}

int
rc_jig_add(struct rc *rc, const uint8_t id[TALLY_KEY_ID_LEN], EVP_PKEY *pub,
    struct oem_jig_rec **out)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_jig_rec *j;
	uint8_t *spki = NULL;
	size_t len = 0;
	int r;

	if ((r = rc_reserve((void **)&res->jigs, &rc->cap_jigs, res->n_jigs,
	    sizeof(*res->jigs))) != 0 ||
	    (r = rc_reserve((void **)&rc->jig_pub, &rc->cap_jig_pub, res->n_jigs,
	    sizeof(*rc->jig_pub))) != 0)
		return r;
	if ((r = tally_key_spki(pub, &spki, &len)) != 0)
		return r;
	j = &res->jigs[res->n_jigs];
	memset(j, 0, sizeof(*j));
	memcpy(j->id, id, TALLY_KEY_ID_LEN);
	if (len <= sizeof(j->spki)) {
		memcpy(j->spki, spki, len);
		j->spki_len = len;
	}
	OPENSSL_free(spki);
	j->enrolled_index = OEM_NO_INDEX;
	j->pending_use = OEM_NO_INDEX;
	rc->jig_pub[res->n_jigs++] = pub;
	*out = j;
	return 0;
}

size_t
rc_find_jig(const struct oem_reconcile_result *res, const uint8_t *id, size_t len)
{
	size_t i;

	if (len != TALLY_KEY_ID_LEN)
		return SIZE_MAX;
	for (i = 0; i < res->n_jigs; i++)
		if (memcmp(res->jigs[i].id, id, TALLY_KEY_ID_LEN) == 0)
			return i;
	return SIZE_MAX;
}

/* A quota the appliance says it imported before (or in) the entries. */
int
rc_ctx_quota(struct rc *rc, const ProtobufCBinaryData *env)
{
	struct oem_reconcile_result *res = rc->res;
	Tally__Quota *q = NULL;
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	int r;

	/* When the entries (or the ledger) show every import, they report a
	 * bad quota; a bad context quota nobody imported is never used. */
	if ((r = tally_quota_open(env->data, env->len, rc->oem_root, &q)) != 0)
		return rc->checkable ? 0 : oem_anomaly_add(res, OEM_ANOM_QUOTA_SIGNATURE,
		    OEM_NO_INDEX, "context quota does not verify with the OEM root "
		    "key: %s", tally_strerror(r));
	tally_hex(q->quota_id.data, TALLY_QUOTA_ID_LEN, hex);
	if (memcmp(q->appliance_key_id.data, res->appliance_key_id, TALLY_KEY_ID_LEN) != 0)
		r = rc->checkable ? 0 : oem_anomaly_add(res, OEM_ANOM_QUOTA_APPLIANCE,
		    OEM_NO_INDEX, "context quota %s is bound to another appliance", hex);
	else if (rc_find_quota(res, q->quota_id.data, q->quota_id.len) != SIZE_MAX)
		r = 0;  /* known from the ledger, or listed twice */
	else if ((r = rc_quota_add(rc, q, env->data, env->len, NULL)) == 0) {
		res->quotas[res->n_quotas - 1].pending = 1;
		return 0;  /* q is kept */
	}
	tally__quota__free_unpacked(q, NULL);
	return r;
}

/* Public key of a DER X.509 certificate (*pub, EVP_PKEY_free), or NULL. */
static EVP_PKEY *
cert_key(const ProtobufCBinaryData *der)
{
	const unsigned char *p = der->data;
	EVP_PKEY *pub = NULL;
	X509 *x;

	if ((x = d2i_X509(NULL, &p, (long)der->len)) == NULL)
		return NULL;
	if (p == der->data + der->len)
		pub = X509_get_pubkey(x);
	X509_free(x);
	return pub;
}

int
rc_cert_jig(const ProtobufCBinaryData *cert, uint8_t id[TALLY_KEY_ID_LEN], EVP_PKEY **pub)
{
	if ((*pub = cert_key(cert)) == NULL || tally_key_id(*pub, id) != 0) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
		return TALLY_ERR_INVALID;
	}
	return 0;
}

/* A jig the appliance says it enrolled before (or in) the entries. */
int
rc_ctx_jig(struct rc *rc, const ProtobufCBinaryData *data)
{
	Tally__LogJigEnrolled *je;
	struct oem_jig_rec *j;
	uint8_t id[TALLY_KEY_ID_LEN];
	EVP_PKEY *pub = NULL;
	int r = 0;

	if ((je = tally__log_jig_enrolled__unpack(NULL, data->len, data->data)) == NULL)
		return oem_anomaly_add(rc->res, OEM_ANOM_CONTEXT, OEM_NO_INDEX,
		    "context jig record is not a jig enrolment");
	if (rc_cert_jig(&je->certificate, id, &pub) != 0)
		r = rc->checkable ? 0 : oem_anomaly_add(rc->res, OEM_ANOM_JIG,
		    OEM_NO_INDEX, "context jig enrolment with an unreadable certificate");
	else if (je->jig_key_id.len != TALLY_KEY_ID_LEN ||
	    memcmp(je->jig_key_id.data, id, TALLY_KEY_ID_LEN) != 0)
		r = rc->checkable ? 0 : oem_anomaly_add(rc->res, OEM_ANOM_JIG,
		    OEM_NO_INDEX, "context jig enrolment: key ID differs from the "
		    "certificate's");
	else if (rc_find_jig(rc->res, id, sizeof(id)) == SIZE_MAX &&
	    (r = rc_jig_add(rc, id, pub, &j)) == 0) {
		j->pending = 1;
		pub = NULL;  /* kept */
	}
	EVP_PKEY_free(pub);
	tally__log_jig_enrolled__free_unpacked(je, NULL);
	return r;
}

static int
prior_quota(void *arg, const struct oem_quota_count *c, const uint8_t *env, size_t len)
{
	struct rc *rc = arg;
	Tally__Quota *q = NULL;
	int r;

	/* the ledger took it verified under the same root: a failure is damage */
	if (tally_quota_open(env, len, rc->oem_root, &q) != 0)
		return TALLY_ERR_STORAGE;
	if ((r = rc_quota_add(rc, q, env, len, c)) != 0)
		tally__quota__free_unpacked(q, NULL);
	return r;
}

static int
prior_jig(void *arg, const struct oem_jig_rec *rec)
{
	struct rc *rc = arg;
	struct oem_jig_rec *j;
	EVP_PKEY *pub = NULL;
	int r;

	if (tally_key_from_spki(rec->spki, rec->spki_len, &pub) != 0)
		return TALLY_ERR_STORAGE;
	if ((r = rc_jig_add(rc, rec->id, pub, &j)) != 0) {
		EVP_PKEY_free(pub);
		return r;
	}
	*j = *rec;
	j->from_ledger = 1;
	j->pending = j->changed = 0;
	j->pending_use = OEM_NO_INDEX;
	return 0;
}

int
rc_prior_load(struct rc *rc)
{
	struct oem_reconcile_result *res = rc->res;
	int r;

	if ((r = oem_ledger_quota_each(rc->lt, res->appliance_key_id, prior_quota, rc)) != 0 ||
	    (r = oem_ledger_jig_each(rc->lt, res->appliance_key_id, prior_jig, rc)) != 0)
		snprintf(res->error, sizeof(res->error), "reading the ledger's quotas "
		    "and jigs of %s: %s", res->origin, tally_strerror(r));
	return r;
}

/* Context quotas and jigs the entries never confirmed: anomalies when the
 * file starts at 0 or the ledger covers what precedes it; else they were
 * imported or enrolled before the file. */
static int
final_pending(struct rc *rc)
{
	struct oem_reconcile_result *res = rc->res;
	char hex[2 * TALLY_KEY_ID_LEN + 1];
	size_t i;
	int r = 0;

	if (!rc->checkable)
		return 0;
	for (i = 0; i < res->n_quotas && r == 0; i++) {
		const struct oem_quota_count *c = &res->quotas[i];

		if (!c->pending)
			continue;
		tally_hex(c->quota_id, TALLY_QUOTA_ID_LEN, hex);
		r = oem_anomaly_add(res, OEM_ANOM_CONTEXT, c->pending_use, "quota %s is "
		    "in the export's context but the log never shows it imported", hex);
	}
	for (i = 0; i < res->n_jigs && r == 0; i++) {
		const struct oem_jig_rec *j = &res->jigs[i];

		if (!j->pending)
			continue;
		tally_hex(j->id, 8, hex);
		r = oem_anomaly_add(res, OEM_ANOM_CONTEXT, j->pending_use, "jig %s is "
		    "in the export's context but the log never shows it enrolled", hex);
	}
	return r;
}

/* Failed units (reported FAILED, never INSTALLED) against the allowance. */
static int
final_failures(struct oem_reconcile_result *res)
{
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	size_t i;
	int r = 0;

	for (i = 0; i < res->n_quotas && r == 0; i++) {
		const struct oem_quota_count *c = &res->quotas[i];

		if (c->failed <= c->scrap_allowance)
			continue;
		tally_hex(c->quota_id, TALLY_QUOTA_ID_LEN, hex);
		r = oem_anomaly_add(res, OEM_ANOM_FAILURE_RATE, OEM_NO_INDEX,
		    "quota %s: %llu of %llu units failed, beyond the scrap allowance "
		    "of %llu", hex, (unsigned long long)c->failed,
		    (unsigned long long)c->issued, (unsigned long long)c->scrap_allowance);
	}
	return r;
}

int
rc_final(struct rc *rc)
{
	struct oem_reconcile_result *res = rc->res;
	size_t i;
	int r;

	if ((r = final_pending(rc)) != 0 || (r = final_failures(res)) != 0)
		return r;
	for (i = 0; i < res->n_tokens; i++)
		if (!res->tokens[i].installed && !res->tokens[i].failed)
			res->unreported++;
	return 0;
}
