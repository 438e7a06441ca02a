/* reconcile_entry.c - checks of one log entry: dispatch, entry time,
 * appliance start, quota imports, jig enrolment and revocation,
 * configuration changes and receipts. Tokens and install reports are in
 * reconcile_token.c, attestation in reconcile_attest.c. See reconcile.h for what is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "cosignature.h"
#include "err.h"
#include "reconcile_int.h"
#include "util.h"

void
rc_free(struct rc *rc)
{
	size_t i;

	for (i = 0; rc->jig_pub != NULL && i < rc->res->n_jigs; i++)
		EVP_PKEY_free(rc->jig_pub[i]);
	free(rc->jig_pub);
	for (i = 0; rc->qmsg != NULL && i < rc->res->n_quotas; i++)
		tally__quota__free_unpacked(rc->qmsg[i], NULL);
	free(rc->qmsg);
	rc->jig_pub = NULL;
	rc->qmsg = NULL;
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

/* The import of a quota listed in the context: no replay, but tokens
 * under it before this entry were issued before it was imported. */
static int
confirm_quota(struct rc *rc, struct oem_quota_count *c, const char *hex, uint64_t idx)
{
	c->pending = 0;
	c->import_index = idx;
	if (c->pending_use == OEM_NO_INDEX)
		return 0;
	return oem_anomaly_add(rc->res, OEM_ANOM_TOKEN_QUOTA, c->pending_use,
	    "token under quota %s, which was imported later, at entry %llu", hex,
	    (unsigned long long)idx);
}

static int
on_quota(struct rc *rc, const Tally__LogQuotaImported *qi, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	Tally__Quota *q = NULL;
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	size_t slot;
	int r;

	if ((r = tally_quota_open(qi->quota.data, qi->quota.len, rc->oem_root, &q)) != 0)
		return oem_anomaly_add(res, OEM_ANOM_QUOTA_SIGNATURE, idx,
		    "quota does not verify with the OEM root key: %s", tally_strerror(r));
	tally_hex(q->quota_id.data, TALLY_QUOTA_ID_LEN, hex);
	slot = rc_find_quota(res, q->quota_id.data, q->quota_id.len);
	if (memcmp(q->appliance_key_id.data, res->appliance_key_id, TALLY_KEY_ID_LEN) != 0)
		r = oem_anomaly_add(res, OEM_ANOM_QUOTA_APPLIANCE, idx,
		    "quota %s is bound to another appliance", hex);
	else if (slot != SIZE_MAX && res->quotas[slot].pending)
		r = confirm_quota(rc, &res->quotas[slot], hex, idx);
	else if (slot != SIZE_MAX)
		r = oem_anomaly_add(res, OEM_ANOM_QUOTA_REPLAYED, idx,
		    "quota %s imported a second time", hex);
	else if ((r = rc_quota_add(rc, q, qi->quota.data, qi->quota.len, NULL)) == 0) {
		res->quotas[res->n_quotas - 1].import_index = idx;
		return 0;  /* q is kept */
	}
	tally__quota__free_unpacked(q, NULL);
	return r;
}

/* (Re-)enrolment of a known jig: new key, active again. */
static int
reenrol(struct rc *rc, size_t slot, EVP_PKEY *pub, uint64_t idx)
{
	struct oem_jig_rec *j = &rc->res->jigs[slot];
	uint8_t *spki = NULL;
	size_t len = 0;
	int r = 0;

	if (j->pending && j->pending_use != OEM_NO_INDEX)
		r = oem_anomaly_add(rc->res, OEM_ANOM_TOKEN_JIG, j->pending_use,
		    "token or report by a jig enrolled only later, at entry %llu",
		    (unsigned long long)idx);
	EVP_PKEY_free(rc->jig_pub[slot]);
	rc->jig_pub[slot] = pub;
	if (tally_key_spki(pub, &spki, &len) == 0 && len <= sizeof(j->spki)) {
		memcpy(j->spki, spki, len);
		j->spki_len = len;
	}
	OPENSSL_free(spki);
	j->pending = j->revoked = 0;
	j->enrolled_index = idx;
	j->changed = 1;
	return r;
}

/* Tokens name jigs by the key ID of their TLS certificate, so the jig is
 * registered under the certificate's key ID whatever the entry claims. */
static int
on_jig_enrolled(struct rc *rc, const Tally__LogJigEnrolled *je, uint64_t idx)
{
	uint8_t id[TALLY_KEY_ID_LEN];
	struct oem_jig_rec *j;
	EVP_PKEY *pub;
	size_t slot;
	int r;

	if (rc_cert_jig(&je->certificate, id, &pub) != 0)
		return oem_anomaly_add(rc->res, OEM_ANOM_JIG, idx,
		    "jig enrolment with an unreadable certificate");
	if ((je->jig_key_id.len != TALLY_KEY_ID_LEN ||
	    memcmp(je->jig_key_id.data, id, TALLY_KEY_ID_LEN) != 0) &&
	    (r = oem_anomaly_add(rc->res, OEM_ANOM_JIG, idx, "jig enrolment: "
	    "key ID differs from the certificate's")) != 0)
		goto fail;
	rc->res->jigs_enrolled++;
	if ((slot = rc_find_jig(rc->res, id, sizeof(id))) != SIZE_MAX)
		return reenrol(rc, slot, pub, idx);
	if ((r = rc_jig_add(rc, id, pub, &j)) != 0)
		goto fail;
	j->enrolled_index = idx;
	j->changed = 1;
	return 0;
 fail:
	EVP_PKEY_free(pub);
	return r;
}

static int
on_jig_revoked(struct rc *rc, const Tally__LogJigRevoked *jr, uint64_t idx)
{
	size_t slot = rc_find_jig(rc->res, jr->jig_key_id.data, jr->jig_key_id.len);

	if (slot == SIZE_MAX)
		return oem_anomaly_add(rc->res, OEM_ANOM_JIG, idx,
		    "revocation of a jig that was never enrolled");
	rc->res->jigs[slot].revoked = 1;
	rc->res->jigs[slot].changed = 1;
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

/* An imported receipt: cosigned by the OEM root, a checkpoint of this
 * appliance covering entries before this one. */
static int
on_receipt(struct rc *rc, const Tally__LogReceiptImported *ri, uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t root[TALLY_HASH_LEN];
	size_t len = strlen(ri->receipt), text_len;
	uint64_t size;
	int64_t ts;
	int r;

	res->receipts++;
	if ((r = tally_cosignature_verify(ri->receipt, len, rc->oem_root, &ts, &text_len)) != 0)
		return oem_anomaly_add(res, OEM_ANOM_RECEIPT, idx, "receipt is not "
		    "cosigned by the OEM root key: %s", tally_strerror(r));
	if ((r = tally_checkpoint_verify(ri->receipt, len, rc->appliance, res->origin,
	    &size, root)) != 0)
		return oem_anomaly_add(res, OEM_ANOM_RECEIPT, idx, "receipt is not a "
		    "checkpoint signed by this appliance: %s", tally_strerror(r));
	if (size != ri->tree_size || size > idx)
		return oem_anomaly_add(res, OEM_ANOM_RECEIPT, idx, "receipt covers %llu "
		    "entries (the entry says %llu), not all logged before it",
		    (unsigned long long)size, (unsigned long long)ri->tree_size);
	if (res->ledger_known && size == rc->skip_below &&
	    memcmp(root, rc->ledger_root, TALLY_HASH_LEN) != 0)
		return oem_anomaly_add(res, OEM_ANOM_RECEIPT, idx, "receipt for a "
		    "checkpoint of %llu entries whose root is not the one the ledger "
		    "verified", (unsigned long long)size);
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
	case TALLY__LOG_ENTRY__BODY_RECEIPT_IMPORTED:
		return on_receipt(rc, e->receipt_imported, idx);
	case TALLY__LOG_ENTRY__BODY_ATTESTATION_FAILED:
		return rc_attestation_failed(rc, e->attestation_failed, idx);
	default:
		return oem_anomaly_add(rc->res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "entry of an unknown kind");
	}
}

/* Entry times never go backwards (from the ledger's last one on). */
static int
check_time(struct rc *rc, int64_t t, uint64_t idx)
{
	int64_t prev = rc->last_time;
	int had = rc->have_time;

	rc->last_time = rc->res->last_time = t;
	rc->have_time = 1;
	if (!had || t >= prev)
		return 0;
	return oem_anomaly_add(rc->res, OEM_ANOM_TIME, idx, "entry time %lld is "
	    "%lld s before the previous entry's time %lld", (long long)t,
	    (long long)(prev - t), (long long)prev);
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
	if ((r = check_time(rc, e->time, pos)) == 0)
		r = dispatch(rc, e, pos);
 out:
	tally__log_entry__free_unpacked(e, NULL);
	return r;
}
