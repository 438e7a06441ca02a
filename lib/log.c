/* log.c - stateless stderr logger, see log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include "err.h"
#include "log.h"

static const char *
level_name(int level)
{
	switch (level) {
	case TALLY_LOG_ERR:	return "error";
	case TALLY_LOG_WARN:	return "warning";
	case TALLY_LOG_INFO:	return "info";
	default:		return "debug";
	}
}

static int
want_prefix(void)
{
	const char *p = getenv("TALLY_LOG_PREFIX");

	return (p != NULL && strcmp(p, "1") == 0) || getenv("JOURNAL_STREAM") != NULL;
}

/* Formats the whole line first so that it reaches stderr in one write. */
static void
log_line(int level, const char *func, const char *suffix, const char *fmt, va_list ap)
{
	char msg[1024], pfx[8] = "";
	int saved = errno;

	if (level == TALLY_LOG_DEBUG && getenv("TALLY_DEBUG") == NULL)
		goto out;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (want_prefix())
		snprintf(pfx, sizeof(pfx), "<%d>", level);
	fprintf(stderr, "%s%s: %s: %s: %s%s%s\n", pfx,
	    program_invocation_short_name, level_name(level), func, msg,
	    suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
 out:
	errno = saved;
}

void
tally_log(int level, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, func, NULL, fmt, ap);
	va_end(ap);
}

void
tally_log_err(int err, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(TALLY_LOG_ERR, func, tally_strerror(err), fmt, ap);
	va_end(ap);
}

void
tally_log_openssl(const char *func, const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		tally_log(TALLY_LOG_ERR, func, "%s: %s", what, buf);
	}
}
