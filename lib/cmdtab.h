/*
 * cmdtab.h - subcommand tables for tally's command-line tools (tallyctl,
 * tally-oem): words, usage, lookup and one-line errors, in one place.
 *
 * A tool's command struct must have a struct tally_cmd_words as its FIRST
 * member (C11 §6.7.2.1: a pointer to a struct, converted, points to its
 * first member), so a table of pointers to the tool's own commands can be
 * passed here as `const void *const *`.
 */
#ifndef TALLY_CMDTAB_H
#define TALLY_CMDTAB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct tally_cmd_words {
	const char *group;    /* first word, e.g. "quota" */
	const char *sub;      /* second word, e.g. "import", or NULL */
	const char *args;     /* usage after the words, e.g. "[--json] FILE" */
	const char *summary;  /* one line for the command list */
	const char *help;     /* option lines for --help, or NULL */
};

/* Finds the command named by argv[0] (and argv[1] for two-word commands)
 * among the n entries of tab. Returns its index and sets *used to the
 * number of words taken (1 or 2), or returns -1 when none matches. */
int tally_cmd_lookup(const void *const *tab, size_t n, int argc, char **argv, int *used);

/* Prints "  WORDS  summary" for every entry of tab to f, WORDS padded to
 * width characters. */
void tally_cmd_list(FILE *f, const void *const *tab, size_t n, int width);

/* Prints one line to stderr saying why argv[0..] named no command of tab:
 * a known group with a missing or unknown subcommand (listing the valid
 * ones), or an unknown command. prog is the tool's name. */
void tally_cmd_unknown(const char *prog, const void *const *tab, size_t n,
    int argc, char **argv);

/* Prints "usage: PREFIX WORDS ARGS", the summary, the help text and the
 * --help line to f. prefix is e.g. "tallyctl [-s PATH]". */
void tally_cmd_usage(const char *prefix, const struct tally_cmd_words *w, FILE *f);

/* Prints "PROG: WORDS: message" and a newline to stderr; fmt is printf-style. */
void tally_cmd_errx(const char *prog, const struct tally_cmd_words *w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As tally_cmd_errx with a va_list. */
void tally_cmd_verrx(const char *prog, const struct tally_cmd_words *w, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

#endif
