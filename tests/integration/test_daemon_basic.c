/* test_daemon_basic.c - tallyd starts, reports its listen address and
 * identity, keeps its control socket to its group, checks its
 * configuration, and stops cleanly. Real tallyd process (harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "artifact.h"
#include "checkpoint.h"
#include "err.h"
#include "tests/harness/harness.h"
#include "key.h"
#include "log.pb-c.h"
#include "merkle.h"
#include "util.h"

#define NOBODY 65534

static void
test_status_shows_port(void **state)
{
	struct th *t = *state;
	Tally__CtlResponse *resp = NULL;
	char want[64];

	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->error, 0);
	assert_int_equal(resp->body_case, TALLY__CTL_RESPONSE__BODY_STATUS);
	snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)t->port);
	assert_string_equal(resp->status->listen, want);
	assert_string_equal(resp->status->version, "0.1.0");
	assert_int_equal(resp->status->jig_connections, 0);
	assert_true(resp->status->started_at > tally_now() - 120);
	assert_true(resp->status->started_at <= tally_now());
	assert_int_equal(resp->status->appliance_key_id.len, 32);
	assert_memory_equal(resp->status->appliance_key_id.data, t->appliance_key_id, 32);
	tally__ctl_response__free_unpacked(resp, NULL);
	snprintf(want, sizeof(want), "listening on 127.0.0.1:%u", (unsigned)t->port);
	assert_true(th_log_contains(t, want));
}

static void
test_identity(void **state)
{
	struct th *t = *state;
	uint8_t id[32];
	EVP_PKEY *pub = NULL;
	struct stat st;

	/* key ID = SHA-256 of the SPKI tallyd reports */
	tally_key_id_spki(t->appliance_spki, t->appliance_spki_len, id);
	assert_memory_equal(id, t->appliance_key_id, 32);
	/* the key tallyd created on first start: P-256, mode 0600 */
	assert_int_equal(stat(t->key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tally_key_load_public(t->key_path, &pub), 0);
	assert_int_equal(tally_key_type(pub), TALLY_KEY_P256);
	assert_int_equal(tally_key_id(pub, id), 0);
	assert_memory_equal(id, t->appliance_key_id, 32);
	EVP_PKEY_free(pub);
}

static void
test_restart_keeps_identity(void **state)
{
	struct th *t = *state;
	uint8_t before[32];
	Tally__CtlResponse *resp = NULL;

	memcpy(before, t->appliance_key_id, 32);
	assert_int_equal(th_restart(t), 0);
	assert_memory_equal(before, t->appliance_key_id, 32);
	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->error, 0);
	tally__ctl_response__free_unpacked(resp, NULL);
}

/* In a child running as nobody: 0 when tallyd refused it as expected
 * (connect() denied when deny_connect, else a PERMISSION_DENIED reply and
 * no status), 1..n which check failed. */
static int
as_nobody(struct th *t, bool deny_connect)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__StatusRequest sr = TALLY__STATUS_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int fd, r;

	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 1;
	r = th_ctl_connect(t, &fd);
	if (deny_connect)
		return r != 0 && errno == EACCES ? 0 : 2;
	if (r != 0)
		return 3;
	rq.request_id = 7;
	rq.body_case = TALLY__CTL_REQUEST__BODY_STATUS;
	rq.status = &sr;
	th_ctl_send(fd, &rq);   /* may fail: tallyd may have closed already */
	if (th_ctl_recv(fd, &resp) != 0)
		return 4;
	r = resp->error == TALLY__ERROR_CODE__PERMISSION_DENIED &&
	    resp->body_case != TALLY__CTL_RESPONSE__BODY_STATUS ? 0 : 5;
	tally__ctl_response__free_unpacked(resp, NULL);
	if (r == 0 && th_ctl_recv(fd, &resp) != TALLY_ERR_CLOSED)
		r = 6;   /* tallyd must close the connection */
	close(fd);
	return r;
}

static int
run_child(struct th *t, bool deny_connect)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(as_nobody(t, deny_connect));
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_control_refuses_outsider(void **state)
{
	struct th *t = *state;
	Tally__CtlResponse *resp = NULL;
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(stat(t->sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	/* the file system refuses nobody first ... */
	assert_int_equal(run_child(t, true), 0);
	/* ... and with the socket opened to all, tallyd's SO_PEERCRED check does */
	assert_int_equal(chmod(t->dir, 0711), 0);
	assert_int_equal(chmod(t->sock_path, 0666), 0);
	assert_int_equal(run_child(t, false), 0);
	assert_true(th_log_wait(t, "control connection refused: uid 65534", 5000));
	/* a member of the group is still served */
	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->error, 0);
	tally__ctl_response__free_unpacked(resp, NULL);
}

static void
test_stop_leaves_nothing(void **state)
{
	struct th *t = *state;
	pid_t pid = t->pid;
	struct stat st;

	assert_true(pid > 0);
	assert_int_equal(th_stop(t, 20000), 0);   /* exit 0: also no ASan report */
	assert_int_equal(t->pid, 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(stat(t->sock_path, &st), -1);
	assert_true(th_log_contains(t, "SIGTERM: stopping"));
	assert_true(th_log_contains(t, "stopped"));
}

/* Runs tallyd with args; returns its exit code and its stderr in out. */
static int
run_tallyd(const char *conf, const char *extra_arg, char *out, size_t outlen)
{
	const char *build = getenv("TALLY_BUILD");
	char bin[256];
	int p[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/tallyd", build != NULL ? build : "build/check");
	if (pipe(p) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		execl(bin, "tallyd", "-c", conf, extra_arg, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (got + 1 < outlen && (n = read(p[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
test_check_config(void **state)
{
	struct th *t = *state;
	char out[2048], want[256];

	assert_int_equal(run_tallyd(t->conf_path, "--check-config", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "configuration OK"));
	/* unknown key: refused, naming file:line (line 11 = after 10 lines) */
	assert_int_equal(th_write_config(t, "colour = blue\n"), 0);
	assert_int_equal(run_tallyd(t->conf_path, "--check-config", out, sizeof(out)), 2);
	snprintf(want, sizeof(want), "%s:11: unknown key \"colour\"", t->conf_path);
	assert_non_null(strstr(out, want));
	/* value out of range */
	assert_int_equal(th_write_config(t, "max_in_flight = 0\n"), 0);
	assert_int_equal(run_tallyd(t->conf_path, "--check-config", out, sizeof(out)), 2);
	snprintf(want, sizeof(want), "%s:11: max_in_flight", t->conf_path);
	assert_non_null(strstr(out, want));
	/* a config file others may write is refused */
	assert_int_equal(th_write_config(t, NULL), 0);
	assert_int_equal(chmod(t->conf_path, 0602), 0);
	assert_int_equal(run_tallyd(t->conf_path, "--check-config", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "writable by others"));
	assert_int_equal(chmod(t->conf_path, 0600), 0);
	/* usage */
	assert_int_equal(run_tallyd(t->conf_path, "--no-such-option", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "usage: tallyd"));
}

static Tally__CtlResponse *
ctl_ok(struct th *t, Tally__CtlRequest *rq, Tally__CtlResponse__BodyCase want)
{
	Tally__CtlResponse *resp = NULL;

	assert_int_equal(th_ctl(t, rq, &resp), 0);
	assert_int_equal(resp->error, 0);
	assert_true(resp->last);
	assert_int_equal(resp->body_case, want);
	return resp;
}

/* One token for uid through jig 0 (enrolled here). */
static void
issue_one(struct th *t, const char *uid)
{
	struct th_conn *c = NULL;

	assert_int_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = 0 }, &c), 0);
	assert_int_equal(th_issue_code(c, "widget", NULL, (const uint8_t *)uid, strlen(uid), NULL), 0);
	th_tls_close(c);
}

/* token show with bundle_quota_id: that quota's token and its bundle,
 * which verifies with the OEM root for the device; another quota is
 * NOT_FOUND and a quota ID that is not 16 bytes BAD_REQUEST. */
static void
token_show_bundle(struct th *t, Tally__CtlRequest *rq, const uint8_t qid[16])
{
	Tally__TokenShowRequest *ts = rq->token_show;
	const Tally__TokenShowResponse *o;
	Tally__CtlResponse *resp;
	Tally__TokenBundle *b;
	uint8_t other[16] = { 0 };

	ts->device_uid = (ProtobufCBinaryData){ 9, (uint8_t *)"unit-0001" };
	ts->bundle_quota_id = (ProtobufCBinaryData){ 16, (uint8_t *)qid };
	resp = ctl_ok(t, rq, TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW);
	o = resp->token_show;
	assert_int_equal(o->n_tokens, 1);
	assert_int_equal(o->n_log_indexes, 1);
	assert_int_equal(o->n_bundles, 1);
	assert_int_equal(tally_bundle_verify(o->bundles[0].data, o->bundles[0].len,
	    t->oem_key, (const uint8_t *)"unit-0001", 9, th_firmware, 0, NULL), 0);
	assert_int_equal(tally_bundle_verify(o->bundles[0].data, o->bundles[0].len,
	    t->oem_key, (const uint8_t *)"unit-0002", 9, NULL, 0, NULL), TALLY_ERR_MISMATCH);
	assert_non_null(b = tally__token_bundle__unpack(NULL, o->bundles[0].len,
	    o->bundles[0].data));
	assert_int_equal(b->token.len, o->tokens[0].len);
	assert_memory_equal(b->token.data, o->tokens[0].data, b->token.len);
	assert_int_equal(b->appliance_public_key.len, t->appliance_spki_len);
	assert_memory_equal(b->appliance_public_key.data, t->appliance_spki,
	    t->appliance_spki_len);
	tally__token_bundle__free_unpacked(b, NULL);
	tally__ctl_response__free_unpacked(resp, NULL);
	ts->bundle_quota_id.data = other;
	assert_int_equal(th_ctl(t, rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__NOT_FOUND);
	tally__ctl_response__free_unpacked(resp, NULL);
	ts->bundle_quota_id.len = 15;
	assert_int_equal(th_ctl(t, rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__BAD_REQUEST);
	tally__ctl_response__free_unpacked(resp, NULL);
	ts->bundle_quota_id = (ProtobufCBinaryData){ 0, NULL };
}

static void
test_control_requests(void **state)
{
	struct th *t = *state;
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__TokenShowRequest ts = TALLY__TOKEN_SHOW_REQUEST__INIT;
	Tally__CheckpointRequest cp = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__JigListRequest jl = TALLY__JIG_LIST_REQUEST__INIT;
	Tally__QuotaListRequest ql = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp;
	EVP_PKEY *pub = NULL;
	uint8_t root[32];
	uint64_t size;
	uint8_t qid[16];
	char origin[TALLY_ORIGIN_MAX];

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 5, qid), 0);
	issue_one(t, "unit-0001");
	/* lists */
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_LIST;
	rq.jig_list = &jl;
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_JIG_LIST);
	assert_int_equal(resp->jig_list->n_jigs, 1);
	assert_memory_equal(resp->jig_list->jigs[0]->jig_key_id.data, t->jig[0].key_id, 32);
	tally__ctl_response__free_unpacked(resp, NULL);
	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	rq.quota_list = &ql;
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_QUOTA_LIST);
	assert_int_equal(resp->quota_list->n_quotas, 1);
	assert_int_equal(resp->quota_list->quotas[0]->issued, 1);
	tally__ctl_response__free_unpacked(resp, NULL);
	/* token show: found, not found, malformed */
	rq.body_case = TALLY__CTL_REQUEST__BODY_TOKEN_SHOW;
	rq.token_show = &ts;
	ts.device_uid = (ProtobufCBinaryData){ 9, (uint8_t *)"unit-0001" };
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW);
	assert_int_equal(resp->token_show->n_tokens, 1);
	tally__ctl_response__free_unpacked(resp, NULL);
	ts.device_uid = (ProtobufCBinaryData){ 9, (uint8_t *)"unit-0002" };
	assert_int_equal(th_ctl(t, &rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__NOT_FOUND);
	tally__ctl_response__free_unpacked(resp, NULL);
	ts.device_uid = (ProtobufCBinaryData){ 0, NULL };
	assert_int_equal(th_ctl(t, &rq, &resp), 0);
	assert_int_equal(resp->error, TALLY__ERROR_CODE__BAD_REQUEST);
	tally__ctl_response__free_unpacked(resp, NULL);
	token_show_bundle(t, &rq, qid);
	/* checkpoint: a signed note over the whole log */
	rq.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	rq.checkpoint = &cp;
	resp = ctl_ok(t, &rq, TALLY__CTL_RESPONSE__BODY_CHECKPOINT);
	assert_int_equal(tally_key_from_spki(t->appliance_spki, t->appliance_spki_len, &pub), 0);
	tally_checkpoint_origin(t->appliance_key_id, origin);
	assert_int_equal(tally_checkpoint_verify(resp->checkpoint->note,
	    strlen(resp->checkpoint->note), pub, origin, &size, root), 0);
	assert_int_equal(size, resp->checkpoint->tree_size);
	assert_true(size >= 4);   /* start, enroll, quota, token */
	assert_memory_equal(root, resp->checkpoint->root_hash.data, 32);
	tally__ctl_response__free_unpacked(resp, NULL);
	EVP_PKEY_free(pub);
	assert_true(th_log_wait(t, "operator uid 0: checkpoint done", 5000));
}

/* Reads a whole export from fd: entries into leaves (leaf hashes), the
 * header and the note; returns the number of entries. */
static uint64_t
read_export(int fd, uint64_t request_id, uint8_t *leaves, size_t max,
    Tally__ExportHeader **hdr, char **note)
{
	Tally__CtlResponse *resp = NULL;
	Tally__ExportRecord *rec;
	uint64_t n = 0;
	bool last = false;

	while (!last) {
		assert_int_equal(th_ctl_recv(fd, &resp), 0);
		assert_int_equal(resp->error, 0);
		assert_int_equal(resp->request_id, request_id);
		assert_int_equal(resp->body_case, TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD);
		rec = resp->export_record;
		last = resp->last;
		if (rec->body_case == TALLY__EXPORT_RECORD__BODY_HEADER) {
			assert_null(*hdr);
			*hdr = rec->header;
			rec->header = NULL;
			rec->body_case = TALLY__EXPORT_RECORD__BODY__NOT_SET;
		} else if (rec->body_case == TALLY__EXPORT_RECORD__BODY_QUOTA ||
		    rec->body_case == TALLY__EXPORT_RECORD__BODY_JIG) {
			assert_non_null(*hdr);   /* context of format 2, before the entries */
			assert_int_equal(n, 0);
		} else if (rec->body_case == TALLY__EXPORT_RECORD__BODY_ENTRY) {
			assert_non_null(*hdr);
			assert_false(last);
			assert_true(n < max);
			tally_merkle_leaf_hash(rec->entry.data, rec->entry.len, leaves + 32 * n++);
		} else {
			assert_int_equal(rec->body_case, TALLY__EXPORT_RECORD__BODY_CHECKPOINT);
			assert_true(last);
			*note = strdup(rec->checkpoint);
		}
		tally__ctl_response__free_unpacked(resp, NULL);
	}
	return n;
}

static void
test_log_export(void **state)
{
	struct th *t = *state;
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogExportRequest le = TALLY__LOG_EXPORT_REQUEST__INIT;
	Tally__ExportHeader *hdr = NULL;
	static uint8_t leaves[256 * 32];
	struct th_conn *c = NULL;
	uint8_t root[32], want[32];
	char origin[TALLY_ORIGIN_MAX], *note = NULL, uid[24];
	EVP_PKEY *pub = NULL;
	uint64_t n, size;
	int fd, i;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 200, NULL), 0);
	/* 150 tokens: the export spans several read transactions (64 each) */
	assert_int_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = 0 }, &c), 0);
	for (i = 0; i < 150; i++) {
		snprintf(uid, sizeof(uid), "unit-%04d", i);
		assert_int_equal(th_issue_code(c, "widget", NULL, (const uint8_t *)uid,
		    strlen(uid), NULL), 0);
	}
	th_tls_close(c);
	rq.request_id = 77;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	rq.log_export = &le;
	assert_int_equal(th_ctl_connect(t, &fd), 0);
	assert_int_equal(th_ctl_send(fd, &rq), 0);
	n = read_export(fd, 77, leaves, 256, &hdr, &note);
	close(fd);
	assert_non_null(hdr);
	assert_non_null(note);
	tally_checkpoint_origin(t->appliance_key_id, origin);
	assert_int_equal(hdr->format_version, 2);
	assert_string_equal(hdr->origin, origin);
	assert_int_equal(hdr->first_index, 0);
	assert_int_equal(hdr->entry_count, n);
	assert_true(n >= 153);   /* start, enroll, quota, 150 tokens */
	assert_memory_equal(hdr->appliance_public_key.data, t->appliance_spki, t->appliance_spki_len);
	/* the signed checkpoint covers exactly the exported entries */
	assert_int_equal(tally_key_from_spki(t->appliance_spki, t->appliance_spki_len, &pub), 0);
	assert_int_equal(tally_checkpoint_verify(note, strlen(note), pub, origin, &size, root), 0);
	assert_int_equal(size, n);
	tally_merkle_root(leaves, n, want);
	assert_memory_equal(root, want, 32);
	EVP_PKEY_free(pub);
	free(note);
	tally__export_header__free_unpacked(hdr, NULL);
	assert_true(th_log_wait(t, "log export sent", 5000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_shows_port, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_identity, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_identity, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_control_refuses_outsider, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_stop_leaves_nothing, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_check_config, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_control_requests, th_cmocka_setup, th_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_log_export, th_cmocka_setup, th_cmocka_teardown),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
