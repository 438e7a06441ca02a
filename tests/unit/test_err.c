/* test_err.c - error strings (err.h) and the stderr logger (log.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "err.h"
#include "log.h"

static void
test_strerror_all_codes(void **state)
{
	int code, other;

	(void)state;
	assert_string_equal(tally_strerror(TALLY_OK), "success");
	assert_string_equal(tally_strerror(TALLY_ERR_SIGNATURE), "signature invalid");
	for (code = TALLY_ERR_NOMEM; code >= TALLY_ERR_PERM; code--) {
		assert_non_null(tally_strerror(code));
		assert_string_not_equal(tally_strerror(code), "unknown error");
		for (other = code - 1; other >= TALLY_ERR_PERM; other--)
			assert_string_not_equal(tally_strerror(code), tally_strerror(other));
	}
	assert_string_equal(tally_strerror(TALLY_ERR_PERM - 1), "unknown error");
	assert_string_equal(tally_strerror(1), "unknown error");
	assert_string_equal(tally_strerror(-1000), "unknown error");
}

/* Runs fn with stderr redirected to a temporary file; returns its text. */
static char *
capture_stderr(void (*fn)(void))
{
	static char buf[4096];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

static void
emit_lines(void)
{
	log_info("hello %d", 42);
	log_debug("hidden %s", "x");
	log_tally_err(TALLY_ERR_KEY_PERM, "loading %s", "k.pem");
}

static void
test_log_format(void **state)
{
	char *out, line[256];

	(void)state;
	unsetenv("TALLY_DEBUG");
	unsetenv("TALLY_LOG_PREFIX");
	unsetenv("JOURNAL_STREAM");
	out = capture_stderr(emit_lines);
	snprintf(line, sizeof(line), "%s: info: emit_lines: hello 42\n%s: error: "
	    "emit_lines: loading k.pem: %s\n", program_invocation_short_name,
	    program_invocation_short_name, tally_strerror(TALLY_ERR_KEY_PERM));
	assert_string_equal(out, line);
}

static void
test_log_debug_and_prefix(void **state)
{
	char *out;

	(void)state;
	setenv("TALLY_DEBUG", "1", 1);
	setenv("TALLY_LOG_PREFIX", "1", 1);
	out = capture_stderr(emit_lines);
	unsetenv("TALLY_DEBUG");
	unsetenv("TALLY_LOG_PREFIX");
	assert_non_null(strstr(out, "<6>"));
	assert_non_null(strstr(out, "<7>"));
	assert_non_null(strstr(out, ": debug: emit_lines: hidden x\n"));
	assert_non_null(strstr(out, "<3>"));
}

static void
emit_openssl(void)
{
	/* A failing fetch leaves an entry on the error queue. */
	EVP_MD *md = EVP_MD_fetch(NULL, "NO-SUCH-DIGEST", NULL);

	assert_null(md);
	tally_log_openssl(__func__, "fetch");
}

static void
test_log_openssl_drains_queue(void **state)
{
	char *out;

	(void)state;
	out = capture_stderr(emit_openssl);
	assert_non_null(strstr(out, ": error: emit_openssl: fetch: error:"));
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_all_codes),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_log_debug_and_prefix),
		cmocka_unit_test(test_log_openssl_drains_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
