/*
 * artifact.h - checked parsing of the signed artifacts of DESIGN.md §3:
 * quotas, tokens, token bundles and install reports. Every function
 * verifies the envelope signature (dsse.h) and then the range and size of
 * every field before the caller sees the message.
 */
#ifndef TALLY_ARTIFACT_H
#define TALLY_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifacts.pb-c.h"

#define TALLY_QUOTA_ID_LEN 16
#define TALLY_DIGEST_LEN 32
#define TALLY_NONCE_LEN 32
#define TALLY_UID_MAX 64
#define TALLY_PRODUCT_MAX 64
#define TALLY_FIRMWARE_MAX 16       /* digests per quota */
#define TALLY_ATT_KEYS_MAX 16       /* attestation keys per quota */
#define TALLY_UNITS_MAX (1ull << 32)
#define TALLY_REASON_MAX 256
/* Largest serialized TokenBundle accepted: two envelopes, one SPKI and
 * protobuf tags and lengths. */
#define TALLY_BUNDLE_MAX (2 * 16384 + 1024 + 64)

/* Field checks of a parsed Quota: quota_id 16 bytes, appliance_key_id 32,
 * appliance_public_key empty or an SPKI whose key ID equals
 * appliance_key_id, product 1..64 printable ASCII, 1..16 firmware digests
 * of 32 bytes, units 1..TALLY_UNITS_MAX, serial range empty (both 0) or
 * 1 <= first <= last with last-first+1 >= units (serial 0 means "none"), not_before < not_after,
 * at most 16 attestation keys each a valid SPKI, and attestation REQUIRED
 * only with at least one key. Returns 0 or TALLY_ERR_INVALID. */
int tally_quota_check(const Tally__Quota *q);

/* Opens a quota envelope signed by oem_root and checks its fields.
 * *out (tally__quota__free_unpacked(.., NULL)) on success.
 * Errors: those of tally_dsse_open, TALLY_ERR_INVALID. Validity in time
 * and the appliance binding are the caller's policy (tally_quota_usable). */
int tally_quota_open(const uint8_t *env, size_t len, EVP_PKEY *oem_root,
    Tally__Quota **out);

/* Is q usable by the appliance with key ID appliance_key_id at time now
 * (Unix seconds)? Returns 0, TALLY_ERR_MISMATCH (other appliance),
 * TALLY_ERR_EXPIRED (now < not_before or now >= not_after). */
int tally_quota_usable(const Tally__Quota *q, const uint8_t appliance_key_id[32], int64_t now);

/* Does q allow firmware digest d (32 bytes)? 1 yes, 0 no. */
int tally_quota_allows_firmware(const Tally__Quota *q, const uint8_t d[TALLY_DIGEST_LEN]);

/* Field checks of a Token: quota_id 16, appliance_key_id 32, product
 * 1..64, device_uid 1..64, firmware_digest 32, jig_key_id 32, nonce 32;
 * attestation fields either all absent (empty, empty, 0) or
 * attestation_key_id 32 and boot_key_hash 32 bytes (lib/attest.h).
 * Returns 0 or TALLY_ERR_INVALID. */
int tally_token_check(const Tally__Token *t);

/* Opens a token envelope signed by appliance and checks its fields.
 * Same ownership and errors as tally_quota_open. */
int tally_token_open(const uint8_t *env, size_t len, EVP_PKEY *appliance,
    Tally__Token **out);

/* Verifies a serialized TokenBundle the way a DUT does, with only the OEM
 * root public key: quota envelope by oem_root; the bundle's appliance SPKI
 * hashes to quota.appliance_key_id; token envelope by that appliance key;
 * token.quota_id, product and appliance_key_id equal the quota's; the
 * token's firmware digest is allowed by the quota; token.device_uid equals
 * uid (uid_len bytes); and, when fw_digest is not NULL, equals it; when
 * now != 0, token.issued_at within [not_before, not_after).
 * On success *tok_out (if not NULL) receives the token (free_unpacked).
 * bundle: at most TALLY_BUNDLE_MAX bytes; uid: 1..TALLY_UID_MAX bytes.
 * Errors: TALLY_ERR_INVALID, TALLY_ERR_TOO_LARGE, TALLY_ERR_SIGNATURE,
 * TALLY_ERR_MISMATCH (UID, digest, binding), TALLY_ERR_EXPIRED. */
int tally_bundle_verify(const uint8_t *bundle, size_t len, EVP_PKEY *oem_root,
    const uint8_t *uid, size_t uid_len, const uint8_t *fw_digest, int64_t now,
    Tally__Token **tok_out);

/* Field checks of an InstallReport: device_uid 1..64, result INSTALLED or
 * FAILED, reason <= 256 bytes. Returns 0 or TALLY_ERR_INVALID. */
int tally_report_check(const Tally__InstallReport *r);

/* Opens a report envelope signed by jig and checks its fields. */
int tally_report_open(const uint8_t *env, size_t len, EVP_PKEY *jig,
    Tally__InstallReport **out);

#endif
