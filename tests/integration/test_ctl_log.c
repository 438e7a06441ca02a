/* test_ctl_log.c - the Merkle log through tallyd's control socket, on a
 * real tallyd: inclusion proofs of several entries and a consistency proof
 * between two checkpoints verify (RFC 9162) against checkpoints signed by
 * the appliance key, as tallyctl verifies them too; an export of a 20k-
 * entry log streams in order (header, quotas, jigs, entries, checkpoint)
 * while tallyd's memory stays flat; after an OEM receipt the next export
 * starts at the receipted size and carries a consistency proof from it;
 * the checkpoint timer signs checkpoints without an export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "checkpoint.h"
#include "cosignature.h"
#include "err.h"
#include "key.h"
#include "merkle.h"
#include "log.pb-c.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "tests/harness/th_log.h"
#include "util.h"

#define BIG_LOG 20000   /* tokens in the large export */

/* --- small helpers --- */

/* One control request whose answer must be OK with body want. */
static Tally__CtlResponse *
ctl_ok(struct th *t, Tally__CtlRequest *rq, Tally__CtlResponse__BodyCase want)
{
	Tally__CtlResponse *resp = NULL;

	rq->request_id = 0;
	assert_int_equal(th_ctl(t, rq, &resp), 0);
	if (resp->error != 0)
		fprintf(stderr, "# refused: %d %s\n", resp->error, resp->message);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->body_case, want);
	return resp;
}

/* The error code tallyd answers rq with. */
static int
ctl_code(struct th *t, Tally__CtlRequest *rq)
{
	Tally__CtlResponse *resp = NULL;
	int code;

	rq->request_id = 0;
	assert_int_equal(th_ctl(t, rq, &resp), 0);
	code = resp->error;
	tally__ctl_response__free_unpacked(resp, NULL);
	return code;
}

/* `tallyctl checkpoint`: signs one of the current log; its size. */
static uint64_t
checkpoint_now(struct th *t, char **note)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__CheckpointRequest body = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__CtlResponse *resp;
	uint64_t size;

	rq.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	rq.checkpoint = &body;
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_CHECKPOINT);
	size = resp->checkpoint->tree_size;
	if (note != NULL)
		*note = strdup(resp->checkpoint->note);
	tally__ctl_response__free_unpacked(resp, NULL);
	return size;
}

/* Verifies note by the appliance key: its size and root into *size, root. */
static void
note_verify(struct th *t, const char *note, uint64_t *size, uint8_t root[32])
{
	assert_int_equal(th_note_verify(t, note, size, root), 0);
}

/* A log export read and checked by th_export_read. */
static void
export_do(struct th *t, bool full, struct th_export_seen *s, long *rss)
{
	assert_int_equal(th_export_read(t, full, rss != NULL ? 1500 : 0, rss, s), 0);
}

static void
hashes_copy(const ProtobufCBinaryData *h, size_t n, uint8_t (*out)[32])
{
	assert_true(n <= TALLY_PROOF_MAX);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(h[i].len, 32);
		memcpy(out[i], h[i].data, 32);
	}
}

/* n tokens for UIDs prefix-0..prefix-(n-1) (8 bytes each) through jig 0,
 * pipelined 64 at a time. */
static void
issue_many(struct th *t, uint32_t prefix, size_t n)
{
	static uint8_t uids[TH_PIPELINE_MAX][8];
	struct th_issue_res res[TH_PIPELINE_MAX];
	struct jig_client *c = NULL;
	size_t done = 0, k, m;

	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	for (k = 0; k < TH_PIPELINE_MAX; k++)
		res[k] = (struct th_issue_res){ .code = -1 };
	while (done < n) {
		m = n - done < TH_PIPELINE_MAX ? n - done : TH_PIPELINE_MAX;
		for (k = 0; k < m; k++) {
			uint32_t v = (uint32_t)(done + k);
			memcpy(uids[k], &prefix, 4);
			memcpy(uids[k] + 4, &v, 4);
		}
		assert_int_equal(th_issue_pipelined(c, "widget", &uids[0][0], 8, m, res), 0);
		for (k = 0; k < m; k++)
			assert_int_equal(res[k].code, 0);
		th_issue_res_clear(res, m);
		done += m;
	}
	jig_client_close(c);
}

/* --- inclusion proofs --- */

/* Asks for the proof of index in the tree of size (0: latest checkpoint)
 * and verifies it all; returns the tree size it was proven in. */
static uint64_t
proof_verify(struct th *t, uint64_t index, uint64_t size)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogProofRequest body = TALLY__LOG_PROOF_REQUEST__INIT;
	Tally__LogProofResponse *p;
	Tally__CtlResponse *resp;
	Tally__LogEntry *e;
	uint8_t h[TALLY_PROOF_MAX][32], leaf[32], root[32];
	uint64_t nsize, got;

	body.index = index;
	body.tree_size = size;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_PROOF;
	rq.log_proof = &body;
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_LOG_PROOF);
	p = resp->log_proof;
	assert_int_equal(p->index, index);
	/* the entry is that log entry, and its leaf hash the one proven */
	assert_non_null(e = tally__log_entry__unpack(NULL, p->entry.len, p->entry.data));
	assert_int_equal(e->index, index);
	tally__log_entry__free_unpacked(e, NULL);
	tally_merkle_leaf_hash(p->entry.data, p->entry.len, leaf);
	assert_int_equal(p->leaf_hash.len, 32);
	assert_memory_equal(leaf, p->leaf_hash.data, 32);
	hashes_copy(p->hashes, p->n_hashes, h);
	assert_int_equal(p->root_hash.len, 32);
	assert_int_equal(tally_merkle_verify_inclusion(leaf, index, p->tree_size,
	    (const uint8_t (*)[32])h, p->n_hashes, p->root_hash.data), 0);
	/* the root is the one the appliance signed at that size */
	note_verify(t, p->checkpoint, &nsize, root);
	assert_int_equal(nsize, p->tree_size);
	assert_memory_equal(root, p->root_hash.data, 32);
	/* a changed audit path does not verify */
	if (p->n_hashes > 0) {
		h[0][5] ^= 1;
		assert_int_not_equal(tally_merkle_verify_inclusion(leaf, index, p->tree_size,
		    (const uint8_t (*)[32])h, p->n_hashes, p->root_hash.data), 0);
	}
	got = p->tree_size;
	tally__ctl_response__free_unpacked(resp, NULL);
	return got;
}

static void
test_log_proof(void **state)
{
	struct th *t = *state;
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogProofRequest body = TALLY__LOG_PROOF_REQUEST__INIT;
	const uint64_t idx[] = { 0, 1, 2, 5, 8, 13 };
	char *out = NULL, *err = NULL, arg[24];
	uint64_t first, size;
	size_t i;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 100, NULL), 0);
	/* no checkpoint yet: NOT_FOUND */
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_PROOF;
	rq.log_proof = &body;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__NOT_FOUND);
	issue_many(t, 1, 6);
	first = checkpoint_now(t, NULL);
	issue_many(t, 2, 11);
	size = checkpoint_now(t, NULL);
	assert_true(size >= first + 11);
	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		assert_int_equal(proof_verify(t, idx[i], 0), size);
	assert_int_equal(proof_verify(t, size - 1, 0), size);
	/* against the earlier checkpoint */
	assert_int_equal(proof_verify(t, first - 1, first), first);
	assert_int_equal(proof_verify(t, 0, first), first);
	/* out of range: BAD_REQUEST */
	body.index = size;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__BAD_REQUEST);
	body.index = 0;
	body.tree_size = size + 1000;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__BAD_REQUEST);
	/* tallyctl verifies it too */
	snprintf(arg, sizeof(arg), "%llu", (unsigned long long)(size / 2));
	assert_int_equal(th_run_tallyctl(t, &out, &err, (const char *const[]){ "log", "proof",
	    "--index", arg, "--json", NULL }), 0);
	assert_non_null(strstr(out, "\"verified\": true"));
	free(out);
	free(err);
	assert_int_equal(th_run_tallyctl(t, &out, &err, (const char *const[]){ "log", "proof",
	    "--index", "3", "--key", t->oem_pub_path, NULL }), 1);  /* not the appliance key */
	assert_non_null(strstr(err, "NOT VERIFIED"));
	free(out);
	free(err);
	assert_true(th_log_wait(t, "operator uid", 1000));
	assert_int_equal(th_stop_clean(t), 0);
}

/* --- consistency proofs --- */

static void
test_log_consistency(void **state)
{
	struct th *t = *state;
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogConsistencyRequest body = TALLY__LOG_CONSISTENCY_REQUEST__INIT;
	Tally__LogConsistencyResponse *p;
	Tally__CtlResponse *resp;
	uint8_t h[TALLY_PROOF_MAX][32], root[32];
	char *out = NULL, *err = NULL, arg[24], *note_m = NULL;
	uint64_t m, n, size;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 200, NULL), 0);
	issue_many(t, 1, 7);
	m = checkpoint_now(t, &note_m);
	issue_many(t, 2, 29);   /* more tokens in between */
	n = checkpoint_now(t, NULL);
	assert_true(n >= m + 29);
	body.from_size = m;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_CONSISTENCY;
	rq.log_consistency = &body;
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_LOG_CONSISTENCY);
	p = resp->log_consistency;
	assert_int_equal(p->from_size, m);
	assert_int_equal(p->to_size, n);
	hashes_copy(p->hashes, p->n_hashes, h);
	assert_int_equal(p->from_root.len, 32);
	assert_int_equal(p->to_root.len, 32);
	assert_int_equal(tally_merkle_verify_consistency(m, n, p->from_root.data, p->to_root.data,
	    (const uint8_t (*)[32])h, p->n_hashes), 0);
	/* both roots are signed: the older one is the checkpoint seen before */
	assert_string_equal(p->from_checkpoint, note_m);
	note_verify(t, p->from_checkpoint, &size, root);
	assert_int_equal(size, m);
	assert_memory_equal(root, p->from_root.data, 32);
	note_verify(t, p->to_checkpoint, &size, root);
	assert_int_equal(size, n);
	assert_memory_equal(root, p->to_root.data, 32);
	/* a changed proof does not verify */
	assert_true(p->n_hashes > 0);
	h[p->n_hashes - 1][0] ^= 0x80;
	assert_int_not_equal(tally_merkle_verify_consistency(m, n, p->from_root.data,
	    p->to_root.data, (const uint8_t (*)[32])h, p->n_hashes), 0);
	tally__ctl_response__free_unpacked(resp, NULL);
	/* sizes out of range */
	body.from_size = 0;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__BAD_REQUEST);
	body.from_size = n;
	body.to_size = m;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__BAD_REQUEST);
	/* tallyctl verifies it too */
	snprintf(arg, sizeof(arg), "%llu", (unsigned long long)m);
	assert_int_equal(th_run_tallyctl(t, &out, &err, (const char *const[]){ "log",
	    "consistency", "--from", arg, NULL }), 0);
	assert_non_null(strstr(out, "verified:"));
	free(out);
	free(err);
	free(note_m);
	assert_int_equal(th_stop_clean(t), 0);
}

/* --- exports --- */

static void
test_export_large(void **state)
{
	struct th *t = *state;
	struct th_export_seen s;
	uint64_t log_size;
	long rss0, rss1;
	char *out = NULL, *err = NULL, path[TH_PATH + 16];

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", BIG_LOG + 100, NULL), 0);
	assert_int_equal(th_quota_code(t, "gadget", 10, NULL), 0);
	issue_many(t, 7, BIG_LOG);
	assert_int_equal(th_log_size(t, &log_size), 0);
	assert_true(log_size >= BIG_LOG + 5);
	rss0 = th_rss_kb(t->pid);
	export_do(t, false, &s, &rss1);
	assert_int_equal(s.hdr->first_index, 0);
	assert_int_equal(s.quotas, 2);
	assert_int_equal(s.jigs, 2);
	assert_int_equal(s.entries, log_size);
	assert_memory_equal(s.hdr->appliance_public_key.data, t->appliance_spki,
	    t->appliance_spki_len);
	/* bounded memory: while the reader paused after the header, tallyd
	 * held far less than the log (it reads the log as the output drains) */
	fprintf(stderr, "# export of %llu entries, %llu bytes: tallyd RSS %ld kB before, "
	    "%ld kB with the reader paused\n", (unsigned long long)s.entries,
	    (unsigned long long)s.bytes, rss0, rss1);
	assert_true(rss0 > 0 && rss1 > 0);
	assert_true((rss1 - rss0) * 1024 < (long)(s.bytes / 4));
	th_export_seen_free(&s);
	/* tallyctl writes the same export; no progress lines when stderr is a file */
	snprintf(path, sizeof(path), "%s/big.tlx", t->dir);
	assert_int_equal(th_run_tallyctl(t, &out, &err, (const char *const[]){ "log", "export",
	    "--out", path, NULL }), 0);
	assert_non_null(strstr(out, "entries (0.."));
	assert_string_equal(err, "");
	free(out);
	free(err);
	unlink(path);
	assert_true(th_log_wait(t, "log export sent", 5000));
	assert_int_equal(th_stop_clean(t), 0);
}

/* Cosigns note with the OEM key: the receipt text (free()). */
static char *
make_receipt(struct th *t, const char *note)
{
	char *receipt = NULL;

	assert_int_equal(tally_cosign(t->oem_key, note, strlen(note), tally_now(), &receipt), 0);
	return receipt;
}

static void
test_export_after_receipt(void **state)
{
	struct th *t = *state;
	struct th_export_seen s1, s2, s3;
	uint8_t h[TALLY_PROOF_MAX][32], root1[32];
	char *out = NULL, *err = NULL, path[TH_PATH + 16], *receipt;
	uint64_t size1;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 500, NULL), 0);
	issue_many(t, 1, 40);
	export_do(t, false, &s1, NULL);
	assert_int_equal(s1.hdr->first_index, 0);
	note_verify(t, s1.note, &size1, root1);
	/* the OEM receipts it; tallyctl imports the receipt */
	receipt = make_receipt(t, s1.note);
	snprintf(path, sizeof(path), "%s/receipt.txt", t->dir);
	assert_int_equal(tally_write_file(path, (uint8_t *)receipt, strlen(receipt), 0600), 0);
	assert_int_equal(th_run_tallyctl(t, &out, &err, (const char *const[]){ "receipt", "import",
	    path, NULL }), 0);
	assert_non_null(strstr(out, "imported the OEM receipt for tree size"));
	free(out);
	free(err);
	assert_true(th_log_wait(t, "receipt import done", 5000));
	issue_many(t, 2, 25);
	/* the next export starts at the receipted size */
	export_do(t, false, &s2, NULL);
	assert_int_equal(s2.hdr->first_index, size1);
	assert_string_equal(s2.hdr->prev_checkpoint, s1.note);
	assert_int_equal(s2.entries, 26);   /* the receipt entry and 25 tokens */
	hashes_copy(s2.hdr->consistency_proof, s2.hdr->n_consistency_proof, h);
	assert_int_equal(tally_merkle_verify_consistency(size1, size1 + s2.entries, root1,
	    s2.root, (const uint8_t (*)[32])h, s2.hdr->n_consistency_proof), 0);
	assert_int_equal(s2.quotas, 1);
	assert_int_equal(s2.jigs, 1);
	/* --full starts at 0 again and ends at the same checkpoint */
	export_do(t, true, &s3, NULL);
	assert_int_equal(s3.hdr->first_index, 0);
	assert_int_equal(s3.entries, size1 + s2.entries);
	assert_string_equal(s3.note, s2.note);
	th_export_seen_free(&s1);
	th_export_seen_free(&s2);
	th_export_seen_free(&s3);
	free(receipt);
	assert_int_equal(th_stop_clean(t), 0);
}

static void
test_receipt_refused(void **state)
{
	struct th *t = *state;
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__ReceiptImportRequest body = TALLY__RECEIPT_IMPORT_REQUEST__INIT;
	EVP_PKEY *other = NULL;
	char *note = NULL, *receipt = NULL, *big;

	assert_int_equal(th_enroll(t, 0), 0);
	checkpoint_now(t, &note);
	rq.body_case = TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT;
	rq.receipt_import = &body;
	/* cosigned by another key than the OEM root */
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	assert_int_equal(tally_cosign(other, note, strlen(note), tally_now(), &receipt), 0);
	body.receipt = receipt;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__RECEIPT_INVALID);
	/* empty, and larger than a note: refused before the writer */
	body.receipt = (char *)"";
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__BAD_REQUEST);
	assert_non_null(big = malloc(TALLY_NOTE_MAX + 2));
	memset(big, 'a', TALLY_NOTE_MAX + 1);
	big[TALLY_NOTE_MAX + 1] = '\0';
	body.receipt = big;
	assert_int_equal(ctl_code(t, &rq), TALLY__ERROR_CODE__BAD_REQUEST);
	assert_true(th_log_wait(t, "receipt import refused", 5000));
	free(big);
	free(receipt);
	free(note);
	EVP_PKEY_free(other);
	assert_int_equal(th_stop_clean(t), 0);
}

/* --- checkpoint timer --- */

/* Tree size of the latest stored checkpoint, read without signing one. */
static uint64_t
latest_checkpoint(struct th *t)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogProofRequest body = TALLY__LOG_PROOF_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint64_t size = 0;

	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_PROOF;
	rq.log_proof = &body;
	assert_int_equal(th_ctl(t, &rq, &resp), 0);
	if (resp->error == 0)
		size = resp->log_proof->tree_size;
	tally__ctl_response__free_unpacked(resp, NULL);
	return size;
}

static bool
wait_checkpoint(struct th *t, uint64_t size, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 100; i++) {
		if (latest_checkpoint(t) == size)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/* A jig that issues 20000 tokens as fast as tallyd answers: no rate limit. */
static int
setup_unlimited(void **state)
{
	return th_cmocka_setup_with(state, "rate_limit = 0\n");
}

static int
setup_timer(void **state)
{
	struct th *t;

	if (th_setup(&t, &(struct th_opts){ .njigs = 1,
	    .extra_config = "checkpoint_interval = 1\n" }) != 0)
		return -1;
	*state = t;
	return 0;
}

static void
test_checkpoint_timer(void **state)
{
	struct th *t = *state;
	uint64_t size;

	assert_true(th_log_wait(t, "a checkpoint every 1 s", 5000));
	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 50, NULL), 0);
	issue_many(t, 1, 5);
	assert_int_equal(th_log_size(t, &size), 0);
	assert_true(wait_checkpoint(t, size, 5000));
	proof_verify(t, size - 1, 0);
	issue_many(t, 2, 3);
	assert_int_equal(th_log_size(t, &size), 0);
	assert_true(wait_checkpoint(t, size, 5000));
	assert_true(th_log_contains(t, "timed checkpoint: tree size"));
	assert_int_equal(th_stop_clean(t), 0);
	/* 0 turns the timer off; out of range stops tallyd at start */
	assert_int_equal(th_write_config(t, "checkpoint_interval = 0\n"), 0);
	assert_int_equal(th_start(t), 0);
	assert_true(th_log_wait(t, "no timed checkpoints", 5000));
	assert_int_equal(th_stop_clean(t), 0);
	assert_int_equal(th_write_config(t, "checkpoint_interval = 86401\n"), 0);
	assert_int_not_equal(th_start(t), 0);
	assert_true(th_log_contains(t, "checkpoint_interval: not a number in 0..86400"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_proof, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_log_consistency, th_cmocka_setup,
		    th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_export_large, setup_unlimited,
		    th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_export_after_receipt, th_cmocka_setup,
		    th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_refused, th_cmocka_setup,
		    th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_timer, setup_timer,
		    th_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
