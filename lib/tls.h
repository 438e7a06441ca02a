/*
 * tls.h - TLS 1.3 (RFC 8446) contexts for the jig link, mutually
 * authenticated. OpenSSL 3.
 *
 * The appliance presents a self-signed certificate made in memory from its
 * key; jigs do not trust a CA for it but pin its key ID (SHA-256 of SPKI).
 * Jigs present certificates that must chain to the configured jig CA.
 */
#ifndef TALLY_TLS_H
#define TALLY_TLS_H

#include <stdint.h>
#include <openssl/ssl.h>

/* Server context: TLS 1.3 only, no renegotiation, no session tickets, certificate
 * = self-signed X.509 for appliance_key (CN "tally appliance", 10 years),
 * client certificate required (SSL_VERIFY_PEER|SSL_VERIFY_FAIL_IF_NO_PEER_CERT)
 * and verified against the PEM CA bundle at jig_ca_file.
 * *out: SSL_CTX_free. Errors: TALLY_ERR_IO (CA file), TALLY_ERR_CRYPTO. */
int tally_tls_server_ctx(EVP_PKEY *appliance_key, const char *jig_ca_file, SSL_CTX **out);

/* Client context for a jig: TLS 1.3 only, presents the PEM certificate
 * cert_file with the private key key (not owned; SSL_CTX keeps a reference),
 * and accepts the server only if its leaf SPKI hashes to pin (32 bytes).
 * *out: SSL_CTX_free. Errors: TALLY_ERR_IO, TALLY_ERR_KEY, TALLY_ERR_CRYPTO. */
int tally_tls_client_ctx(const char *cert_file, EVP_PKEY *key,
    const uint8_t pin[32], SSL_CTX **out);

/* Key ID (SHA-256 of SPKI) of the peer's leaf certificate on an
 * established connection. Errors: TALLY_ERR_NOT_FOUND (no peer cert). */
int tally_tls_peer_key_id(SSL *ssl, uint8_t id[32]);

#endif
