/*
 * util.h - small helpers: bounded file I/O, hex, time.
 */
#ifndef TALLY_UTIL_H
#define TALLY_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define TALLY_FILE_MAX (16u * 1024 * 1024) /* largest artifact file read, bytes */

/* Reads the whole file at path into a new buffer (*out, freed with free()).
 * At most max bytes. Returns 0, TALLY_ERR_IO (errno set), TALLY_ERR_TOO_LARGE,
 * TALLY_ERR_NOMEM. *out is NUL-terminated one past *len for text use. */
int tally_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* Writes len bytes to path atomically: a temporary file in the same folder,
 * fsync, rename. mode is the new file's permission bits (e.g. 0600).
 * Returns 0 or TALLY_ERR_IO. */
int tally_write_file(const char *path, const uint8_t *buf, size_t len, unsigned mode);

/* Writes all len bytes of data to fd, retrying on EINTR and short writes.
 * Returns 0 or TALLY_ERR_IO (errno set). */
int tally_write_all(int fd, const void *data, size_t len);

/* Lower-case hex of len bytes into out, which must hold 2*len+1 chars. */
void tally_hex(const uint8_t *buf, size_t len, char *out);

/* Parses exactly len bytes of hex (either case) from str, which must be
 * exactly 2*len characters. Returns 0 or TALLY_ERR_INVALID. */
int tally_unhex(const char *str, uint8_t *out, size_t len);

/* Parses hex of any even length up to max bytes. Returns 0 and sets *len,
 * or TALLY_ERR_INVALID / TALLY_ERR_TOO_LARGE. */
int tally_unhex_var(const char *str, uint8_t *out, size_t max, size_t *len);

/* Current time, Unix seconds (UTC), from CLOCK_REALTIME. */
int64_t tally_now(void);

/* Monotonic clock in nanoseconds, for timeouts and latency. */
uint64_t tally_mono_ns(void);

/* Standard base64 (RFC 4648 §4, padded) of len bytes, through OpenSSL
 * EVP_EncodeBlock, into out, which must hold TALLY_B64_LEN(len) + 1 chars.
 * Returns the number of characters written (NUL not counted). */
#define TALLY_B64_LEN(n) (4 * (((size_t)(n) + 2) / 3))
size_t tally_b64_encode(const uint8_t *buf, size_t len, char *out);

/* Decodes exactly slen characters of canonical padded base64 (RFC 4648 §4:
 * no whitespace, correct padding, zero pad bits) into out (max bytes).
 * Returns 0 and *len, TALLY_ERR_INVALID, TALLY_ERR_TOO_LARGE (decodes to
 * more than max bytes), TALLY_ERR_NOMEM. */
int tally_b64_decode(const char *str, size_t slen, uint8_t *out, size_t max, size_t *len);

#endif
