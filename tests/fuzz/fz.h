/*
 * fz.h - what the libFuzzer targets of tests/fuzz/ (fuzz_*.c) and their
 * seed generator (seeds.c) share: fixed keys, fixed artifact fields and
 * a private temporary folder.
 *
 * Keys are Ed25519 (RFC 8032) made from fixed 32-byte seeds, SHA-256 of
 * "tally fuzz <label>", so every run of every target has the same keys
 * and the seeds written by seeds.c (signed with them; Ed25519 signatures
 * are deterministic) verify inside the fuzzers. These keys are test
 * fixtures: they protect nothing.
 */
#ifndef TALLY_FUZZ_FZ_H
#define TALLY_FUZZ_FZ_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifacts.pb-c.h"

/* The fixed fields of the artifacts made here. */
#define FZ_PRODUCT "widget"
#define FZ_UID "FUZZ-DUT-0001"
#define FZ_NOT_BEFORE 1700000000
#define FZ_NOT_AFTER 4000000000
#define FZ_ISSUED_AT 1700000100
extern const uint8_t fz_quota_id[16];
extern const uint8_t fz_fw[32];
extern const uint8_t fz_nonce[32];
extern const uint8_t fz_boot_key_hash[32];

/* The keys, by role, with their DER SPKIs and key IDs (SHA-256 of SPKI). */
struct fz_key {
	EVP_PKEY *key;
	uint8_t spki[128];
	size_t spki_len;
	uint8_t id[32];
};

struct fz_keys {
	struct fz_key oem;     /* OEM root: quotas, receipts (cosignatures) */
	struct fz_key app;     /* appliance: tokens, checkpoints */
	struct fz_key jig;     /* jig: install reports */
	struct fz_key att;     /* DUT attestation key */
};

/* Makes the four keys. Returns 0, or -1 (OpenSSL failed; it says why on
 * stderr). fz_keys_free releases them. */
int fz_keys_init(struct fz_keys *k);
void fz_keys_free(struct fz_keys *k);

/* A valid Quota for k->app and the fixed fields into *q; fw is the
 * one-element digest list q points at (kept by the caller). */
void fz_quota_fill(const struct fz_keys *k, Tally__Quota *q, ProtobufCBinaryData fw[1]);

/* A valid Token under fz_quota_fill's quota for FZ_UID into *t. */
void fz_token_fill(const struct fz_keys *k, Tally__Token *t);

/* Packs msg into a new buffer (*out, free()). Returns 0 or -1. */
int fz_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/* A TokenBundle of the two envelopes and the appliance SPKI, packed into
 * a new buffer (*out, free()). Returns 0 or -1. */
int fz_bundle(const struct fz_keys *k, const uint8_t *qenv, size_t qlen,
    const uint8_t *tenv, size_t tlen, uint8_t **out, size_t *len);

/* A TokenBundle made from a fuzz input, by mode (0..FZ_BUNDLE_MODES-1):
 * 0 the input is the serialized bundle; 1 the input is a Token payload,
 * signed by k->app, with a valid OEM-signed quota; 2 the input is a
 * Quota payload signed by k->oem, with a valid token; 3 the input is a
 * 2-byte big-endian length n, n bytes of Quota payload and the rest a
 * Token payload, both signed. New buffer in *out (free()). 0 or -1 (the
 * input cannot be signed: too large). */
#define FZ_BUNDLE_MODES 4
int fz_bundle_input(const struct fz_keys *k, unsigned mode, const uint8_t *data,
    size_t size, uint8_t **out, size_t *len);

/* A private folder made once per process (mkdtemp under $TMPDIR or
 * /tmp) and removed with the files named by fz_file at exit; NULL when
 * it cannot be made. */
const char *fz_dir(void);

/* Writes data to the file name inside fz_dir() with mode, replacing it;
 * its path into path (256 bytes). Returns 0 or -1. */
int fz_file(const char *name, const uint8_t *data, size_t len, unsigned mode,
    char path[256]);

/* The first byte of a fuzz input picks a mode; the rest is the data. */
static inline unsigned
fz_mode(const uint8_t **data, size_t *len, unsigned modes)
{
	unsigned m;

	if (*len == 0)
		return 0;
	m = (*data)[0] % modes;
	(*data)++;
	(*len)--;
	return m;
}

#endif
