/* devverify_ossl.c - the OpenSSL 3 back-end of the device-side verifier
 * (devverify.h) for the host: the simulated DUT and tally-oem
 * verify-token. Keys are DER SPKIs parsed with d2i_PUBKEY and limited to
 * P-256 and Ed25519 (key.h, tally_key_from_spki); signatures are checked
 * with EVP_DigestVerify (tally_verify): ECDSA with SHA-256 over the
 * message, Ed25519 pure (RFC 8032). */
#include <openssl/evp.h>
#include "devverify.h"
#include "err.h"
#include "key.h"

static int
ossl_sha256(void *ctx, const uint8_t *msg, size_t len, uint8_t *out)
{
	unsigned int n = 0;

	(void)ctx;
	if (EVP_Digest(msg, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != TDV_DIGEST_LEN)
		return -1;
	return 0;
}

static int
ossl_verify(void *ctx, const uint8_t *spki, size_t spki_len,
    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *k = NULL;
	int r;

	(void)ctx;
	if (tally_key_from_spki(spki, spki_len, &k) != 0)
		return -1;
	r = tally_verify(k, msg, msg_len, sig, sig_len);
	EVP_PKEY_free(k);
	if (r == 0)
		return 1;
	return r == TALLY_ERR_SIGNATURE ? 0 : -1;
}

void
tdv_crypto_openssl(struct tdv_crypto *c)
{
	c->sha256 = ossl_sha256;
	c->verify = ossl_verify;
	c->ctx = NULL;
}
