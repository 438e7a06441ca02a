/* key.c - key loading (OSSL_STORE), key IDs, raw signatures, see key.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>
#include "err.h"
#include "key.h"
#include "util.h"

#define STORE_MAX_OBJECTS 16	/* objects looked at in one URI */

/* If uri names a local file (no scheme, or "file:"), points *path at the
 * file name inside it and returns 1; returns 0 for other schemes. */
static int
uri_file_path(const char *uri, const char **path)
{
	const char *p = uri;

	if (strncmp(uri, "file://", 7) == 0) {
		p = uri + 7;
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		*path = p;
		return 1;
	}
	if (strncmp(uri, "file:", 5) == 0) {
		*path = uri + 5;
		return 1;
	}
	if (isalpha((unsigned char)*p)) {
		while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
			p++;
		if (*p == ':')
			return 0;
	}
	*path = uri;
	return 1;
}

/* A private key file must be a regular file not accessible by group/others. */
static int
check_file(const char *path, int private)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? TALLY_ERR_NOT_FOUND : TALLY_ERR_IO;
	if (!S_ISREG(st.st_mode))
		return TALLY_ERR_NOT_FOUND;
	if (private && (st.st_mode & 077) != 0)
		return TALLY_ERR_KEY_PERM;
	return 0;
}

/* Takes the first key (private, or when !private also public) at uri. */
static int
store_load(const char *uri, int private, EVP_PKEY **out)
{
	OSSL_STORE_CTX *s;
	OSSL_STORE_INFO *info;
	EVP_PKEY *pkey = NULL;
	int i, type;

	if ((s = OSSL_STORE_open(uri, UI_null(), NULL, NULL, NULL)) == NULL)
		return TALLY_ERR_NOT_FOUND;
	if (private)
		OSSL_STORE_expect(s, OSSL_STORE_INFO_PKEY);
	for (i = 0; pkey == NULL && i < STORE_MAX_OBJECTS && !OSSL_STORE_eof(s); i++) {
		if ((info = OSSL_STORE_load(s)) == NULL)
			continue;
		type = OSSL_STORE_INFO_get_type(info);
		if (type == OSSL_STORE_INFO_PKEY)
			pkey = OSSL_STORE_INFO_get1_PKEY(info);
		else if (!private && type == OSSL_STORE_INFO_PUBKEY)
			pkey = OSSL_STORE_INFO_get1_PUBKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(s);
	if (pkey == NULL)
		return TALLY_ERR_NOT_FOUND;
	if (tally_key_type(pkey) == 0) {
		EVP_PKEY_free(pkey);
		return TALLY_ERR_KEY;
	}
	*out = pkey;
	return 0;
}

static int
key_load(const char *uri, int private, EVP_PKEY **out)
{
	const char *path;
	int r;

	if (uri == NULL || *uri == '\0')
		return TALLY_ERR_NOT_FOUND;
	if (uri_file_path(uri, &path) && (r = check_file(path, private)) != 0)
		return r;
	return store_load(uri, private, out);
}

int
tally_key_load(const char *uri, EVP_PKEY **out)
{
	return key_load(uri, 1, out);
}

int
tally_key_load_public(const char *uri, EVP_PKEY **out)
{
	return key_load(uri, 0, out);
}

int
tally_key_generate(enum tally_key_type type, EVP_PKEY **out)
{
	EVP_PKEY *k = NULL;

	if (type == TALLY_KEY_P256)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (type == TALLY_KEY_ED25519)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL)
		return TALLY_ERR_CRYPTO;
	*out = k;
	return 0;
}

int
tally_key_write_private(EVP_PKEY *key, const char *path)
{
	BIO *bio;
	char *pem;
	long len;
	int fd = -1, r = TALLY_ERR_CRYPTO;

	/* Secure-heap BIO: buffers are cleared when they grow or are freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return TALLY_ERR_CRYPTO;
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
	    (len = BIO_get_mem_data(bio, &pem)) <= 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = errno == EEXIST ? TALLY_ERR_EXISTS : TALLY_ERR_IO;
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || (r = tally_write_all(fd, pem, (size_t)len)) != 0 ||
	    fsync(fd) != 0) {
		r = TALLY_ERR_IO;
		unlink(path);
		goto out;
	}
	r = 0;
 out:
	if (fd >= 0 && close(fd) != 0 && r == 0)
		r = TALLY_ERR_IO;
	if (BIO_get_mem_data(bio, &pem) > 0)
		OPENSSL_cleanse(pem, (size_t)BIO_get_mem_data(bio, &pem));
	BIO_free(bio);
	return r;
}

int
tally_key_write_public(EVP_PKEY *key, const char *path)
{
	BIO *bio;
	char *pem;
	long len;
	int r = TALLY_ERR_CRYPTO;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return TALLY_ERR_CRYPTO;
	if (PEM_write_bio_PUBKEY(bio, key) && (len = BIO_get_mem_data(bio, &pem)) > 0)
		r = tally_write_file(path, (const uint8_t *)pem, (size_t)len, 0644);
	BIO_free(bio);
	return r;
}

int
tally_key_spki(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	unsigned char *p = NULL;
	int n;

	if ((n = i2d_PUBKEY(key, &p)) <= 0)
		return TALLY_ERR_CRYPTO;
	*der = p;
	*len = (size_t)n;
	return 0;
}

int
tally_key_id(EVP_PKEY *key, uint8_t id[TALLY_KEY_ID_LEN])
{
	uint8_t *der;
	size_t len;
	int r;

	if ((r = tally_key_spki(key, &der, &len)) != 0)
		return r;
	tally_key_id_spki(der, len, id);
	OPENSSL_free(der);
	return 0;
}

void
tally_key_id_spki(const uint8_t *spki, size_t len, uint8_t id[TALLY_KEY_ID_LEN])
{
	SHA256(spki, len, id);
}

int
tally_key_from_spki(const uint8_t *der, size_t len, EVP_PKEY **out)
{
	const unsigned char *p = der;
	EVP_PKEY *k;

	if (len > TALLY_SPKI_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (len == 0 || len > LONG_MAX)
		return TALLY_ERR_KEY;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (k == NULL || p != der + len || tally_key_type(k) == 0) {
		EVP_PKEY_free(k);
		ERR_clear_error();
		return TALLY_ERR_KEY;
	}
	*out = k;
	return 0;
}

enum tally_key_type
tally_key_type(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	int nid;

	if (key == NULL)
		return 0;
	if (EVP_PKEY_is_a(key, "ED25519"))
		return TALLY_KEY_ED25519;
	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_group_name(key, group, sizeof(group), &glen))
		return 0;
	nid = EC_curve_nist2nid(group);
	if (nid == NID_undef)
		nid = OBJ_sn2nid(group);
	return nid == NID_X9_62_prime256v1 ? TALLY_KEY_P256 : 0;
}

/* Message digest name for key: SHA-256 for ECDSA, none for Ed25519. */
static const char *
md_name(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") ? NULL : "SHA256";
}

int
tally_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
    uint8_t sig[TALLY_SIG_MAX], size_t *siglen)
{
	EVP_MD_CTX *ctx;
	size_t n = TALLY_SIG_MAX;
	int r = TALLY_ERR_CRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return TALLY_ERR_CRYPTO;
	if (EVP_DigestSignInit_ex(ctx, NULL, md_name(key), NULL, NULL, key, NULL) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, msg, len) == 1) {
		*siglen = n;
		r = 0;
	}
	EVP_MD_CTX_free(ctx);
	return r;
}

int
tally_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	int r = TALLY_ERR_SIGNATURE;

	if (siglen == 0 || siglen > TALLY_SIG_MAX)
		return TALLY_ERR_SIGNATURE;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return TALLY_ERR_NOMEM;
	if (EVP_DigestVerifyInit_ex(ctx, NULL, md_name(key), NULL, NULL, key, NULL) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1)
		r = 0;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}
