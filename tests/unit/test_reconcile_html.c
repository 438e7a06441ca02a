/* test_reconcile_html.c - the OEM's HTML report (oem/report.h): produced
 * from a real ledger and from exports alone, self-contained (no script,
 * no external resource), a hostile product name and file name escaped,
 * the anomalies named before the appliances, and SVG charts. The
 * tally-oem binary (when TALLY_BUILD names its folder, as tests/run.sh
 * does) writes the same page with --html and exits 1 on the anomaly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "err.h"
#include "key.h"
#include "util.h"
#include "oem/ledger.h"
#include "oem/report.h"
#include "tests/harness/fx_export.h"

#define HOSTILE "<script>alert(1)</script>"
#define HOSTILE_FILE "x\"><img onerror=alert(2)>.tlx"

struct hfx {
	struct fx_world w;
	struct fx_app a, b;
	uint8_t qa[16], qb[16];
	struct oem_ledger *l;
	char ledger[FX_PATH], good[FX_PATH], bad[FX_PATH];
	struct oem_reconcile_result res[2];
	int status[2];
};

static int
setup(void **state)
{
	struct hfx *f = calloc(1, sizeof(*f));
	int i;

	*state = f;
	if (f == NULL || fx_world_init(&f->w) != 0)
		return -1;
	f->w.product = HOSTILE;
	fx_path(&f->w, "ledger", f->ledger);
	fx_path(&f->w, "good.tlx", f->good);
	fx_path(&f->w, HOSTILE_FILE, f->bad);
	fx_app_init(&f->w, &f->a, TALLY_KEY_P256);
	fx_app_init(&f->w, &f->b, TALLY_KEY_ED25519);
	fx_add_start(&f->a);
	fx_add_enroll(&f->w, &f->a);
	fx_add_quota(&f->w, &f->a, 3, f->qa);
	for (i = 0; i < 3; i++) {
		fx_add_token(&f->w, &f->a, f->qa, i == 0 ? "U0" : i == 1 ? "U1" : "U2");
		f->a.now += 86400;  /* one token a day */
	}
	fx_add_start(&f->b);
	fx_add_enroll(&f->w, &f->b);
	fx_add_quota(&f->w, &f->b, 1, f->qb);
	fx_add_token(&f->w, &f->b, f->qb, "V0");
	fx_add_token(&f->w, &f->b, f->qb, "U1");  /* over quota, and A's UID */
	fx_export_write(&f->a, f->good, 0, &FX_CLEAN);
	fx_export_write(&f->b, f->bad, 0, &FX_CLEAN);
	return oem_ledger_open(f->ledger, 64u << 20, &f->l) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct hfx *f = *state;

	if (f == NULL)
		return 0;
	oem_reconcile_result_free(&f->res[0]);
	oem_reconcile_result_free(&f->res[1]);
	oem_ledger_close(f->l);
	fx_app_free(&f->a);
	fx_app_free(&f->b);
	fx_world_free(&f->w);
	free(f);
	return 0;
}

/* Renders rep into a new NUL-terminated string. */
static char *
render(const struct oem_report *rep)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(oem_report_html(m, rep), 0);
	assert_int_equal(fclose(m), 0);
	return buf;
}

/* Self-contained, escaped, anomalies first, charts drawn. */
static void
check_page(const char *html, const char *anomaly)
{
	const char *an, *app;

	assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
	assert_non_null(strstr(html, "</html>\n"));
	assert_null(strcasestr(html, "<script"));      /* the product is text */
	assert_null(strcasestr(html, "<img"));
	assert_null(strcasestr(html, "http"));         /* no external anything */
	assert_null(strcasestr(html, "src="));
	assert_null(strcasestr(html, "href="));
	assert_null(strcasestr(html, "url("));
	assert_null(strcasestr(html, "@import"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "x&quot;&gt;&lt;img onerror=alert(2)&gt;.tlx"));
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(an = strstr(html, anomaly));
	assert_non_null(app = strstr(html, "<h2>Appliance "));
	assert_true(an < app);                         /* anomalies at the top */
}

static void
test_from_ledger(void **state)
{
	struct hfx *f = *state;
	struct oem_report rep;
	char *files[2] = { f->good, f->bad }, *html;
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(oem_ledger_reconcile(f->l, files[i], f->w.oem, f->w.now,
		    &f->res[i], &f->status[i]), 0);
	assert_int_equal(f->status[0], 1);
	assert_int_equal(f->status[1], 0);
	assert_int_equal(oem_report_init(&rep, f->w.now, f->ledger, files, f->res, NULL,
	    f->status, 2), 0);
	assert_int_equal(oem_report_from_ledger(&rep, f->l), 0);
	assert_int_equal(rep.n_appliances, 1);         /* B was refused */
	assert_int_equal(rep.appliances[0].n_days, 3);
	assert_int_equal(rep.anomalies_total, f->res[1].anomalies_total);
	html = render(&rep);
	check_page(html, "over_quota");
	assert_non_null(strstr(html, "duplicate_uid"));
	assert_non_null(strstr(html, "refused, ledger unchanged"));
	assert_non_null(strstr(html, "verified, ledger updated"));
	free(html);
	oem_report_free(&rep);
}

static void
test_from_exports(void **state)
{
	struct hfx *f = *state;
	struct oem_report rep;
	char *files[2] = { f->good, f->bad }, *html;
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(oem_reconcile_file(files[i], f->w.oem, &f->res[i]), 0);
	assert_int_equal(oem_reconcile_cross(f->res, 2), 0);
	assert_int_equal(oem_report_init(&rep, f->w.now, NULL, files, f->res, NULL, NULL, 2), 0);
	assert_int_equal(oem_report_from_exports(&rep), 0);
	assert_int_equal(rep.n_appliances, 2);
	html = render(&rep);
	check_page(html, "over_quota");
	assert_non_null(strstr(html, "no ledger"));
	assert_true(strstr(html, "<svg") != strrchr(html, '<'));
	free(html);
	oem_report_free(&rep);
}

/* Runs argv, returns its exit status (stdout and stderr to /dev/null). */
static int
run(char *const argv[])
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL ||
		    freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* tally-oem reconcile --ledger --html, and receipt, as a user runs them. */
static void
test_cli(void **state)
{
	struct hfx *f = *state;
	const char *build = getenv("TALLY_BUILD");
	char bin[FX_PATH], pub[FX_PATH], key[FX_PATH], page[FX_PATH], rcpt[FX_PATH];
	uint8_t *html = NULL;
	size_t len = 0;

	if (build == NULL) {
		skip();
		return;
	}
	snprintf(bin, sizeof(bin), "%s/tally-oem", build);
	fx_path(&f->w, "oem.pub", pub);
	fx_path(&f->w, "oem.key", key);
	fx_path(&f->w, "report.html", page);
	fx_path(&f->w, "receipt.txt", rcpt);
	assert_int_equal(tally_key_write_public(f->w.oem, pub), 0);
	assert_int_equal(tally_key_write_private(f->w.oem, key), 0);
	{
		char *rec[] = { bin, "reconcile", "--ledger", f->ledger, "--root", pub,
		    "--html", page, f->good, f->bad, NULL };
		char *rc[] = { bin, "receipt", "--key", key, "--ledger", f->ledger,
		    "--export", f->good, "--out", rcpt, NULL };
		char *rc_bad[] = { bin, "receipt", "--key", key, "--ledger", f->ledger,
		    "--export", f->bad, "--out", page, NULL };

		assert_int_equal(run(rec), 1);  /* B's anomalies */
		assert_int_equal(tally_read_file(page, TALLY_FILE_MAX, &html, &len), 0);
		check_page((const char *)html, "over_quota");
		free(html);
		assert_int_equal(run(rc), 0);
		assert_int_equal(access(rcpt, F_OK), 0);
		assert_int_equal(run(rc_bad), 2);  /* --out exists */
		unlink(page);
		assert_int_equal(run(rc_bad), 1);  /* B has no verified checkpoint */
		assert_int_equal(access(page, F_OK), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_from_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_exports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
