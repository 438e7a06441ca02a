/* test_attest.c - DUT attestation records (lib/attest.h): the layout
 * against records made independently (Python cryptography: an RFC 8032
 * Ed25519 key, whose signature is deterministic, and a P-256 key), parse
 * bounds at every length, make/verify round trips with both key types,
 * and every error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "attest.h"
#include "err.h"
#include "key.h"
#include "util.h"

/* RFC 8032 §7.1 TEST 1 secret key. */
static const char ed_sk_hex[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char ed_kid_hex[] =
    "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9";

/* Made with Python cryptography from the layout in attest.h: key above,
 * nonce 00..1f, boot_key_hash a0..bf, software_version 0x01020304,
 * UID "chip-0001". */
static const char ed_rec_hex[] =
    "74616c6c792f6174746573742f76310a06e3fd8fda29bb60ab59557de61edb0a"
    "ecdb231134be30e75b455f8e1b792fa9000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf0102030409636869702d303030314084"
    "63811fc2184afd68c6fac269ce6e40ef82392b536f713c5d8cf9a0a62b0d121e"
    "a1ee733bea18aeaaa2b82f99998c5d775ade37f9598c7528547e231449cd04";

/* The same statement by the P-256 key d = C9AFA9D8...120F6721 (RFC 6979
 * A.2.5), ECDSA with SHA-256 (random k), and that key's SPKI. */
static const char p256_spki_hex[] =
    "3059301306072a8648ce3d020106082a8648ce3d0301070342000460fed4ba25"
    "5a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008"
    "b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
static const char p256_rec_hex[] =
    "74616c6c792f6174746573742f76310a5a7a78cca4a0f420d9bc62bb669c3c27"
    "59e39f723d3ae10dcbe0f0815a07ecd4000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf0102030409636869702d303030314630"
    "4402201a1da792f5f2f4ed008895e54a3aa8052c2caf01c09b23200de8f66e1b"
    "0f5ddc02203abc9953b310d9d6c802c437d8a776b55cc8174b2419e9b5fe390c"
    "bc10aa3748";

static const uint8_t kuid[] = "chip-0001";
#define KUID_LEN 9

struct kat {
	uint8_t nonce[32], boot[32];
	uint8_t rec[TALLY_ATTESTATION_MAX];
	size_t rec_len;
};

static void
kat_init(struct kat *k, const char *rec_hex)
{
	for (int i = 0; i < 32; i++) {
		k->nonce[i] = (uint8_t)i;
		k->boot[i] = (uint8_t)(0xa0 + i);
	}
	assert_int_equal(tally_unhex_var(rec_hex, k->rec, sizeof(k->rec), &k->rec_len), 0);
}

static EVP_PKEY *
ed_key(void)
{
	uint8_t sk[32];
	EVP_PKEY *k;

	assert_int_equal(tally_unhex(ed_sk_hex, sk, sizeof(sk)), 0);
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, sizeof(sk));
	assert_non_null(k);
	return k;
}

/* One trusted key: the SPKI of key (OPENSSL_free of *spki). */
static ProtobufCBinaryData
spki_of(EVP_PKEY *key)
{
	ProtobufCBinaryData b;

	assert_int_equal(tally_key_spki(key, &b.data, &b.len), 0);
	return b;
}

/* Ed25519 is deterministic: make gives the independent record byte for
 * byte; parse reads every field at its offset; verify accepts it. */
static void
test_known_ed25519(void **state)
{
	struct kat k;
	struct tally_attestation a;
	uint8_t out[TALLY_ATTESTATION_MAX], kid[32];
	EVP_PKEY *key = ed_key();
	ProtobufCBinaryData spki = spki_of(key);
	size_t len = 0, which = 99;

	(void)state;
	kat_init(&k, ed_rec_hex);
	assert_int_equal(k.rec_len, 118 + KUID_LEN + 64);
	assert_int_equal(tally_attestation_make(key, k.nonce, kuid, KUID_LEN, k.boot,
	    0x01020304, out, sizeof(out), &len), 0);
	assert_int_equal(len, k.rec_len);
	assert_memory_equal(out, k.rec, len);

	assert_int_equal(tally_attestation_parse(k.rec, k.rec_len, &a), 0);
	assert_int_equal(tally_unhex(ed_kid_hex, kid, sizeof(kid)), 0);
	assert_memory_equal(a.key_id, kid, 32);
	assert_memory_equal(a.nonce, k.nonce, 32);
	assert_memory_equal(a.boot_key_hash, k.boot, 32);
	assert_int_equal(a.software_version, 0x01020304);
	assert_int_equal(a.uid_len, KUID_LEN);
	assert_memory_equal(a.uid, kuid, KUID_LEN);
	assert_ptr_equal(a.uid, k.rec + 117);
	assert_ptr_equal(a.statement, k.rec);
	assert_int_equal(a.statement_len, 117 + KUID_LEN);
	assert_ptr_equal(a.sig, k.rec + 118 + KUID_LEN);
	assert_int_equal(a.sig_len, 64);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, &spki, 1,
	    &which), 0);
	assert_int_equal(which, 0);
	OPENSSL_free(spki.data);
	EVP_PKEY_free(key);
}

/* A P-256 record signed elsewhere verifies here, as the second key. */
static void
test_known_p256(void **state)
{
	struct kat k;
	struct tally_attestation a;
	ProtobufCBinaryData keys[2];
	uint8_t spki[128];
	EVP_PKEY *other;
	size_t n, which = 99;

	(void)state;
	kat_init(&k, p256_rec_hex);
	assert_int_equal(tally_unhex_var(p256_spki_hex, spki, sizeof(spki), &n), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &other), 0);
	keys[0] = spki_of(other);
	keys[1] = (ProtobufCBinaryData){ n, spki };
	assert_int_equal(tally_attestation_parse(k.rec, k.rec_len, &a), 0);
	assert_int_equal(a.sig_len, 70);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 2,
	    &which), 0);
	assert_int_equal(which, 1);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 1,
	    NULL), TALLY_ERR_NOT_FOUND);
	OPENSSL_free(keys[0].data);
	EVP_PKEY_free(other);
}

/* Every length short of the record, and one more byte, is refused; so
 * is every length over the maximum; nothing is written to out then. */
static void
test_parse_bounds(void **state)
{
	struct kat k;
	struct tally_attestation a;
	uint8_t big[TALLY_ATTESTATION_MAX + 2];

	(void)state;
	kat_init(&k, ed_rec_hex);
	for (size_t n = 0; n < k.rec_len; n++) {
		memset(&a, 0x5a, sizeof(a));
		assert_int_equal(tally_attestation_parse(k.rec, n, &a), TALLY_ERR_INVALID);
		assert_int_equal(a.uid_len, (size_t)0x5a5a5a5a5a5a5a5aull);
	}
	memcpy(big, k.rec, k.rec_len);
	big[k.rec_len] = 0;
	assert_int_equal(tally_attestation_parse(big, k.rec_len + 1, &a), TALLY_ERR_INVALID);
	for (size_t n = TALLY_ATTESTATION_MAX + 1; n <= sizeof(big); n++)
		assert_int_equal(tally_attestation_parse(big, n, &a), TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_attestation_parse(NULL, 0, &a), TALLY_ERR_INVALID);
	assert_int_equal(TALLY_ATTESTATION_MAX, 254);
}

/* Field ranges: magic, uid_len 0 and 65, sig_len 0 and 73, and the
 * largest record (64-byte UID, 72-byte signature) exactly fits. */
static void
test_parse_fields(void **state)
{
	struct kat k;
	struct tally_attestation a;
	uint8_t r[TALLY_ATTESTATION_MAX];

	(void)state;
	kat_init(&k, ed_rec_hex);
	for (size_t i = 0; i < TALLY_ATTESTATION_MAGIC_LEN; i++) {
		memcpy(r, k.rec, k.rec_len);
		r[i] ^= 0x01;
		assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), TALLY_ERR_INVALID);
	}
	memcpy(r, k.rec, k.rec_len);
	r[116] = 0;
	assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), TALLY_ERR_INVALID);
	r[116] = KUID_LEN + 1;   /* the UID swallows the length byte */
	assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), TALLY_ERR_INVALID);
	memcpy(r, k.rec, k.rec_len);
	r[117 + KUID_LEN] = 0;
	assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), TALLY_ERR_INVALID);
	r[117 + KUID_LEN] = 63;
	assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), TALLY_ERR_INVALID);

	memset(r, 0x33, sizeof(r));
	memcpy(r, TALLY_ATTESTATION_MAGIC, TALLY_ATTESTATION_MAGIC_LEN);
	r[116] = TALLY_UID_MAX + 1;
	assert_int_equal(tally_attestation_parse(r, sizeof(r), &a), TALLY_ERR_INVALID);
	r[116] = TALLY_UID_MAX;
	r[117 + TALLY_UID_MAX] = TALLY_ATTESTATION_SIG_MAX + 1;
	assert_int_equal(tally_attestation_parse(r, sizeof(r), &a), TALLY_ERR_INVALID);
	r[117 + TALLY_UID_MAX] = TALLY_ATTESTATION_SIG_MAX;
	assert_int_equal(tally_attestation_parse(r, sizeof(r), &a), 0);
	assert_int_equal(a.uid_len, TALLY_UID_MAX);
	assert_int_equal(a.sig_len, TALLY_ATTESTATION_SIG_MAX);
}

/* make -> parse -> verify for both key types, UIDs of 1 and 64 bytes. */
static void
round_trip(enum tally_key_type type, size_t uid_len)
{
	uint8_t nonce[32], boot[32], uid[TALLY_UID_MAX], rec[TALLY_ATTESTATION_MAX];
	uint8_t kid[32];
	struct tally_attestation a;
	ProtobufCBinaryData spki;
	EVP_PKEY *key;
	size_t len, which = 99;

	memset(nonce, 0x11, sizeof(nonce));
	memset(boot, 0x22, sizeof(boot));
	memset(uid, 0x7e, sizeof(uid));
	assert_int_equal(tally_key_generate(type, &key), 0);
	spki = spki_of(key);
	assert_int_equal(tally_key_id(key, kid), 0);
	assert_int_equal(tally_attestation_make(key, nonce, uid, uid_len, boot, 7, rec,
	    sizeof(rec), &len), 0);
	assert_true(len <= TALLY_ATTESTATION_MAX);
	assert_int_equal(tally_attestation_parse(rec, len, &a), 0);
	assert_memory_equal(a.key_id, kid, 32);
	assert_int_equal(a.uid_len, uid_len);
	assert_int_equal(a.software_version, 7);
	assert_int_equal(tally_attestation_verify(&a, nonce, uid, uid_len, &spki, 1,
	    &which), 0);
	assert_int_equal(which, 0);
	assert_int_equal(tally_verify(key, rec, 117 + uid_len, a.sig, a.sig_len), 0);
	OPENSSL_free(spki.data);
	EVP_PKEY_free(key);
}

static void
test_round_trips(void **state)
{
	(void)state;
	round_trip(TALLY_KEY_P256, 1);
	round_trip(TALLY_KEY_P256, TALLY_UID_MAX);
	round_trip(TALLY_KEY_ED25519, 1);
	round_trip(TALLY_KEY_ED25519, TALLY_UID_MAX);
}

/* Errors of make: UID lengths, room, key type. */
static void
test_make_errors(void **state)
{
	uint8_t nonce[32] = { 0 }, boot[32] = { 0 }, uid[65] = { 0 }, rec[TALLY_ATTESTATION_MAX];
	EVP_PKEY *ed = ed_key(), *rsa;
	size_t len;

	(void)state;
	assert_int_equal(tally_attestation_make(ed, nonce, uid, 0, boot, 1, rec,
	    sizeof(rec), &len), TALLY_ERR_INVALID);
	assert_int_equal(tally_attestation_make(ed, nonce, uid, 65, boot, 1, rec,
	    sizeof(rec), &len), TALLY_ERR_INVALID);
	assert_int_equal(tally_attestation_make(ed, NULL, uid, 4, boot, 1, rec,
	    sizeof(rec), &len), TALLY_ERR_INVALID);
	assert_int_equal(tally_attestation_make(ed, nonce, uid, 4, boot, 1, rec,
	    118 + 4 + 64 - 1, &len), TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_attestation_make(ed, nonce, uid, 4, boot, 1, rec,
	    118 + 4 + 64, &len), 0);
	assert_int_equal(len, 118 + 4 + 64);
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(rsa);
	assert_int_equal(tally_attestation_make(rsa, nonce, uid, 4, boot, 1, rec,
	    sizeof(rec), &len), TALLY_ERR_KEY);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

/* Errors of verify: another nonce or UID (MISMATCH), a key not in the
 * list (NOT_FOUND), a changed statement or signature (SIGNATURE), a
 * trusted "key" that does not parse (KEY). */
static void
test_verify_errors(void **state)
{
	struct kat k;
	struct tally_attestation a;
	ProtobufCBinaryData keys[2];
	uint8_t r[TALLY_ATTESTATION_MAX], bad_spki[91];
	EVP_PKEY *ed = ed_key();

	(void)state;
	kat_init(&k, ed_rec_hex);
	keys[0] = spki_of(ed);
	assert_int_equal(tally_attestation_parse(k.rec, k.rec_len, &a), 0);
	k.nonce[31] ^= 1;
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 1,
	    NULL), TALLY_ERR_MISMATCH);
	k.nonce[31] ^= 1;
	assert_int_equal(tally_attestation_verify(&a, k.nonce, (const uint8_t *)"chip-0002",
	    KUID_LEN, keys, 1, NULL), TALLY_ERR_MISMATCH);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN - 1, keys, 1,
	    NULL), TALLY_ERR_MISMATCH);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 0,
	    NULL), TALLY_ERR_NOT_FOUND);

	/* Every bit of the statement and of the signature matters. */
	for (size_t i = 0; i < k.rec_len; i++) {
		memcpy(r, k.rec, k.rec_len);
		r[i] ^= 0x80;
		if (tally_attestation_parse(r, k.rec_len, &a) != 0)
			continue;   /* magic or a length byte */
		assert_int_not_equal(tally_attestation_verify(&a, a.nonce, a.uid, a.uid_len,
		    keys, 1, NULL), 0);
	}
	/* A changed boot hash, version or UID names the right key but fails. */
	memcpy(r, k.rec, k.rec_len);
	r[112] ^= 1;
	assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), 0);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 1,
	    NULL), TALLY_ERR_SIGNATURE);
	/* Fields that disagree with the signed bytes are refused. */
	assert_int_equal(tally_attestation_parse(k.rec, k.rec_len, &a), 0);
	a.boot_key_hash[0] ^= 1;
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 1,
	    NULL), TALLY_ERR_SIGNATURE);

	/* A trusted key whose ID matches but whose bytes are not an SPKI. */
	assert_int_equal(tally_attestation_parse(k.rec, k.rec_len, &a), 0);
	memset(bad_spki, 0, sizeof(bad_spki));
	keys[1] = (ProtobufCBinaryData){ sizeof(bad_spki), bad_spki };
	tally_key_id_spki(bad_spki, sizeof(bad_spki), a.key_id);
	memcpy(r, k.rec, k.rec_len);
	memcpy(r + 16, a.key_id, 32);
	assert_int_equal(tally_attestation_parse(r, k.rec_len, &a), 0);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys, 2,
	    NULL), TALLY_ERR_KEY);
	assert_int_equal(tally_attestation_verify(&a, k.nonce, kuid, KUID_LEN, keys,
	    TALLY_ATT_KEYS_MAX + 1, NULL), TALLY_ERR_KEY);
	OPENSSL_free(keys[0].data);
	EVP_PKEY_free(ed);
}

/* A record naming a P-256 key but carrying an Ed25519 signature, and a
 * P-256 signature in non-canonical DER, do not verify. */
static void
test_wrong_algorithm(void **state)
{
	uint8_t nonce[32] = { 1 }, boot[32] = { 2 }, rec[TALLY_ATTESTATION_MAX], st[200];
	uint8_t sig[TALLY_SIG_MAX];
	struct tally_attestation a;
	ProtobufCBinaryData spki;
	EVP_PKEY *p256, *ed = ed_key();
	size_t len, sig_len;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &p256), 0);
	spki = spki_of(p256);
	assert_int_equal(tally_attestation_make(p256, nonce, (const uint8_t *)"u", 1, boot,
	    3, rec, sizeof(rec), &len), 0);
	/* Same statement, Ed25519 signature in place of the ECDSA one. */
	memcpy(st, rec, 118);
	assert_int_equal(tally_sign(ed, st, 118, sig, &sig_len), 0);
	rec[118] = (uint8_t)sig_len;
	memcpy(rec + 119, sig, sig_len);
	assert_int_equal(tally_attestation_parse(rec, 119 + sig_len, &a), 0);
	assert_int_equal(tally_attestation_verify(&a, nonce, (const uint8_t *)"u", 1, &spki,
	    1, NULL), TALLY_ERR_SIGNATURE);
	/* DER with a padded length (0x81 long form) is not DER. ECDSA
	 * signatures vary in length: sign until one leaves room for the extra
	 * length byte (a 72-byte one, both integers padded, does not). */
	for (int i = 0; i < 64; i++) {
		assert_int_equal(tally_sign(p256, st, 118, sig, &sig_len), 0);
		if (sig_len + 1 <= TALLY_ATTESTATION_SIG_MAX)
			break;
	}
	assert_true(sig_len + 1 <= TALLY_ATTESTATION_SIG_MAX);
	rec[118] = (uint8_t)(sig_len + 1);
	rec[119] = 0x30;
	rec[120] = 0x81;
	memcpy(rec + 121, sig + 1, sig_len - 1);
	assert_int_equal(tally_attestation_parse(rec, 119 + sig_len + 1, &a), 0);
	assert_int_equal(tally_attestation_verify(&a, nonce, (const uint8_t *)"u", 1, &spki,
	    1, NULL), TALLY_ERR_SIGNATURE);
	OPENSSL_free(spki.data);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(ed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_ed25519),
		cmocka_unit_test(test_known_p256),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_make_errors),
		cmocka_unit_test(test_verify_errors),
		cmocka_unit_test(test_wrong_algorithm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
