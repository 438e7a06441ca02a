/*
 * fx_core.h - fixtures for the store/writer unit tests: a real LMDB store
 * in a mkdtemp folder, real keys (appliance, OEM root, jig CA), a real
 * event_base with pthreads, OEM-signed quotas and CA-signed jig
 * certificates made with OpenSSL, and a way to run writer requests to
 * completion on the loop.
 */
#ifndef TALLY_FX_CORE_H
#define TALLY_FX_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "artifacts.pb-c.h"
#include "key.h"
#include "daemon/writer.h"

struct fx {
	char dir[64];          /* temp folder: store files and ca.pem */
	char ca_file[128];
	size_t map_size;
	EVP_PKEY *key;         /* appliance key (P-256) */
	EVP_PKEY *oem;         /* OEM root (Ed25519) */
	EVP_PKEY *ca_key;      /* jig CA key (P-256) */
	X509 *ca;              /* jig CA certificate */
	uint8_t key_id[32];
	struct event_base *base;
	struct event *idle;    /* a far timer so the loop blocks instead of spinning */
	struct store *st;
	struct writer *w;
	size_t done;           /* done() callbacks seen */
};

/* Everything above, writer started. 0 or -1. */
int fx_setup(struct fx *f, size_t map_size);

/* Stops the writer, closes the store, removes the folder. */
void fx_teardown(struct fx *f);

/* writer_stop + store_close, then store_open + writer_start again. */
int fx_restart(struct fx *f);

/* A quota with sensible defaults (one firmware digest fx_fw, no serials,
 * valid from now-60 to now+3600) that the caller may edit. */
void fx_quota_init(struct fx *f, Tally__Quota *q, uint8_t qid[16],
    const char *product, uint64_t units);

/* Serialized Quota signed by signer as a DSSE envelope (free()). */
uint8_t *fx_quota_sign(const Tally__Quota *q, EVP_PKEY *signer, size_t *len);

/* A jig certificate for jig_key issued by ca/ca_key (X509_free). */
X509 *fx_cert(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *jig_key, const char *cn);

/* A self-signed CA certificate for key. */
X509 *fx_ca(EVP_PKEY *key, const char *cn);

/* DER of x in a new buffer (free()). */
uint8_t *fx_der(X509 *x, size_t *len);

/* A zeroed request of kind whose done() counts into f->done. */
struct wreq *fx_req(struct fx *f, enum wreq_kind kind);

/* Requests, ready to submit (done callback counts into f->done). */
struct wreq *fx_req_quota(struct fx *f, const uint8_t *env, size_t len);
struct wreq *fx_req_enroll(struct fx *f, X509 *cert, const char *name);
struct wreq *fx_req_issue(struct fx *f, const uint8_t jig_id[32],
    const char *product, const void *uid, size_t uid_len);

/* Submits the n requests, runs the loop until all are done. */
void fx_run(struct fx *f, struct wreq **r, size_t n);

/* One request; returns r after done(). */
struct wreq *fx_run1(struct fx *f, struct wreq *r);

/* Imports a quota for product with units; qid receives its ID. 0 or the
 * request's error code. */
int fx_import(struct fx *f, const char *product, uint64_t units, uint8_t qid[16]);

/* Makes a jig key and certificate from the fixture CA and enrolls it;
 * *jig_key (EVP_PKEY_free) and id receive the key and its key ID. */
int fx_enroll(struct fx *f, enum tally_key_type type, EVP_PKEY **jig_key,
    uint8_t id[32]);

extern const uint8_t fx_fw[32];

#endif
