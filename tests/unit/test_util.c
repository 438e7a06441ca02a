/* test_util.c - bounded file I/O, hex, base64 and clocks (util.h). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "err.h"
#include "util.h"

struct tmp {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	strcpy(t->dir, "/tmp/tally-test-util-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/f", t->dir);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Number of entries in dir other than "." and "..". */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_write_read_round_trip(void **state)
{
	struct tmp *t = *state;
	const uint8_t data[] = "hello\0world";
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(tally_write_file(t->path, data, sizeof(data), 0640), 0);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(tally_read_file(t->path, sizeof(data), &buf, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(buf, data, sizeof(data));
	assert_int_equal(buf[len], '\0');
	free(buf);

	/* Replaced atomically, new mode; no temporary left behind. */
	assert_int_equal(tally_write_file(t->path, (const uint8_t *)"x", 1, 0600), 0);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(count_entries(t->dir), 1);
	assert_int_equal(tally_read_file(t->path, 1, &buf, &len), 0);
	assert_int_equal(len, 1);
	free(buf);
}

static void
test_read_limits(void **state)
{
	struct tmp *t = *state;
	uint8_t *buf = NULL;
	size_t len = 0;
	char missing[160];

	assert_int_equal(tally_write_file(t->path, (const uint8_t *)"12345", 5, 0600), 0);
	assert_int_equal(tally_read_file(t->path, 4, &buf, &len), TALLY_ERR_TOO_LARGE);
	assert_null(buf);
	assert_int_equal(tally_read_file(t->path, 5, &buf, &len), 0);
	free(buf);
	buf = NULL;
	snprintf(missing, sizeof(missing), "%s/none", t->dir);
	assert_int_equal(tally_read_file(missing, 10, &buf, &len), TALLY_ERR_IO);
	assert_null(buf);
	/* A file that does not exist cannot be written into a missing folder. */
	snprintf(missing, sizeof(missing), "%s/no/such", t->dir);
	assert_int_equal(tally_write_file(missing, (const uint8_t *)"x", 1, 0600), TALLY_ERR_IO);
	/* Empty file. */
	assert_int_equal(tally_write_file(t->path, (const uint8_t *)"", 0, 0600), 0);
	assert_int_equal(tally_read_file(t->path, 10, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);
}

static void
test_hex(void **state)
{
	const uint8_t in[] = { 0x00, 0x01, 0xab, 0xff, 0x7e };
	uint8_t out[8];
	char hex[11];
	size_t len = 0;

	(void)state;
	tally_hex(in, sizeof(in), hex);
	assert_string_equal(hex, "0001abff7e");
	assert_int_equal(tally_unhex("0001ABff7e", out, 5), 0);
	assert_memory_equal(out, in, 5);
	assert_int_equal(tally_unhex("0001abff7", out, 5), TALLY_ERR_INVALID);
	assert_int_equal(tally_unhex("0001abff7e0", out, 5), TALLY_ERR_INVALID);
	assert_int_equal(tally_unhex("0001abgf7e", out, 5), TALLY_ERR_INVALID);
	assert_int_equal(tally_unhex(" 001abff7e", out, 5), TALLY_ERR_INVALID);
	assert_int_equal(tally_unhex_var("abcd", out, 8, &len), 0);
	assert_int_equal(len, 2);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(tally_unhex_var("", out, 8, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(tally_unhex_var("abc", out, 8, &len), TALLY_ERR_INVALID);
	assert_int_equal(tally_unhex_var("000000000000000000", out, 8, &len), TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_unhex_var("zz", out, 8, &len), TALLY_ERR_INVALID);
}

/* RFC 4648 §10 test vectors. */
static void
test_base64_vectors(void **state)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *b64[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char enc[16];
	uint8_t dec[8];
	size_t i, len;

	(void)state;
	for (i = 0; i < 7; i++) {
		assert_int_equal(tally_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), enc),
		    strlen(b64[i]));
		assert_string_equal(enc, b64[i]);
		assert_int_equal(tally_b64_decode(b64[i], strlen(b64[i]), dec, sizeof(dec), &len), 0);
		assert_int_equal(len, strlen(plain[i]));
		assert_memory_equal(dec, plain[i], len);
	}
	assert_int_equal(tally_b64_decode("Zm9vYmFy", 8, dec, 5, &len), TALLY_ERR_TOO_LARGE);
}

static void
test_base64_non_canonical(void **state)
{
	static const char *bad[] = {
		"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "Zm 9v", " Zm9v", "Zm9v\n", "Zm9v====",
		"Zm9*", "=Zm9", "Zg==Zg==", "Zm-v", "Zm_v",
	};
	uint8_t dec[16];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tally_b64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &len),
		    TALLY_ERR_INVALID);
}

static void
test_clocks(void **state)
{
	uint64_t a, b;
	int64_t now = tally_now();

	(void)state;
	assert_true(now > 1700000000);	/* after November 2023 */
	a = tally_mono_ns();
	usleep(2000);
	b = tally_mono_ns();
	assert_true(b - a >= 2000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_non_canonical),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
