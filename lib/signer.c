/* signer.c - a signing context for hot paths: key ID and an initialised
 * EVP_DigestSign context computed once, see key.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include "err.h"
#include "key.h"

struct tally_signer {
	EVP_PKEY *key;
	EVP_MD_CTX *tmpl;	/* EVP_DigestSignInit done, never used to sign */
	EVP_MD_CTX *work;	/* copy of tmpl for each signature */
	uint8_t key_id[TALLY_KEY_ID_LEN];
};

void
tally_signer_free(struct tally_signer *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->tmpl);
	EVP_MD_CTX_free(s->work);
	EVP_PKEY_free(s->key);
	free(s);
}

int
tally_signer_new(EVP_PKEY *key, struct tally_signer **out)
{
	struct tally_signer *s;
	enum tally_key_type type = tally_key_type(key);
	int r = TALLY_ERR_CRYPTO;

	if (type == 0)
		return TALLY_ERR_KEY;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return TALLY_ERR_NOMEM;
	if (EVP_PKEY_up_ref(key) != 1)
		goto out;
	s->key = key;
	if ((r = tally_key_id(key, s->key_id)) != 0)
		goto out;
	r = TALLY_ERR_CRYPTO;
	if ((s->tmpl = EVP_MD_CTX_new()) == NULL || (s->work = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(s->tmpl, NULL, type == TALLY_KEY_P256 ? "SHA256" : NULL,
	    NULL, NULL, key, NULL) != 1)
		goto out;
	*out = s;
	return 0;
 out:
	tally_signer_free(s);
	return r;
}

const uint8_t *
tally_signer_key_id(const struct tally_signer *s)
{
	return s->key_id;
}

EVP_PKEY *
tally_signer_key(const struct tally_signer *s)
{
	return s->key;
}

int
tally_signer_sign(struct tally_signer *s, const uint8_t *msg, size_t len,
    uint8_t sig[TALLY_SIG_MAX], size_t *siglen)
{
	size_t n = TALLY_SIG_MAX;

	/* A provider that cannot duplicate its context (some hardware
	 * providers) falls back to a fresh context per signature. */
	if (EVP_MD_CTX_copy_ex(s->work, s->tmpl) != 1) {
		ERR_clear_error();
		return tally_sign(s->key, msg, len, sig, siglen);
	}
	if (EVP_DigestSign(s->work, sig, &n, msg, len) != 1)
		return TALLY_ERR_CRYPTO;
	*siglen = n;
	return 0;
}
