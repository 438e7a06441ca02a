/*
 * key.h - key loading, key IDs, raw signatures. All through OpenSSL 3 EVP.
 *
 * Supported key types: ECDSA P-256 with SHA-256 (FIPS 186-5) and Ed25519
 * (RFC 8032). A key ID is SHA-256 of the DER SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7 / RFC 5480), 32 bytes.
 */
#ifndef TALLY_KEY_H
#define TALLY_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define TALLY_KEY_ID_LEN 32
#define TALLY_SIG_MAX 72       /* DER ECDSA P-256 signature upper bound; Ed25519 is 64 */
#define TALLY_SPKI_MAX 1024    /* largest SPKI accepted from input, bytes */

enum tally_key_type { TALLY_KEY_P256 = 1, TALLY_KEY_ED25519 = 2 };

/* Loads a private key by URI through OSSL_STORE: a plain path, "file:PATH",
 * or a provider URI (e.g. "handle:0x81000001" with the tpm2 provider loaded).
 * For file keys, refuses a file readable or writable by group or others.
 * On success *out owns the key (EVP_PKEY_free). Errors: TALLY_ERR_NOT_FOUND
 * (no such file / no key in it), TALLY_ERR_KEY_PERM, TALLY_ERR_KEY (not a
 * P-256 or Ed25519 private key), TALLY_ERR_IO. */
int tally_key_load(const char *uri, EVP_PKEY **out);

/* Loads a public key (PEM "PUBLIC KEY", or a private key file whose public
 * half is taken) by path or URI. No permission check. Same errors. */
int tally_key_load_public(const char *uri, EVP_PKEY **out);

/* Generates a new key of type. *out owns it. Errors: TALLY_ERR_CRYPTO. */
int tally_key_generate(enum tally_key_type type, EVP_PKEY **out);

/* Writes the private key as PKCS#8 PEM to path, mode 0600, refusing to
 * overwrite (O_EXCL). Errors: TALLY_ERR_EXISTS, TALLY_ERR_IO, TALLY_ERR_CRYPTO.
 * The PEM buffer is wiped with OPENSSL_cleanse before it is freed. */
int tally_key_write_private(EVP_PKEY *key, const char *path);

/* Writes the public key as PEM "PUBLIC KEY" to path (mode 0644, replaced
 * atomically). Errors: TALLY_ERR_IO, TALLY_ERR_CRYPTO. */
int tally_key_write_public(EVP_PKEY *key, const char *path);

/* DER SubjectPublicKeyInfo of key into a new buffer (*der, OPENSSL_free).
 * Errors: TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
int tally_key_spki(EVP_PKEY *key, uint8_t **der, size_t *len);

/* Key ID of key: SHA-256 of its DER SPKI. Errors: TALLY_ERR_CRYPTO. */
int tally_key_id(EVP_PKEY *key, uint8_t id[TALLY_KEY_ID_LEN]);

/* Key ID of an SPKI given as DER bytes (no parse). Always succeeds. */
void tally_key_id_spki(const uint8_t *spki, size_t len, uint8_t id[TALLY_KEY_ID_LEN]);

/* Parses a DER SPKI (at most TALLY_SPKI_MAX bytes) into a public key;
 * only P-256 and Ed25519 are accepted. Errors: TALLY_ERR_TOO_LARGE,
 * TALLY_ERR_KEY (malformed or other algorithm). *out: EVP_PKEY_free. */
int tally_key_from_spki(const uint8_t *der, size_t len, EVP_PKEY **out);

/* Type of a loaded key, or 0 if neither P-256 nor Ed25519. */
enum tally_key_type tally_key_type(EVP_PKEY *key);

/* Signs msg (len bytes) with key: ECDSA P-256 over SHA-256(msg), DER
 * signature; Ed25519 pure (RFC 8032), 64 bytes. sig must hold
 * TALLY_SIG_MAX bytes; *siglen receives the length.
 * Errors: TALLY_ERR_CRYPTO. Thread-safe for distinct EVP_MD_CTX (one is made per call). */
int tally_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
    uint8_t sig[TALLY_SIG_MAX], size_t *siglen);

/* Verifies sig over msg with the public half of key, same algorithms.
 * Returns 0 or TALLY_ERR_SIGNATURE (TALLY_ERR_NOMEM if no context could be
 * allocated). Clears the OpenSSL error queue. */
int tally_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen);

/* A signing context for hot paths (token issuance): the key ID and an
 * initialised EVP_DigestSign context are computed once, so each signature
 * costs one context copy and the signature itself. A signer is not
 * thread-safe: use one per thread. It holds its own reference to key.
 * tally_signer_new errors: TALLY_ERR_KEY (not P-256 or Ed25519),
 * TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
struct tally_signer;
int tally_signer_new(EVP_PKEY *key, struct tally_signer **out);
void tally_signer_free(struct tally_signer *s);	/* NULL is a no-op */

/* The signer's key ID (TALLY_KEY_ID_LEN bytes) and key, owned by it. */
const uint8_t *tally_signer_key_id(const struct tally_signer *s);
EVP_PKEY *tally_signer_key(const struct tally_signer *s);

/* Same signatures as tally_sign. Errors: TALLY_ERR_CRYPTO. */
int tally_signer_sign(struct tally_signer *s, const uint8_t *msg, size_t len,
    uint8_t sig[TALLY_SIG_MAX], size_t *siglen);

#endif
