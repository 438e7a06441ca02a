/*
 * oem.h - tally-oem: the OEM's offline tool. main.c is a table of
 * commands; each lives in a cmd_*.c file as a `const struct oem_cmd`.
 * Exit status (DESIGN.md §6): OEM_EXIT_OK, OEM_EXIT_ANOMALY (anomaly found
 * or input refused), OEM_EXIT_USAGE (usage or setup error, unreadable file).
 */
#ifndef TALLY_OEM_H
#define TALLY_OEM_H

#include <stdint.h>
#include <stdio.h>
#include "cmdtab.h"

enum { OEM_EXIT_OK = 0, OEM_EXIT_ANOMALY = 1, OEM_EXIT_USAGE = 2 };

struct oem_cmd {
	struct tally_cmd_words words;  /* first: see lib/cmdtab.h */
	int (*exec)(const struct oem_cmd *self, int argc, char **argv); /* argv[0] = last word */
};

extern const struct oem_cmd oem_cmd_keygen;
extern const struct oem_cmd oem_cmd_quota_create;
extern const struct oem_cmd oem_cmd_reconcile;
extern const struct oem_cmd oem_cmd_receipt;

/* Prints the usage line, summary and help text to f. */
void oem_usage(const struct oem_cmd *cmd, FILE *f);

/* Prints "tally-oem: <words>: <message>" and a newline to stderr. */
void oem_errx(const struct oem_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a time: Unix seconds ("1767225600") or ISO 8601 UTC
 * "YYYY-MM-DDTHH:MM:SSZ". Returns 0 or TALLY_ERR_INVALID. */
int oem_parse_time(const char *s, int64_t *t);

/* "YYYY-MM-DDTHH:MM:SSZ" for Unix seconds t into out; "?" when t is out
 * of the calendar's range. Returns out. */
char *oem_fmt_time(int64_t t, char out[32]);

/* Parses a decimal unsigned integer in [min, max]. Returns 0 or
 * TALLY_ERR_INVALID. */
int oem_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v);

/* SHA-256 of the file at path, read in blocks. Returns 0, TALLY_ERR_IO
 * (errno kept), TALLY_ERR_CRYPTO. */
int oem_file_digest(const char *path, uint8_t digest[32]);

#endif
