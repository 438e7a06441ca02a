/* test_simdut.c - the simulated DUT (jig-firmware/simdut.c: the transport
 * operations as a USB host's requests to the DUT model) with real keys, an
 * OEM-signed quota and appliance-signed tokens made with lib/; attestation
 * records checked with lib/attest; link faults mapped to transport errors. */
#include "tests/unit/test_devverify_fx.h"
#include "attest.h"
#include "jig-firmware/simdut.h"
#include "jig-firmware/transport.h"

/* Quota and tokens come from the dfx of test_devverify_fx.h (OEM root
 * P-256, appliance key and "other" key Ed25519), naming fw's SHA-256. */
struct sfx {
	struct dfx *d;
	uint8_t fw[4096];
	struct jig_dut dut;
	struct simdut *sd;
};

static void
sha256(const uint8_t *b, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(b, len, out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
}

/* A bundle: the quota signed by qsigner, a token for uid signed by tsigner. */
static struct blob
bundle(struct sfx *f, const char *uid, EVP_PKEY *qsigner, EVP_PKEY *tsigner)
{
	struct dfx *d = f->d;

	d->t.device_uid = (ProtobufCBinaryData){ strlen(uid), (uint8_t *)uid };
	return app_bundle(d, sign_blob(qsigner, TALLY_PT_QUOTA, pack_msg(&d->q.base)),
	    sign_blob(tsigner, TALLY_PT_TOKEN, pack_msg(&d->t.base)));
}

/* The good bundle for UID. */
static struct blob
good(struct sfx *f)
{
	return bundle(f, UID, f->d->oem, f->d->app);
}

static int
setup(void **state)
{
	struct sfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->d = dfx_new(TALLY_KEY_P256, TALLY_KEY_ED25519);
	assert_int_equal(RAND_bytes(f->fw, sizeof(f->fw)), 1);
	sha256(f->fw, sizeof(f->fw), f->d->fw[0]);
	assert_int_equal(simdut_new((const uint8_t *)UID, strlen(UID), PRODUCT,
	    f->d->oem, &f->sd), 0);
	simdut_transport(f->sd, &f->dut);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct sfx *f = *state;

	jig_dut_close(&f->dut);
	dfx_free(f->d);
	free(f);
	return 0;
}

static enum jig_dut_verdict
write_bundle(struct sfx *f, const uint8_t *b, size_t len)
{
	enum jig_dut_verdict v = JIG_DUT_FLASH_ERROR;

	assert_int_equal(f->dut.ops->write_bundle(f->dut.ctx, b, len, &v), 0);
	return v;
}

static enum jig_dut_verdict
download(struct sfx *f, const uint8_t *img, size_t len)
{
	enum jig_dut_verdict v = JIG_DUT_FLASH_ERROR;

	assert_int_equal(f->dut.ops->download_firmware(f->dut.ctx, img, len, &v), 0);
	return v;
}

static enum jig_dut_state
state_of(struct sfx *f)
{
	enum jig_dut_state st = JIG_DUT_REJECTED;

	assert_int_equal(f->dut.ops->read_state(f->dut.ctx, &st), 0);
	assert_int_equal(st, simdut_state(f->sd));
	return st;
}

static void
test_identity(void **state)
{
	struct sfx *f = *state;
	struct jig_dut_identity id;

	assert_int_equal(f->dut.ops->read_identity(f->dut.ctx, &id), 0);
	assert_int_equal(id.uid_len, strlen(UID));
	assert_memory_equal(id.uid, UID, strlen(UID));
	assert_string_equal(id.product, PRODUCT);
	assert_int_equal(id.state, JIG_DUT_BLANK);
}

/* Without an attestation key the attest op says UNSUPPORTED (the jig then
 * asks for a token without attestation). */
static void
test_attest_without_key(void **state)
{
	struct sfx *f = *state;
	uint8_t nonce[TALLY_NONCE_LEN] = { 1 }, out[TALLY_ATTESTATION_MAX];
	size_t len = 0;

	assert_non_null(f->dut.ops->attest);
	assert_int_equal(f->dut.ops->attest(f->dut.ctx, nonce, out, sizeof(out),
	    &len), TALLY_ERR_UNSUPPORTED);
	assert_int_equal(len, 0);
}

/* A DUT made with simdut_new_ex and opts, as f->dut (the old one closed). */
static void
replace_dut(struct sfx *f, const struct simdut_options *o)
{
	jig_dut_close(&f->dut);
	assert_int_equal(simdut_new_ex((const uint8_t *)UID, strlen(UID), PRODUCT,
	    f->d->oem, o, &f->sd), 0);
	simdut_transport(f->sd, &f->dut);
}

static void
check_attestation(EVP_PKEY *key)
{
	struct simdut_options o;
	struct simdut *d = NULL;
	struct jig_dut dut;
	struct tally_attestation a;
	ProtobufCBinaryData trusted = { 0, NULL };
	uint8_t nonce[TALLY_NONCE_LEN], out[TALLY_ATTESTATION_MAX];
	size_t len = 0, which = 99;

	memset(&o, 0, sizeof(o));
	o.attestation_key = key;
	memset(o.boot_key_hash, 0xb0, sizeof(o.boot_key_hash));
	o.software_version = 0x01020304;
	assert_int_equal(simdut_new_ex((const uint8_t *)UID, strlen(UID), PRODUCT,
	    key, &o, &d), 0);
	simdut_transport(d, &dut);
	assert_int_equal(RAND_bytes(nonce, sizeof(nonce)), 1);
	assert_int_equal(dut.ops->attest(dut.ctx, nonce, out, sizeof(out), &len), 0);
	assert_int_equal(tally_attestation_parse(out, len, &a), 0);
	assert_memory_equal(a.nonce, nonce, sizeof(nonce));
	assert_int_equal(a.software_version, 0x01020304);
	assert_int_equal(a.boot_key_hash[31], 0xb0);
	assert_int_equal(tally_key_spki(key, &trusted.data, &trusted.len), 0);
	assert_int_equal(tally_attestation_verify(&a, nonce, (const uint8_t *)UID,
	    strlen(UID), &trusted, 1, &which), 0);
	assert_int_equal(which, 0);
	/* Too small a buffer is the transport's TOO_LARGE. */
	assert_int_equal(dut.ops->attest(dut.ctx, nonce, out, 10, &len),
	    TALLY_ERR_TOO_LARGE);
	OPENSSL_free(trusted.data);
	jig_dut_close(&dut);
}

static void
test_attest_with_key(void **state)
{
	struct sfx *f = *state;
	EVP_PKEY *p256 = NULL;

	(void)f;
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &p256), 0);
	check_attestation(p256);
	check_attestation(f->d->other);    /* Ed25519 */
	EVP_PKEY_free(p256);
}

/* Link faults become transport errors, never verdicts. */
static void
test_link_faults(void **state)
{
	struct sfx *f = *state;
	struct simdut_options o;
	struct jig_dut_identity id;
	enum jig_dut_state st;
	enum jig_dut_verdict v;
	struct blob b;

	b = good(f);
	memset(&o, 0, sizeof(o));
	assert_int_equal(dm_fault_parse("nak:identity", &o.fault), 0);
	replace_dut(f, &o);
	assert_int_equal(f->dut.ops->read_identity(f->dut.ctx, &id), TALLY_ERR_TIMEOUT);
	assert_int_equal(dm_fault_parse("short:identity", &o.fault), 0);
	replace_dut(f, &o);
	assert_int_equal(f->dut.ops->read_identity(f->dut.ctx, &id), TALLY_ERR_INVALID);
	assert_int_equal(dm_fault_parse("stall:verify", &o.fault), 0);
	replace_dut(f, &o);
	assert_int_equal(f->dut.ops->write_bundle(f->dut.ctx, b.p, b.n, &v), TALLY_ERR_IO);
	assert_int_equal(state_of(f), JIG_DUT_BLANK);
	assert_int_equal(dm_fault_parse("short:dfu:0", &o.fault), 0);
	replace_dut(f, &o);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	assert_int_equal(f->dut.ops->download_firmware(f->dut.ctx, f->fw,
	    sizeof(f->fw), &v), TALLY_ERR_INVALID);
	/* Unplugged at the first DFU block: everything after fails. */
	assert_int_equal(dm_fault_parse("unplug:dfu", &o.fault), 0);
	replace_dut(f, &o);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	assert_int_equal(f->dut.ops->download_firmware(f->dut.ctx, f->fw,
	    sizeof(f->fw), &v), TALLY_ERR_IO);
	assert_int_equal(f->dut.ops->read_state(f->dut.ctx, &st), TALLY_ERR_IO);
	assert_int_equal(f->dut.ops->read_identity(f->dut.ctx, &id), TALLY_ERR_IO);
	free(b.p);
}

/* A DUT that flips a byte of the image refuses it (its digest differs). */
static void
test_corrupt_image(void **state)
{
	struct sfx *f = *state;
	struct simdut_options o;
	struct blob b;

	memset(&o, 0, sizeof(o));
	assert_int_equal(dm_fault_parse("corrupt-image", &o.fault), 0);
	replace_dut(f, &o);
	b = good(f);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_WRONG_FIRMWARE);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	free(b.p);
}

/* Images of several blocks, the last one short, and one of exactly 4096. */
static void
test_multi_block_image(void **state)
{
	struct sfx *f = *state;
	struct blob b;
	uint8_t *img;
	size_t sizes[] = { 1, 4096, 4097, 3 * 4096 + 17 }, i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_non_null(img = malloc(sizes[i]));
		assert_int_equal(RAND_bytes(img, (int)sizes[i]), 1);
		sha256(img, sizes[i], f->d->fw[0]);
		b = good(f);
		assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
		assert_int_equal(download(f, img, sizes[i]), JIG_DUT_OK);
		assert_int_equal(state_of(f), JIG_DUT_PROGRAMMED);
		free(b.p);
		free(img);
	}
}

static void
test_valid_bundle_and_firmware(void **state)
{
	struct sfx *f = *state;
	struct blob b;

	b = good(f);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	assert_int_equal(state_of(f), JIG_DUT_TOKEN_ACCEPTED);
	assert_int_equal(simdut_token_index(f->sd), 4242);
	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_OK);
	assert_int_equal(state_of(f), JIG_DUT_PROGRAMMED);
	/* A retry after a flash: the same bundle and image again. */
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_OK);
	assert_int_equal(state_of(f), JIG_DUT_PROGRAMMED);
	free(b.p);
}

static void
test_bundle_for_other_uid(void **state)
{
	struct sfx *f = *state;
	struct blob b;

	b = bundle(f, "STR-0002", f->d->oem, f->d->app);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_WRONG_DEVICE);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	assert_int_equal(simdut_token_index(f->sd), 0);
	/* Nothing was accepted, so no firmware either. */
	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_NO_TOKEN);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	free(b.p);
}

static void
test_token_by_other_key(void **state)
{
	struct sfx *f = *state;
	struct blob b;

	b = bundle(f, UID, f->d->oem, f->d->other);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_BAD_SIGNATURE);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_NO_TOKEN);
	free(b.p);
}

static void
test_quota_by_other_oem(void **state)
{
	struct sfx *f = *state;
	struct blob b;

	b = bundle(f, UID, f->d->other, f->d->app);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_BAD_SIGNATURE);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	free(b.p);
}

static void
test_firmware_with_other_digest(void **state)
{
	struct sfx *f = *state;
	uint8_t other[sizeof(f->fw)];
	struct blob b;

	b = good(f);
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	memcpy(other, f->fw, sizeof(other));
	other[100] ^= 1;
	assert_int_equal(download(f, other, sizeof(other)), JIG_DUT_WRONG_FIRMWARE);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	free(b.p);
}

static void
test_firmware_before_bundle(void **state)
{
	struct sfx *f = *state;

	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_NO_TOKEN);
	assert_int_equal(state_of(f), JIG_DUT_BLANK);
}

static void
test_garbage_and_truncated(void **state)
{
	struct sfx *f = *state;
	uint8_t junk[64];
	struct blob b;
	enum jig_dut_verdict v;

	memset(junk, 0xa5, sizeof(junk));
	v = write_bundle(f, junk, sizeof(junk));
	assert_true(v == JIG_DUT_MALFORMED);
	b = good(f);
	v = write_bundle(f, b.p, b.n / 2);
	assert_int_not_equal(v, JIG_DUT_OK);
	assert_int_equal(state_of(f), JIG_DUT_REJECTED);
	/* A bundle refused after a good one takes the good one away. */
	assert_int_equal(write_bundle(f, b.p, b.n), JIG_DUT_OK);
	assert_int_equal(write_bundle(f, junk, sizeof(junk)), JIG_DUT_MALFORMED);
	assert_int_equal(download(f, f->fw, sizeof(f->fw)), JIG_DUT_NO_TOKEN);
	free(b.p);
}

static void
test_new_refuses_bad_input(void **state)
{
	struct sfx *f = *state;
	struct simdut *d = NULL;
	uint8_t big[TALLY_UID_MAX + 1] = { 0 };

	assert_int_equal(simdut_new(big, 0, PRODUCT, f->d->oem, &d), TALLY_ERR_INVALID);
	assert_int_equal(simdut_new(big, sizeof(big), PRODUCT, f->d->oem, &d),
	    TALLY_ERR_INVALID);
	assert_int_equal(simdut_new(big, 1, "bad\nproduct", f->d->oem, &d),
	    TALLY_ERR_INVALID);
	assert_int_equal(simdut_new(big, 1, PRODUCT, NULL, &d), TALLY_ERR_INVALID);
	assert_null(d);
}

static void
test_source(void **state)
{
	struct sfx *f = *state;
	struct jig_dut_source src = { 0 };
	struct jig_dut dut = { 0 };
	struct jig_dut_identity id;
	char want[16];
	unsigned i;

	assert_int_equal(simdut_source("STR", 3, PRODUCT, f->d->oem, &src), 0);
	for (i = 1; i <= 3; i++) {
		assert_int_equal(src.next(src.ctx, &dut), 0);
		assert_int_equal(dut.ops->read_identity(dut.ctx, &id), 0);
		assert_int_equal(simdut_uid_name("STR", i, want, sizeof(want)), 8);
		assert_int_equal(id.uid_len, strlen(want));
		assert_memory_equal(id.uid, want, id.uid_len);
		jig_dut_close(&dut);
	}
	assert_string_equal(want, "STR-0003");
	assert_int_equal(src.next(src.ctx, &dut), TALLY_ERR_NOT_FOUND);
	src.close(src.ctx);
	assert_int_equal(simdut_source("", 3, PRODUCT, f->d->oem, &src), TALLY_ERR_INVALID);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_attest_without_key),
		T(test_attest_with_key),
		T(test_link_faults),
		T(test_corrupt_image),
		T(test_multi_block_image),
		T(test_valid_bundle_and_firmware),
		T(test_bundle_for_other_uid),
		T(test_token_by_other_key),
		T(test_quota_by_other_oem),
		T(test_firmware_with_other_digest),
		T(test_firmware_before_bundle),
		T(test_garbage_and_truncated),
		T(test_new_refuses_bad_input),
		T(test_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
