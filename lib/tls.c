/* tls.c - TLS 1.3 (RFC 8446) contexts for the jig link, see tls.h. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "err.h"
#include "key.h"
#include "tls.h"

#define CERT_DAYS (10L * 365)

/* OpenSSL ex_data index under which a client SSL_CTX keeps its pin. It is
 * allocated once per process (pthread_once) and never changes afterwards;
 * the pin buffer is freed by pin_free when the SSL_CTX is freed. */
struct pin_index {
	pthread_once_t once;
	int idx;
};
static struct pin_index pin_index = { PTHREAD_ONCE_INIT, -1 };

static void
pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	OPENSSL_free(ptr);
}

static void
pin_index_init(void)
{
	pin_index.idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, NULL,
	    NULL, NULL, pin_free);
}

/* Settings shared by both sides: TLS 1.3 only, no renegotiation, no
 * session tickets or session cache (every connection authenticates fully). */
static int
common_setup(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		return TALLY_ERR_CRYPTO;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
		return TALLY_ERR_CRYPTO;
	return 0;
}

static int
set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = 0;

	if (bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1)
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : TALLY_ERR_CRYPTO;
}

/* Self-signed X.509 v3 for key, CN "tally appliance", valid from one hour
 * ago for 10 years. Ed25519 signs without a digest (RFC 8410). */
static int
self_signed(EVP_PKEY *key, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *name;
	const EVP_MD *md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	int r = TALLY_ERR_CRYPTO;

	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) != 0)
		goto out;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) == NULL)
		goto out;
	if ((name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"tally appliance", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1)
		goto out;
	if (X509_sign(x, key, md) <= 0)
		goto out;
	*out = x;
	x = NULL;
	r = 0;
 out:
	X509_free(x);
	return r;
}

static int
load_jig_ca(SSL_CTX *ctx, const char *jig_ca_file)
{
	STACK_OF(X509_NAME) *names;

	if (access(jig_ca_file, R_OK) != 0)
		return TALLY_ERR_IO;
	if (SSL_CTX_load_verify_locations(ctx, jig_ca_file, NULL) != 1)
		return TALLY_ERR_IO;
	if ((names = SSL_load_client_CA_file(jig_ca_file)) == NULL)
		return TALLY_ERR_IO;
	SSL_CTX_set_client_CA_list(ctx, names);
	return 0;
}

int
tally_tls_server_ctx(EVP_PKEY *appliance_key, const char *jig_ca_file, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *cert = NULL;
	int r = TALLY_ERR_CRYPTO;

	if (ctx == NULL || (r = common_setup(ctx)) != 0)
		goto out;
	if ((r = self_signed(appliance_key, &cert)) != 0)
		goto out;
	r = TALLY_ERR_CRYPTO;
	if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, appliance_key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	if ((r = load_jig_ca(ctx, jig_ca_file)) != 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	*out = ctx;
	ctx = NULL;
	r = 0;
 out:
	X509_free(cert);
	SSL_CTX_free(ctx);
	return r;
}

/* Verify callback of the client: the chain is not checked against any CA;
 * the server is accepted exactly when its leaf certificate's SPKI hashes
 * to the pin kept in the SSL_CTX. Called once per certificate and per
 * error; every call gives the same answer. */
static int
pin_verify(int preverify_ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	const uint8_t *pin;
	uint8_t id[TALLY_KEY_ID_LEN];

	(void)preverify_ok;
	if (ssl == NULL || leaf == NULL)
		return 0;
	pin = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pin_index.idx);
	if (pin == NULL || X509_get0_pubkey(leaf) == NULL ||
	    tally_key_id(X509_get0_pubkey(leaf), id) != 0 ||
	    CRYPTO_memcmp(id, pin, sizeof(id)) != 0) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

static int
set_pin(SSL_CTX *ctx, const uint8_t pin[32])
{
	uint8_t *copy;

	if (pthread_once(&pin_index.once, pin_index_init) != 0 || pin_index.idx < 0)
		return TALLY_ERR_CRYPTO;
	if ((copy = OPENSSL_memdup(pin, TALLY_KEY_ID_LEN)) == NULL)
		return TALLY_ERR_NOMEM;
	if (SSL_CTX_set_ex_data(ctx, pin_index.idx, copy) != 1) {
		OPENSSL_free(copy);
		return TALLY_ERR_CRYPTO;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, pin_verify);
	return 0;
}

int
tally_tls_client_ctx(const char *cert_file, EVP_PKEY *key,
    const uint8_t pin[32], SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int r = TALLY_ERR_CRYPTO;

	if (ctx == NULL || (r = common_setup(ctx)) != 0)
		goto out;
	r = TALLY_ERR_IO;
	if (access(cert_file, R_OK) != 0 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		goto out;
	r = TALLY_ERR_KEY;
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	if ((r = set_pin(ctx, pin)) != 0)
		goto out;
	*out = ctx;
	ctx = NULL;
	r = 0;
 out:
	SSL_CTX_free(ctx);
	return r;
}

int
tally_tls_peer_key_id(SSL *ssl, uint8_t id[32])
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	EVP_PKEY *pub;

	if (peer == NULL || (pub = X509_get0_pubkey(peer)) == NULL)
		return TALLY_ERR_NOT_FOUND;
	return tally_key_id(pub, id) == 0 ? 0 : TALLY_ERR_CRYPTO;
}
