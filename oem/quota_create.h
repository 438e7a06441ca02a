/*
 * quota_create.h - building and signing a quota (DESIGN.md §3,
 * proto/artifacts.proto Quota) as a DSSE v1 envelope with payload type
 * TALLY_PT_QUOTA, signed by the OEM root key.
 */
#ifndef TALLY_OEM_QUOTA_CREATE_H
#define TALLY_OEM_QUOTA_CREATE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "key.h"

/* What the OEM grants. Nothing is owned; times are Unix seconds (UTC). */
struct oem_quota_spec {
	EVP_PKEY *oem_key;                    /* signer: the OEM root private key */
	const uint8_t *appliance_spki;        /* DER SPKI of the appliance key, or NULL */
	size_t appliance_spki_len;
	uint8_t appliance_key_id[TALLY_KEY_ID_LEN]; /* used when appliance_spki is NULL */
	const char *product;                  /* 1..64 printable ASCII */
	const uint8_t (*firmware)[TALLY_DIGEST_LEN]; /* SHA-256 digests */
	size_t n_firmware;                    /* 1..TALLY_FIRMWARE_MAX */
	uint64_t units;                       /* 1..TALLY_UNITS_MAX */
	uint64_t serial_first, serial_last;   /* inclusive; both 0 = no serials */
	int64_t not_before, not_after;        /* not_before < not_after */
	uint64_t max_unreconciled;            /* 0 = no limit */
	uint64_t scrap_allowance;
	int64_t issued_at;
	const ProtobufCBinaryData *attestation_keys; /* DER SPKIs (P-256 or Ed25519) */
	size_t n_attestation_keys;            /* 0..TALLY_ATT_KEYS_MAX; with any, the
	                                         policy is ATTESTATION_REQUIRED */
};

/* Builds the Quota with a fresh random 16-byte quota_id (RAND_bytes),
 * checks it with tally_quota_check, and signs it. When appliance_spki is
 * given, the key ID bound is its SHA-256 and the SPKI is embedded (it must
 * be a P-256 or Ed25519 key). With attestation keys the quota's policy is
 * ATTESTATION_REQUIRED and it lists them (each a P-256 or Ed25519 SPKI,
 * no key twice); without, ATTESTATION_NONE. On success quota_id holds the
 * new ID and *env (free()) the serialized Envelope of *envlen bytes.
 * Errors: TALLY_ERR_INVALID (a field out of range, see tally_quota_check;
 * an unusable appliance SPKI; more than TALLY_ATT_KEYS_MAX attestation
 * keys, one that is not a P-256/Ed25519 SPKI, or one listed twice),
 * TALLY_ERR_CRYPTO (no randomness, signing failed), TALLY_ERR_TOO_LARGE,
 * TALLY_ERR_NOMEM. */
int oem_quota_create(const struct oem_quota_spec *spec,
    uint8_t quota_id[TALLY_QUOTA_ID_LEN], uint8_t **env, size_t *envlen);

#endif
