/* test_storage_faults.c - storage faults of a real tallyd (docs/storage.md
 * "Map size and STORAGE_FULL", "A damaged store"):
 *  - LMDB map full (map_size_mb = 1): issuance stops with STORAGE_FULL;
 *    status, quota list, reissues, checkpoints and a log export keep
 *    working; the export reconciles with every token received; after a
 *    restart with map_size_mb = 8 issuance resumes and counters agree;
 *  - a full file system (data_dir on a 1 MiB tmpfs, root only; skipped
 *    otherwise): the same checks, then a filler file is deleted and
 *    issuance resumes WITHOUT a restart;
 *  - a damaged data file (truncated, one page overwritten, both meta
 *    pages overwritten) and a lock file that is a folder: tallyd exits
 *    non-zero without serving and says which file; a lock file of
 *    garbage is rebuilt (it holds no data) and tallyd serves the same log.
 * Real tallyd, TLS and LMDB (harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <openssl/rand.h>
#include <cmocka.h>

#include "err.h"
#include "oem/reconcile.h"
#include "util.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "tests/harness/th_proc.h"

#define UID_LEN 8
#define BATCH 32
#define MAX_UIDS 20000

struct got {                 /* tokens received */
	uint8_t (*uid)[UID_LEN];
	uint8_t **env;
	size_t *len;
	size_t n;
	uint32_t next;           /* next fresh UID */
};

struct fixture {
	struct th *t;
	bool mounted;
	struct got g;
};

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->env[i]);
	free(g->uid);
	free(g->env);
	free(g->len);
	memset(g, 0, sizeof(*g));
}

static void
uid_make(uint8_t uid[UID_LEN], uint32_t k)
{
	memcpy(uid, "stor", 4);
	uid[4] = (uint8_t)(k >> 24);
	uid[5] = (uint8_t)(k >> 16);
	uid[6] = (uint8_t)(k >> 8);
	uid[7] = (uint8_t)k;
}

/* Batches of fresh UIDs until one answer is STORAGE_FULL (then true) or
 * max more tokens came (false). Every token received is kept. */
static bool
issue_until_full(struct th *t, struct got *g, size_t max)
{
	uint8_t uids[BATCH][UID_LEN];
	struct th_issue_res res[BATCH];
	struct jig_client *c = NULL;
	bool full = false;
	size_t end = g->n + max;

	if (g->uid == NULL) {
		assert_non_null(g->uid = calloc(MAX_UIDS, UID_LEN));
		assert_non_null(g->env = calloc(MAX_UIDS, sizeof(*g->env)));
		assert_non_null(g->len = calloc(MAX_UIDS, sizeof(*g->len)));
	}
	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	while (!full && g->n < end) {
		assert_true(g->n + BATCH <= MAX_UIDS);
		for (size_t k = 0; k < BATCH; k++)
			uid_make(uids[k], g->next++);
		assert_int_equal(th_issue_pipelined(c, "widget", &uids[0][0], UID_LEN, BATCH, res), 0);
		for (size_t k = 0; k < BATCH; k++) {
			if (res[k].code == TALLY__ERROR_CODE__STORAGE_FULL) {
				full = true;
				continue;
			}
			assert_int_equal(res[k].code, 0);
			assert_false(res[k].reissued);
			memcpy(g->uid[g->n], uids[k], UID_LEN);
			assert_int_equal(th_bundle_token(res[k].bundle, res[k].bundle_len,
			    &g->env[g->n], &g->len[g->n]), 0);
			g->n++;
		}
		th_issue_res_clear(res, BATCH);
	}
	jig_client_close(c);
	return full;
}

/* The first and last UIDs received, asked again: same bytes, reissued. */
static void
reissue_same(struct th *t, const struct got *g)
{
	uint8_t uids[2][UID_LEN], *env = NULL;
	struct th_issue_res res[2];
	struct jig_client *c = NULL;
	size_t which[2] = { 0, g->n - 1 }, len;

	memcpy(uids[0], g->uid[which[0]], UID_LEN);
	memcpy(uids[1], g->uid[which[1]], UID_LEN);
	assert_int_equal(th_jig_connect(t, 1, 0, &c), 0);
	assert_int_equal(th_issue_pipelined(c, "widget", &uids[0][0], UID_LEN, 2, res), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(res[k].code, 0);
		assert_true(res[k].reissued);
		assert_int_equal(th_bundle_token(res[k].bundle, res[k].bundle_len, &env, &len), 0);
		assert_int_equal(len, g->len[which[k]]);
		assert_memory_equal(env, g->env[which[k]], len);
		free(env);
	}
	th_issue_res_clear(res, 2);
	jig_client_close(c);
}

static bool
status_full(struct th *t, uint64_t *tokens)
{
	Tally__CtlResponse *resp = NULL;
	bool full;

	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->error, 0);
	full = resp->status->storage_full;
	*tokens = resp->status->tokens_issued;
	tally__ctl_response__free_unpacked(resp, NULL);
	return full;
}

/* A log export (it signs and stores a checkpoint when the log grew):
 * no index gap, every received token in it with the same bytes, the
 * reconcile finds no anomaly and the checkpoint signs its root. */
static void
export_reconciles(struct th *t, const struct got *g)
{
	struct oem_reconcile_result res;
	struct th_log_tokens lt;
	char path[TH_PATH + 16];
	uint64_t entries = 0;
	size_t i, k;

	snprintf(path, sizeof(path), "%s/export.bin", t->dir);
	assert_int_equal(th_export(t, path, &entries), 0);
	assert_int_equal(th_export_tokens(path, &lt), 0);
	assert_int_equal(lt.n, g->n);
	for (i = 0; i < g->n; i++) {
		for (k = 0; k < lt.n; k++)
			if (lt.v[k].uid_len == UID_LEN && memcmp(lt.v[k].uid, g->uid[i], UID_LEN) == 0)
				break;
		assert_true(k < lt.n);
		assert_int_equal(lt.v[k].env_len, g->len[i]);
		assert_memory_equal(lt.v[k].env, g->env[i], g->len[i]);
	}
	th_log_tokens_free(&lt);
	assert_int_equal(oem_reconcile_file(path, t->oem_key, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_true(res.checkpoint_ok);
	assert_int_equal(res.entries, entries);
	assert_int_equal(res.n_tokens, g->n);
	oem_reconcile_result_free(&res);
	unlink(path);
}

/* Everything that must work on a full store. */
static void
full_store_serves(struct th *t, const struct got *g, const uint8_t qid[16])
{
	uint64_t tokens = 0, issued = 0;

	assert_true(status_full(t, &tokens));
	assert_int_equal(tokens, g->n);
	assert_int_equal(th_quota_counts(t, qid, NULL, &issued), 0);
	assert_int_equal(issued, g->n);
	reissue_same(t, g);
	export_reconciles(t, g);
	assert_true(th_log_contains(t, "storage full") || th_log_contains(t, "storage is full"));
}

static void
prepare(struct th *t, uint8_t qid[16])
{
	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_enroll(t, 1), 0);
	assert_int_equal(th_quota_code(t, "widget", 1000000, qid), 0);
}

static int
setup_map(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct th_opts o = { .njigs = 2,
	    .extra_config = "map_size_mb = 1\nrate_limit = 0\n" };

	if (f == NULL || th_setup(&f->t, &o) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	if (f->t != NULL && f->t->pid != 0)
		th_kill(f->t, SIGKILL);
	if (f->mounted && umount2(f->t->data_dir, MNT_DETACH) != 0)
		fprintf(stderr, "# umount %s: %s\n", f->t->data_dir, strerror(errno));
	th_cleanup(f->t);
	got_free(&f->g);
	free(f);
	return 0;
}

static void
test_map_full(void **state)
{
	struct fixture *f = *state;
	struct th *t = f->t;
	uint8_t qid[16];
	uint64_t tokens = 0, issued = 0;
	size_t before;

	prepare(t, qid);
	assert_true(issue_until_full(t, &f->g, MAX_UIDS / 2));
	print_message("# map of 1 MiB full after %zu tokens\n", f->g.n);
	assert_true(f->g.n > 0);
	full_store_serves(t, &f->g, qid);

	/* a larger map and a restart: issuance resumes, nothing lost */
	th_stop(t, 20000);
	assert_int_equal(th_write_config(t, "map_size_mb = 8\nrate_limit = 0\n"), 0);
	assert_int_equal(th_start(t), 0);
	assert_false(status_full(t, &tokens));
	assert_int_equal(tokens, f->g.n);
	before = f->g.n;
	assert_false(issue_until_full(t, &f->g, 64));
	assert_int_equal(f->g.n, before + 64);
	assert_int_equal(th_quota_counts(t, qid, NULL, &issued), 0);
	assert_int_equal(issued, f->g.n);
	reissue_same(t, &f->g);
	export_reconciles(t, &f->g);
	assert_int_equal(th_stop_clean(t), 0);
}

static int
setup_tmpfs(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	/* fills the store as fast as tallyd answers: no per-jig rate limit */
	struct th_opts o = { .njigs = 2, .extra_config = "rate_limit = 0\n" };

	if (f == NULL || (f->t = calloc(1, sizeof(*f->t))) == NULL ||
	    th_init(f->t, &o) != 0 || mkdir(f->t->data_dir, 0700) != 0) {
		*state = f;
		return f == NULL ? -1 : 0;
	}
	*state = f;
	if (geteuid() == 0 && mount("tally-test", f->t->data_dir, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=1m,mode=0700") == 0)
		f->mounted = true;
	return 0;
}

static void
test_fs_full(void **state)
{
	struct fixture *f = *state;
	struct th *t = f->t;
	char filler[TH_PATH + 16];
	uint8_t qid[16], *junk;
	uint64_t issued = 0, tokens = 0;
	size_t before;

	if (geteuid() != 0) {
		print_message("# skipped: mounting a tmpfs needs root\n");
		skip();
	}
	if (!f->mounted) {
		print_message("# skipped: mount -t tmpfs failed here\n");
		skip();
	}
	snprintf(filler, sizeof(filler), "%s/filler", t->data_dir);
	assert_non_null(junk = calloc(1, 256u << 10));
	assert_int_equal(tally_write_file(filler, junk, 256u << 10, 0600), 0);
	free(junk);
	assert_int_equal(th_start(t), 0);
	prepare(t, qid);
	assert_true(issue_until_full(t, &f->g, MAX_UIDS / 2));
	print_message("# 1 MiB file system full after %zu tokens\n", f->g.n);
	assert_true(f->g.n > 0);
	assert_true(th_log_contains(t, "batch aborted, nothing written: storage full"));
	full_store_serves(t, &f->g, qid);

	/* room made, no restart: the next batch commits and clears the mark */
	assert_int_equal(unlink(filler), 0);
	before = f->g.n;
	assert_false(issue_until_full(t, &f->g, 64));
	assert_int_equal(f->g.n, before + 64);
	assert_false(status_full(t, &tokens));
	assert_int_equal(tokens, f->g.n);
	assert_int_equal(th_quota_counts(t, qid, NULL, &issued), 0);
	assert_int_equal(issued, f->g.n);
	export_reconciles(t, &f->g);
	assert_int_equal(th_stop_clean(t), 0);
}

/* --- damaged files --- */

static int
setup_damage(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	/* fills a small store as fast as tallyd answers: no per-jig rate limit */
	struct th_opts o = { .njigs = 2, .extra_config = "rate_limit = 0\n" };
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__CheckpointRequest cr = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint8_t qid[16];

	if (f == NULL || th_setup(&f->t, &o) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	/* a store of some 30 pages: tokens, then a checkpoint; stopped */
	prepare(f->t, qid);
	assert_false(issue_until_full(f->t, &f->g, 256));
	rq.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	rq.checkpoint = &cr;
	assert_int_equal(th_ctl(f->t, &rq, &resp), 0);
	assert_int_equal(resp->error, 0);
	tally__ctl_response__free_unpacked(resp, NULL);
	assert_int_equal(th_stop_clean(f->t), 0);
	return 0;
}

/* tallyd on the damaged store: exits non-zero within 15 s, never listens,
 * and its stderr holds each of the needles (NULL-terminated). */
static void
refuses(struct th *t, const char *const *needles)
{
	const char *build = getenv("TALLY_BUILD") != NULL ? getenv("TALLY_BUILD") : "build/check";
	char bin[TH_PATH];
	const char *argv[] = { bin, "-c", t->conf_path, "--foreground", NULL };
	struct th_proc_res res;

	snprintf(bin, sizeof(bin), "%s/tallyd", build);
	assert_int_equal(th_proc_run(t->dir, argv, 15000, &res), 0);
	print_message("# tallyd said: %s", res.err);
	assert_false(res.timed_out);
	assert_true(WIFEXITED(res.status));
	assert_int_not_equal(WEXITSTATUS(res.status), 0);
	assert_null(strstr(res.err, "listening"));
	for (; *needles != NULL; needles++)
		assert_non_null(strstr(res.err, *needles));
	th_proc_res_free(&res);
}

static void
data_path(struct th *t, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", t->data_dir, name);
}

/* Writes len random bytes at offset off of path. */
static void
garbage_at(const char *path, off_t off, size_t len)
{
	uint8_t buf[4096];
	int fd;

	assert_true(len <= sizeof(buf));
	assert_int_equal(RAND_bytes(buf, (int)len), 1);
	assert_true((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void
test_truncated(void **state)
{
	struct fixture *f = *state;
	char path[TH_PATH + 16];
	const char *needles[] = { "data.mdb is truncated", "will not serve", NULL };

	data_path(f->t, "data.mdb", path, sizeof(path));
	assert_int_equal(truncate(path, file_size(path) / 2), 0);
	refuses(f->t, needles);
}

static void
test_meta_pages(void **state)
{
	struct fixture *f = *state;
	char path[TH_PATH + 16];
	const char *needles[] = { "data.mdb", "will not serve", NULL };

	data_path(f->t, "data.mdb", path, sizeof(path));
	garbage_at(path, 0, 4096);
	garbage_at(path, 4096, 4096);
	refuses(f->t, needles);
}

/* One byte of a log entry changed in place (a token's signature, found
 * in data.mdb by its bytes): LMDB reads the page without complaint, as it
 * keeps no checksums; the start-up check finds that the entry no longer
 * hashes to its stored leaf. */
static void
test_entry_byte(void **state)
{
	struct fixture *f = *state;
	char path[TH_PATH + 16];
	const char *needles[] = { "data.mdb is damaged",
	    "a log entry does not hash to its stored leaf", "will not serve", NULL };
	uint8_t *buf = NULL, *hit;
	size_t len;
	int fd;

	data_path(f->t, "data.mdb", path, sizeof(path));
	assert_int_equal(tally_read_file(path, 64u << 20, &buf, &len), 0);
	hit = memmem(buf, len, f->g.env[f->g.n / 2], f->g.len[f->g.n / 2]);
	assert_non_null(hit);
	hit += f->g.len[f->g.n / 2] - 8;   /* inside the signature */
	*hit ^= 0x01;
	assert_true((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(pwrite(fd, hit, 1, hit - buf), 1);
	close(fd);
	free(buf);
	refuses(f->t, needles);
}

static void
test_lock_folder(void **state)
{
	struct fixture *f = *state;
	char path[TH_PATH + 16];
	const char *needles[] = { "lock.mdb", NULL };

	data_path(f->t, "lock.mdb", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	refuses(f->t, needles);
	assert_int_equal(rmdir(path), 0);
}

/* lock.mdb holds only the reader table: garbage there is rebuilt by the
 * first process to open the store, and the same log is served. */
static void
test_lock_garbage(void **state)
{
	struct fixture *f = *state;
	char path[TH_PATH + 16];
	uint64_t tokens = 0;

	data_path(f->t, "lock.mdb", path, sizeof(path));
	garbage_at(path, 0, 4096);
	assert_int_equal(th_start(f->t), 0);
	assert_false(status_full(f->t, &tokens));
	assert_int_equal(tokens, f->g.n);
	reissue_same(f->t, &f->g);
	export_reconciles(f->t, &f->g);
	assert_int_equal(th_stop_clean(f->t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_full, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_fs_full, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup_damage, teardown),
		cmocka_unit_test_setup_teardown(test_meta_pages, setup_damage, teardown),
		cmocka_unit_test_setup_teardown(test_entry_byte, setup_damage, teardown),
		cmocka_unit_test_setup_teardown(test_lock_folder, setup_damage, teardown),
		cmocka_unit_test_setup_teardown(test_lock_garbage, setup_damage, teardown),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
