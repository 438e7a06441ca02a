/*
 * dsse.h - DSSE v1 envelopes (secure-systems-lab/dsse, protocol.md), in the
 * protobuf form of proto/envelope.proto.
 *
 * The signature covers PAE(payloadType, payload) =
 *   "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
 * with LEN as ASCII decimal without leading zeros. Each signature carries
 * keyid = SHA-256 of the signer's DER SPKI (32 bytes).
 */
#ifndef TALLY_DSSE_H
#define TALLY_DSSE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "envelope.pb-c.h"

#define TALLY_PT_QUOTA  "application/vnd.tally.quota+pb"
#define TALLY_PT_TOKEN  "application/vnd.tally.token+pb"
#define TALLY_PT_REPORT "application/vnd.tally.report+pb"

#define TALLY_ENVELOPE_MAX 16384  /* largest serialized envelope accepted, bytes */
#define TALLY_PAYLOAD_MAX  12288  /* largest payload accepted, bytes */
#define TALLY_DSSE_MAX_SIGS 4     /* signatures looked at per envelope */

/* Builds PAE(type, payload) into a new buffer (*out, free()).
 * Errors: TALLY_ERR_NOMEM, TALLY_ERR_TOO_LARGE (payload > TALLY_PAYLOAD_MAX). */
int tally_dsse_pae(const char *type, const uint8_t *payload, size_t len,
    uint8_t **out, size_t *outlen);

/* Signs payload with key and returns the serialized Envelope in a new
 * buffer (*env, free()). Errors: TALLY_ERR_TOO_LARGE, TALLY_ERR_CRYPTO,
 * TALLY_ERR_NOMEM. */
int tally_dsse_sign(EVP_PKEY *key, const char *type, const uint8_t *payload,
    size_t len, uint8_t **env, size_t *envlen);

/* As tally_dsse_sign, with a signer (key.h) made once: no per-call key
 * encoding or context setup; for the token hot path. Same errors. */
struct tally_signer;
int tally_dsse_sign_with(struct tally_signer *s, const char *type,
    const uint8_t *payload, size_t len, uint8_t **env, size_t *envlen);

/* Parses a serialized Envelope (at most TALLY_ENVELOPE_MAX bytes), checks
 * its payload_type equals type, and that one of its first
 * TALLY_DSSE_MAX_SIGS signatures has keyid == key ID of pub and verifies.
 * On success *out owns the parsed envelope (tally__envelope__free_unpacked
 * with NULL allocator); its payload is the authenticated payload.
 * Errors: TALLY_ERR_TOO_LARGE, TALLY_ERR_INVALID (not an envelope, empty
 * payload), TALLY_ERR_MISMATCH (other payload type), TALLY_ERR_SIGNATURE
 * (no signature by pub, or it does not verify). */
int tally_dsse_open(const uint8_t *env, size_t envlen, const char *type,
    EVP_PKEY *pub, Tally__Envelope **out);

/* As tally_dsse_open but without verifying: parse, size and type checks
 * only, for reading the signer's key ID first. Same errors but SIGNATURE;
 * an envelope without any signature is TALLY_ERR_INVALID. */
int tally_dsse_parse(const uint8_t *env, size_t envlen, const char *type,
    Tally__Envelope **out);

#endif
