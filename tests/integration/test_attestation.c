/* test_attestation.c - the quota's attestation policy on a real tallyd
 * over the jig's mutually authenticated TLS (docs/protocol.md
 * "IssueToken"): a quota requiring attestation by a P-256 and an Ed25519
 * key; good records get tokens naming the key; an untrusted key, a clone
 * presenting another DUT's UID, a record for another UID, a record over
 * an earlier challenge, a nonce from another connection, a reused or
 * expired nonce, no record, malformed records and a second trusted key for
 * a UID that has its token are refused and spend nothing; every
 * ATTESTATION_FAILED is in the log; the export reconciles (library and
 * tally-oem, with and without a ledger) and reports the failures. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include "artifact.h"
#include "attest.h"
#include "dsse.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "ctl.pb-c.h"
#include "log.pb-c.h"
#include "oem/reconcile.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"

#define PRODUCT "secure-widget"
#define RUN_TIMEOUT_S 60

extern char **environ;

enum { K_P256, K_ED25519, K_CLONE, K_N };

struct afx {
	struct th *t;
	EVP_PKEY *att[K_N];          /* P-256 and Ed25519 trusted; a clone's own key */
	uint8_t kid[K_N][32];
	uint8_t qid[16];
	struct th_conn *c;           /* jig 0 */
};

static const uint8_t boot_hash[32] = { 0xb0, 0x07, 0x4b, 0x65, 0x79 };

/* An OEM-signed quota of 10 units requiring attestation by the P-256
 * and the Ed25519 key. */
static void
import_attested(struct afx *f)
{
	ProtobufCBinaryData keys[2], fw = { 32, (uint8_t *)th_firmware };
	Tally__Quota q = TALLY__QUOTA__INIT;
	uint8_t payload[4096], *env = NULL;
	size_t plen, envlen;
	int64_t now = tally_now();

	for (int i = 0; i < 2; i++)
		assert_int_equal(tally_key_spki(f->att[i], &keys[i].data, &keys[i].len), 0);
	assert_int_equal(RAND_bytes(f->qid, sizeof(f->qid)), 1);
	q.quota_id = (ProtobufCBinaryData){ 16, f->qid };
	q.appliance_key_id = (ProtobufCBinaryData){ 32, f->t->appliance_key_id };
	q.product = (char *)PRODUCT;
	q.n_firmware_digests = 1;
	q.firmware_digests = &fw;
	q.units = 10;
	q.not_before = now - 60;
	q.not_after = now + 86400;
	q.issued_at = now;
	q.attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
	q.n_attestation_public_keys = 2;
	q.attestation_public_keys = keys;
	assert_true(tally__quota__get_packed_size(&q) <= sizeof(payload));
	plen = tally__quota__pack(&q, payload);
	assert_int_equal(tally_dsse_sign(f->t->oem_key, TALLY_PT_QUOTA, payload, plen,
	    &env, &envlen), 0);
	assert_int_equal(th_import_code(f->t, env, envlen), 0);
	free(env);
	OPENSSL_free(keys[0].data);
	OPENSSL_free(keys[1].data);
}

static int
setup_with(void **state, const char *extra)
{
	struct afx *f = calloc(1, sizeof(*f));
	struct th_opts o = { .njigs = 2, .extra_config = extra };

	*state = f;
	if (f == NULL || th_setup(&f->t, &o) != 0)
		return -1;
	for (int i = 0; i < K_N; i++)
		if (tally_key_generate(i == K_ED25519 ? TALLY_KEY_ED25519 : TALLY_KEY_P256,
		    &f->att[i]) != 0 || tally_key_id(f->att[i], f->kid[i]) != 0)
			return -1;
	if (th_enroll(f->t, 0) != 0 || th_enroll(f->t, 1) != 0)
		return -1;
	import_attested(f);
	return th_tls_connect(f->t, &(struct th_tls_opts){ .jig = 0 }, &f->c) == 0 ? 0 : -1;
}

static int setup(void **state) { return setup_with(state, NULL); }
static int setup_ttl1(void **state) { return setup_with(state, "challenge_ttl = 1\n"); }

static int
teardown(void **state)
{
	struct afx *f = *state;

	if (f == NULL)
		return 0;
	if (f->c != NULL)
		th_tls_close(f->c);
	for (int i = 0; i < K_N; i++)
		EVP_PKEY_free(f->att[i]);
	th_cleanup(f->t);
	free(f);
	return 0;
}

/* An attestation record by key over nonce and uid (NUL-terminated). */
static size_t
record(EVP_PKEY *key, const uint8_t nonce[32], const char *uid,
    uint8_t out[TALLY_ATTESTATION_MAX + 8])
{
	size_t len = 0;

	assert_int_equal(tally_attestation_make(key, nonce, (const uint8_t *)uid,
	    strlen(uid), boot_hash, 0x00030002, out, TALLY_ATTESTATION_MAX, &len), 0);
	return len;
}

/* IssueToken for uid with nonce and the att_len bytes of att (att_len 0:
 * none). Returns the error code; *bundle (free(), may be NULL) the token
 * bundle, *reissued whether it was. */
static int
issue(struct th_conn *c, const uint8_t nonce[32], const char *uid, const uint8_t *att,
    size_t att_len, uint8_t **bundle, size_t *bundle_len, bool *reissued)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp = NULL;
	int code;

	it.product = (char *)PRODUCT;
	it.device_uid = (ProtobufCBinaryData){ strlen(uid), (uint8_t *)uid };
	it.nonce = (ProtobufCBinaryData){ 32, (uint8_t *)nonce };
	it.attestation = (ProtobufCBinaryData){ att_len, (uint8_t *)att };
	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	assert_int_equal(th_tls_call(c, &rq, &resp), 0);
	code = (int)resp->error;
	assert_true(code == 0 ? resp->issue_token != NULL : resp->message[0] != '\0');
	if (code == 0 && bundle != NULL) {
		*bundle_len = tally__token_bundle__get_packed_size(resp->issue_token->bundle);
		assert_non_null(*bundle = malloc(*bundle_len));
		tally__token_bundle__pack(resp->issue_token->bundle, *bundle);
	}
	if (reissued != NULL)
		*reissued = code == 0 && resp->issue_token->reissued;
	tally__response__free_unpacked(resp, NULL);
	return code;
}

/* Challenge, then IssueToken for uid with a record by key (NULL: none)
 * for rec_uid (NULL: uid). Returns the error code. */
static int
attempt(struct afx *f, const char *uid, EVP_PKEY *key, const char *rec_uid)
{
	uint8_t nonce[32], rec[TALLY_ATTESTATION_MAX + 8];
	size_t n = 0;

	assert_int_equal(th_challenge_code(f->c, nonce), 0);
	if (key != NULL)
		n = record(key, nonce, rec_uid != NULL ? rec_uid : uid, rec);
	return issue(f->c, nonce, uid, rec, n, NULL, NULL, NULL);
}

static uint64_t
issued(struct afx *f)
{
	uint64_t units = 0, n = 0;

	assert_int_equal(th_quota_counts(f->t, f->qid, &units, &n), 0);
	assert_int_equal(units, 10);
	return n;
}

/* A good record for uid by key k: a token naming k, its boot hash and
 * version, that verifies with only the OEM root. */
static void
good(struct afx *f, const char *uid, int k)
{
	uint8_t nonce[32], rec[TALLY_ATTESTATION_MAX + 8], *bundle = NULL;
	size_t n, blen = 0;
	Tally__Token *tok = NULL;
	bool re = true;

	assert_int_equal(th_challenge_code(f->c, nonce), 0);
	n = record(f->att[k], nonce, uid, rec);
	assert_int_equal(issue(f->c, nonce, uid, rec, n, &bundle, &blen, &re), 0);
	assert_false(re);
	assert_int_equal(tally_bundle_verify(bundle, blen, f->t->oem_key, (const uint8_t *)uid,
	    strlen(uid), th_firmware, tally_now(), &tok), 0);
	assert_int_equal(tok->attestation_key_id.len, 32);
	assert_memory_equal(tok->attestation_key_id.data, f->kid[k], 32);
	assert_int_equal(tok->boot_key_hash.len, 32);
	assert_memory_equal(tok->boot_key_hash.data, boot_hash, 32);
	assert_int_equal(tok->software_version, 0x00030002);
	assert_memory_equal(tok->nonce.data, nonce, 32);
	tally__token__free_unpacked(tok, NULL);
	free(bundle);
}

/* code must be ATTESTATION_FAILED; counts one refusal. */
static int
refused(int code)
{
	assert_int_equal(code, TALLY__ERROR_CODE__ATTESTATION_FAILED);
	return 1;
}

/* The records the DUT-side mistakes and attacks produce; returns how many
 * ATTESTATION_FAILED refusals it caused. */
static int
refusals(struct afx *f)
{
	uint8_t n1[32], n2[32], rec[TALLY_ATTESTATION_MAX + 8], big[TALLY_ATTESTATION_MAX + 1];
	size_t n;
	int failed = 0;

	/* wrong attestation key: a part the OEM never trusted */
	failed += refused(attempt(f, "dut-new", f->att[K_CLONE], NULL));
	/* a cloned DUT: dut-a's UID, its own untrusted key */
	failed += refused(attempt(f, "dut-a", f->att[K_CLONE], NULL));
	/* a genuine record for another UID replayed under this one */
	failed += refused(attempt(f, "dut-new", f->att[K_P256], "dut-other"));
	/* no record */
	failed += refused(attempt(f, "dut-new", NULL, NULL));
	/* a record over an earlier challenge of this connection */
	assert_int_equal(th_challenge_code(f->c, n1), 0);
	assert_int_equal(th_challenge_code(f->c, n2), 0);
	n = record(f->att[K_P256], n1, "dut-new", rec);
	failed += refused(issue(f->c, n2, "dut-new", rec, n, NULL, NULL, NULL));
	/* n2 was spent by that refusal: a nonce is single-use even when refused */
	assert_int_equal(issue(f->c, n2, "dut-new", rec, n, NULL, NULL, NULL),
	    TALLY__ERROR_CODE__NONCE_INVALID);

	/* malformed: truncated, trailing byte, bad magic (ATTESTATION_FAILED),
	 * longer than 254 bytes (BAD_REQUEST, not logged) */
	assert_int_equal(th_challenge_code(f->c, n2), 0);
	n = record(f->att[K_ED25519], n2, "dut-new", rec);
	failed += refused(issue(f->c, n2, "dut-new", rec, n - 1, NULL, NULL, NULL));
	assert_int_equal(th_challenge_code(f->c, n2), 0);
	n = record(f->att[K_ED25519], n2, "dut-new", rec);
	rec[n] = 0;
	failed += refused(issue(f->c, n2, "dut-new", rec, n + 1, NULL, NULL, NULL));
	assert_int_equal(th_challenge_code(f->c, n2), 0);
	n = record(f->att[K_ED25519], n2, "dut-new", rec);
	rec[0] = 'T';
	failed += refused(issue(f->c, n2, "dut-new", rec, n, NULL, NULL, NULL));
	assert_int_equal(th_challenge_code(f->c, n2), 0);
	memset(big, 0x41, sizeof(big));
	assert_int_equal(issue(f->c, n2, "dut-new", big, sizeof(big), NULL, NULL, NULL),
	    TALLY__ERROR_CODE__BAD_REQUEST);

	/* the other trusted key for a UID whose token names the first */
	failed += refused(attempt(f, "dut-a", f->att[K_ED25519], NULL));
	failed += refused(attempt(f, "dut-b", f->att[K_P256], NULL));
	return failed;
}

/* Nonces the challenge code refuses before attestation is looked at:
 * reused, from another connection. Nothing is logged for them. */
static void
nonce_refusals(struct afx *f)
{
	uint8_t nonce[32], rec[TALLY_ATTESTATION_MAX + 8];
	struct th_conn *other;
	size_t n;

	assert_int_equal(th_challenge_code(f->c, nonce), 0);
	n = record(f->att[K_P256], nonce, "dut-c", rec);
	assert_int_equal(issue(f->c, nonce, "dut-c", rec, n, NULL, NULL, NULL), 0);
	assert_int_equal(issue(f->c, nonce, "dut-c", rec, n, NULL, NULL, NULL),
	    TALLY__ERROR_CODE__NONCE_INVALID);
	assert_int_equal(th_tls_connect(f->t, &(struct th_tls_opts){ .jig = 1 }, &other), 0);
	assert_int_equal(th_challenge_code(other, nonce), 0);
	n = record(f->att[K_P256], nonce, "dut-d", rec);
	assert_int_equal(issue(f->c, nonce, "dut-d", rec, n, NULL, NULL, NULL),
	    TALLY__ERROR_CODE__NONCE_INVALID);
	th_tls_close(other);
}

/* The attestation_failed entries of an export file: how many, and that
 * each names jig 0, the quota and a reason. */
static uint64_t
count_failures(struct afx *f, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0, off = 0;
	uint64_t n = 0;

	assert_int_equal(tally_read_file(path, TALLY_FILE_MAX, &buf, &len), 0);
	while (off + 4 <= len) {
		size_t fl = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
		    (size_t)buf[off + 2] << 8 | buf[off + 3];
		Tally__ExportRecord *rec;
		Tally__LogEntry *e;

		assert_true(off + 4 + fl <= len);
		assert_non_null(rec = tally__export_record__unpack(NULL, fl, buf + off + 4));
		if (rec->body_case == TALLY__EXPORT_RECORD__BODY_ENTRY) {
			assert_non_null(e = tally__log_entry__unpack(NULL, rec->entry.len,
			    rec->entry.data));
			if (e->body_case == TALLY__LOG_ENTRY__BODY_ATTESTATION_FAILED) {
				const Tally__LogAttestationFailed *af = e->attestation_failed;

				assert_memory_equal(af->jig_key_id.data, f->t->jig[0].key_id, 32);
				assert_memory_equal(af->quota_id.data, f->qid, 16);
				assert_true(af->device_uid.len >= 1 && af->reason[0] != '\0');
				n++;
			}
			tally__log_entry__free_unpacked(e, NULL);
		}
		tally__export_record__free_unpacked(rec, NULL);
		off += 4 + fl;
	}
	assert_int_equal(off, len);
	free(buf);
	return n;
}

/* Runs argv with stdout into out_path; its exit status, or -1. */
static int
run(char *const argv[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	pid_t pid;
	int status, i;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	i = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (i != 0)
		return -1;
	for (i = 0; i < RUN_TIMEOUT_S * 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		nanosleep(&pause, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Does the file at path contain needle? */
static bool
file_has(const char *path, const char *needle)
{
	uint8_t *buf = NULL;
	size_t len;
	bool has;

	assert_int_equal(tally_read_file(path, TALLY_FILE_MAX, &buf, &len), 0);
	has = strstr((const char *)buf, needle) != NULL;
	free(buf);
	return has;
}

/* tally-oem reconcile of export (ledger: NULL or a folder), text, JSON
 * and HTML: exit 0 and the attestation failure counts in each. */
static void
oem_reconcile(struct afx *f, const char *export, const char *ledger, uint64_t total)
{
	const char *build = getenv("TALLY_BUILD") ? getenv("TALLY_BUILD") : "build/check";
	char bin[TH_PATH], out[TH_PATH + 16], html[TH_PATH + 16], want[160], hex[65];
	char *argv[12];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/tally-oem", build);
	snprintf(out, sizeof(out), "%s/reconcile.out", f->t->dir);
	snprintf(html, sizeof(html), "%s/report.html", f->t->dir);
	argv[n++] = bin;
	argv[n++] = (char *)"reconcile";
	argv[n++] = (char *)"--root";
	argv[n++] = f->t->oem_pub_path;
	if (ledger != NULL) {
		argv[n++] = (char *)"--ledger";
		argv[n++] = (char *)ledger;
	}
	argv[n++] = (char *)"--html";
	argv[n++] = html;
	argv[n++] = (char *)export;
	argv[n] = NULL;
	assert_int_equal(run(argv, out), 0);
	tally_hex(f->qid, 16, hex);
	snprintf(want, sizeof(want), "under quota %s: %llu\n", hex, (unsigned long long)total);
	assert_true(file_has(out, want));
	tally_hex(f->t->jig[0].key_id, 32, hex);
	snprintf(want, sizeof(want), "by jig %s: %llu\n", hex, (unsigned long long)total);
	assert_true(file_has(out, want));
	assert_true(file_has(out, "result:           OK, no anomaly"));
	assert_true(file_has(html, "Attestation failures by jig"));
	argv[n++] = (char *)"--json";
	argv[n] = NULL;
	assert_int_equal(run(argv, out), 0);
	snprintf(want, sizeof(want), "\"attestation_failed\": %llu", (unsigned long long)total);
	assert_true(file_has(out, want));
	assert_true(file_has(out, "\"attestation_failed_by_jig\""));
}

/* The library reconcile: no anomaly; failures counted per quota and jig. */
static void
lib_reconcile(struct afx *f, const char *export, uint64_t expect)
{
	struct oem_reconcile_result res;
	size_t q, j;

	assert_int_equal(oem_reconcile_file(export, f->t->oem_key, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.attestation_failed, expect);
	for (q = 0; q < res.n_quotas && memcmp(res.quotas[q].quota_id, f->qid, 16) != 0; q++)
		;
	assert_true(q < res.n_quotas);
	assert_int_equal(res.quotas[q].attestation_failed, expect);
	assert_int_equal(res.quotas[q].issued, 3);
	for (j = 0; j < res.n_jigs && memcmp(res.jigs[j].id, f->t->jig[0].key_id, 32) != 0; j++)
		;
	assert_true(j < res.n_jigs);
	assert_int_equal(res.jigs[j].attestation_failed, expect);
	oem_reconcile_result_free(&res);
}

static void
test_attested_quota(void **state)
{
	struct afx *f = *state;
	char export[TH_PATH + 16], ledger[TH_PATH + 16];
	uint64_t log_before, log_after;
	int failed;

	good(f, "dut-a", K_P256);
	good(f, "dut-b", K_ED25519);
	assert_int_equal(issued(f), 2);
	assert_int_equal(th_log_size(f->t, &log_before), 0);
	failed = refusals(f);
	assert_int_equal(issued(f), 2);                   /* nothing spent */
	assert_int_equal(th_log_size(f->t, &log_after), 0);
	assert_int_equal(log_after, log_before + (uint64_t)failed);  /* each one logged */

	/* the same key again for dut-a: the same token, free */
	{
		uint8_t nonce[32], rec[TALLY_ATTESTATION_MAX + 8];
		bool re = false;
		size_t n;

		assert_int_equal(th_challenge_code(f->c, nonce), 0);
		n = record(f->att[K_P256], nonce, "dut-a", rec);
		assert_int_equal(issue(f->c, nonce, "dut-a", rec, n, NULL, NULL, &re), 0);
		assert_true(re);
	}
	nonce_refusals(f);                                /* issues dut-c */
	assert_int_equal(issued(f), 3);
	assert_true(th_log_contains(f->t, "attestation refused"));

	snprintf(export, sizeof(export), "%s/export.tlx", f->t->dir);
	snprintf(ledger, sizeof(ledger), "%s/ledger", f->t->dir);
	assert_int_equal(th_export(f->t, export, NULL), 0);
	assert_int_equal(count_failures(f, export), (uint64_t)failed);
	lib_reconcile(f, export, (uint64_t)failed);
	oem_reconcile(f, export, NULL, (uint64_t)failed);
	oem_reconcile(f, export, ledger, (uint64_t)failed);

	/* Two more failures; the ledger adds them to what it kept. */
	assert_int_equal(attempt(f, "dut-x", f->att[K_CLONE], NULL),
	    TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(attempt(f, "dut-c", f->att[K_ED25519], NULL),
	    TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(th_export(f->t, export, NULL), 0);
	oem_reconcile(f, export, ledger, (uint64_t)failed + 2);
	assert_int_equal(th_stop_clean(f->t), 0);
}

/* An expired challenge is refused before attestation is looked at. */
static void
test_expired_nonce(void **state)
{
	struct afx *f = *state;
	uint8_t nonce[32], rec[TALLY_ATTESTATION_MAX + 8];
	uint64_t before, after;
	size_t n;

	assert_int_equal(th_log_size(f->t, &before), 0);
	assert_int_equal(th_challenge_code(f->c, nonce), 0);
	n = record(f->att[K_P256], nonce, "dut-late", rec);
	sleep(2);
	assert_int_equal(issue(f->c, nonce, "dut-late", rec, n, NULL, NULL, NULL),
	    TALLY__ERROR_CODE__NONCE_INVALID);
	assert_int_equal(issued(f), 0);
	assert_int_equal(th_log_size(f->t, &after), 0);
	assert_int_equal(after, before);
	good(f, "dut-late", K_ED25519);
	assert_int_equal(issued(f), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attested_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_nonce, setup_ttl1, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
