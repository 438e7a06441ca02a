/* test_reconcile.c - OEM reconciliation of export files on their own (no
 * ledger; oem/reconcile.h). Each test builds a synthetic log with real
 * keys (tests/harness/fx_export.h) in a mkdtemp folder and writes it as a
 * format 2 export (or format 1, which is still read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include "err.h"
#include "key.h"
#include "log.pb-c.h"
#include "util.h"
#include "oem/reconcile.h"
#include "oem/reconcile_print.h"
#include "tests/harness/fx_export.h"

struct rfx {
	struct fx_world w;
	struct fx_app a;
	char path[FX_PATH];
};

static int
setup(void **state)
{
	struct rfx *f = calloc(1, sizeof(*f));

	*state = f;
	if (f == NULL || fx_world_init(&f->w) != 0)
		return -1;
	fx_app_init(&f->w, &f->a, TALLY_KEY_ED25519);
	fx_path(&f->w, "export.tlx", f->path);
	return 0;
}

static int
teardown(void **state)
{
	struct rfx *f = *state;

	if (f == NULL)
		return 0;
	fx_app_free(&f->a);
	fx_world_free(&f->w);
	free(f);
	return 0;
}

static void
dump(const struct oem_reconcile_result *res)
{
	size_t i;

	for (i = 0; i < res->n_anomalies; i++)
		print_message("# anomaly %s at %lld: %s\n", oem_anomaly_name(res->anomalies[i].kind),
		    (long long)res->anomalies[i].index, res->anomalies[i].msg);
}

static size_t
count_kind(const struct oem_reconcile_result *res, enum oem_anomaly_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < res->n_anomalies; i++)
		if (res->anomalies[i].kind == kind)
			n++;
	if (getenv("RC_DUMP") != NULL)
		dump(res);
	return n;
}

/* Writes the whole log with o, reconciles it, expects the read to succeed. */
static void
reconcile(struct rfx *f, const struct fx_wopts *o, struct oem_reconcile_result *res)
{
	fx_export_write(&f->a, f->path, 0, o);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, res), 0);
}

/* start, jig, quota of units, tokens for each uid; returns the quota ID. */
static void
basic_log(struct rfx *f, uint64_t units, const char *const *uids, size_t n,
    uint8_t qid[16], uint64_t *tok_idx)
{
	size_t i;

	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota(&f->w, &f->a, units, qid);
	for (i = 0; i < n; i++)
		tok_idx[i] = fx_add_token(&f->w, &f->a, qid, uids[i]);
}

static const char *const UIDS[] = { "UID-A", "UID-B", "UID-C" };

static void
test_clean(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3];
	json_t *j;

	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota_full(&f->w, &f->a, f->w.oem, NULL, 0, 3, 1, 0, 0, qid);
	tok[0] = fx_add_token(&f->w, &f->a, qid, UIDS[0]);
	tok[1] = fx_add_token(&f->w, &f->a, qid, UIDS[1]);
	tok[2] = fx_add_token(&f->w, &f->a, qid, UIDS[2]);
	fx_add_report(&f->w, &f->a, NULL, tok[0], "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_add_report(&f->w, &f->a, NULL, tok[1], "UID-B", TALLY__INSTALL_RESULT__FAILED, 0);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.format_version, 2);
	assert_int_equal(res.first_index, 0);
	assert_int_equal(res.quotas[0].failed, 1);      /* within the allowance of 1 */
	assert_int_equal(res.quotas[0].reported, 2);
	assert_int_equal(res.entries, 8);
	assert_int_equal(res.tree_size, 8);
	assert_true(res.checkpoint_ok);
	assert_memory_equal(res.appliance_key_id, f->a.id, 32);
	assert_int_equal(res.jigs_enrolled, 1);
	assert_int_equal(res.n_quotas, 1);
	assert_memory_equal(res.quotas[0].quota_id, qid, 16);
	assert_int_equal(res.quotas[0].units, 3);
	assert_int_equal(res.quotas[0].issued, 3);
	assert_int_equal(res.n_tokens, 3);
	assert_int_equal(res.reports_installed, 1);
	assert_int_equal(res.reports_failed, 1);
	assert_int_equal(res.unreported, 1);
	assert_int_equal(res.tokens[2].index, tok[2]);
	j = oem_reconcile_json(f->path, &res);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "anomalies_total")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "unreported")), 1);
	json_decref(j);
	oem_reconcile_result_free(&res);
}

/* A log with a quota and no token yet (a fresh appliance) reconciles
 * clean; the duplicate checks run over zero tokens. */
static void
test_no_tokens(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];

	basic_log(f, 3, UIDS, 0, qid, NULL);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.n_tokens, 0);
	assert_int_equal(res.n_quotas, 1);
	assert_int_equal(res.quotas[0].issued, 0);
	assert_true(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_edited_byte(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 3, UIDS, 3, qid, tok);
	o.flip = 0;  /* the last byte of the start entry's key ID */
	reconcile(f, &o, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_ROOT_MISMATCH), 1);
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_dropped_entry(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 3, UIDS, 3, qid, tok);
	o.drop = (long)tok[1];
	reconcile(f, &o, &res);
	assert_int_equal(res.entries, 5);
	assert_true(count_kind(&res, OEM_ANOM_ENTRY_INDEX) >= 1);
	assert_true(count_kind(&res, OEM_ANOM_CHECKPOINT_SIZE) >= 1);
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_over_quota(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 2, UIDS, 3, qid, tok);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_OVER_QUOTA), 1);
	assert_int_equal(res.anomalies[0].index, tok[2]);
	assert_int_equal(res.quotas[0].issued, 3);
	assert_true(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

/* Units returned by failed installs count, up to scrap_allowance. */
static void
test_scrap_allowance(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t a, b;

	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota_full(&f->w, &f->a, f->w.oem, NULL, 0, 2, 1, 0, 0, qid);
	a = fx_add_token(&f->w, &f->a, qid, "UID-A");
	b = fx_add_token(&f->w, &f->a, qid, "UID-B");
	fx_add_report(&f->w, &f->a, NULL, a, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_add_report(&f->w, &f->a, NULL, b, "UID-B", TALLY__INSTALL_RESULT__FAILED, 1);
	fx_add_token(&f->w, &f->a, qid, "UID-C");  /* uses the returned unit */
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.quotas[0].returned, 1);
	oem_reconcile_result_free(&res);
	fx_add_report(&f->w, &f->a, NULL, a, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 1);
	fx_add_token(&f->w, &f->a, qid, "UID-D");  /* past units + allowance */
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_SCRAP), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_OVER_QUOTA), 1);
	oem_reconcile_result_free(&res);
}

static void
test_duplicate_uid(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16], qid2[16];
	uint64_t tok[3], dup;

	basic_log(f, 5, UIDS, 3, qid, tok);
	fx_add_quota(&f->w, &f->a, 5, qid2);
	dup = fx_add_token(&f->w, &f->a, qid2, "UID-B");  /* same UID under another quota */
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_DUPLICATE_UID), 1);
	assert_int_equal(res.anomalies[0].index, dup);
	assert_non_null(strstr(res.anomalies[0].msg, "5549442d42"));  /* hex of UID-B */
	oem_reconcile_result_free(&res);
}

static void
test_serials(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t dup, outside;

	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota_full(&f->w, &f->a, f->w.oem, NULL, 0, 5, 0, 100, 104, qid);
	f->a.serial = 100;
	fx_add_token(&f->w, &f->a, qid, "UID-A");
	f->a.serial = 101;
	fx_add_token(&f->w, &f->a, qid, "UID-B");
	f->a.serial = 101;
	dup = fx_add_token(&f->w, &f->a, qid, "UID-C");
	f->a.serial = 200;
	outside = fx_add_token(&f->w, &f->a, qid, "UID-D");
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 2);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_QUOTA), 1);
	assert_int_equal(res.anomalies[0].index, outside);
	assert_int_equal(count_kind(&res, OEM_ANOM_DUPLICATE_SERIAL), 1);
	assert_int_equal(res.anomalies[1].index, dup);
	oem_reconcile_result_free(&res);
}

static void
test_token_other_key(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[2];

	basic_log(f, 5, UIDS, 2, qid, tok);
	fx_add_token_full(&f->w, &f->a, f->w.other, qid, "UID-X", 0);
	fx_add_token_full(&f->w, &f->a, NULL, qid, "UID-Y", 1);  /* wrong log_index */
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_SIGNATURE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_BINDING), 1);
	assert_int_equal(res.n_tokens, 3);  /* the forged one is not counted */
	assert_true(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_quota_anomalies(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t q1[16], q2[16], q3[16];
	uint8_t *spki = NULL;
	size_t spki_len = 0;

	assert_int_equal(tally_key_spki(f->w.other, &spki, &spki_len), 0);
	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota_full(&f->w, &f->a, f->w.other, NULL, 0, 5, 0, 0, 0, q1); /* not the OEM */
	fx_add_quota_full(&f->w, &f->a, f->w.oem, spki, spki_len, 5, 0, 0, 0, q2);  /* other appliance */
	fx_add_quota(&f->w, &f->a, 5, q3);
	fx_add_token(&f->w, &f->a, q1, "UID-A");  /* under a quota that was refused */
	fx_add_token(&f->w, &f->a, q3, "UID-B");
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_QUOTA_SIGNATURE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_QUOTA_APPLIANCE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_QUOTA), 1);
	assert_int_equal(res.anomalies_total, 3);
	assert_int_equal(res.n_quotas, 1);
	OPENSSL_free(spki);
	oem_reconcile_result_free(&res);
}

static void
test_report_anomalies(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 5, UIDS, 3, qid, tok);
	fx_add_report(&f->w, &f->a, f->w.other, tok[0], "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_add_report(&f->w, &f->a, NULL, tok[1], "UID-Z", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_add_report(&f->w, &f->a, NULL, 0, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_add_report(&f->w, &f->a, NULL, tok[2], "UID-C", TALLY__INSTALL_RESULT__INSTALLED, 0);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_REPORT_SIGNATURE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_REPORT_BINDING), 2);
	assert_int_equal(res.reports_installed, 1);
	assert_int_equal(res.unreported, 2);
	oem_reconcile_result_free(&res);
}

static void
test_checkpoint_other_key(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint8_t qid[16];
	uint64_t tok[1];

	basic_log(f, 5, UIDS, 1, qid, tok);
	o.cp_key = f->w.other;
	reconcile(f, &o, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_CHECKPOINT_SIGNATURE), 1);
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
truncate_to(const char *path, off_t len)
{
	assert_int_equal(truncate(path, len), 0);
}

static void
test_truncated(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];
	off_t size;
	int fd;

	basic_log(f, 5, UIDS, 3, qid, tok);
	fx_export_write(&f->a, f->path, 0, &FX_CLEAN);
	assert_true((fd = open(f->path, O_RDONLY)) >= 0);
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	truncate_to(f->path, size - 10);  /* inside the checkpoint frame */
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), TALLY_ERR_INVALID);
	assert_non_null(strstr(res.error, "truncated"));
	oem_reconcile_result_free(&res);
	o.no_checkpoint = 1;  /* cut at a frame boundary */
	fx_export_write(&f->a, f->path, 0, &o);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), TALLY_ERR_INVALID);
	assert_non_null(strstr(res.error, "no checkpoint"));
	oem_reconcile_result_free(&res);
	truncate_to(f->path, 2);  /* inside the first length prefix */
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), TALLY_ERR_INVALID);
	oem_reconcile_result_free(&res);
}

static void
test_hostile_files(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0x00 };
	static const uint8_t junk[] = { 0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0xff };
	int fd;

	assert_int_equal(oem_reconcile_file("/nonexistent/export", f->w.oem, &res),
	    TALLY_ERR_IO);
	oem_reconcile_result_free(&res);
	assert_int_equal(tally_write_file(f->path, huge, sizeof(huge), 0600), 0);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), TALLY_ERR_TOO_LARGE);
	oem_reconcile_result_free(&res);
	assert_int_equal(tally_write_file(f->path, junk, sizeof(junk), 0600), 0);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), TALLY_ERR_INVALID);
	oem_reconcile_result_free(&res);
	assert_true((fd = open(f->path, O_WRONLY | O_TRUNC)) >= 0);
	close(fd);  /* empty file */
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), TALLY_ERR_INVALID);
	oem_reconcile_result_free(&res);
}

/* The same UID in exports of two appliances is a clone; the same export
 * given twice is not. */
static void
test_cross_exports(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res[3];
	char second[160];
	uint8_t qid[16];
	uint64_t tok[3];
	size_t i;

	basic_log(f, 5, UIDS, 3, qid, tok);
	fx_export_write(&f->a, f->path, 0, &FX_CLEAN);
	snprintf(second, sizeof(second), "%s/second.bin", f->w.dir);
	assert_int_equal(rename(f->path, second), 0);
	/* a second appliance, same OEM and jig */
	fx_app_free(&f->a);
	fx_app_init(&f->w, &f->a, TALLY_KEY_P256);
	basic_log(f, 5, UIDS + 2, 1, qid, tok);  /* UID-C again */
	fx_export_write(&f->a, f->path, 0, &FX_CLEAN);
	assert_int_equal(oem_reconcile_file(second, f->w.oem, &res[0]), 0);
	assert_int_equal(oem_reconcile_file(second, f->w.oem, &res[1]), 0);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res[2]), 0);
	assert_int_equal(oem_reconcile_cross(res, 2), 0);  /* same export twice */
	assert_int_equal(res[1].anomalies_total, 0);
	assert_int_equal(oem_reconcile_cross(res + 1, 2), 0);
	assert_int_equal(res[1].anomalies_total, 0);
	assert_int_equal(count_kind(&res[2], OEM_ANOM_DUPLICATE_UID), 1);
	for (i = 0; i < 3; i++)
		oem_reconcile_result_free(&res[i]);
	unlink(second);
}

/* Failed units (FAILED, never INSTALLED) beyond the scrap allowance are an
 * anomaly; a unit that failed and was then installed is not a failure. */
static void
test_failure_rate(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t a, b, c;

	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota_full(&f->w, &f->a, f->w.oem, NULL, 0, 5, 1, 0, 0, qid);
	a = fx_add_token(&f->w, &f->a, qid, "UID-A");
	b = fx_add_token(&f->w, &f->a, qid, "UID-B");
	c = fx_add_token(&f->w, &f->a, qid, "UID-C");
	fx_add_report(&f->w, &f->a, NULL, a, "UID-A", TALLY__INSTALL_RESULT__FAILED, 0);
	fx_add_report(&f->w, &f->a, NULL, a, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_add_report(&f->w, &f->a, NULL, b, "UID-B", TALLY__INSTALL_RESULT__FAILED, 0);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.quotas[0].failed, 1);
	oem_reconcile_result_free(&res);
	fx_add_report(&f->w, &f->a, NULL, c, "UID-C", TALLY__INSTALL_RESULT__FAILED, 0);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_FAILURE_RATE), 1);
	assert_non_null(strstr(res.anomalies[0].msg, "2 of 3 units failed"));
	oem_reconcile_result_free(&res);
}

/* An export from entry k on reconciles on its own: the quota and jig come
 * from the context records, prev_checkpoint and the consistency proof
 * verify; reports for tokens before k are only signature-checked. */
static void
test_incremental(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3], k;

	basic_log(f, 5, UIDS, 2, qid, tok);
	k = f->a.n;
	fx_add_report(&f->w, &f->a, NULL, tok[0], "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	tok[2] = fx_add_token(&f->w, &f->a, qid, "UID-C");
	fx_add_report(&f->w, &f->a, NULL, tok[2], "UID-C", TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_export_write(&f->a, f->path, k, &FX_CLEAN);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_true(res.checkpoint_ok);
	assert_int_equal(res.first_index, k);
	assert_int_equal(res.entries, 3);
	assert_int_equal(res.tree_size, k + 3);
	assert_int_equal(res.n_tokens, 1);
	assert_int_equal(res.reports_unchecked, 1);
	assert_int_equal(res.reports_installed, 2);
	assert_int_equal(res.quotas[0].issued, 1);  /* this file's */
	oem_reconcile_result_free(&res);
}

/* prev_checkpoint by another key, a wrong consistency proof. */
static void
test_consistency(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint8_t qid[16];
	uint64_t tok[3], k;

	basic_log(f, 5, UIDS, 2, qid, tok);
	k = f->a.n - 1;
	fx_add_token(&f->w, &f->a, qid, "UID-C");
	fx_add_token(&f->w, &f->a, qid, "UID-D");
	o.prev_key = f->w.other;
	fx_export_write(&f->a, f->path, k, &o);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), 0);
	assert_int_equal(count_kind(&res, OEM_ANOM_CONSISTENCY), 1);
	assert_non_null(strstr(res.anomalies[0].msg, "prev_checkpoint"));
	oem_reconcile_result_free(&res);
	o = FX_CLEAN;
	o.bad_proof = 1;
	fx_export_write(&f->a, f->path, k, &o);
	assert_int_equal(oem_reconcile_file(f->path, f->w.oem, &res), 0);
	assert_int_equal(count_kind(&res, OEM_ANOM_CONSISTENCY), 1);
	assert_non_null(strstr(res.anomalies[0].msg, "consistency proof"));
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

/* A token before its quota's import entry, the quota being in the
 * context: issued before the quota was imported. */
static void
test_context_order(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	Tally__LogEntry *e;
	uint8_t qid[16], q2[16], *buf;
	uint64_t tok[1], imp, early;
	size_t len;

	basic_log(f, 5, UIDS, 1, qid, tok);
	imp = fx_add_quota(&f->w, &f->a, 5, q2);
	assert_non_null(e = tally__log_entry__unpack(NULL, f->a.e[imp].len, f->a.e[imp].data));
	fx_app_truncate(&f->a, imp);
	early = fx_add_token(&f->w, &f->a, q2, "UID-EARLY");
	e->index = f->a.n;  /* the same import, one entry later */
	len = tally__log_entry__get_packed_size(e);
	assert_non_null(buf = malloc(len));
	tally__log_entry__pack(e, buf);
	fx_add_raw(&f->a, buf, len, 1);
	free(buf);
	tally__log_entry__free_unpacked(e, NULL);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_QUOTA), 1);
	assert_int_equal(res.anomalies[0].index, early);
	assert_non_null(strstr(res.anomalies[0].msg, "imported later"));
	oem_reconcile_result_free(&res);
}

/* Entry times that go backwards; receipts in the log. */
static void
test_time_and_receipts(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[2], back, bad;

	basic_log(f, 5, UIDS, 1, qid, tok);
	fx_add_receipt(&f->a, f->a.n, f->w.oem);
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.receipts, 1);
	oem_reconcile_result_free(&res);
	bad = fx_add_receipt(&f->a, f->a.n, f->w.other);
	f->a.now -= 30;  /* still inside the quota's validity */
	back = fx_add_token(&f->w, &f->a, qid, "UID-B");
	reconcile(f, &FX_CLEAN, &res);
	assert_int_equal(res.anomalies_total, 2);
	assert_int_equal(count_kind(&res, OEM_ANOM_RECEIPT), 1);
	assert_int_equal(res.anomalies[0].index, bad);
	assert_int_equal(count_kind(&res, OEM_ANOM_TIME), 1);
	assert_int_equal(res.anomalies[1].index, back);
	oem_reconcile_result_free(&res);
}

/* Format 1 (no context, no proofs) is still read. */
static void
test_format1(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 5, UIDS, 3, qid, tok);
	o.format = 1;
	reconcile(f, &o, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.format_version, 1);
	assert_int_equal(res.n_tokens, 3);
	oem_reconcile_result_free(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrap_allowance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_anomalies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_anomalies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_exports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consistency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_and_receipts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
