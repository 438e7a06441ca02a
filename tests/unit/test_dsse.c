/* test_dsse.c - DSSE v1 envelopes (dsse.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dsse.h"
#include "err.h"
#include "key.h"

static const uint8_t payload[] = "a token payload of some length";

/* The example of secure-systems-lab/dsse protocol.md. */
static void
test_pae_spec_example(void **state)
{
	static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
	uint8_t *pae = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(tally_dsse_pae("http://example.com/HelloWorld",
	    (const uint8_t *)"hello world", 11, &pae, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(pae, want, len);
	free(pae);
	/* Lengths count bytes, payload may be empty or hold NULs and spaces. */
	assert_int_equal(tally_dsse_pae("t", (const uint8_t *)"a\0 b", 4, &pae, &len), 0);
	assert_int_equal(len, 17);
	assert_memory_equal(pae, "DSSEv1 1 t 4 a\0 b", 17);
	free(pae);
	assert_int_equal(tally_dsse_pae("", NULL, 0, &pae, &len), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(pae, "DSSEv1 0  0 ", 12);
	free(pae);
	assert_int_equal(tally_dsse_pae("t", payload, TALLY_PAYLOAD_MAX + 1, &pae, &len),
	    TALLY_ERR_TOO_LARGE);
}

static void
check_sign_open(enum tally_key_type type)
{
	EVP_PKEY *k = NULL, *other = NULL;
	struct tally_signer *s = NULL;
	Tally__Envelope *e = NULL;
	uint8_t *env = NULL, *pae = NULL, id[32];
	size_t envlen = 0, paelen;

	assert_int_equal(tally_key_generate(type, &k), 0);
	assert_int_equal(tally_key_generate(type, &other), 0);
	assert_int_equal(tally_dsse_sign(k, TALLY_PT_TOKEN, payload, sizeof(payload), &env, &envlen), 0);
	assert_int_equal(tally_dsse_open(env, envlen, TALLY_PT_TOKEN, k, &e), 0);
	assert_string_equal(e->payload_type, TALLY_PT_TOKEN);
	assert_int_equal(e->payload.len, sizeof(payload));
	assert_memory_equal(e->payload.data, payload, sizeof(payload));
	assert_int_equal(e->n_signatures, 1);
	assert_int_equal(tally_key_id(k, id), 0);
	assert_memory_equal(e->signatures[0]->keyid.data, id, 32);
	/* The signature is over PAE, checked here with the raw verify. */
	assert_int_equal(tally_dsse_pae(TALLY_PT_TOKEN, payload, sizeof(payload), &pae, &paelen), 0);
	assert_int_equal(tally_verify(k, pae, paelen, e->signatures[0]->sig.data,
	    e->signatures[0]->sig.len), 0);
	free(pae);
	tally__envelope__free_unpacked(e, NULL);
	e = NULL;
	assert_int_equal(tally_dsse_open(env, envlen, TALLY_PT_TOKEN, other, &e), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_dsse_open(env, envlen, TALLY_PT_QUOTA, k, &e), TALLY_ERR_MISMATCH);
	assert_null(e);
	assert_int_equal(tally_dsse_parse(env, envlen, TALLY_PT_TOKEN, &e), 0);
	tally__envelope__free_unpacked(e, NULL);
	e = NULL;
	free(env);
	/* The same through a signer made once. */
	assert_int_equal(tally_signer_new(k, &s), 0);
	assert_int_equal(tally_dsse_sign_with(s, TALLY_PT_TOKEN, payload, sizeof(payload), &env, &envlen), 0);
	assert_int_equal(tally_dsse_open(env, envlen, TALLY_PT_TOKEN, k, &e), 0);
	assert_memory_equal(e->signatures[0]->keyid.data, id, 32);
	tally__envelope__free_unpacked(e, NULL);
	free(env);
	assert_int_equal(tally_dsse_sign_with(s, TALLY_PT_TOKEN, payload, TALLY_PAYLOAD_MAX + 1, &env,
	    &envlen), TALLY_ERR_TOO_LARGE);
	tally_signer_free(s);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_sign_open_p256(void **state)
{
	(void)state;
	check_sign_open(TALLY_KEY_P256);
}

static void
test_sign_open_ed25519(void **state)
{
	(void)state;
	check_sign_open(TALLY_KEY_ED25519);
}

/* Every truncation and every single-byte change of a signed envelope is
 * refused. */
static void
check_corruption(enum tally_key_type type)
{
	EVP_PKEY *k = NULL;
	Tally__Envelope *e = NULL;
	uint8_t *env = NULL, *bad;
	size_t envlen = 0, i;
	int x;

	assert_int_equal(tally_key_generate(type, &k), 0);
	assert_int_equal(tally_dsse_sign(k, TALLY_PT_QUOTA, payload, sizeof(payload), &env, &envlen), 0);
	bad = malloc(envlen);
	assert_non_null(bad);
	for (i = 0; i < envlen; i++) {
		assert_int_not_equal(tally_dsse_open(env, i, TALLY_PT_QUOTA, k, &e), 0);
		assert_null(e);
	}
	for (i = 0; i < envlen; i++) {
		for (x = 0x01; x <= 0x80; x <<= 1) {
			memcpy(bad, env, envlen);
			bad[i] ^= (uint8_t)x;
			assert_int_not_equal(tally_dsse_open(bad, envlen, TALLY_PT_QUOTA, k, &e), 0);
			assert_null(e);
		}
	}
	free(bad);
	free(env);
	EVP_PKEY_free(k);
}

static void
test_corruption_p256(void **state)
{
	(void)state;
	check_corruption(TALLY_KEY_P256);
}

static void
test_corruption_ed25519(void **state)
{
	(void)state;
	check_corruption(TALLY_KEY_ED25519);
}

/* Builds an envelope by hand with n signatures; sig i is (keyid[i], sig[i]). */
static uint8_t *
pack(const char *type, const uint8_t *p, size_t plen, Tally__Signature **sigs,
    size_t n, size_t *len)
{
	Tally__Envelope e = TALLY__ENVELOPE__INIT;
	uint8_t *buf;

	e.payload_type = (char *)type;
	e.payload.data = (uint8_t *)p;
	e.payload.len = plen;
	e.signatures = sigs;
	e.n_signatures = n;
	*len = tally__envelope__get_packed_size(&e);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	tally__envelope__pack(&e, buf);
	return buf;
}

static void
test_signature_selection(void **state)
{
	EVP_PKEY *k = NULL, *other = NULL;
	Tally__Envelope *good = NULL, *e = NULL;
	Tally__Signature junk = TALLY__SIGNATURE__INIT, forged = TALLY__SIGNATURE__INIT;
	Tally__Signature *sigs[6];
	uint8_t *env = NULL, *env2, id[32], junk_id[32];
	size_t envlen, len2;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &k), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	assert_int_equal(tally_dsse_sign(k, TALLY_PT_REPORT, payload, sizeof(payload), &env, &envlen), 0);
	assert_int_equal(tally_dsse_parse(env, envlen, TALLY_PT_REPORT, &good), 0);
	assert_int_equal(tally_key_id(k, id), 0);
	memset(junk_id, 0xee, sizeof(junk_id));
	junk.keyid.data = junk_id;
	junk.keyid.len = 32;
	junk.sig = good->signatures[0]->sig;
	/* A signature by another key carrying our key ID. */
	forged.keyid.data = id;
	forged.keyid.len = 32;
	forged.sig.data = (uint8_t *)"\x30\x06\x02\x01\x01\x02\x01\x01";
	forged.sig.len = 8;

	/* The good signature third: accepted. */
	sigs[0] = &junk; sigs[1] = &forged; sigs[2] = good->signatures[0];
	env2 = pack(TALLY_PT_REPORT, payload, sizeof(payload), sigs, 3, &len2);
	assert_int_equal(tally_dsse_open(env2, len2, TALLY_PT_REPORT, k, &e), 0);
	tally__envelope__free_unpacked(e, NULL);
	e = NULL;
	assert_int_equal(tally_dsse_open(env2, len2, TALLY_PT_REPORT, other, &e), TALLY_ERR_SIGNATURE);
	free(env2);
	/* The good signature fifth: past TALLY_DSSE_MAX_SIGS, not looked at. */
	sigs[0] = &junk; sigs[1] = &junk; sigs[2] = &forged; sigs[3] = &junk;
	sigs[4] = good->signatures[0];
	env2 = pack(TALLY_PT_REPORT, payload, sizeof(payload), sigs, 5, &len2);
	assert_int_equal(tally_dsse_open(env2, len2, TALLY_PT_REPORT, k, &e), TALLY_ERR_SIGNATURE);
	free(env2);
	/* No signature at all. */
	env2 = pack(TALLY_PT_REPORT, payload, sizeof(payload), sigs, 0, &len2);
	assert_int_equal(tally_dsse_open(env2, len2, TALLY_PT_REPORT, k, &e), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_dsse_parse(env2, len2, TALLY_PT_REPORT, &e), TALLY_ERR_INVALID);
	free(env2);
	/* Empty payload. */
	sigs[0] = good->signatures[0];
	env2 = pack(TALLY_PT_REPORT, NULL, 0, sigs, 1, &len2);
	assert_int_equal(tally_dsse_open(env2, len2, TALLY_PT_REPORT, k, &e), TALLY_ERR_INVALID);
	free(env2);
	assert_null(e);
	tally__envelope__free_unpacked(good, NULL);
	free(env);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_sizes(void **state)
{
	EVP_PKEY *k = NULL;
	Tally__Envelope *e = NULL;
	Tally__Signature s = TALLY__SIGNATURE__INIT, *sigs[1] = { &s };
	uint8_t *big, *env = NULL, *env2;
	size_t envlen, len2;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &k), 0);
	big = calloc(1, TALLY_ENVELOPE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(tally_dsse_sign(k, TALLY_PT_TOKEN, big, TALLY_PAYLOAD_MAX + 1, &env, &envlen),
	    TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_dsse_sign(k, TALLY_PT_TOKEN, big, TALLY_PAYLOAD_MAX, &env, &envlen), 0);
	assert_int_equal(tally_dsse_open(env, envlen, TALLY_PT_TOKEN, k, &e), 0);
	tally__envelope__free_unpacked(e, NULL);
	e = NULL;
	free(env);
	assert_int_equal(tally_dsse_open(big, TALLY_ENVELOPE_MAX + 1, TALLY_PT_TOKEN, k, &e),
	    TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_dsse_open(big, 0, TALLY_PT_TOKEN, k, &e), TALLY_ERR_INVALID);
	/* A payload over the maximum inside a small-enough envelope. */
	s.keyid.len = 32;
	s.keyid.data = big;
	env2 = pack(TALLY_PT_TOKEN, big, TALLY_PAYLOAD_MAX + 1, sigs, 1, &len2);
	assert_true(len2 <= TALLY_ENVELOPE_MAX);
	assert_int_equal(tally_dsse_open(env2, len2, TALLY_PT_TOKEN, k, &e), TALLY_ERR_TOO_LARGE);
	assert_null(e);
	free(env2);
	free(big);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pae_spec_example),
		cmocka_unit_test(test_sign_open_p256),
		cmocka_unit_test(test_sign_open_ed25519),
		cmocka_unit_test(test_corruption_p256),
		cmocka_unit_test(test_corruption_ed25519),
		cmocka_unit_test(test_signature_selection),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
