/* test_key.c - key loading through OSSL_STORE, key IDs, signatures (key.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include "err.h"
#include "key.h"
#include "util.h"

struct fx {
	char dir[64];
	char priv[128], pub[128], other[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/tally-test-key-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->priv, sizeof(f->priv), "%s/key.pem", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s/key.pub", f->dir);
	snprintf(f->other, sizeof(f->other), "%s/other.pem", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->priv);
	unlink(f->pub);
	unlink(f->other);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

/* Key ID computed independently: i2d_PUBKEY then SHA-256. */
static void
independent_key_id(EVP_PKEY *k, uint8_t id[32])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	assert_true(n > 0);
	SHA256(der, (size_t)n, id);
	OPENSSL_free(der);
}

static void
check_file_round_trip(struct fx *f, enum tally_key_type type)
{
	EVP_PKEY *k = NULL, *loaded = NULL, *pub = NULL;
	uint8_t id[32], id2[32], id3[32];
	char uri[160];
	struct stat st;

	assert_int_equal(tally_key_generate(type, &k), 0);
	assert_int_equal(tally_key_type(k), type);
	assert_int_equal(tally_key_write_private(k, f->priv), 0);
	assert_int_equal(stat(f->priv, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tally_key_write_private(k, f->priv), TALLY_ERR_EXISTS);
	assert_int_equal(tally_key_write_public(k, f->pub), 0);
	assert_int_equal(stat(f->pub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	assert_int_equal(tally_key_load(f->priv, &loaded), 0);
	assert_int_equal(tally_key_type(loaded), type);
	assert_int_equal(EVP_PKEY_eq(k, loaded), 1);
	EVP_PKEY_free(loaded);
	snprintf(uri, sizeof(uri), "file:%s", f->priv);
	assert_int_equal(tally_key_load(uri, &loaded), 0);
	EVP_PKEY_free(loaded);
	snprintf(uri, sizeof(uri), "file://%s", f->priv);
	assert_int_equal(tally_key_load(uri, &loaded), 0);
	EVP_PKEY_free(loaded);

	assert_int_equal(tally_key_load_public(f->pub, &pub), 0);
	assert_int_equal(tally_key_id(k, id), 0);
	assert_int_equal(tally_key_id(pub, id2), 0);
	independent_key_id(k, id3);
	assert_memory_equal(id, id2, 32);
	assert_memory_equal(id, id3, 32);
	EVP_PKEY_free(pub);
	loaded = NULL;
	/* A public key is not a private key (once its mode passes the check). */
	assert_int_equal(tally_key_load(f->pub, &loaded), TALLY_ERR_KEY_PERM);
	assert_int_equal(chmod(f->pub, 0600), 0);
	assert_int_equal(tally_key_load(f->pub, &loaded), TALLY_ERR_NOT_FOUND);
	assert_null(loaded);
	EVP_PKEY_free(k);
	unlink(f->priv);
	unlink(f->pub);
}

static void
test_file_round_trip_p256(void **state)
{
	check_file_round_trip(*state, TALLY_KEY_P256);
}

static void
test_file_round_trip_ed25519(void **state)
{
	check_file_round_trip(*state, TALLY_KEY_ED25519);
}

static void
test_private_key_permissions(void **state)
{
	struct fx *f = *state;
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0601, 0610 };
	EVP_PKEY *k = NULL, *loaded = NULL;
	size_t i;

	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &k), 0);
	assert_int_equal(tally_key_write_private(k, f->priv), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(f->priv, bad[i]), 0);
		assert_int_equal(tally_key_load(f->priv, &loaded), TALLY_ERR_KEY_PERM);
		assert_null(loaded);
	}
	/* The public half may still be read from it. */
	assert_int_equal(tally_key_load_public(f->priv, &loaded), 0);
	EVP_PKEY_free(loaded);
	loaded = NULL;
	assert_int_equal(chmod(f->priv, 0400), 0);
	assert_int_equal(tally_key_load(f->priv, &loaded), 0);
	EVP_PKEY_free(loaded);
	EVP_PKEY_free(k);
}

static void
test_load_errors(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *k = NULL, *rsa = NULL;
	FILE *fp;

	assert_int_equal(tally_key_load(f->other, &k), TALLY_ERR_NOT_FOUND);
	assert_int_equal(tally_key_load("", &k), TALLY_ERR_NOT_FOUND);
	assert_int_equal(tally_key_load(f->dir, &k), TALLY_ERR_NOT_FOUND);
	assert_int_equal(tally_key_load_public(f->other, &k), TALLY_ERR_NOT_FOUND);
	/* Not a key at all. */
	assert_int_equal(tally_write_file(f->other, (const uint8_t *)"hello\n", 6, 0600), 0);
	assert_int_equal(tally_key_load(f->other, &k), TALLY_ERR_NOT_FOUND);
	unlink(f->other);
	/* A key of an unsupported type (P-384). */
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(rsa);
	fp = fopen(f->other, "w");
	assert_non_null(fp);
	assert_int_equal(fchmod(fileno(fp), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(fp, rsa, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	assert_int_equal(tally_key_load(f->other, &k), TALLY_ERR_KEY);
	assert_int_equal(tally_key_type(rsa), 0);
	assert_null(k);
	EVP_PKEY_free(rsa);
}

static void
test_spki(void **state)
{
	EVP_PKEY *k = NULL, *back = NULL, *p384 = NULL;
	uint8_t *der = NULL, big[TALLY_SPKI_MAX + 1], id[32], id2[32];
	size_t len = 0, cut;
	int t;

	(void)state;
	for (t = TALLY_KEY_P256; t <= TALLY_KEY_ED25519; t++) {
		assert_int_equal(tally_key_generate(t, &k), 0);
		assert_int_equal(tally_key_spki(k, &der, &len), 0);
		assert_int_equal(tally_key_from_spki(der, len, &back), 0);
		assert_int_equal(EVP_PKEY_eq(k, back), 1);
		tally_key_id_spki(der, len, id);
		independent_key_id(back, id2);
		assert_memory_equal(id, id2, 32);
		EVP_PKEY_free(back);
		back = NULL;
		for (cut = 0; cut < len; cut++)
			assert_int_equal(tally_key_from_spki(der, cut, &back), TALLY_ERR_KEY);
		/* Trailing bytes after the SPKI. */
		memset(big, 0, sizeof(big));
		memcpy(big, der, len);
		assert_int_equal(tally_key_from_spki(big, len + 1, &back), TALLY_ERR_KEY);
		assert_int_equal(tally_key_from_spki(big, sizeof(big), &back), TALLY_ERR_TOO_LARGE);
		assert_null(back);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
	p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_int_equal(tally_key_spki(p384, &der, &len), 0);
	assert_int_equal(tally_key_from_spki(der, len, &back), TALLY_ERR_KEY);
	OPENSSL_free(der);
	EVP_PKEY_free(p384);
}

static void
check_sign_verify(enum tally_key_type type)
{
	const uint8_t msg[] = "the quick brown fox";
	uint8_t sig[TALLY_SIG_MAX], bad[TALLY_SIG_MAX];
	size_t siglen = 0, i;
	EVP_PKEY *k = NULL, *other = NULL;

	assert_int_equal(tally_key_generate(type, &k), 0);
	assert_int_equal(tally_key_generate(type, &other), 0);
	assert_int_equal(tally_sign(k, msg, sizeof(msg), sig, &siglen), 0);
	if (type == TALLY_KEY_ED25519)
		assert_int_equal(siglen, 64);
	else
		assert_true(siglen >= 8 && siglen <= 72 && sig[0] == 0x30);
	assert_int_equal(tally_verify(k, msg, sizeof(msg), sig, siglen), 0);
	assert_int_equal(tally_verify(other, msg, sizeof(msg), sig, siglen), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_verify(k, msg, sizeof(msg) - 1, sig, siglen), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_verify(k, msg, sizeof(msg), sig, siglen - 1), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_verify(k, msg, sizeof(msg), sig, 0), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_verify(k, msg, sizeof(msg), sig, TALLY_SIG_MAX + 1), TALLY_ERR_SIGNATURE);
	for (i = 0; i < siglen; i++) {
		memcpy(bad, sig, siglen);
		bad[i] ^= 0x01;
		assert_int_equal(tally_verify(k, msg, sizeof(msg), bad, siglen), TALLY_ERR_SIGNATURE);
	}
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_sign_verify_p256(void **state)
{
	(void)state;
	check_sign_verify(TALLY_KEY_P256);
}

static void
test_sign_verify_ed25519(void **state)
{
	(void)state;
	check_sign_verify(TALLY_KEY_ED25519);
}

/* A signature by one algorithm is not accepted by a key of the other. */
static void
test_cross_type(void **state)
{
	const uint8_t msg[] = "m";
	uint8_t sig[TALLY_SIG_MAX];
	size_t siglen;
	EVP_PKEY *ec = NULL, *ed = NULL;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &ec), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &ed), 0);
	assert_int_equal(tally_sign(ed, msg, 1, sig, &siglen), 0);
	assert_int_equal(tally_verify(ec, msg, 1, sig, siglen), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_sign(ec, msg, 1, sig, &siglen), 0);
	assert_int_equal(tally_verify(ed, msg, 1, sig, siglen), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_key_generate(0, &ec), TALLY_ERR_CRYPTO);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

/* The hot-path signer gives signatures the plain verify accepts, many
 * times over, and carries the key's ID. */
static void
test_signer(void **state)
{
	const uint8_t msg[] = "token payload";
	uint8_t sig[TALLY_SIG_MAX], id[32];
	struct tally_signer *s = NULL;
	EVP_PKEY *k = NULL, *p384;
	size_t siglen;
	int t, i;

	(void)state;
	for (t = TALLY_KEY_P256; t <= TALLY_KEY_ED25519; t++) {
		assert_int_equal(tally_key_generate(t, &k), 0);
		assert_int_equal(tally_signer_new(k, &s), 0);
		independent_key_id(k, id);
		assert_memory_equal(tally_signer_key_id(s), id, 32);
		assert_ptr_equal(tally_signer_key(s), k);
		EVP_PKEY_free(k);	/* the signer keeps its own reference */
		for (i = 0; i < 3; i++) {
			assert_int_equal(tally_signer_sign(s, msg, sizeof(msg) - (size_t)i, sig, &siglen), 0);
			assert_int_equal(tally_verify(tally_signer_key(s), msg, sizeof(msg) - (size_t)i,
			    sig, siglen), 0);
			assert_int_equal(tally_verify(tally_signer_key(s), msg, sizeof(msg), sig, siglen),
			    i == 0 ? 0 : TALLY_ERR_SIGNATURE);
		}
		tally_signer_free(s);
	}
	tally_signer_free(NULL);
	p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_int_equal(tally_signer_new(p384, &s), TALLY_ERR_KEY);
	EVP_PKEY_free(p384);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_round_trip_p256, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_round_trip_ed25519, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test(test_spki),
		cmocka_unit_test(test_sign_verify_p256),
		cmocka_unit_test(test_sign_verify_ed25519),
		cmocka_unit_test(test_cross_type),
		cmocka_unit_test(test_signer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
