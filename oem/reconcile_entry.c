/* reconcile_entry.c - checks of one log entry: dispatch, appliance start,
 * quota imports, jig enrolment and revocation. Tokens and install reports
 * are in reconcile_token.c. See reconcile.h for what is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include "err.h"
#include "log.pb-c.h"
#include "reconcile_int.h"
#include "util.h"

void
rc_free(struct rc *rc)
{
	size_t i;

	for (i = 0; i < rc->n_jigs; i++)
		EVP_PKEY_free(rc->jigs[i].pub);
	free(rc->jigs);
	for (i = 0; rc->qmsg != NULL && i < rc->res->n_quotas; i++)
		tally__quota__free_unpacked(rc->qmsg[i], NULL);
	free(rc->qmsg);
	rc->jigs = NULL;
	rc->qmsg = NULL;
	rc->n_jigs = 0;
}

struct rc_jig *
rc_find_jig(struct rc *rc, const uint8_t *id, size_t len)
{
	size_t i;

	if (len != TALLY_KEY_ID_LEN)
		return NULL;
	for (i = 0; i < rc->n_jigs; i++)
		if (memcmp(rc->jigs[i].id, id, TALLY_KEY_ID_LEN) == 0)
			return &rc->jigs[i];
	return NULL;
}

static int
on_start(struct rc *rc, const Tally__LogStart *s, uint64_t idx)
{
	if (s->appliance_key_id.len == 0 ||
	    (s->appliance_key_id.len == TALLY_KEY_ID_LEN &&
	    memcmp(s->appliance_key_id.data, rc->res->appliance_key_id,
	    TALLY_KEY_ID_LEN) == 0))
		return 0;
	return oem_anomaly_add(rc->res, OEM_ANOM_APPLIANCE, idx,
	    "start entry names another appliance key");
}

static int
quota_add(struct rc *rc, Tally__Quota *q, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_quota_count *c;
	int r;

	if ((r = rc_reserve((void **)&res->quotas, &rc->cap_quotas, res->n_quotas,
	    sizeof(*res->quotas))) != 0 ||
	    (r = rc_reserve((void **)&rc->qmsg, &rc->cap_qmsg, res->n_quotas,
	    sizeof(*rc->qmsg))) != 0)
		return r;
	c = &res->quotas[res->n_quotas];
	memset(c, 0, sizeof(*c));
	memcpy(c->quota_id, q->quota_id.data, TALLY_QUOTA_ID_LEN);
	snprintf(c->product, sizeof(c->product), "%s", q->product);
	c->units = q->units;
	c->scrap_allowance = q->scrap_allowance;
	c->not_before = q->not_before;
	c->not_after = q->not_after;
	c->import_index = idx;
	rc->qmsg[res->n_quotas++] = q;
	return 0;
}

size_t
rc_find_quota(const struct oem_reconcile_result *res, const uint8_t *id, size_t len)
{
	size_t i;

	if (len != TALLY_QUOTA_ID_LEN)
		return SIZE_MAX;
	for (i = 0; i < res->n_quotas; i++)
		if (memcmp(res->quotas[i].quota_id, id, TALLY_QUOTA_ID_LEN) == 0)
			return i;
	return SIZE_MAX;
}

static int
on_quota(struct rc *rc, const Tally__LogQuotaImported *qi, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	Tally__Quota *q = NULL;
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	int r;

	if ((r = tally_quota_open(qi->quota.data, qi->quota.len, rc->oem_root, &q)) != 0)
		return oem_anomaly_add(res, OEM_ANOM_QUOTA_SIGNATURE, idx,
		    "quota does not verify with the OEM root key: %s", tally_strerror(r));
	tally_hex(q->quota_id.data, TALLY_QUOTA_ID_LEN, hex);
	if (memcmp(q->appliance_key_id.data, res->appliance_key_id, TALLY_KEY_ID_LEN) != 0)
		r = oem_anomaly_add(res, OEM_ANOM_QUOTA_APPLIANCE, idx,
		    "quota %s is bound to another appliance", hex);
	else if (rc_find_quota(res, q->quota_id.data, q->quota_id.len) != SIZE_MAX)
		r = oem_anomaly_add(res, OEM_ANOM_QUOTA_REPLAYED, idx,
		    "quota %s imported a second time", hex);
	else if ((r = quota_add(rc, q, idx)) == 0)
		return 0;  /* q is kept */
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

/* Tokens name jigs by the key ID of their TLS certificate, so the jig is
 * registered under the certificate's key ID whatever the entry claims. */
static int
on_jig_enrolled(struct rc *rc, const Tally__LogJigEnrolled *je, uint64_t idx)
{
	uint8_t id[TALLY_KEY_ID_LEN];
	struct rc_jig *j;
	EVP_PKEY *pub;
	int r;

	if ((pub = cert_key(&je->certificate)) == NULL || tally_key_id(pub, id) != 0) {
		EVP_PKEY_free(pub);
		return oem_anomaly_add(rc->res, OEM_ANOM_JIG, idx,
		    "jig enrolment with an unreadable certificate");
	}
	if ((je->jig_key_id.len != TALLY_KEY_ID_LEN ||
	    memcmp(je->jig_key_id.data, id, TALLY_KEY_ID_LEN) != 0) &&
	    (r = oem_anomaly_add(rc->res, OEM_ANOM_JIG, idx, "jig enrolment: "
	    "key ID differs from the certificate's")) != 0)
		goto fail;
	rc->res->jigs_enrolled++;
	if ((j = rc_find_jig(rc, id, sizeof(id))) != NULL) {
		EVP_PKEY_free(j->pub);  /* enrolled again after a revocation */
		j->pub = pub;
		j->revoked = 0;
		return 0;
	}
	if ((r = rc_reserve((void **)&rc->jigs, &rc->cap_jigs, rc->n_jigs,
	    sizeof(*rc->jigs))) != 0)
		goto fail;
	j = &rc->jigs[rc->n_jigs++];
	memcpy(j->id, id, sizeof(id));
	j->pub = pub;
	j->revoked = 0;
	return 0;
 fail:
	EVP_PKEY_free(pub);
	return r;
}

static int
on_jig_revoked(struct rc *rc, const Tally__LogJigRevoked *jr, uint64_t idx)
{
	struct rc_jig *j;

	if ((j = rc_find_jig(rc, jr->jig_key_id.data, jr->jig_key_id.len)) == NULL)
		return oem_anomaly_add(rc->res, OEM_ANOM_JIG, idx,
		    "revocation of a jig that was never enrolled");
	j->revoked = 1;
	return 0;
}

/* A configuration logged at start: its digest must be that of its text
 * (the text is empty when the file was too large to log). */
static int
on_config(struct rc *rc, const Tally__LogConfigChanged *cc, uint64_t idx)
{
	uint8_t d[SHA256_DIGEST_LENGTH];

	rc->res->config_changes++;
	if (cc->sha256.len != sizeof(d))
		return oem_anomaly_add(rc->res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "configuration entry without a SHA-256 digest");
	if (cc->text[0] == '\0')
		return 0;
	SHA256((const uint8_t *)cc->text, strlen(cc->text), d);
	if (memcmp(d, cc->sha256.data, sizeof(d)) != 0)
		return oem_anomaly_add(rc->res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "configuration entry whose digest is not that of its text");
	return 0;
}

static int
dispatch(struct rc *rc, const Tally__LogEntry *e, uint64_t idx)
{
	switch (e->body_case) {
	case TALLY__LOG_ENTRY__BODY_START:
		return on_start(rc, e->start, idx);
	case TALLY__LOG_ENTRY__BODY_STOP:
		return 0;
	case TALLY__LOG_ENTRY__BODY_QUOTA_IMPORTED:
		return on_quota(rc, e->quota_imported, idx);
	case TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED:
		return rc_token(rc, &e->token_issued->token, idx);
	case TALLY__LOG_ENTRY__BODY_INSTALL_REPORTED:
		return rc_report(rc, e->install_reported, idx);
	case TALLY__LOG_ENTRY__BODY_JIG_ENROLLED:
		return on_jig_enrolled(rc, e->jig_enrolled, idx);
	case TALLY__LOG_ENTRY__BODY_JIG_REVOKED:
		return on_jig_revoked(rc, e->jig_revoked, idx);
	case TALLY__LOG_ENTRY__BODY_CONFIG_CHANGED:
		return on_config(rc, e->config_changed, idx);
	default:
		return oem_anomaly_add(rc->res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "entry of an unknown kind");
	}
}

int
rc_entry(struct rc *rc, const uint8_t *entry, size_t len, uint64_t pos)
{
	Tally__LogEntry *e;
	int r;

	if ((e = tally__log_entry__unpack(NULL, len, entry)) == NULL)
		return oem_anomaly_add(rc->res, OEM_ANOM_ENTRY_MALFORMED, pos,
		    "entry at position %llu is not a log entry", (unsigned long long)pos);
	if (e->index != pos &&
	    (r = oem_anomaly_add(rc->res, OEM_ANOM_ENTRY_INDEX, pos,
	    "entry at position %llu says it is entry %llu: entries are missing, "
	    "reordered or inserted", (unsigned long long)pos,
	    (unsigned long long)e->index)) != 0)
		goto out;
	r = dispatch(rc, e, pos);
 out:
	tally__log_entry__free_unpacked(e, NULL);
	return r;
}
