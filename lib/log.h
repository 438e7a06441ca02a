/*
 * log.h - logging for tally programs.
 *
 * Messages go to stderr, one line each, prefixed with the program name, the
 * level and the calling function; under systemd, journald picks them up and
 * the "<N>" sd-daemon(3) level prefix is added when TALLY_LOG_PREFIX=1 or
 * JOURNAL_STREAM is set. Stateless: no global mutable state.
 * Never pass key material or whole tokens to these macros.
 * Debug lines print only when the environment variable TALLY_DEBUG is set.
 */
#ifndef TALLY_LOG_H
#define TALLY_LOG_H

enum tally_log_level { TALLY_LOG_ERR = 3, TALLY_LOG_WARN = 4, TALLY_LOG_INFO = 6, TALLY_LOG_DEBUG = 7 };

/* Writes one line "prog: level: func: message". fmt is printf-style. */
void tally_log(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)   tally_log(TALLY_LOG_ERR, __func__, __VA_ARGS__)
#define log_warn(...)  tally_log(TALLY_LOG_WARN, __func__, __VA_ARGS__)
#define log_info(...)  tally_log(TALLY_LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...) tally_log(TALLY_LOG_DEBUG, __func__, __VA_ARGS__)

/* Logs at level ERR, appending ": " and tally_strerror(err). */
#define log_tally_err(err, ...) tally_log_err(err, __func__, __VA_ARGS__)
void tally_log_err(int err, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Logs and clears the OpenSSL error queue at level ERR, one line per entry,
 * prefixed by what (e.g. "TLS handshake"). */
void tally_log_openssl(const char *func, const char *what);

#endif
