/*
 * attest.h - DUT attestation statements (docs/dut-protocol.md
 * "Attestation"): what a provisioning DUT signs with its attestation key
 * over the appliance's challenge, its UID and its boot metadata, and how
 * the appliance checks it against the quota's trusted attestation keys.
 *
 * Record layout (fixed, chip-friendly; all of it is hostile input to
 * tallyd, which receives it verbatim in IssueTokenRequest.attestation):
 *
 *   offset      size  field
 *   0           16    magic "tally/attest/v1\n" (ASCII)
 *   16          32    key_id: SHA-256 of the attestation key's DER SPKI
 *   48          32    nonce: the challenge from ChallengeResponse
 *   80          32    boot_key_hash: SHA-256 of the DUT's boot verification key
 *   112         4     software_version: boot ROM / bootloader version, big-endian
 *   116         1     uid_len (1..TALLY_UID_MAX)
 *   117         n     uid
 *   117+n       1     sig_len (1..TALLY_ATTESTATION_SIG_MAX)
 *   118+n       s     signature over bytes [0, 117+n) (the "statement"):
 *                     ECDSA P-256 with SHA-256, DER ECDSA-Sig-Value
 *                     (FIPS 186-5, RFC 5480), or Ed25519 (RFC 8032, 64 bytes)
 *
 * The record is exactly 118 + n + s bytes; trailing bytes are malformed.
 */
#ifndef TALLY_ATTEST_H
#define TALLY_ATTEST_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <protobuf-c/protobuf-c.h>
#include "artifact.h"

#define TALLY_ATTESTATION_MAGIC "tally/attest/v1\n"
#define TALLY_ATTESTATION_MAGIC_LEN 16
#define TALLY_ATTESTATION_SIG_MAX 72
#define TALLY_ATTESTATION_MAX (118 + TALLY_UID_MAX + TALLY_ATTESTATION_SIG_MAX) /* 254 bytes */

/* A parsed record; the pointers point into the buffer given to
 * tally_attestation_parse and live as long as it. */
struct tally_attestation {
	uint8_t key_id[TALLY_DIGEST_LEN];
	uint8_t nonce[TALLY_NONCE_LEN];
	uint8_t boot_key_hash[TALLY_DIGEST_LEN];
	uint32_t software_version;
	const uint8_t *uid;         /* uid_len bytes */
	size_t uid_len;             /* 1..TALLY_UID_MAX */
	const uint8_t *statement;   /* the signed bytes: [0, 117+uid_len) */
	size_t statement_len;
	const uint8_t *sig;         /* sig_len bytes */
	size_t sig_len;             /* 1..TALLY_ATTESTATION_SIG_MAX */
};

/* Parses a record of len bytes (at most TALLY_ATTESTATION_MAX) into *out
 * without verifying it. Errors: TALLY_ERR_TOO_LARGE (len over the
 * maximum), TALLY_ERR_INVALID (wrong magic, uid_len or sig_len out of
 * range, truncated, trailing bytes). */
int tally_attestation_parse(const uint8_t *buf, size_t len,
    struct tally_attestation *out);

/* Builds and signs a record, as a DUT does: key is the attestation private
 * key (ECDSA P-256 or Ed25519), nonce TALLY_NONCE_LEN bytes, uid 1..64
 * bytes, boot_key_hash 32 bytes. Writes at most cap bytes to out and sets
 * *len. Errors: TALLY_ERR_INVALID (uid length), TALLY_ERR_TOO_LARGE (cap
 * too small; TALLY_ATTESTATION_MAX always suffices), TALLY_ERR_KEY
 * (unsupported key type), TALLY_ERR_CRYPTO. */
int tally_attestation_make(EVP_PKEY *key, const uint8_t *nonce,
    const uint8_t *uid, size_t uid_len, const uint8_t *boot_key_hash,
    uint32_t software_version, uint8_t *out, size_t cap, size_t *len);

/* Checks a parsed record as the appliance does before it spends a unit:
 * its nonce equals nonce (the challenge this jig's connection was given),
 * its UID equals uid/uid_len (the IssueToken request's), its key_id names
 * one of the n_keys trusted keys (DER SPKIs, the quota's
 * attestation_public_keys; n_keys <= TALLY_ATT_KEYS_MAX) and the signature
 * verifies with that key. On success *which (may be NULL) is the index of
 * the key. Errors: TALLY_ERR_MISMATCH (nonce or UID differ),
 * TALLY_ERR_NOT_FOUND (key_id is not a trusted key), TALLY_ERR_SIGNATURE
 * (does not verify), TALLY_ERR_KEY (a trusted key cannot be parsed),
 * TALLY_ERR_CRYPTO. */
int tally_attestation_verify(const struct tally_attestation *a,
    const uint8_t *nonce, const uint8_t *uid, size_t uid_len,
    const ProtobufCBinaryData *keys, size_t n_keys, size_t *which);

#endif
