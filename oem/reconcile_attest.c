/* reconcile_attest.c - attestation in the log: tokens under a quota that
 * requires attestation name a trusted key, and LogAttestationFailed
 * entries are checked and counted per quota and per jig. A refused DUT is
 * information for the OEM (a clone, a wrong part), not an anomaly of the
 * appliance; a failure entry that cannot be right is. See reconcile.h. */
#include <string.h>
#include "err.h"
#include "reconcile_int.h"

/* Is id (len bytes) the key ID of one of q's trusted attestation keys? */
static int
trusted(const Tally__Quota *q, const uint8_t *id, size_t len)
{
	uint8_t kid[TALLY_KEY_ID_LEN];
	size_t i;

	if (len != TALLY_KEY_ID_LEN)
		return 0;
	for (i = 0; i < q->n_attestation_public_keys; i++) {
		tally_key_id_spki(q->attestation_public_keys[i].data,
		    q->attestation_public_keys[i].len, kid);
		if (memcmp(kid, id, TALLY_KEY_ID_LEN) == 0)
			return 1;
	}
	return 0;
}

int
rc_token_attestation(struct rc *rc, const Tally__Token *t, size_t qi, uint64_t idx)
{
	const Tally__Quota *q = rc->qmsg[qi];

	if (q->attestation != TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED)
		return 0;
	if (!trusted(q, t->attestation_key_id.data, t->attestation_key_id.len))
		return oem_anomaly_add(rc->res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "token under a quota that requires attestation names %s",
		    t->attestation_key_id.len == 0 ? "no attestation key" :
		    "an attestation key the quota does not trust");
	if (t->boot_key_hash.len != TALLY_DIGEST_LEN)
		return oem_anomaly_add(rc->res, OEM_ANOM_TOKEN_QUOTA, idx,
		    "attested token without a 32-byte boot key hash");
	return 0;
}

/* A reason of 1..TALLY_REASON_MAX printable ASCII characters. */
static int
reason_ok(const char *s)
{
	size_t i, n = s == NULL ? 0 : strnlen(s, TALLY_REASON_MAX + 1);

	if (n == 0 || n > TALLY_REASON_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* What is wrong with the entry's fields, or NULL. */
static const char *
malformed(const Tally__LogAttestationFailed *af)
{
	if (af->jig_key_id.len != TALLY_KEY_ID_LEN)
		return "jig key ID is not 32 bytes";
	if (af->device_uid.len < 1 || af->device_uid.len > TALLY_UID_MAX)
		return "device UID is not 1..64 bytes";
	if (af->quota_id.len != TALLY_QUOTA_ID_LEN)
		return "quota ID is not 16 bytes";
	if (!reason_ok(af->reason))
		return "reason is not 1..256 printable characters";
	if (af->attestation_key_id.len != 0 && af->attestation_key_id.len != TALLY_KEY_ID_LEN)
		return "attestation key ID is neither empty nor 32 bytes";
	return NULL;
}

int
rc_attestation_failed(struct rc *rc, const Tally__LogAttestationFailed *af,
    uint64_t idx)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_quota_count *c;
	const char *bad;
	size_t qi, j;

	res->attestation_failed++;
	if ((bad = malformed(af)) != NULL)
		return oem_anomaly_add(res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "attestation failure entry: %s", bad);
	j = rc_jig_use(rc, af->jig_key_id.data, af->jig_key_id.len, idx);
	if (j == SIZE_MAX || res->jigs[j].revoked)
		return oem_anomaly_add(res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "attestation failure for a jig %s", j == SIZE_MAX ?
		    "that is not enrolled" : "that was revoked");
	qi = rc_find_quota(res, af->quota_id.data, af->quota_id.len);
	if (qi == SIZE_MAX)
		return oem_anomaly_add(res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "attestation failure under a quota not imported before it");
	if (rc->qmsg[qi]->attestation != TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED)
		return oem_anomaly_add(res, OEM_ANOM_ENTRY_MALFORMED, idx,
		    "attestation failure under a quota that does not require attestation");
	c = &res->quotas[qi];
	if (c->pending && c->pending_use == OEM_NO_INDEX)
		c->pending_use = idx;
	c->attestation_failed++;
	res->jigs[j].attestation_failed++;
	res->jigs[j].changed = 1;
	return 0;
}
