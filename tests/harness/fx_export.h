/*
 * fx_export.h - synthetic appliance logs and export files for the OEM
 * tests (test_reconcile, test_ledger, test_reconcile_html), with real
 * keys: the OEM root signs quotas, each appliance key signs its tokens
 * and checkpoints, a jig key (with a self-signed X.509 certificate) signs
 * install reports. Exports are written in format 2 (proto/ctl.proto,
 * docs/formats.md): header with prev_checkpoint, prev_frontier and the
 * RFC 9162 consistency proof, context records, entries, checkpoint.
 * Test helpers: they assert (cmocka) instead of returning errors.
 */
#ifndef TALLY_FX_EXPORT_H
#define TALLY_FX_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifacts.pb-c.h"
#include "merkle.h"

#define FX_PATH 256

/* What the whole test shares: a temporary folder, the OEM root, one jig. */
struct fx_world {
	char dir[64];
	EVP_PKEY *oem, *jig, *other;     /* other: a key nobody trusts */
	uint8_t jig_id[32], fw[32];
	uint8_t *jig_cert;               /* DER, self-signed */
	size_t jig_cert_len;
	int64_t now;                     /* start time of every log */
	const char *product;             /* of every quota and token ("widget") */
};

struct fx_blob {
	uint8_t *data;
	size_t len;
	uint8_t leaf[TALLY_HASH_LEN];    /* RFC 9162 leaf hash */
	int ctx;                         /* 1 quota import, 2 jig enrolment, 0 other */
};

/* One appliance and its log. */
struct fx_app {
	EVP_PKEY *key;
	uint8_t id[32];
	uint8_t *spki;
	size_t spki_len;
	struct fx_blob *e;
	size_t n, cap;
	int64_t now;                     /* time of the next entry (and token) */
	uint64_t serial;                 /* serial of the next token */
};

/* How a written export differs from the log its checkpoint covers. */
struct fx_wopts {
	long drop;                       /* entry index left out, or -1 */
	long flip;                       /* entry index with its last byte flipped, or -1 */
	EVP_PKEY *cp_key;                /* checkpoint signer (NULL: the appliance) */
	int no_checkpoint;
	int format;                      /* 2 (0 means 2), or 1 */
	EVP_PKEY *prev_key;              /* prev_checkpoint signer (NULL: the appliance) */
	int bad_proof;                   /* flip a bit of the consistency proof */
};

extern const struct fx_wopts FX_CLEAN;

/* Makes the folder and keys; fx_world_free removes the folder with
 * everything in it. Return 0 or -1 (for cmocka setup functions). */
int fx_world_init(struct fx_world *w);
void fx_world_free(struct fx_world *w);

/* w->dir/name into out (FX_PATH bytes); returns out. */
char *fx_path(const struct fx_world *w, const char *name, char *out);

/* A new appliance of key type (TALLY_KEY_P256 or TALLY_KEY_ED25519). */
void fx_app_init(struct fx_world *w, struct fx_app *a, int type);
void fx_app_free(struct fx_app *a);

/* Drops the entries from index n on (a data folder restored from an
 * earlier copy). */
void fx_app_truncate(struct fx_app *a, size_t n);

/* Entry makers; each returns the new entry's index. */
uint64_t fx_add_start(struct fx_app *a);
uint64_t fx_add_enroll(struct fx_world *w, struct fx_app *a);
uint64_t fx_add_revoke(struct fx_world *w, struct fx_app *a);
/* A quota signed by signer for the appliance with SPKI spki (NULL: a's),
 * units, scrap allowance, serial range [sfirst, slast] (0, 0: none);
 * its ID into qid. */
uint64_t fx_add_quota_full(struct fx_world *w, struct fx_app *a, EVP_PKEY *signer,
    const uint8_t *spki, size_t spki_len, uint64_t units, uint64_t scrap,
    uint64_t sfirst, uint64_t slast, uint8_t qid[16]);
uint64_t fx_add_quota(struct fx_world *w, struct fx_app *a, uint64_t units, uint8_t qid[16]);
/* A token for uid under qid signed by signer (NULL: a's key), with
 * log_index = its own index + skew and serial a->serial (then
 * incremented when non-zero). */
uint64_t fx_add_token_full(struct fx_world *w, struct fx_app *a, EVP_PKEY *signer,
    const uint8_t qid[16], const char *uid, int64_t skew);
uint64_t fx_add_token(struct fx_world *w, struct fx_app *a, const uint8_t qid[16],
    const char *uid);
uint64_t fx_add_report(struct fx_world *w, struct fx_app *a, EVP_PKEY *signer,
    uint64_t token_index, const char *uid, Tally__InstallResult result,
    int unit_returned);
/* A LogReceiptImported of the checkpoint of the first size entries,
 * cosigned by cosigner at time a->now. */
uint64_t fx_add_receipt(struct fx_app *a, uint64_t size, EVP_PKEY *cosigner);
/* A raw entry (serialized LogEntry bytes, index and time as given). */
uint64_t fx_add_raw(struct fx_app *a, const uint8_t *data, size_t len, int ctx);

/* The signed checkpoint note of the first size entries (free()). */
char *fx_checkpoint(struct fx_app *a, uint64_t size, EVP_PKEY *key);

/* Root of the first size entries. */
void fx_root(const struct fx_app *a, uint64_t size, uint8_t out[TALLY_HASH_LEN]);

/* Writes the export of entries [first, a->n) to path (replacing it). */
void fx_export_write(struct fx_app *a, const char *path, uint64_t first,
    const struct fx_wopts *o);

#endif
