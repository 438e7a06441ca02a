/*
 * devverify.h - the device-side token bundle verifier: what a DUT's
 * provisioning code (bootloader, secure boot stage) runs to decide whether
 * it may accept a token bundle and then a firmware image (DESIGN.md §7,
 * docs/verifier.md).
 *
 * It checks the chain OEM root key -> quota -> appliance key -> token:
 *   1. the bundle (proto/artifacts.proto TokenBundle) and both envelopes
 *      (proto/envelope.proto; DSSE v1, signatures over PAE) parse;
 *   2. the quota envelope has payloadType application/vnd.tally.quota+pb
 *      and a signature whose keyid is SHA-256(OEM root SPKI) and verifies;
 *   3. SHA-256(bundle.appliance_public_key) == quota.appliance_key_id;
 *   4. the token envelope has payloadType application/vnd.tally.token+pb and
 *      a signature by that appliance key (keyid and signature);
 *   5. token.quota_id == quota.quota_id, token.appliance_key_id ==
 *      quota.appliance_key_id, token.product == quota.product (and ==
 *      params.product when given), token.device_uid == params.uid;
 *   6. token.firmware_digest is 32 bytes and one of quota.firmware_digests;
 *   7. quota.not_before <= token.issued_at < quota.not_after, and, when the
 *      device has a clock (params.now != 0), quota.not_before <= now <
 *      quota.not_after.
 *
 * Constraints, so that it ports to a bootloader: no heap, no global or
 * static mutable state, no libc beyond memcmp/memcpy/memset, no protobuf
 * library (a strict reader of the protobuf wire format on the caller's
 * bytes: each non-repeated field at most once, unknown fields skipped,
 * lengths bounded), the caller supplies a work buffer for PAE, and every
 * cryptographic operation goes through struct tdv_crypto. lib/devverify_ossl.c
 * is the OpenSSL back-end used on the host (simulated DUT, tally-oem
 * verify-token); docs/verifier.md shows an mbedTLS/PSA one and measures
 * code and stack size.
 */
#ifndef TALLY_DEVVERIFY_H
#define TALLY_DEVVERIFY_H

#include <stddef.h>
#include <stdint.h>

#define TDV_DIGEST_LEN 32
#define TDV_QUOTA_ID_LEN 16
#define TDV_UID_MAX 64
#define TDV_PRODUCT_MAX 64
#define TDV_BUNDLE_MAX (2 * 16384 + 1024 + 64) /* = TALLY_BUNDLE_MAX, bytes */
#define TDV_PAYLOAD_MAX 12288                  /* = TALLY_PAYLOAD_MAX, bytes */
/* Smallest work buffer that holds PAE of the largest payload, bytes. */
#define TDV_WORK_MIN (TDV_PAYLOAD_MAX + 96)

/* The crypto back-end: a few functions and their context. */
struct tdv_crypto {
	/* SHA-256 (FIPS 180-4) of len bytes at msg into out (32 bytes).
	 * Returns 0, or -1 when the hash engine failed. */
	int (*sha256)(void *ctx, const uint8_t *msg, size_t len, uint8_t *out);
	/* Verifies sig (sig_len bytes) over msg (msg_len bytes) with the public
	 * key spki (DER SubjectPublicKeyInfo, RFC 5280 §4.1.2.7): ECDSA P-256
	 * with SHA-256 and a DER ECDSA-Sig-Value (RFC 5480, FIPS 186-5), or
	 * Ed25519 with a 64-byte signature (RFC 8032 §5.1.7).
	 * Returns 1 valid, 0 invalid, -1 key not parsable or of another type. */
	int (*verify)(void *ctx, const uint8_t *spki, size_t spki_len,
	    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len);
	void *ctx;
};

/* What the device knows and gives the verifier. Nothing is kept. */
struct tdv_params {
	const struct tdv_crypto *crypto;
	const uint8_t *oem_root_spki;   /* DER SPKI of the OEM root key */
	size_t oem_root_spki_len;       /* 1..1024 bytes */
	const uint8_t *uid;             /* the device's own UID (fuses), 1..TDV_UID_MAX bytes */
	size_t uid_len;
	const char *product;            /* NUL-terminated, or NULL: not checked */
	int64_t now;                    /* Unix seconds, 0 = no trusted clock */
	uint8_t *work;                  /* scratch, at least TDV_WORK_MIN bytes; clobbered */
	size_t work_len;
};

/* What an accepted token says, copied out of the bundle. */
struct tdv_token {
	uint64_t log_index;
	uint8_t quota_id[TDV_QUOTA_ID_LEN];
	uint8_t appliance_key_id[TDV_DIGEST_LEN];
	uint8_t firmware_digest[TDV_DIGEST_LEN];
	uint64_t serial_number;         /* 0 = none */
	int64_t issued_at;              /* Unix seconds */
};

/* Results, from the first check that failed. */
enum tdv_result {
	TDV_OK = 0,
	TDV_TOO_LARGE,          /* bundle over TDV_BUNDLE_MAX or a payload over TDV_PAYLOAD_MAX */
	TDV_MALFORMED,          /* not valid protobuf, a field missing, repeated or of wrong size */
	TDV_BAD_TYPE,           /* envelope payloadType is not the expected one */
	TDV_BAD_SIGNATURE,      /* no signature with the expected keyid verifies */
	TDV_KEY_MISMATCH,       /* appliance key is not the one the quota binds */
	TDV_WRONG_QUOTA,        /* token's quota ID, appliance key ID or product differ from the quota's */
	TDV_WRONG_DEVICE,       /* token bound to another UID, or quota for another product */
	TDV_FIRMWARE_NOT_ALLOWED, /* token's firmware digest not in the quota */
	TDV_EXPIRED,            /* issued_at or now outside the quota's validity */
	TDV_BAD_PARAMS,         /* params NULL/out of range, or work buffer smaller than needed */
	TDV_CRYPTO,             /* the back-end failed or does not support the key */
};

/* Verifies a serialized TokenBundle (len bytes) for the device described by
 * p, checks 1-7 above. On TDV_OK fills *out (may be NULL); otherwise *out
 * is left zeroed. Reads bundle only; writes only p->work and *out. Stack
 * use is bounded and does not depend on the input (docs/verifier.md). */
enum tdv_result tdv_verify_bundle(const struct tdv_params *p,
    const uint8_t *bundle, size_t len, struct tdv_token *out);

/* 1 when digest (32 bytes, SHA-256 of the received image) equals the
 * accepted token's firmware digest, else 0. Constant time in the digest. */
int tdv_firmware_matches(const struct tdv_token *t, const uint8_t *digest);

/* A static lower-case name of r, e.g. "wrong device"; never NULL. */
const char *tdv_result_name(enum tdv_result r);

/* The OpenSSL back-end (lib/devverify_ossl.c), for the host: fills *c with
 * functions that need no context (ctx = NULL). */
void tdv_crypto_openssl(struct tdv_crypto *c);

#endif
