/* common.c - helpers shared by the tally-oem commands, see oem.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "err.h"
#include "oem.h"

void
oem_usage(const struct oem_cmd *cmd, FILE *f)
{
	tally_cmd_usage("tally-oem", &cmd->words, f);
}

void
oem_errx(const struct oem_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tally_cmd_verrx("tally-oem", &cmd->words, fmt, ap);
	va_end(ap);
}

int
oem_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return TALLY_ERR_INVALID;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return TALLY_ERR_INVALID;
	*v = x;
	return 0;
}

int
oem_parse_time(const char *s, int64_t *t)
{
	struct tm tm;
	const char *end;
	uint64_t v;

	if (oem_parse_u64(s, 0, INT64_MAX, &v) == 0) {
		*t = (int64_t)v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *end != '\0')
		return TALLY_ERR_INVALID;
	*t = (int64_t)timegm(&tm);
	return 0;
}

char *
oem_fmt_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
	return out;
}

int
oem_file_digest(const char *path, uint8_t digest[32])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char buf[65536];
	unsigned int len = 32;
	ssize_t n;
	int fd, r = TALLY_ERR_CRYPTO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return TALLY_ERR_IO;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = TALLY_ERR_IO;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, digest, &len) == 1)
		r = 0;
 out:
	EVP_MD_CTX_free(ctx);
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return r;
}
