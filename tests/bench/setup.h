/*
 * setup.h - tally-bench internals for making the appliance under test:
 * pki.c (jig CA and jig certificates), appliance.c (control-socket calls
 * and the quota), setup.c (folder, config, tallyd process, teardown).
 */
#ifndef TALLY_BENCH_SETUP_H
#define TALLY_BENCH_SETUP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "bench.h"

/* A jig CA: a new P-256 key and a self-signed CA certificate (CN
 * "tally-bench jig CA", valid 7 days), written as PEM to ca_file.
 * *ca and *ca_key: X509_free / EVP_PKEY_free. TALLY_ERR_CRYPTO, TALLY_ERR_IO. */
int pki_make_ca(const char *ca_file, X509 **ca, EVP_PKEY **ca_key);

/* A jig: a new P-256 key and a TLS client certificate (CN
 * "tally-bench jig N") issued by ca, PEM written to cert_file.
 * *key: EVP_PKEY_free; *der (DER certificate, OPENSSL_free), *der_len.
 * TALLY_ERR_CRYPTO, TALLY_ERR_IO. */
int pki_make_jig(X509 *ca, EVP_PKEY *ca_key, unsigned n, const char *cert_file,
    EVP_PKEY **key, uint8_t **der, size_t *der_len);

/* Waits until tallyd answers on env->ctl_path (at most timeout_ms), then
 * reads the jig listener address (Status) into env->listen and the
 * appliance key ID (Identity), which must equal want_id.
 * TALLY_ERR_TIMEOUT, TALLY_ERR_INVALID, TALLY_ERR_MISMATCH, and the
 * errors of ctl_client_connect / ctl_client_call. */
int appliance_connect(struct bench_env *env, const uint8_t want_id[32], int timeout_ms);

/* Enrols the jig certificate der (DER) under name. 0, TALLY_ERR_PERM
 * (tallyd refused; its message logged), or a ctl_client error. */
int appliance_enroll(const struct bench_env *env, const uint8_t *der, size_t len,
    const char *name);

/* Creates a quota signed by env->oem_root for the appliance with SPKI
 * spki: product BENCH_PRODUCT, units, env->firmware, valid from an hour
 * ago for a day; imports it and stores its ID in env->quota_id.
 * Errors as appliance_enroll, plus TALLY_ERR_CRYPTO / TALLY_ERR_NOMEM. */
int appliance_import_quota(struct bench_env *env, const uint8_t *spki, size_t spki_len,
    uint64_t units);

/* Status.jig_connections of tallyd into *n. Errors as appliance_enroll. */
int appliance_jig_connections(const struct bench_env *env, unsigned *n);

#endif
