/* test_oem_quota.c - tally-oem quota create as a library function
 * (oem/quota_create.h): fields round-trip through tally_quota_open, the
 * signature is the OEM root's, bad specs are refused; attestation keys
 * (spec and `quota create --attestation-key` run in-process on real key
 * files); time parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include "artifact.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "oem/oem.h"
#include "oem/quota_create.h"

struct qfx {
	EVP_PKEY *oem, *app, *other;
	uint8_t *spki;
	size_t spki_len;
	uint8_t app_id[TALLY_KEY_ID_LEN];
	uint8_t fw[3][TALLY_DIGEST_LEN];
	struct oem_quota_spec spec;
};

static int
setup_type(void **state, enum tally_key_type oem_type)
{
	struct qfx *f = calloc(1, sizeof(*f));
	int i;

	*state = f;
	if (f == NULL || tally_key_generate(oem_type, &f->oem) != 0 ||
	    tally_key_generate(TALLY_KEY_P256, &f->app) != 0 ||
	    tally_key_generate(oem_type, &f->other) != 0 ||
	    tally_key_spki(f->app, &f->spki, &f->spki_len) != 0 ||
	    tally_key_id(f->app, f->app_id) != 0)
		return -1;
	for (i = 0; i < 3; i++)
		memset(f->fw[i], 0xa0 + i, TALLY_DIGEST_LEN);
	f->spec.oem_key = f->oem;
	f->spec.appliance_spki = f->spki;
	f->spec.appliance_spki_len = f->spki_len;
	f->spec.product = "widget-2000";
	f->spec.firmware = (const uint8_t (*)[TALLY_DIGEST_LEN])f->fw;
	f->spec.n_firmware = 2;
	f->spec.units = 100;
	f->spec.serial_first = 5000;
	f->spec.serial_last = 5099;
	f->spec.not_before = 1750000000;
	f->spec.not_after = 1750000000 + 86400;
	f->spec.max_unreconciled = 40;
	f->spec.scrap_allowance = 3;
	f->spec.issued_at = 1749999000;
	return 0;
}

static int setup_p256(void **state) { return setup_type(state, TALLY_KEY_P256); }
static int setup_ed25519(void **state) { return setup_type(state, TALLY_KEY_ED25519); }

static int
teardown(void **state)
{
	struct qfx *f = *state;

	if (f == NULL)
		return 0;
	EVP_PKEY_free(f->oem);
	EVP_PKEY_free(f->app);
	EVP_PKEY_free(f->other);
	OPENSSL_free(f->spki);
	free(f);
	return 0;
}

static void
test_roundtrip(void **state)
{
	struct qfx *f = *state;
	uint8_t qid[TALLY_QUOTA_ID_LEN], *env = NULL;
	Tally__Quota *q = NULL;
	size_t len = 0;

	assert_int_equal(oem_quota_create(&f->spec, qid, &env, &len), 0);
	assert_non_null(env);
	assert_int_equal(tally_quota_open(env, len, f->oem, &q), 0);
	assert_memory_equal(q->quota_id.data, qid, TALLY_QUOTA_ID_LEN);
	assert_int_equal(q->appliance_key_id.len, TALLY_KEY_ID_LEN);
	assert_memory_equal(q->appliance_key_id.data, f->app_id, TALLY_KEY_ID_LEN);
	assert_int_equal(q->appliance_public_key.len, f->spki_len);
	assert_memory_equal(q->appliance_public_key.data, f->spki, f->spki_len);
	assert_string_equal(q->product, "widget-2000");
	assert_int_equal(q->n_firmware_digests, 2);
	assert_memory_equal(q->firmware_digests[0].data, f->fw[0], TALLY_DIGEST_LEN);
	assert_memory_equal(q->firmware_digests[1].data, f->fw[1], TALLY_DIGEST_LEN);
	assert_int_equal(q->units, 100);
	assert_int_equal(q->serial_first, 5000);
	assert_int_equal(q->serial_last, 5099);
	assert_int_equal(q->not_before, 1750000000);
	assert_int_equal(q->not_after, 1750086400);
	assert_int_equal(q->max_unreconciled, 40);
	assert_int_equal(q->scrap_allowance, 3);
	assert_int_equal(q->issued_at, 1749999000);
	assert_int_equal(q->attestation, TALLY__ATTESTATION_POLICY__ATTESTATION_NONE);
	assert_int_equal(tally_quota_usable(q, f->app_id, 1750000100), 0);
	tally__quota__free_unpacked(q, NULL);
	free(env);
}

static void
test_other_key_refused(void **state)
{
	struct qfx *f = *state;
	uint8_t qid[TALLY_QUOTA_ID_LEN], *env = NULL;
	Tally__Quota *q = NULL;
	size_t len = 0;

	assert_int_equal(oem_quota_create(&f->spec, qid, &env, &len), 0);
	assert_int_equal(tally_quota_open(env, len, f->other, &q), TALLY_ERR_SIGNATURE);
	assert_null(q);
	/* one flipped byte anywhere in the envelope and it no longer opens */
	env[len / 2] ^= 0x01;
	assert_int_not_equal(tally_quota_open(env, len, f->oem, &q), 0);
	assert_null(q);
	free(env);
}

static void
test_key_id_only(void **state)
{
	struct qfx *f = *state;
	uint8_t qid[TALLY_QUOTA_ID_LEN], qid2[TALLY_QUOTA_ID_LEN], *env = NULL, *env2 = NULL;
	Tally__Quota *q = NULL;
	size_t len = 0, len2 = 0;

	f->spec.appliance_spki = NULL;
	f->spec.appliance_spki_len = 0;
	memcpy(f->spec.appliance_key_id, f->app_id, TALLY_KEY_ID_LEN);
	assert_int_equal(oem_quota_create(&f->spec, qid, &env, &len), 0);
	assert_int_equal(tally_quota_open(env, len, f->oem, &q), 0);
	assert_int_equal(q->appliance_public_key.len, 0);
	assert_memory_equal(q->appliance_key_id.data, f->app_id, TALLY_KEY_ID_LEN);
	tally__quota__free_unpacked(q, NULL);
	/* every quota gets a fresh random ID */
	assert_int_equal(oem_quota_create(&f->spec, qid2, &env2, &len2), 0);
	assert_memory_not_equal(qid, qid2, TALLY_QUOTA_ID_LEN);
	free(env);
	free(env2);
}

/* Creates with f->spec and expects TALLY_ERR_INVALID and no output. */
static void
expect_invalid(struct qfx *f)
{
	uint8_t qid[TALLY_QUOTA_ID_LEN], *env = NULL;
	size_t len = 0;

	assert_int_equal(oem_quota_create(&f->spec, qid, &env, &len), TALLY_ERR_INVALID);
	assert_null(env);
}

static void
test_bad_inputs(void **state)
{
	struct qfx *f = *state;
	struct oem_quota_spec good = f->spec;
	char longname[TALLY_PRODUCT_MAX + 2];
	uint8_t bad_spki[16];

	f->spec.units = 0;
	expect_invalid(f);
	f->spec = good;
	f->spec.units = TALLY_UNITS_MAX + 1;
	expect_invalid(f);
	f->spec = good;
	f->spec.product = "";
	expect_invalid(f);
	f->spec.product = "bad\nname";
	expect_invalid(f);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	f->spec.product = longname;
	expect_invalid(f);
	f->spec = good;
	f->spec.n_firmware = 0;
	expect_invalid(f);
	f->spec.n_firmware = TALLY_FIRMWARE_MAX + 1;
	expect_invalid(f);
	f->spec = good;
	f->spec.not_after = f->spec.not_before;
	expect_invalid(f);
	f->spec = good;
	f->spec.serial_last = f->spec.serial_first + 10;  /* 11 serials, 100 units */
	expect_invalid(f);
	f->spec = good;
	memset(bad_spki, 0x30, sizeof(bad_spki));
	f->spec.appliance_spki = bad_spki;
	f->spec.appliance_spki_len = sizeof(bad_spki);
	expect_invalid(f);
	f->spec = good;
}

/* Attestation keys in the spec: REQUIRED with the keys in order; more
 * than 16, a key twice or a non-key are refused. */
static void
test_attestation_spec(void **state)
{
	struct qfx *f = *state;
	ProtobufCBinaryData keys[TALLY_ATT_KEYS_MAX + 1], saved;
	uint8_t qid[TALLY_QUOTA_ID_LEN], *env = NULL, junk[40];
	EVP_PKEY *k;
	Tally__Quota *q = NULL;
	size_t len;

	for (int i = 0; i <= TALLY_ATT_KEYS_MAX; i++) {
		assert_int_equal(tally_key_generate(i % 2 ? TALLY_KEY_ED25519 : TALLY_KEY_P256,
		    &k), 0);
		assert_int_equal(tally_key_spki(k, &keys[i].data, &keys[i].len), 0);
		EVP_PKEY_free(k);
	}
	f->spec.attestation_keys = keys;
	f->spec.n_attestation_keys = 2;
	assert_int_equal(oem_quota_create(&f->spec, qid, &env, &len), 0);
	assert_int_equal(tally_quota_open(env, len, f->oem, &q), 0);
	assert_int_equal(q->attestation, TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED);
	assert_int_equal(q->n_attestation_public_keys, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(q->attestation_public_keys[i].len, keys[i].len);
		assert_memory_equal(q->attestation_public_keys[i].data, keys[i].data, keys[i].len);
	}
	tally__quota__free_unpacked(q, NULL);
	free(env);
	f->spec.n_attestation_keys = TALLY_ATT_KEYS_MAX;
	assert_int_equal(oem_quota_create(&f->spec, qid, &env, &len), 0);
	free(env);
	f->spec.n_attestation_keys = TALLY_ATT_KEYS_MAX + 1;
	expect_invalid(f);
	f->spec.n_attestation_keys = 3;
	saved = keys[2];
	keys[2] = keys[0];    /* the same key twice */
	expect_invalid(f);
	memset(junk, 0x30, sizeof(junk));
	keys[2] = (ProtobufCBinaryData){ sizeof(junk), junk };
	expect_invalid(f);
	keys[2] = saved;
	for (int i = 0; i <= TALLY_ATT_KEYS_MAX; i++)
		OPENSSL_free(keys[i].data);
	f->spec.attestation_keys = NULL;
	f->spec.n_attestation_keys = 0;
}

struct cli {
	char dir[64];
	char oem[96], app[96], att_p256[96], att_ed[96], rsa[96], junk[96], out[96];
};

static void
cli_files(struct qfx *f, struct cli *c)
{
	EVP_PKEY *k, *rsa;
	FILE *fp;

	strcpy(c->dir, "/tmp/tally-test-oemq-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->oem, sizeof(c->oem), "%s/oem.key", c->dir);
	snprintf(c->app, sizeof(c->app), "%s/app.pub", c->dir);
	snprintf(c->att_p256, sizeof(c->att_p256), "%s/att-p256.pub", c->dir);
	snprintf(c->att_ed, sizeof(c->att_ed), "%s/att-ed.key", c->dir);
	snprintf(c->rsa, sizeof(c->rsa), "%s/rsa.pub", c->dir);
	snprintf(c->junk, sizeof(c->junk), "%s/junk.pub", c->dir);
	snprintf(c->out, sizeof(c->out), "%s/q.tq", c->dir);
	assert_int_equal(tally_key_write_private(f->oem, c->oem), 0);
	assert_int_equal(tally_key_write_public(f->app, c->app), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &k), 0);
	assert_int_equal(tally_key_write_public(k, c->att_p256), 0);
	EVP_PKEY_free(k);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &k), 0);
	assert_int_equal(tally_key_write_private(k, c->att_ed), 0);   /* its public half is taken */
	EVP_PKEY_free(k);
	assert_non_null(rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
	assert_non_null(fp = fopen(c->rsa, "w"));
	assert_int_equal(PEM_write_PUBKEY(fp, rsa), 1);
	fclose(fp);
	EVP_PKEY_free(rsa);
	assert_non_null(fp = fopen(c->junk, "w"));
	fputs("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", fp);
	fclose(fp);
}

static void
cli_cleanup(struct cli *c)
{
	const char *files[] = { c->oem, c->app, c->att_p256, c->att_ed, c->rsa, c->junk,
	    c->out };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	assert_int_equal(rmdir(c->dir), 0);
}

/* tally-oem quota create with up to three --attestation-key files. */
static int
cli_create(struct cli *c, const char *a1, const char *a2, const char *a3)
{
	const char *argv[32] = { "create", "--key", c->oem, "--appliance-pub", c->app,
	    "--product", "widget", "--units", "10", "--firmware-digest",
	    "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0",
	    "--out", c->out, "--json" };
	const char *att[3] = { a1, a2, a3 };
	int argc = 14;

	for (int i = 0; i < 3; i++)
		if (att[i] != NULL) {
			argv[argc++] = "--attestation-key";
			argv[argc++] = att[i];
		}
	unlink(c->out);
	return oem_cmd_quota_create.exec(&oem_cmd_quota_create, argc, (char **)argv);
}

/* The CLI: a P-256 public key and an Ed25519 private key file make an
 * attested quota; an RSA key, a broken PEM, a missing file and the same
 * key twice are refused with exit 2 and no quota file. */
static void
test_attestation_cli(void **state)
{
	struct qfx *f = *state;
	struct cli c;
	uint8_t *env = NULL, kid[TALLY_KEY_ID_LEN], id[TALLY_KEY_ID_LEN];
	Tally__Quota *q = NULL;
	EVP_PKEY *k;
	size_t len;

	cli_files(f, &c);
	assert_int_equal(cli_create(&c, c.att_p256, c.att_ed, NULL), OEM_EXIT_OK);
	assert_int_equal(tally_read_file(c.out, TALLY_FILE_MAX, &env, &len), 0);
	assert_int_equal(tally_quota_open(env, len, f->oem, &q), 0);
	assert_int_equal(q->attestation, TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED);
	assert_int_equal(q->n_attestation_public_keys, 2);
	assert_int_equal(tally_key_load_public(c.att_ed, &k), 0);
	assert_int_equal(tally_key_id(k, kid), 0);
	EVP_PKEY_free(k);
	tally_key_id_spki(q->attestation_public_keys[1].data,
	    q->attestation_public_keys[1].len, id);
	assert_memory_equal(id, kid, sizeof(id));
	tally__quota__free_unpacked(q, NULL);
	free(env);

	assert_int_equal(cli_create(&c, NULL, NULL, NULL), OEM_EXIT_OK);  /* no policy */
	assert_int_equal(tally_read_file(c.out, TALLY_FILE_MAX, &env, &len), 0);
	assert_int_equal(tally_quota_open(env, len, f->oem, &q), 0);
	assert_int_equal(q->attestation, TALLY__ATTESTATION_POLICY__ATTESTATION_NONE);
	tally__quota__free_unpacked(q, NULL);
	free(env);

	assert_int_equal(cli_create(&c, c.att_p256, c.rsa, NULL), OEM_EXIT_USAGE);
	assert_int_not_equal(access(c.out, F_OK), 0);
	assert_int_equal(cli_create(&c, c.junk, NULL, NULL), OEM_EXIT_USAGE);
	assert_int_equal(cli_create(&c, "/nonexistent/att.pub", NULL, NULL), OEM_EXIT_USAGE);
	assert_int_equal(cli_create(&c, c.att_ed, c.att_p256, c.att_ed), OEM_EXIT_USAGE);
	assert_int_not_equal(access(c.out, F_OK), 0);
	cli_cleanup(&c);
}

static void
test_parse_time(void **state)
{
	int64_t t = 0;
	uint64_t v = 0;

	(void)state;
	assert_int_equal(oem_parse_time("1767225600", &t), 0);
	assert_int_equal(t, 1767225600);
	assert_int_equal(oem_parse_time("2026-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 1767225600);
	assert_int_equal(oem_parse_time("1970-01-01T00:00:01Z", &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(oem_parse_time("2026-01-01", &t), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_time("2026-01-01T00:00:00+01:00", &t), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_time("12abc", &t), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_time("-5", &t), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_time("", &t), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_u64("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(oem_parse_u64("0", 1, 100, &v), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_u64("101", 1, 100, &v), TALLY_ERR_INVALID);
	assert_int_equal(oem_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v),
	    TALLY_ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		{ "roundtrip_p256", test_roundtrip, setup_p256, teardown, NULL },
		{ "roundtrip_ed25519", test_roundtrip, setup_ed25519, teardown, NULL },
		{ "other_key_refused_p256", test_other_key_refused, setup_p256, teardown, NULL },
		{ "other_key_refused_ed25519", test_other_key_refused, setup_ed25519, teardown, NULL },
		cmocka_unit_test_setup_teardown(test_key_id_only, setup_p256, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup_p256, teardown),
		cmocka_unit_test_setup_teardown(test_attestation_spec, setup_p256, teardown),
		cmocka_unit_test_setup_teardown(test_attestation_cli, setup_ed25519, teardown),
		cmocka_unit_test(test_parse_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
