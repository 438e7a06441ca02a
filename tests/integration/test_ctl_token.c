/* test_ctl_token.c - `tallyctl token show UID --bundle-out FILE` with the
 * real tallyctl and tally-oem binaries against a real tallyd: tokens
 * issued through the jig's own TLS client, the file equal byte for byte
 * to the TokenBundle that jig received (also after a restart), mode 0644,
 * `tally-oem verify-token` accepting it for its UID only; a device with
 * tokens under two quotas needs --quota-id; an existing file is kept
 * unless --force; usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>

#include "attest.h"
#include "err.h"
#include "key.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "tests/harness/th_log.h"
#include "util.h"

/* What the jig received for one (quota, device). */
struct got {
	uint8_t *bundle;   /* serialized TokenBundle (free) */
	size_t len;
};

struct fx {
	struct th *t;
	uint8_t qa[16], qb[16];
	char qa_hex[33], qb_hex[33];
	struct got a1, b1, a2;   /* dut-1 under A and B, dut-2 under A */
	char path[TH_PATH + 16];
	char *out, *err;         /* of the last run (free) */
};

/* Challenge + IssueToken for uid under quota qid through c. */
static void
issue(struct jig_client *c, const char *uid, const uint8_t qid[16], struct got *g)
{
	struct jig_issue_args a = { .quota_id = qid, .uid = (const uint8_t *)uid,
	    .uid_len = strlen(uid) };
	struct jig_refusal ref;
	uint8_t nonce[32];
	int64_t exp;
	int reissued = -1;

	assert_int_equal(jig_client_challenge(c, nonce, &exp, &ref), 0);
	a.nonce = nonce;
	assert_int_equal(jig_client_issue(c, &a, &g->bundle, &g->len, &reissued, &ref), 0);
	assert_int_equal(reissued, 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct jig_client *c = NULL;

	assert_non_null(f);
	assert_int_equal(th_setup(&f->t, &(struct th_opts){ .njigs = 1 }), 0);
	assert_int_equal(th_enroll(f->t, 0), 0);
	assert_int_equal(th_quota_code(f->t, "widget", 5, f->qa), 0);
	assert_int_equal(th_quota_code(f->t, "widget", 5, f->qb), 0);
	tally_hex(f->qa, 16, f->qa_hex);
	tally_hex(f->qb, 16, f->qb_hex);
	assert_int_equal(th_jig_connect(f->t, 0, 0, &c), 0);
	issue(c, "dut-1", f->qa, &f->a1);
	issue(c, "dut-1", f->qb, &f->b1);
	issue(c, "dut-2", f->qa, &f->a2);
	jig_client_close(c);
	snprintf(f->path, sizeof(f->path), "%s/unit.bundle", f->t->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	free(f->a1.bundle);
	free(f->b1.bundle);
	free(f->a2.bundle);
	free(f->out);
	free(f->err);
	th_cleanup(f->t);
	free(f);
	return 0;
}

/* tallyctl with the NULL-terminated arguments; its exit status. */
static int
ctl(struct fx *f, ...)
{
	const char *args[16];
	size_t n = 0;
	va_list ap;

	va_start(ap, f);
	while (n < 15 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	free(f->out);
	free(f->err);
	return th_run_tallyctl(f->t, &f->out, &f->err, args);
}

/* $TALLY_BUILD/tally-oem verify-token --bundle path --oem-root oem.pub
 * --uid uid, output discarded; its exit status. */
static int
verify_token(struct fx *f, const char *uid)
{
	const char *build = getenv("TALLY_BUILD") != NULL ? getenv("TALLY_BUILD") : "build/check";
	char bin[256];
	int status, fd;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/tally-oem", build);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0 && dup2(fd, STDERR_FILENO) >= 0)
			execl(bin, "tally-oem", "verify-token", "--bundle", f->path,
			    "--oem-root", f->t->oem_pub_path, "--uid", uid, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The bundle file holds exactly want, mode 0644. */
static void
file_is(struct fx *f, const struct got *want)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t len = 0;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(tally_read_file(f->path, 1u << 20, &b, &len), 0);
	assert_int_equal(len, want->len);
	assert_memory_equal(b, want->bundle, len);
	free(b);
}

#define HAS(s, needle) do { if (strstr((s), (needle)) == NULL) \
	fail_msg("no \"%s\" in: %s", (needle), (s)); } while (0)

static void
test_bundle_of_the_only_token(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--bundle-out", f->path,
	    NULL), 0);
	HAS(f->out, "token at log entry");
	HAS(f->out, f->qa_hex);
	HAS(f->out, "written to");
	file_is(f, &f->a2);
	/* the device-side verifier accepts it for its own UID only */
	assert_int_equal(verify_token(f, "dut-2"), 0);
	assert_int_equal(verify_token(f, "dut-1"), 1);
	/* the UID in hex is the same device */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(ctl(f, "token", "show", "6475742d32", "-o", f->path, NULL), 0);
	file_is(f, &f->a2);
}

static void
test_existing_file_needs_force(void **state)
{
	struct fx *f = *state;
	static const uint8_t junk[] = "not a bundle";

	assert_int_equal(tally_write_file(f->path, junk, sizeof(junk), 0600), 0);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--bundle-out", f->path,
	    NULL), 2);
	HAS(f->err, "file exists (--force replaces it)");
	assert_int_equal(verify_token(f, "dut-2"), 1);   /* still the junk */
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--bundle-out", f->path,
	    "--force", NULL), 0);
	file_is(f, &f->a2);
	/* after a restart the store gives the same bytes */
	assert_int_equal(th_restart(f->t), 0);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--bundle-out", f->path,
	    "--force", NULL), 0);
	file_is(f, &f->a2);
	assert_int_equal(verify_token(f, "dut-2"), 0);
}

static void
test_several_quotas_need_quota_id(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--bundle-out", f->path,
	    NULL), 2);
	HAS(f->err, "tokens under 2 quotas");
	HAS(f->err, f->qa_hex);
	HAS(f->err, f->qb_hex);
	HAS(f->err, "--quota-id");
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--bundle-out", f->path,
	    "--quota-id", f->qb_hex, NULL), 0);
	file_is(f, &f->b1);
	assert_int_equal(verify_token(f, "dut-1"), 0);
	assert_int_equal(verify_token(f, "dut-2"), 1);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--bundle-out", f->path,
	    "--quota-id", f->qa_hex, "--force", NULL), 0);
	file_is(f, &f->a1);
	assert_int_equal(verify_token(f, "dut-1"), 0);
	/* dut-2 has no token under B: refused, nothing written */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--bundle-out", f->path,
	    "--quota-id", f->qb_hex, NULL), 1);
	HAS(f->err, "no token under quota");
	assert_int_equal(stat(f->path, &st), -1);
}

static void
test_json(void **state)
{
	struct fx *f = *state;
	json_t *j, *b;

	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--json", "--bundle-out",
	    f->path, "--quota-id", f->qb_hex, NULL), 0);
	assert_non_null(j = json_loads(f->out, 0, NULL));
	assert_int_equal(json_array_size(json_object_get(j, "tokens")), 2);
	assert_non_null(b = json_object_get(j, "bundle"));
	assert_string_equal(json_string_value(json_object_get(b, "out")), f->path);
	assert_string_equal(json_string_value(json_object_get(b, "quota_id")), f->qb_hex);
	assert_int_equal(json_integer_value(json_object_get(b, "bytes")), f->b1.len);
	json_decref(j);
	file_is(f, &f->b1);
	/* without --bundle-out the JSON stays a list */
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--json", NULL), 0);
	assert_non_null(j = json_loads(f->out, 0, NULL));
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
}

static void
test_refusals(void **state)
{
	struct fx *f = *state;
	struct stat st;

	/* unknown device: NOT_FOUND, no file */
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-9", "--bundle-out", f->path,
	    NULL), 1);
	HAS(f->err, "NOT_FOUND");
	assert_int_equal(stat(f->path, &st), -1);
	/* usage: --quota-id or --force without --bundle-out, a bad quota ID */
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--quota-id",
	    f->qa_hex, NULL), 2);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--force", NULL), 2);
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-1", "--bundle-out", f->path,
	    "--quota-id", "abcd", NULL), 2);
	HAS(f->err, "16 bytes in hex");
	/* a folder that does not exist */
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--bundle-out",
	    "/nonexistent-tally/x.bundle", NULL), 2);
	HAS(f->err, "/nonexistent-tally/x.bundle");
	assert_int_equal(stat(f->path, &st), -1);
}

/* A token under a quota that requires attestation shows what the DUT's
 * attestation said: key ID, boot key hash, software version. */
static void
test_attested_token(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *att = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct th_quota tq = { .units = 3, .attestation_keys = &att, .n_attestation_keys = 1 };
	uint8_t qid[16], *env = NULL, nonce[32], boot[32], rec[TALLY_ATTESTATION_MAX], kid[32];
	struct jig_issue_args a = { .quota_id = qid, .uid = (const uint8_t *)"dut-att",
	    .uid_len = 7 };
	struct jig_client *c = NULL;
	struct jig_refusal ref;
	struct got g = { 0 };
	char kid_hex[65];
	size_t len, rec_len;
	int64_t exp;
	int reissued;
	json_t *j, *o;

	assert_non_null(att);
	memset(boot, 0xb0, sizeof(boot));
	assert_int_equal(th_make_quota(f->t, &tq, qid, &env, &len), 0);
	assert_int_equal(th_import_code(f->t, env, len), 0);
	assert_int_equal(th_jig_connect(f->t, 0, 0, &c), 0);
	assert_int_equal(jig_client_challenge(c, nonce, &exp, &ref), 0);
	assert_int_equal(tally_attestation_make(att, nonce, a.uid, a.uid_len, boot, 0x0102,
	    rec, sizeof(rec), &rec_len), 0);
	a.nonce = nonce;
	a.attestation = rec;
	a.attestation_len = rec_len;
	assert_int_equal(jig_client_issue(c, &a, &g.bundle, &g.len, &reissued, &ref), 0);
	jig_client_close(c);
	assert_int_equal(tally_key_id(att, kid), 0);
	tally_hex(kid, 32, kid_hex);

	assert_int_equal(ctl(f, "token", "show", "--text", "dut-att", NULL), 0);
	HAS(f->out, "attested by:");
	HAS(f->out, kid_hex);
	HAS(f->out, "software:        258");
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-att", "--json", NULL), 0);
	assert_non_null(j = json_loads(f->out, 0, NULL));
	assert_non_null(o = json_object_get(json_array_get(j, 0), "attestation"));
	assert_string_equal(json_string_value(json_object_get(o, "key_id")), kid_hex);
	assert_int_equal(json_integer_value(json_object_get(o, "software_version")), 0x0102);
	json_decref(j);
	/* a token without attestation has no such object */
	assert_int_equal(ctl(f, "token", "show", "--text", "dut-2", "--json", NULL), 0);
	assert_non_null(j = json_loads(f->out, 0, NULL));
	assert_null(json_object_get(json_array_get(j, 0), "attestation"));
	json_decref(j);
	free(g.bundle);
	free(env);
	EVP_PKEY_free(att);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bundle_of_the_only_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_file_needs_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_quotas_need_quota_id, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attested_token, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
