/*
 * harness_int.h - functions shared between the harness files; tests use
 * harness.h.
 */
#ifndef TALLY_HARNESS_INT_H
#define TALLY_HARNESS_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "harness.h"

/* X.509 v3 "CN=cn" for key, from an hour ago for 30 days, issued by
 * issuer/issuer_key (a clientAuth leaf), or a self-signed CA when issuer
 * is NULL. NULL on failure. X509_free. */
X509 *th_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key);

/* th_cert with notBefore = now + not_before_s and notAfter = now +
 * not_after_s (seconds, negative = in the past). */
X509 *th_cert_valid(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    long not_before_s, long not_after_s);

/* PEM of x to path. 0 or TALLY_ERR_IO. */
int th_write_cert(X509 *x, const char *path);

/* A P-256 key and a certificate "CN=cn" from ca/ca_key into j, written to
 * dir/<cn>.pem and dir/<cn>.key. */
int th_make_jig(const char *dir, const char *cn, X509 *ca, EVP_PKEY *ca_key, struct th_jig *j);

/* OEM root key pair, jig CA and njigs jigs of t, files in t->dir. */
int th_make_pki(struct th *t, unsigned njigs);

#endif
