/* test_devverify.c - the device-side verifier (lib/devverify.h) with real
 * keys and bundles: a good bundle for every pair of key types, what an
 * accepted token says, the parameters, the OpenSSL back-end and a failing
 * one, the bundle's own fields, wrong signers, UID, product and time, each
 * against the host verifier tally_bundle_verify too where both check the
 * same thing. Fields of the envelopes, quota and token:
 * test_devverify_fields.c and test_devverify_wire.c; byte flips and
 * truncations: test_devverify_sweep.c. */
#include "tests/unit/test_devverify_fx.h"

static void
test_good_all_key_types(void **state)
{
	static const enum tally_key_type types[] = { TALLY_KEY_P256, TALLY_KEY_ED25519 };
	struct tdv_token out;
	struct blob b;
	size_t i, j;

	(void)state;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			struct dfx *f = dfx_new(types[i], types[j]);

			b = build(f);
			assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, &out), TDV_OK);
			assert_int_equal(host(f, b), 0);
			assert_int_equal(out.log_index, 4242);
			assert_memory_equal(out.quota_id, f->qid, 16);
			assert_memory_equal(out.appliance_key_id, f->kf.key_id, 32);
			assert_memory_equal(out.firmware_digest, f->fw[0], 32);
			assert_int_equal(out.serial_number, 1001);
			assert_int_equal(out.issued_at, f->now);
			/* out may be NULL; no clock and no product check also accept */
			f->p.now = 0;
			f->p.product = NULL;
			assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, NULL), TDV_OK);
			free(b.p);
			dfx_free(f);
		}
}

static void
test_firmware_matches(void **state)
{
	struct dfx *f = *state;
	struct blob b = build(f);
	struct tdv_token out;
	uint8_t d[32];
	size_t i;

	assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, &out), TDV_OK);
	assert_int_equal(tdv_firmware_matches(&out, f->fw[0]), 1);
	assert_int_equal(tdv_firmware_matches(&out, f->fw[1]), 0);
	for (i = 0; i < 32; i++) {
		memcpy(d, f->fw[0], 32);
		d[i] ^= 0x01;
		assert_int_equal(tdv_firmware_matches(&out, d), 0);
	}
	assert_int_equal(tdv_firmware_matches(&out, NULL), 0);
	assert_int_equal(tdv_firmware_matches(NULL, f->fw[0]), 0);
	free(b.p);
}

static void
test_result_names(void **state)
{
	const char *names[TDV_CRYPTO + 1];
	int i, j;

	(void)state;
	for (i = TDV_OK; i <= TDV_CRYPTO; i++) {
		names[i] = tdv_result_name((enum tdv_result)i);
		assert_true(strlen(names[i]) > 0 && strcmp(names[i], "unknown result") != 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	assert_string_equal(tdv_result_name(TDV_WRONG_DEVICE), "wrong device");
	assert_string_equal(tdv_result_name((enum tdv_result)99), "unknown result");
}

/* Each parameter out of range is TDV_BAD_PARAMS, before the bundle is read. */
static void
test_params(void **state)
{
	struct dfx *f = *state;
	struct blob b = build(f);
	struct tdv_params good = f->p;
	struct tdv_crypto none = { 0 };
	char long_product[TDV_PRODUCT_MAX + 2];
	struct tdv_token out;

	memset(long_product, 'p', sizeof(long_product) - 1);
	long_product[sizeof(long_product) - 1] = '\0';
	assert_int_equal(tdv_verify_bundle(NULL, b.p, b.n, &out), TDV_BAD_PARAMS);
	assert_int_equal(tdv_verify_bundle(&f->p, NULL, b.n, &out), TDV_BAD_PARAMS);
#define BAD(field, value) do { \
		f->p = good; f->p.field = value; \
		assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, &out), TDV_BAD_PARAMS); \
	} while (0)
	BAD(work_len, TDV_WORK_MIN - 1);
	BAD(work, NULL);
	BAD(crypto, NULL);
	BAD(crypto, &none);
	BAD(oem_root_spki, NULL);
	BAD(oem_root_spki_len, 0);
	BAD(oem_root_spki_len, 1025);
	BAD(uid, NULL);
	BAD(uid_len, 0);
	BAD(uid_len, TDV_UID_MAX + 1);
	BAD(product, "");
	BAD(product, long_product);
#undef BAD
	f->p = good;
	assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, &out), TDV_OK);
	free(b.p);
}

/* Over TDV_BUNDLE_MAX is TDV_TOO_LARGE whatever it holds; empty is
 * malformed (no quota). */
static void
test_sizes(void **state)
{
	struct dfx *f = *state;
	struct blob b = build(f);
	uint8_t *big = calloc(1, TDV_BUNDLE_MAX + 1);

	assert_non_null(big);
	memcpy(big, b.p, b.n);
	assert_int_equal(tdv_verify_bundle(&f->p, big, TDV_BUNDLE_MAX + 1, NULL), TDV_TOO_LARGE);
	assert_int_equal(tdv_verify_bundle(&f->p, big, 0, NULL), TDV_MALFORMED);
	/* zero padding after the bundle is a field with number 0: malformed */
	assert_int_equal(tdv_verify_bundle(&f->p, big, TDV_BUNDLE_MAX, NULL), TDV_MALFORMED);
	assert_int_equal(tdv_verify_bundle(&f->p, big, b.n, NULL), TDV_OK);
	free(big);
	free(b.p);
}

static void
test_backend(void **state)
{
	static const uint8_t abc_sha256[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
		0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };	/* FIPS 180-2 B.1 */
	struct dfx *f = *state;
	uint8_t d[32], sig[TALLY_SIG_MAX], *p384_spki;
	size_t siglen, p384_len;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	const struct tdv_crypto *c = &f->c;

	assert_null(c->ctx);
	assert_int_equal(c->sha256(c->ctx, (const uint8_t *)"abc", 3, d), 0);
	assert_memory_equal(d, abc_sha256, 32);
	assert_int_equal(tally_sign(f->app, (const uint8_t *)"msg", 3, sig, &siglen), 0);
	assert_int_equal(c->verify(NULL, f->app_spki, f->app_spki_len,
	    (const uint8_t *)"msg", 3, sig, siglen), 1);
	assert_int_equal(c->verify(NULL, f->app_spki, f->app_spki_len,
	    (const uint8_t *)"msh", 3, sig, siglen), 0);
	assert_int_equal(c->verify(NULL, f->oem_spki, f->oem_spki_len,
	    (const uint8_t *)"msg", 3, sig, siglen), 0);
	assert_int_equal(c->verify(NULL, f->app_spki, f->app_spki_len - 1,
	    (const uint8_t *)"msg", 3, sig, siglen), -1);
	assert_non_null(p384);
	assert_int_equal(tally_key_spki(p384, &p384_spki, &p384_len), 0);
	assert_int_equal(c->verify(NULL, p384_spki, p384_len,
	    (const uint8_t *)"msg", 3, sig, siglen), -1);
	OPENSSL_free(p384_spki);
	EVP_PKEY_free(p384);
}

/* A back-end that fails on its turn n (counting sha256 and verify calls)
 * and otherwise is the OpenSSL one: failures are TDV_CRYPTO. */
struct failing {
	struct tdv_crypto real;
	int calls, fail_at;
};

static int
failing_sha256(void *ctx, const uint8_t *msg, size_t len, uint8_t *out)
{
	struct failing *x = ctx;

	if (++x->calls == x->fail_at)
		return -1;
	return x->real.sha256(x->real.ctx, msg, len, out);
}

static int
failing_verify(void *ctx, const uint8_t *spki, size_t spki_len,
    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	struct failing *x = ctx;

	if (++x->calls == x->fail_at)
		return -1;
	return x->real.verify(x->real.ctx, spki, spki_len, msg, msg_len, sig, sig_len);
}

static void
test_backend_failures(void **state)
{
	struct dfx *f = *state;
	struct failing x = { .fail_at = 0 };
	struct tdv_crypto c = { failing_sha256, failing_verify, &x };
	struct blob b = build(f);
	int n;

	tdv_crypto_openssl(&x.real);
	f->p.crypto = &c;
	assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, NULL), TDV_OK);
	n = x.calls;
	assert_int_equal(n, 4);	/* OEM key ID, quota signature, appliance key ID, token signature */
	for (x.fail_at = 1; x.fail_at <= n; x.fail_at++) {
		x.calls = 0;
		assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, NULL), TDV_CRYPTO);
	}
	free(b.p);
}

/* The TokenBundle's own fields. */
static void
test_bundle_fields(void **state)
{
	struct dfx *f = *state;
	uint8_t *other_spki, big[TALLY_SPKI_MAX + 1];
	size_t other_len;

	assert_int_equal(tally_key_spki(f->other, &other_spki, &other_len), 0);
	memcpy(big, f->app_spki, f->app_spki_len);
	memset(big + f->app_spki_len, 0, sizeof(big) - f->app_spki_len);
	expect(f, app_bundle(f, (struct blob){ calloc(1, 1), 0 }, token_env(f)),
	    TDV_MALFORMED, 1, "no quota");
	expect(f, app_bundle(f, quota_env(f), (struct blob){ calloc(1, 1), 0 }),
	    TDV_MALFORMED, 1, "no token");
	expect(f, bundle_of(quota_env(f), token_env(f), NULL, 0), TDV_MALFORMED, 1, "no key");
	expect(f, bundle_of(quota_env(f), token_env(f), big, sizeof(big)),
	    TDV_MALFORMED, 1, "key over 1024 bytes");
	expect(f, bundle_of(quota_env(f), token_env(f), other_spki, other_len),
	    TDV_KEY_MISMATCH, 1, "other appliance key");
	expect(f, bundle_of(quota_env(f), token_env(f), f->app_spki, f->app_spki_len - 1),
	    TDV_KEY_MISMATCH, 1, "truncated appliance key");
	expect(f, app_bundle(f, token_env(f), quota_env(f)), TDV_BAD_TYPE, 1,
	    "envelopes swapped");
	expect(f, app_bundle(f, quota_env(f), quota_env(f)), TDV_BAD_TYPE, 1,
	    "quota twice");
	OPENSSL_free(other_spki);
}

/* Envelopes signed by the wrong key, or with another signer's keyid. */
static void
test_wrong_signers(void **state)
{
	struct dfx *f = *state;
	Tally__Envelope *e;
	struct blob qe;

	expect(f, app_bundle(f, sign_blob(f->other, TALLY_PT_QUOTA, pack_msg(&f->q.base)),
	    token_env(f)), TDV_BAD_SIGNATURE, 1, "quota by other");
	expect(f, app_bundle(f, sign_blob(f->app, TALLY_PT_QUOTA, pack_msg(&f->q.base)),
	    token_env(f)), TDV_BAD_SIGNATURE, 1, "quota by appliance");
	expect(f, app_bundle(f, quota_env(f), sign_blob(f->other, TALLY_PT_TOKEN,
	    pack_msg(&f->t.base))), TDV_BAD_SIGNATURE, 1, "token by other");
	expect(f, app_bundle(f, quota_env(f), sign_blob(f->oem, TALLY_PT_TOKEN,
	    pack_msg(&f->t.base))), TDV_BAD_SIGNATURE, 1, "token by OEM");
	/* a signature by another key under the OEM root's keyid */
	qe = sign_blob(f->other, TALLY_PT_QUOTA, pack_msg(&f->q.base));
	assert_non_null(e = tally__envelope__unpack(NULL, qe.n, qe.p));
	memcpy(e->signatures[0]->keyid.data, f->oem_id, 32);
	free(qe.p);
	qe = pack_msg(&e->base);
	tally__envelope__free_unpacked(e, NULL);
	expect(f, app_bundle(f, qe, token_env(f)), TDV_BAD_SIGNATURE, 1,
	    "other key under the OEM keyid");
}

/* The token envelope signed by k (any EC key, ECDSA with SHA-256 over
 * PAE) under keyid id, which tally_dsse_sign would refuse for P-384. */
static struct blob
token_env_ecdsa(struct dfx *f, EVP_PKEY *k, uint8_t id[32])
{
	Tally__Envelope e = TALLY__ENVELOPE__INIT;
	Tally__Signature s = TALLY__SIGNATURE__INIT, *sp = &s;
	struct blob payload = pack_msg(&f->t.base), env;
	uint8_t *pae, sig[128];
	size_t pae_len, sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_int_equal(tally_dsse_pae(TALLY_PT_TOKEN, payload.p, payload.n, &pae,
	    &pae_len), 0);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, pae, pae_len), 1);
	e.payload_type = TALLY_PT_TOKEN;
	e.payload = (ProtobufCBinaryData){ payload.n, payload.p };
	e.n_signatures = 1;
	e.signatures = &sp;
	s.keyid = (ProtobufCBinaryData){ 32, id };
	s.sig = (ProtobufCBinaryData){ sig_len, sig };
	env = pack_msg(&e.base);
	EVP_MD_CTX_free(ctx);
	free(pae);
	free(payload.p);
	return env;
}

/* An appliance key of a type the back-end does not take (P-384), bound by
 * a good quota and signing the token: TDV_CRYPTO; the host refuses too. */
static void
test_unsupported_key(void **state)
{
	struct dfx *f = *state;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	uint8_t *spki;
	size_t len;

	assert_non_null(p384);
	assert_int_equal(tally_key_spki(p384, &spki, &len), 0);
	tally_key_id_spki(spki, len, f->kf.key_id);
	expect(f, bundle_of(quota_env(f), token_env_ecdsa(f, p384, f->kf.key_id),
	    spki, len), TDV_CRYPTO, 1, "P-384 appliance key");
	OPENSSL_free(spki);
	EVP_PKEY_free(p384);
}

static void
test_device_and_clock(void **state)
{
	struct dfx *f = *state;

	f->p.uid = (const uint8_t *)"STR-0002";
	expect(f, build(f), TDV_WRONG_DEVICE, 0, "other UID");
	f->p.uid_len = 7;	/* "STR-000", a prefix */
	expect(f, build(f), TDV_WRONG_DEVICE, 0, "UID prefix");
	dfx_reset(f);
	f->p.product = "gadget";
	expect(f, build(f), TDV_WRONG_DEVICE, 0, "product of another device");
	dfx_reset(f);
	f->p.now = f->q.not_after;
	expect(f, build(f), TDV_EXPIRED, 0, "now = not_after");
	f->p.now = f->q.not_before - 1;
	expect(f, build(f), TDV_EXPIRED, 0, "now before not_before");
	f->p.now = f->q.not_before;
	expect(f, build(f), TDV_OK, 1, "now = not_before");
	f->p.now = f->q.not_after - 1;
	expect(f, build(f), TDV_OK, 1, "now = not_after - 1");
	/* no clock: issued_at is still checked against the quota */
	f->p.now = 0;
	f->t.issued_at = f->q.not_after;
	expect(f, build(f), TDV_EXPIRED, 1, "no clock, issued at not_after");
	f->t.issued_at = f->q.not_before - 1;
	expect(f, build(f), TDV_EXPIRED, 1, "no clock, issued before not_before");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_all_key_types),
		cmocka_unit_test(test_result_names),
		DFX_BOTH(test_firmware_matches),
		DFX_BOTH(test_params),
		DFX_BOTH(test_sizes),
		DFX_BOTH(test_backend),
		DFX_BOTH(test_backend_failures),
		DFX_BOTH(test_bundle_fields),
		DFX_BOTH(test_wrong_signers),
		DFX_BOTH(test_unsupported_key),
		DFX_BOTH(test_device_and_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
