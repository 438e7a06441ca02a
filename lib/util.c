/* util.c - bounded file I/O, hex and clocks, see util.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "err.h"
#include "util.h"

/* Reads until EOF or until max+1 bytes are in buf (which holds max+1). */
static int
read_all(int fd, uint8_t *buf, size_t max, size_t *len)
{
	size_t got = 0;
	ssize_t n;

	while (got <= max) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return TALLY_ERR_IO;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max)
		return TALLY_ERR_TOO_LARGE;
	*len = got;
	return 0;
}

int
tally_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd, r;

	if (max >= SIZE_MAX - 1)
		return TALLY_ERR_TOO_LARGE;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return TALLY_ERR_IO;
	if (fstat(fd, &st) != 0) {
		r = TALLY_ERR_IO;
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		r = TALLY_ERR_TOO_LARGE;
		goto out;
	}
	if ((buf = malloc(max + 2)) == NULL) {
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	if ((r = read_all(fd, buf, max, len)) != 0)
		goto out;
	buf[*len] = '\0';
	*out = buf;
	buf = NULL;
 out:
	free(buf);
	close(fd);
	return r;
}

int
tally_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *buf = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return TALLY_ERR_IO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync of the folder holding path, so that a rename is durable. */
static int
sync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, r = TALLY_ERR_IO;

	if (copy == NULL)
		return TALLY_ERR_NOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		r = fsync(fd) == 0 ? 0 : TALLY_ERR_IO;
		close(fd);
	}
	free(copy);
	return r;
}

int
tally_write_file(const char *path, const uint8_t *buf, size_t len, unsigned mode)
{
	char tmp[4096];
	int fd = -1, r = TALLY_ERR_IO;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return TALLY_ERR_IO;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return TALLY_ERR_IO;
	if (fchmod(fd, (mode_t)mode) != 0 || tally_write_all(fd, buf, len) != 0 ||
	    fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	return sync_parent(path);
 out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

void
tally_hex(const uint8_t *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly len bytes from the first 2*len characters of str. */
static int
unhex_n(const char *str, uint8_t *out, size_t len)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		hi = nibble(str[2 * i]);
		lo = hi < 0 ? -1 : nibble(str[2 * i + 1]);
		if (lo < 0)
			return TALLY_ERR_INVALID;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
tally_unhex(const char *str, uint8_t *out, size_t len)
{
	if (strnlen(str, 2 * len + 1) != 2 * len)
		return TALLY_ERR_INVALID;
	return unhex_n(str, out, len);
}

int
tally_unhex_var(const char *str, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strnlen(str, 2 * max + 1);
	int r;

	if (n > 2 * max)
		return TALLY_ERR_TOO_LARGE;
	if (n % 2 != 0)
		return TALLY_ERR_INVALID;
	if ((r = unhex_n(str, out, n / 2)) != 0)
		return r;
	*len = n / 2;
	return 0;
}

int64_t
tally_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t
tally_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t
tally_b64_encode(const uint8_t *buf, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, buf, (int)len);

	return n < 0 ? 0 : (size_t)n;
}

int
tally_b64_decode(const char *str, size_t slen, uint8_t *out, size_t max, size_t *len)
{
	uint8_t *tmp = NULL;
	char *again = NULL;
	size_t pad = 0, n;
	int r = TALLY_ERR_INVALID, got;

	if (slen % 4 != 0 || slen > INT_MAX)
		return TALLY_ERR_INVALID;
	if (slen / 4 * 3 > max + 2)
		return TALLY_ERR_TOO_LARGE;
	if (slen == 0) {
		*len = 0;
		return 0;
	}
	pad = (str[slen - 1] == '=') + (str[slen - 2] == '=');
	if ((tmp = malloc(slen / 4 * 3 + 1)) == NULL || (again = malloc(slen + 1)) == NULL) {
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	got = EVP_DecodeBlock(tmp, (const unsigned char *)str, (int)slen);
	if (got < 0 || (size_t)got != slen / 4 * 3)
		goto out;
	n = (size_t)got - pad;
	/* Only the canonical encoding is accepted: it must encode back the same. */
	if (tally_b64_encode(tmp, n, again) != slen || memcmp(again, str, slen) != 0)
		goto out;
	if (n > max) {
		r = TALLY_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, tmp, n);
	*len = n;
	r = 0;
 out:
	free(tmp);
	free(again);
	return r;
}
