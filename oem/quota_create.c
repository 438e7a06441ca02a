/* quota_create.c - build, check and sign a quota; see quota_create.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "dsse.h"
#include "err.h"
#include "quota_create.h"

/* The attestation policy: REQUIRED with the spec's keys (each a usable
 * SPKI, none twice), or NONE without keys. */
static int
attestation_fill(const struct oem_quota_spec *spec, Tally__Quota *q)
{
	size_t i, j;

	if (spec->n_attestation_keys > TALLY_ATT_KEYS_MAX ||
	    (spec->n_attestation_keys > 0 && spec->attestation_keys == NULL))
		return TALLY_ERR_INVALID;
	for (i = 0; i < spec->n_attestation_keys; i++) {
		const ProtobufCBinaryData *k = &spec->attestation_keys[i];
		EVP_PKEY *pub = NULL;

		if (tally_key_from_spki(k->data, k->len, &pub) != 0)
			return TALLY_ERR_INVALID;
		EVP_PKEY_free(pub);
		for (j = 0; j < i; j++)
			if (spec->attestation_keys[j].len == k->len &&
			    memcmp(spec->attestation_keys[j].data, k->data, k->len) == 0)
				return TALLY_ERR_INVALID;
	}
	q->attestation_public_keys = (ProtobufCBinaryData *)spec->attestation_keys;
	q->n_attestation_public_keys = spec->n_attestation_keys;
	q->attestation = spec->n_attestation_keys > 0 ?
	    TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED :
	    TALLY__ATTESTATION_POLICY__ATTESTATION_NONE;
	return 0;
}

/* Fills q from spec; the arrays point into spec and digests (no copy). */
static int
quota_fill(const struct oem_quota_spec *spec, uint8_t *kid, uint8_t *qid,
    ProtobufCBinaryData *digests, Tally__Quota *q)
{
	EVP_PKEY *k = NULL;
	size_t i;

	if (spec->appliance_spki != NULL) {
		if (tally_key_from_spki(spec->appliance_spki, spec->appliance_spki_len, &k) != 0)
			return TALLY_ERR_INVALID;
		EVP_PKEY_free(k);
		tally_key_id_spki(spec->appliance_spki, spec->appliance_spki_len, kid);
		q->appliance_public_key.data = (uint8_t *)spec->appliance_spki;
		q->appliance_public_key.len = spec->appliance_spki_len;
	} else
		memcpy(kid, spec->appliance_key_id, TALLY_KEY_ID_LEN);
	if (spec->product == NULL || spec->n_firmware == 0 ||
	    spec->n_firmware > TALLY_FIRMWARE_MAX)
		return TALLY_ERR_INVALID;
	for (i = 0; i < spec->n_firmware; i++) {
		digests[i].data = (uint8_t *)spec->firmware[i];
		digests[i].len = TALLY_DIGEST_LEN;
	}
	q->quota_id.data = qid;
	q->quota_id.len = TALLY_QUOTA_ID_LEN;
	q->appliance_key_id.data = kid;
	q->appliance_key_id.len = TALLY_KEY_ID_LEN;
	q->product = (char *)spec->product;
	q->firmware_digests = digests;
	q->n_firmware_digests = spec->n_firmware;
	q->units = spec->units;
	q->serial_first = spec->serial_first;
	q->serial_last = spec->serial_last;
	q->not_before = spec->not_before;
	q->not_after = spec->not_after;
	q->max_unreconciled = spec->max_unreconciled;
	q->scrap_allowance = spec->scrap_allowance;
	q->issued_at = spec->issued_at;
	return attestation_fill(spec, q);
}

int
oem_quota_create(const struct oem_quota_spec *spec,
    uint8_t quota_id[TALLY_QUOTA_ID_LEN], uint8_t **env, size_t *envlen)
{
	Tally__Quota q = TALLY__QUOTA__INIT;
	ProtobufCBinaryData digests[TALLY_FIRMWARE_MAX];
	uint8_t kid[TALLY_KEY_ID_LEN], qid[TALLY_QUOTA_ID_LEN], *payload = NULL;
	size_t len;
	int r;

	*env = NULL;
	if (RAND_bytes(qid, sizeof(qid)) != 1)
		return TALLY_ERR_CRYPTO;
	if ((r = quota_fill(spec, kid, qid, digests, &q)) != 0)
		return r;
	if ((r = tally_quota_check(&q)) != 0)
		return r;
	len = tally__quota__get_packed_size(&q);
	if (len > TALLY_PAYLOAD_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((payload = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__quota__pack(&q, payload);
	r = tally_dsse_sign(spec->oem_key, TALLY_PT_QUOTA, payload, len, env, envlen);
	free(payload);
	if (r == 0)
		memcpy(quota_id, qid, sizeof(qid));
	return r;
}
