/* test_report_render.c - the OEM's HTML report renders in a real browser.
 *
 * A real tallyd issues tokens, its log is exported, `tally-oem reconcile
 * --ledger --html` writes the report, and headless Chromium (Debian's
 * chromium package, installed by `make check`) loads it from file:// with
 * the network off: the rendered DOM must hold the chart (<svg>), the product
 * and the summary, and the screenshot must be a PNG of the window size with
 * far more content than a blank page's. Skipped where chromium is absent. */
#include <errno.h>
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
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "err.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "util.h"

#define CHROMIUM "/usr/bin/chromium"
#define TOKENS 20
#define WIDTH 1200
#define HEIGHT 1600
#define RUN_TIMEOUT_S 90

extern char **environ;

/* Runs argv with stdout to out_path (or /dev/null) and stderr to
 * /dev/null, waits at most RUN_TIMEOUT_S seconds (then SIGKILL).
 * Returns the exit status, or -1. */
static int
run(char *const argv[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	pid_t pid;
	int status, i;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	i = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (i != 0)
		return -1;
	for (i = 0; i < RUN_TIMEOUT_S * 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		nanosleep(&pause, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Headless Chromium on url: a screenshot to png, or the DOM to dom_path. */
static int
chromium(struct th *t, const char *url, const char *png, const char *dom_path)
{
	char profile[TH_PATH + 16], shot[TH_PATH + 32], size[32];
	char *argv[] = { CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
	    "--disable-quic", "--no-first-run", "--disable-background-networking",
	    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
	    profile, size, png != NULL ? shot : "--dump-dom", (char *)url, NULL };

	snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium", t->dir);
	snprintf(size, sizeof(size), "--window-size=%d,%d", WIDTH, HEIGHT);
	snprintf(shot, sizeof(shot), "--screenshot=%s", png != NULL ? png : "");
	return run(argv, dom_path);
}

/* Width and height from a PNG's IHDR (PNG spec §11.2.2); file size too. */
static void
png_info(const char *path, uint32_t *w, uint32_t *h, size_t *size)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	uint8_t *buf;
	size_t len;

	assert_int_equal(tally_read_file(path, 64u << 20, &buf, &len), 0);
	assert_true(len > 24);
	assert_memory_equal(buf, sig, sizeof(sig));
	assert_memory_equal(buf + 12, "IHDR", 4);
	*w = (uint32_t)buf[16] << 24 | (uint32_t)buf[17] << 16 | (uint32_t)buf[18] << 8 | buf[19];
	*h = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | (uint32_t)buf[22] << 8 | buf[23];
	*size = len;
	free(buf);
}

/* Issues TOKENS tokens of "widget" through jig 0 and exports the log. */
static void
produce_and_export(struct th *t, const char *export_path)
{
	struct th_issue_res res[TOKENS];
	struct jig_client *c = NULL;
	uint8_t uids[TOKENS][16], qid[16];

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 50, qid), 0);
	for (int i = 0; i < TOKENS; i++)
		snprintf((char *)uids[i], sizeof(uids[i]), "DUT-%011d", i);
	memset(res, 0, sizeof(res));
	assert_int_equal(th_jig_connect(t, 0, 0, &c), 0);
	assert_int_equal(th_issue_pipelined(c, "widget", &uids[0][0], sizeof(uids[0]),
	    TOKENS, res), 0);
	for (int i = 0; i < TOKENS; i++)
		assert_int_equal(res[i].code, 0);
	th_issue_res_clear(res, TOKENS);
	jig_client_close(c);
	assert_int_equal(th_export(t, export_path, NULL), 0);
}

static void
test_html_report_renders(void **state)
{
	struct th *t = *state;
	char export_path[TH_PATH + 16], html[TH_PATH + 16], ledger[TH_PATH + 16];
	char url[TH_PATH + 32], png[TH_PATH + 16], blank[TH_PATH + 16], dom[TH_PATH + 16];
	char oem_bin[TH_PATH + 32], *text;
	const char *build = getenv("TALLY_BUILD") ? getenv("TALLY_BUILD") : "build/check";
	uint32_t w, h;
	size_t size, blank_size, len;

	if (access(CHROMIUM, X_OK) != 0)
		skip();
	snprintf(export_path, sizeof(export_path), "%s/export.tlx", t->dir);
	snprintf(html, sizeof(html), "%s/report.html", t->dir);
	snprintf(ledger, sizeof(ledger), "%s/ledger", t->dir);
	snprintf(png, sizeof(png), "%s/report.png", t->dir);
	snprintf(blank, sizeof(blank), "%s/blank.png", t->dir);
	snprintf(dom, sizeof(dom), "%s/dom.html", t->dir);
	snprintf(url, sizeof(url), "file://%s", html);
	snprintf(oem_bin, sizeof(oem_bin), "%s/tally-oem", build);
	produce_and_export(t, export_path);
	assert_int_equal(mkdir(ledger, 0700), 0);

	char *reconcile[] = { oem_bin, "reconcile", "--ledger", ledger, "--root",
	    t->oem_pub_path, "--html", html, export_path, NULL };
	assert_int_equal(run(reconcile, NULL), 0);

	/* The DOM after rendering: chart, product, token count. */
	assert_int_equal(chromium(t, url, NULL, dom), 0);
	assert_int_equal(tally_read_file(dom, 16u << 20, (uint8_t **)&text, &len), 0);
	assert_non_null(strstr(text, "<svg"));
	assert_non_null(strstr(text, "widget"));
	free(text);

	/* The screenshot: a PNG of the window, with far more on it than blank. */
	assert_int_equal(chromium(t, url, png, NULL), 0);
	assert_int_equal(chromium(t, "about:blank", blank, NULL), 0);
	png_info(png, &w, &h, &size);
	assert_int_equal(w, WIDTH);
	assert_int_equal(h, HEIGHT);
	png_info(blank, &w, &h, &blank_size);
	assert_true(size > 4 * blank_size);
	if (getenv("TALLY_TEST_KEEP") != NULL)
		fprintf(stderr, "report screenshot: %s\n", png);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_html_report_renders,
		    th_cmocka_setup, th_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
