/* test_ledger.c - the OEM ledger (oem/ledger.h): three appliances, several
 * incremental exports each, in one real LMDB ledger in a mkdtemp folder,
 * with real keys (tests/harness/fx_export.h). A clean run updates the
 * ledger; each attack is detected, named, and leaves the ledger byte for
 * byte unchanged (oem_ledger_digest over every record before and after).
 * Receipts cosign the last verified checkpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "cosignature.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "oem/ledger.h"
#include "tests/harness/fx_export.h"

enum { A, B, C, NAPP };

struct lfx {
	struct fx_world w;
	struct fx_app app[NAPP];
	uint8_t q[NAPP][16];             /* each appliance's quota */
	uint64_t tok[NAPP][4];           /* token entries of the first export */
	uint64_t verified[NAPP];         /* size the ledger verified */
	struct oem_ledger *l;
	char path[FX_PATH], ledger[FX_PATH];
	int64_t now;
};

static void
dump(const struct oem_reconcile_result *res)
{
	size_t i;

	if (getenv("LEDGER_DUMP") == NULL)
		return;
	for (i = 0; i < res->n_anomalies; i++)
		print_message("# anomaly %s at %lld: %s\n", oem_anomaly_name(res->anomalies[i].kind),
		    (long long)res->anomalies[i].index, res->anomalies[i].msg);
}

static size_t
count_kind(const struct oem_reconcile_result *res, enum oem_anomaly_kind kind)
{
	size_t i, n = 0;

	dump(res);
	for (i = 0; i < res->n_anomalies; i++)
		if (res->anomalies[i].kind == kind)
			n++;
	return n;
}

/* Exports app's entries [first, n) with o and runs it through the ledger.
 * Returns whether the ledger took it; *res is the caller's to free. */
static int
run(struct lfx *f, int app, uint64_t first, const struct fx_wopts *o,
    struct oem_reconcile_result *res)
{
	int applied = -1;

	fx_export_write(&f->app[app], f->path, first, o);
	assert_int_equal(oem_ledger_reconcile(f->l, f->path, f->w.oem, f->now, res,
	    &applied), 0);
	if (applied)
		f->verified[app] = f->app[app].n;
	return applied;
}

/* A clean incremental export from what the ledger verified. */
static void
run_clean(struct lfx *f, int app)
{
	struct oem_reconcile_result res;

	assert_true(run(f, app, f->verified[app], &FX_CLEAN, &res));
	dump(&res);
	assert_int_equal(res.anomalies_total, 0);
	oem_reconcile_result_free(&res);
}

/* An export that must be refused with at least one anomaly of kind, and
 * leave the ledger exactly as it was. Returns the result for more checks
 * (the caller frees it). */
static void
run_bad(struct lfx *f, int app, uint64_t first, const struct fx_wopts *o,
    enum oem_anomaly_kind kind, struct oem_reconcile_result *res)
{
	uint8_t before[32], after[32];

	assert_int_equal(oem_ledger_digest(f->l, before), 0);
	assert_false(run(f, app, first, o, res));
	assert_true(count_kind(res, kind) >= 1);
	assert_int_equal(oem_ledger_digest(f->l, after), 0);
	assert_memory_equal(before, after, 32);
}

static void
uid(char out[32], int app, int n)
{
	snprintf(out, 32, "%c-UID-%d", 'A' + app, n);
}

/* Each appliance: start, jig, a quota of 6 units with a serial range and a
 * scrap allowance of 1, two tokens (one installed), one export; then two
 * more tokens, a report for an earlier token, a second export. */
static void
build(struct lfx *f)
{
	char u[32];
	int a, i;

	for (a = 0; a < NAPP; a++) {
		struct fx_app *p = &f->app[a];

		fx_add_start(p);
		fx_add_enroll(&f->w, p);
		fx_add_quota_full(&f->w, p, f->w.oem, NULL, 0, 6, 1, 1000 * (a + 1),
		    1000 * (a + 1) + 99, f->q[a]);
		p->serial = 1000 * (a + 1);
		for (i = 0; i < 2; i++) {
			uid(u, a, i);
			f->tok[a][i] = fx_add_token(&f->w, p, f->q[a], u);
		}
		uid(u, a, 0);
		fx_add_report(&f->w, p, NULL, f->tok[a][0], u, TALLY__INSTALL_RESULT__INSTALLED, 0);
		run_clean(f, a);
	}
	for (a = 0; a < NAPP; a++) {
		struct fx_app *p = &f->app[a];

		p->now += 86400;  /* the next day */
		uid(u, a, 1);
		fx_add_report(&f->w, p, NULL, f->tok[a][1], u, TALLY__INSTALL_RESULT__INSTALLED, 0);
		for (i = 2; i < 4; i++) {
			uid(u, a, i);
			f->tok[a][i] = fx_add_token(&f->w, p, f->q[a], u);
		}
		run_clean(f, a);
	}
}

static int
setup(void **state)
{
	struct lfx *f = calloc(1, sizeof(*f));
	int a;

	*state = f;
	if (f == NULL || fx_world_init(&f->w) != 0)
		return -1;
	f->now = f->w.now + 10 * 86400;
	fx_path(&f->w, "export.tlx", f->path);
	fx_path(&f->w, "ledger", f->ledger);
	if (oem_ledger_open(f->ledger, 64u << 20, &f->l) != 0)
		return -1;
	for (a = 0; a < NAPP; a++)
		fx_app_init(&f->w, &f->app[a], a == B ? TALLY_KEY_ED25519 : TALLY_KEY_P256);
	build(f);
	return 0;
}

static int
teardown(void **state)
{
	struct lfx *f = *state;
	int a;

	if (f == NULL)
		return 0;
	oem_ledger_close(f->l);
	for (a = 0; a < NAPP; a++)
		fx_app_free(&f->app[a]);
	fx_world_free(&f->w);
	free(f);
	return 0;
}

struct qread {
	uint8_t id[16];
	struct oem_quota_count c;
	int found;
};

static int
quota_cb(void *arg, const struct oem_quota_count *q, const uint8_t *env, size_t len)
{
	struct qread *r = arg;

	(void)env;
	(void)len;
	if (memcmp(q->quota_id, r->id, 16) == 0) {
		r->c = *q;
		r->found++;
	}
	return 0;
}

static int
day_cb(void *arg, const struct oem_ledger_day *d)
{
	uint64_t *sum = arg;

	sum[0] += d->count;
	sum[1]++;
	return 0;
}

/* The clean run: every appliance verified to its size, counts, UIDs,
 * serials, days and report flags as the exports show. */
static void
test_clean_run(void **state)
{
	struct lfx *f = *state;
	struct oem_ledger_txn t = { 0 };
	struct oem_ledger_appliance *ap = malloc(sizeof(*ap));
	struct oem_token_rec tok;
	struct qread q;
	uint8_t kid[32], root[32];
	uint64_t at, days[2] = { 0, 0 };
	int a;

	memset(&q, 0, sizeof(q));
	assert_non_null(ap);
	assert_int_equal(oem_ledger_begin(f->l, 0, &t), 0);
	for (a = 0; a < NAPP; a++) {
		assert_int_equal(oem_ledger_appliance_get(&t, f->app[a].id, ap), 0);
		assert_int_equal(ap->size, f->app[a].n);
		fx_root(&f->app[a], ap->size, root);
		assert_memory_equal(ap->root, root, 32);
		assert_int_equal(ap->frontier.size, ap->size);
		assert_non_null(strstr(ap->note, "tally.appliance/"));
		assert_int_equal(ap->last_time, f->app[a].now);
	}
	memcpy(q.id, f->q[B], 16);
	assert_int_equal(oem_ledger_quota_each(&t, f->app[B].id, quota_cb, &q), 0);
	assert_int_equal(q.found, 1);
	assert_int_equal(q.c.issued, 4);
	assert_int_equal(q.c.reported, 2);
	assert_int_equal(q.c.units, 6);
	assert_int_equal(oem_ledger_uid_get(&t, (const uint8_t *)"C-UID-3", 7, kid, &at), 0);
	assert_memory_equal(kid, f->app[C].id, 32);
	assert_int_equal(at, f->tok[C][3]);
	assert_int_equal(oem_ledger_serial_get(&t, f->q[A], 1001, kid, &at), 0);
	assert_int_equal(at, f->tok[A][1]);
	/* the report of the second export reached the first export's token */
	assert_int_equal(oem_ledger_token_get(&t, f->app[A].id, f->tok[A][1], &tok), 0);
	assert_true(tok.installed);
	assert_int_equal(oem_ledger_day_each(&t, f->app[A].id, day_cb, days), 0);
	assert_int_equal(days[0], 4);  /* tokens */
	assert_int_equal(days[1], 2);  /* two days, one quota */
	oem_ledger_abort(&t);
	free(ap);
}

/* The same export again, and a full export from 0, are taken: nothing is
 * counted twice. */
static void
test_overlap(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	struct oem_ledger_txn t = { 0 };
	struct qread q;

	memset(&q, 0, sizeof(q));
	assert_true(run(f, A, 0, &FX_CLEAN, &res));
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.n_tokens, 0);  /* all below the ledger's size */
	oem_reconcile_result_free(&res);
	fx_add_token(&f->w, &f->app[A], f->q[A], "A-UID-9");
	assert_true(run(f, A, 3, &FX_CLEAN, &res));
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.n_tokens, 1);
	oem_reconcile_result_free(&res);
	memcpy(q.id, f->q[A], 16);
	assert_int_equal(oem_ledger_begin(f->l, 0, &t), 0);
	assert_int_equal(oem_ledger_quota_each(&t, f->app[A].id, quota_cb, &q), 0);
	oem_ledger_abort(&t);
	assert_int_equal(q.c.issued, 5);
}

/* The appliance's data folder restored from an earlier copy and used
 * again: its log diverges from what the ledger verified (fork), or is
 * shorter (rollback). */
static void
test_rollback(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_app *p = &f->app[B];
	size_t keep = (size_t)f->tok[B][2];  /* the copy from before the second export's tokens */

	fx_app_truncate(p, keep);
	fx_add_token(&f->w, p, f->q[B], "B-UID-RESTORED");
	run_bad(f, B, 0, &FX_CLEAN, OEM_ANOM_ROLLBACK, &res);
	assert_non_null(strstr(res.anomalies[0].msg, "went back"));
	oem_reconcile_result_free(&res);
	while (p->n < f->verified[B] + 2)
		fx_add_start(p);
	run_bad(f, B, keep, &FX_CLEAN, OEM_ANOM_FORK, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_ROLLBACK), 0);
	oem_reconcile_result_free(&res);
	/* the untouched appliances go on */
	fx_add_token(&f->w, &f->app[A], f->q[A], "A-UID-5");
	run_clean(f, A);
}

static void
test_edited_and_dropped(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_wopts o = FX_CLEAN;
	uint64_t e;

	e = fx_add_token(&f->w, &f->app[C], f->q[C], "C-UID-4");
	fx_add_token(&f->w, &f->app[C], f->q[C], "C-UID-5");
	o.flip = (long)e;
	run_bad(f, C, f->verified[C], &o, OEM_ANOM_ROOT_MISMATCH, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_SIGNATURE), 1);
	oem_reconcile_result_free(&res);
	o = FX_CLEAN;
	o.drop = (long)e;
	run_bad(f, C, f->verified[C], &o, OEM_ANOM_ENTRY_INDEX, &res);
	assert_true(count_kind(&res, OEM_ANOM_CHECKPOINT_SIZE) >= 1);
	oem_reconcile_result_free(&res);
	/* an entry edited below the ledger's size: the root there differs */
	o = FX_CLEAN;
	o.flip = (long)f->tok[C][0];
	run_bad(f, C, 0, &o, OEM_ANOM_FORK, &res);
	oem_reconcile_result_free(&res);
	run_clean(f, C);
}

/* An appliance the ledger never saw, whose export does not start at 0. */
static void
test_unknown_appliance(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	struct fx_app d;
	uint8_t qid[16];
	uint64_t k;

	fx_app_init(&f->w, &d, TALLY_KEY_P256);
	fx_add_start(&d);
	fx_add_enroll(&f->w, &d);
	fx_add_quota(&f->w, &d, 5, qid);
	k = d.n;
	fx_add_token(&f->w, &d, qid, "D-UID-0");
	fx_export_write(&d, f->path, k, &FX_CLEAN);
	{
		uint8_t before[32], after[32];
		int applied = -1;

		assert_int_equal(oem_ledger_digest(f->l, before), 0);
		assert_int_equal(oem_ledger_reconcile(f->l, f->path, f->w.oem, f->now,
		    &res, &applied), 0);
		assert_false(applied);
		assert_int_equal(count_kind(&res, OEM_ANOM_UNKNOWN_APPLIANCE), 1);
		assert_int_equal(oem_ledger_digest(f->l, after), 0);
		assert_memory_equal(before, after, 32);
		oem_reconcile_result_free(&res);
		/* from 0 it is a new appliance */
		fx_export_write(&d, f->path, 0, &FX_CLEAN);
		assert_int_equal(oem_ledger_reconcile(f->l, f->path, f->w.oem, f->now,
		    &res, &applied), 0);
		assert_true(applied);
		oem_reconcile_result_free(&res);
	}
	fx_app_free(&d);
}

/* The same chip programmed on two appliances (a clone). */
static void
test_uid_two_appliances(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	uint64_t e;

	e = fx_add_token(&f->w, &f->app[B], f->q[B], "A-UID-1");
	run_bad(f, B, f->verified[B], &FX_CLEAN, OEM_ANOM_DUPLICATE_UID, &res);
	assert_int_equal(res.anomalies[0].index, e);
	assert_non_null(strstr(res.anomalies[0].msg, "appliance tally.appliance/"));
	oem_reconcile_result_free(&res);
}

/* A compromised appliance signs tokens beyond its quota with its own key:
 * each export alone is within units, the ledger's total is not. */
static void
test_over_quota(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	char u[32];
	int i;

	for (i = 4; i < 7; i++) {  /* 4 counted + 3 > 6 units */
		uid(u, C, i);
		fx_add_token(&f->w, &f->app[C], f->q[C], u);
	}
	run_bad(f, C, f->verified[C], &FX_CLEAN, OEM_ANOM_OVER_QUOTA, &res);
	assert_int_equal(res.anomalies_total, 1);
	assert_non_null(strstr(res.anomalies[0].msg, "token 7 issued"));
	oem_reconcile_result_free(&res);
}

static void
test_serial_twice(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;

	f->app[A].serial = 1001;  /* assigned in the first export */
	fx_add_token(&f->w, &f->app[A], f->q[A], "A-UID-X");
	run_bad(f, A, f->verified[A], &FX_CLEAN, OEM_ANOM_DUPLICATE_SERIAL, &res);
	assert_non_null(strstr(res.anomalies[0].msg, "1001"));
	oem_reconcile_result_free(&res);
}

/* Entries older than the last one the ledger verified. */
static void
test_time_backwards(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;

	f->app[B].now -= 3600;
	fx_add_start(&f->app[B]);
	run_bad(f, B, f->verified[B], &FX_CLEAN, OEM_ANOM_TIME, &res);
	oem_reconcile_result_free(&res);
}

/* One failed unit per export: the second is beyond the allowance of 1. */
static void
test_failure_rate(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;

	fx_add_report(&f->w, &f->app[A], NULL, f->tok[A][2], "A-UID-2",
	    TALLY__INSTALL_RESULT__FAILED, 1);
	run_clean(f, A);
	fx_add_report(&f->w, &f->app[A], NULL, f->tok[A][3], "A-UID-3",
	    TALLY__INSTALL_RESULT__FAILED, 0);
	run_bad(f, A, f->verified[A], &FX_CLEAN, OEM_ANOM_FAILURE_RATE, &res);
	assert_non_null(strstr(res.anomalies[0].msg, "2 of 4 units failed"));
	oem_reconcile_result_free(&res);
}

/* An export that starts after what the ledger verified. */
static void
test_gap(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;

	fx_add_token(&f->w, &f->app[A], f->q[A], "A-UID-7");
	fx_add_token(&f->w, &f->app[A], f->q[A], "A-UID-8");
	run_bad(f, A, f->verified[A] + 1, &FX_CLEAN, OEM_ANOM_GAP, &res);
	oem_reconcile_result_free(&res);
}

/* A receipt cosigns the last verified checkpoint; refused for an
 * appliance without one and for another OEM key. */
static void
test_receipt(void **state)
{
	struct lfx *f = *state;
	struct oem_ledger_appliance *ap = malloc(sizeof(*ap));
	struct fx_app d;
	char *receipt = NULL, *note;
	int64_t ts = 0;
	size_t text_len = 0;

	assert_non_null(ap);
	assert_int_equal(oem_ledger_receipt(f->l, f->w.oem, f->app[B].id, f->now, &receipt,
	    ap), 0);
	assert_int_equal(tally_cosignature_verify(receipt, strlen(receipt), f->w.oem, &ts,
	    &text_len), 0);
	assert_int_equal(ts, f->now);
	note = fx_checkpoint(&f->app[B], f->verified[B], NULL);
	assert_int_equal(strncmp(receipt, note, text_len), 0);  /* the verified checkpoint */
	assert_int_equal(ap->size, f->verified[B]);
	free(note);
	free(receipt);
	fx_app_init(&f->w, &d, TALLY_KEY_P256);
	assert_int_equal(oem_ledger_receipt(f->l, f->w.oem, d.id, f->now, &receipt, NULL),
	    TALLY_ERR_NOT_FOUND);
	assert_null(receipt);
	assert_int_equal(oem_ledger_receipt(f->l, f->w.other, f->app[B].id, f->now,
	    &receipt, NULL), TALLY_ERR_MISMATCH);
	fx_app_free(&d);
	free(ap);
}

/* A ledger made with one OEM root refuses another. */
static void
test_other_root(void **state)
{
	struct lfx *f = *state;
	struct oem_reconcile_result res;
	int applied = -1;

	fx_export_write(&f->app[A], f->path, 0, &FX_CLEAN);
	assert_int_equal(oem_ledger_reconcile(f->l, f->path, f->w.other, f->now, &res,
	    &applied), TALLY_ERR_MISMATCH);
	assert_false(applied);
	assert_non_null(strstr(res.error, "another OEM root"));
	oem_reconcile_result_free(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_and_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_appliance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uid_two_appliances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_root, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
