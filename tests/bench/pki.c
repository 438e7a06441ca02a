/*
 * pki.c - the jig PKI of the bench: one CA and its jig client
 * certificates (RFC 5280), made with OpenSSL 3 and written as PEM.
 */
#include <stdio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "setup.h"
#include "err.h"

#define CERT_DAYS 7

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return TALLY_ERR_CRYPTO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : TALLY_ERR_CRYPTO;
}

static int
set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return TALLY_ERR_CRYPTO;
	b[0] &= 0x7f;  /* positive */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) != NULL)
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : TALLY_ERR_CRYPTO;
}

/* Certificate for key with subject CN cn, issued by issuer (NULL: self). */
static int
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    int ca, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *name;
	int r = TALLY_ERR_CRYPTO;

	if (x == NULL || X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * CERT_DAYS) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1)
		goto out;
	if (add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
	    add_ext(x, issuer, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" :
	    "critical,digitalSignature") ||
	    add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
	    (!ca && add_ext(x, issuer, NID_ext_key_usage, "clientAuth")) ||
	    (!ca && add_ext(x, issuer, NID_authority_key_identifier, "keyid:always")))
		goto out;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	r = 0;
 out:
	X509_free(x);
	return r;
}

static int
write_pem(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return TALLY_ERR_IO;
	ok = PEM_write_X509(f, x) == 1;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : TALLY_ERR_IO;
}

int
pki_make_ca(const char *ca_file, X509 **ca, EVP_PKEY **ca_key)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int r;

	if ((r = tally_key_generate(TALLY_KEY_P256, &key)) != 0 ||
	    (r = make_cert(key, "tally-bench jig CA", NULL, key, 1, &x)) != 0 ||
	    (r = write_pem(ca_file, x)) != 0)
		goto out;
	*ca = x;
	*ca_key = key;
	x = NULL;
	key = NULL;
 out:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

int
pki_make_jig(X509 *ca, EVP_PKEY *ca_key, unsigned n, const char *cert_file,
    EVP_PKEY **key, uint8_t **der, size_t *der_len)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	unsigned char *d = NULL;
	char cn[64];
	int r, len;

	snprintf(cn, sizeof(cn), "tally-bench jig %u", n);
	if ((r = tally_key_generate(TALLY_KEY_P256, &k)) != 0 ||
	    (r = make_cert(k, cn, ca, ca_key, 0, &x)) != 0 ||
	    (r = write_pem(cert_file, x)) != 0)
		goto out;
	if ((len = i2d_X509(x, &d)) <= 0) {
		r = TALLY_ERR_CRYPTO;
		goto out;
	}
	*der = d;
	*der_len = (size_t)len;
	*key = k;
	k = NULL;
 out:
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}
