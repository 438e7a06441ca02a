/* setup.c - loading keys and the firmware image once, see setup.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "err.h"
#include "key.h"
#include "setup.h"
#include "tls.h"
#include "util.h"

static int
load_firmware(struct jig_setup *s, char *errmsg, size_t cap)
{
	unsigned int mdlen = 0;
	int r;

	r = tally_read_file(s->cfg.firmware, JIG_FIRMWARE_MAX, &s->firmware,
	    &s->firmware_len);
	if (r != 0) {
		snprintf(errmsg, cap, "firmware %s: %s%s%s", s->cfg.firmware,
		    tally_strerror(r), r == TALLY_ERR_IO ? ": " : "",
		    r == TALLY_ERR_IO ? strerror(errno) : "");
		return r;
	}
	if (s->firmware_len == 0) {
		snprintf(errmsg, cap, "firmware %s: empty file", s->cfg.firmware);
		return TALLY_ERR_INVALID;
	}
	if (EVP_Digest(s->firmware, s->firmware_len, s->fw_digest, &mdlen,
	    EVP_sha256(), NULL) != 1 || mdlen != TALLY_DIGEST_LEN) {
		snprintf(errmsg, cap, "firmware %s: cannot hash", s->cfg.firmware);
		return TALLY_ERR_CRYPTO;
	}
	return 0;
}

static void
fill_params(struct jig_setup *s)
{
	struct jig_params *p = &s->params;

	p->jig_key = s->jig_key;
	p->appliance_key_id = s->cfg.appliance_key_id;
	p->quota_id = s->cfg.have_quota_id ? s->cfg.quota_id : NULL;
	p->product = s->cfg.product;
	p->firmware = s->firmware;
	p->firmware_len = s->firmware_len;
	p->fw_digest = s->firmware != NULL ? s->fw_digest : NULL;
}

int
jig_setup_load(const char *path, int for_units, struct jig_setup *s,
    char *errmsg, size_t cap)
{
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = jig_config_load(path, &s->cfg, errmsg, cap)) != 0)
		return r;
	if ((r = tally_key_load(s->cfg.key, &s->jig_key)) != 0) {
		snprintf(errmsg, cap, "jig key %s: %s", s->cfg.key, tally_strerror(r));
		return r;
	}
	if ((r = tally_tls_client_ctx(s->cfg.certificate, s->jig_key,
	    s->cfg.appliance_key_id, &s->tls)) != 0) {
		snprintf(errmsg, cap, "certificate %s with key %s: %s",
		    s->cfg.certificate, s->cfg.key, r == TALLY_ERR_KEY ?
		    "the key does not match the certificate" : tally_strerror(r));
		return r;
	}
	if (for_units && s->cfg.have_simulate &&
	    (r = tally_key_load_public(s->cfg.oem_root, &s->oem_root)) != 0) {
		snprintf(errmsg, cap, "OEM root key %s: %s", s->cfg.oem_root,
		    tally_strerror(r));
		return r;
	}
	if (for_units && (r = load_firmware(s, errmsg, cap)) != 0)
		return r;
	fill_params(s);
	return 0;
}

void
jig_setup_free(struct jig_setup *s)
{
	SSL_CTX_free(s->tls);
	EVP_PKEY_free(s->jig_key);
	EVP_PKEY_free(s->oem_root);
	free(s->firmware);
	memset(s, 0, sizeof(*s));
}
