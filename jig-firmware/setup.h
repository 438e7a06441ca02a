/*
 * setup.h - what tally-jig loads once from its configuration before it
 * talks to anyone: the jig key, the OEM root public key (simulated DUTs),
 * the firmware image and its SHA-256 digest.
 */
#ifndef JIG_SETUP_H
#define JIG_SETUP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include "config.h"
#include "jig.h"

#define JIG_FIRMWARE_MAX TALLY_FILE_MAX  /* largest image, bytes */

struct jig_setup {
	struct jig_config cfg;
	EVP_PKEY *jig_key;       /* private; held here only */
	SSL_CTX *tls;            /* client context: certificate, key, pin */
	EVP_PKEY *oem_root;      /* public; NULL unless loaded */
	uint8_t *firmware;       /* the image, NULL unless loaded */
	size_t firmware_len;
	uint8_t fw_digest[TALLY_DIGEST_LEN];
	struct jig_params params;  /* points into this struct */
};

/* Loads the configuration at path, the jig key and the certificate (into
 * a TLS client context pinning the appliance key ID); when for_units is
 * non-zero also the firmware image (digest computed once) and, with a
 * [simulate] section, the OEM root public key. *s is filled (free with
 * jig_setup_free, also after an error). On error errmsg (cap bytes) holds
 * one line naming what failed and why.
 * Errors: those of jig_config_load, tally_key_load,
 * tally_key_load_public, tally_tls_client_ctx, tally_read_file,
 * TALLY_ERR_CRYPTO. */
int jig_setup_load(const char *path, int for_units, struct jig_setup *s,
    char *errmsg, size_t cap);

/* Frees the TLS context, the keys (the private one by EVP_PKEY_free, which wipes it) and
 * the image; s is zeroed. */
void jig_setup_free(struct jig_setup *s);

#endif
