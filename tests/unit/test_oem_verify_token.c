/* test_oem_verify_token.c - tally-oem verify-token run in-process on real
 * files (a bundle made with real keys, the OEM root public key PEM, a
 * firmware image) in a mkdtemp folder: accepted bundles print what the
 * token says, refusals name the device verifier's result with exit 1,
 * --json, --firmware, --product, --now, and usage and file errors exit 2. */
#include <fcntl.h>
#include <unistd.h>
#include <jansson.h>
#include "tests/unit/test_devverify_fx.h"
#include "oem/oem.h"
#include "oem/verify_token.h"

struct cfx {
	struct dfx *f;
	char dir[64];
	char root[96], other_root[96], bundle[96], bad[96], big[96], image[96],
	    other_image[96], out[96];
	char text[8192];     /* stdout of the last run */
};

static void
write_blob(const char *path, const uint8_t *b, size_t n)
{
	assert_int_equal(tally_write_file(path, b, n, 0644), 0);
}

/* The image in path and its SHA-256 as the quota's and token's digest. */
static void
make_image(struct cfx *c)
{
	uint8_t img[4096];
	unsigned int n = 0;

	assert_int_equal(RAND_bytes(img, sizeof(img)), 1);
	write_blob(c->image, img, sizeof(img));
	img[0] ^= 1;
	write_blob(c->other_image, img, sizeof(img));
	img[0] ^= 1;
	assert_int_equal(EVP_Digest(img, sizeof(img), c->f->fw[0], &n, EVP_sha256(), NULL), 1);
}

static void
make_files(struct cfx *c)
{
	struct blob b;
	uint8_t *big;

	make_image(c);
	assert_int_equal(tally_key_write_public(c->f->oem, c->root), 0);
	assert_int_equal(tally_key_write_public(c->f->other, c->other_root), 0);
	b = build(c->f);
	write_blob(c->bundle, b.p, b.n);
	b.p[b.n - 1] ^= 0x01;	/* last byte of the appliance key */
	write_blob(c->bad, b.p, b.n);
	assert_non_null(big = calloc(1, TDV_BUNDLE_MAX + 1));
	write_blob(c->big, big, TDV_BUNDLE_MAX + 1);
	free(big);
	free(b.p);
}

static int
setup(void **state)
{
	static const char *const names[] = { "oem.pub", "other.pub", "b.bundle",
	    "bad.bundle", "big.bundle", "fw.bin", "other.bin", "stdout" };
	struct cfx *c = calloc(1, sizeof(*c));
	size_t i;

	assert_non_null(c);
	char *const paths[] = { c->root, c->other_root, c->bundle, c->bad, c->big,
	    c->image, c->other_image, c->out };

	c->f = dfx_new(TALLY_KEY_P256, TALLY_KEY_ED25519);
	strcpy(c->dir, "/tmp/tally-test-vt-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		snprintf(paths[i], 96, "%s/%s", c->dir, names[i]);
	make_files(c);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct cfx *c = *state;
	const char *const paths[] = { c->root, c->other_root, c->bundle, c->bad,
	    c->big, c->image, c->other_image, c->out };
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		unlink(paths[i]);
	assert_int_equal(rmdir(c->dir), 0);
	dfx_free(c->f);
	free(c);
	return 0;
}

/* Runs verify-token with the NULL-terminated arguments after the words;
 * stdout goes to c->text. Returns the exit status. */
static int
run(struct cfx *c, ...)
{
	char *argv[32] = { "verify-token" };
	int argc = 1, fd, saved, ex;
	ssize_t n;
	va_list ap;

	va_start(ap, c);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	fflush(stdout);
	assert_true((fd = open(c->out, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_true((saved = dup(STDOUT_FILENO)) >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	ex = oem_cmd_verify_token.exec(&oem_cmd_verify_token, argc, argv);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = pread(fd, c->text, sizeof(c->text) - 1, 0);
	close(fd);
	assert_true(n >= 0);
	c->text[n] = '\0';
	return ex;
}

#define HAS(c, s) do { if (strstr((c)->text, (s)) == NULL) \
	fail_msg("no \"%s\" in:\n%s", (s), (c)->text); } while (0)

static void
test_accepted(void **state)
{
	struct cfx *c = *state;
	char hex[65];

	assert_int_equal(run(c, "--bundle", c->bundle, "--oem-root", c->root, "--uid", UID,
	    NULL), OEM_EXIT_OK);
	HAS(c, "bundle accepted for device 5354522d30303031\n");
	HAS(c, "  log index:       4242\n");
	HAS(c, "  serial number:   1001\n");
	tally_hex(c->f->fw[0], 32, hex);
	HAS(c, hex);
	tally_hex(c->f->qid, 16, hex);
	HAS(c, hex);
	assert_int_equal(run(c, "--bundle", c->bundle, "--oem-root", c->root,
	    "--uid-hex", "5354522D30303031", "--firmware", c->image, "--product", PRODUCT,
	    "--now", "0", NULL), OEM_EXIT_OK);
	HAS(c, "matches\n");
}

static void
test_refused(void **state)
{
	struct cfx *c = *state;
	char t[32];

	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", "STR-0002", NULL),
	    OEM_EXIT_ANOMALY);
	HAS(c, "bundle refused for device 5354522d30303032: wrong device\n");
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID, "-p", "gadget",
	    NULL), OEM_EXIT_ANOMALY);
	HAS(c, ": wrong device\n");
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->other_root, "-u", UID, NULL),
	    OEM_EXIT_ANOMALY);
	HAS(c, ": bad signature\n");
	assert_int_equal(run(c, "-b", c->bad, "-r", c->root, "-u", UID, NULL),
	    OEM_EXIT_ANOMALY);
	HAS(c, ": appliance key mismatch\n");
	assert_int_equal(run(c, "-b", c->big, "-r", c->root, "-u", UID, NULL),
	    OEM_EXIT_ANOMALY);
	HAS(c, ": too large\n");
	snprintf(t, sizeof(t), "%lld", (long long)c->f->q.not_after);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID, "-n", t, NULL),
	    OEM_EXIT_ANOMALY);
	HAS(c, ": expired\n");
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID,
	    "-f", c->other_image, NULL), OEM_EXIT_ANOMALY);
	HAS(c, "bundle accepted");
	HAS(c, "firmware refused: ");
}

static void
test_json(void **state)
{
	struct cfx *c = *state;
	json_t *j, *fw;

	assert_int_equal(run(c, "--bundle", c->bundle, "--oem-root", c->root, "--uid", UID,
	    "--firmware", c->image, "--json", NULL), OEM_EXIT_OK);
	assert_non_null(j = json_loads(c->text, 0, NULL));
	assert_true(json_is_true(json_object_get(j, "accepted")));
	assert_string_equal(json_string_value(json_object_get(j, "result")), "ok");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "token"),
	    "log_index")), 4242);
	assert_non_null(fw = json_object_get(j, "firmware"));
	assert_true(json_is_true(json_object_get(fw, "matches")));
	json_decref(j);
	assert_int_equal(run(c, "--bundle", c->bundle, "--oem-root", c->root,
	    "--uid", "STR-0002", "--json", NULL), OEM_EXIT_ANOMALY);
	assert_non_null(j = json_loads(c->text, 0, NULL));
	assert_true(json_is_false(json_object_get(j, "accepted")));
	assert_string_equal(json_string_value(json_object_get(j, "result")), "wrong device");
	assert_null(json_object_get(j, "token"));
	json_decref(j);
	assert_int_equal(run(c, "--bundle", c->bundle, "--oem-root", c->root,
	    "--uid", UID, "--firmware", c->other_image, "--json", NULL), OEM_EXIT_ANOMALY);
	assert_non_null(j = json_loads(c->text, 0, NULL));
	assert_true(json_is_false(json_object_get(j, "accepted")));
	assert_true(json_is_false(json_object_get(json_object_get(j, "firmware"), "matches")));
	json_decref(j);
}

static void
test_usage(void **state)
{
	struct cfx *c = *state;
	char long_uid[TDV_UID_MAX + 2];

	memset(long_uid, 'u', sizeof(long_uid) - 1);
	long_uid[sizeof(long_uid) - 1] = '\0';
	assert_int_equal(run(c, "--help", NULL), OEM_EXIT_OK);
	HAS(c, "usage: tally-oem verify-token");
	assert_int_equal(run(c, "-r", c->root, "-u", UID, NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-u", UID, NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID, "-x", "00",
	    NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-x", "abc", NULL),
	    OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", long_uid, NULL),
	    OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID, "-n", "soon",
	    NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID, "-p", "",
	    NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", "/nonexistent/b", "-r", c->root, "-u", UID, NULL),
	    OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->bundle, "-u", UID, NULL),
	    OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID,
	    "-f", "/nonexistent/fw", NULL), OEM_EXIT_USAGE);
	assert_int_equal(run(c, "-b", c->bundle, "-r", c->root, "-u", UID, "extra", NULL),
	    OEM_EXIT_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
