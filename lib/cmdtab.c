/* cmdtab.c - subcommand tables, see cmdtab.h. */
#include <stdarg.h>
#include <string.h>
#include "cmdtab.h"

static const struct tally_cmd_words *
entry(const void *const *tab, size_t i)
{
	return (const struct tally_cmd_words *)tab[i];
}

/* "group" or "group sub" into buf. */
static const char *
words(const struct tally_cmd_words *w, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", w->group, w->sub != NULL ? " " : "",
	    w->sub != NULL ? w->sub : "");
	return buf;
}

int
tally_cmd_lookup(const void *const *tab, size_t n, int argc, char **argv, int *used)
{
	size_t i;

	if (argc < 1)
		return -1;
	for (i = 0; i < n; i++) {
		const struct tally_cmd_words *w = entry(tab, i);

		if (strcmp(argv[0], w->group) != 0)
			continue;
		if (w->sub == NULL) {
			*used = 1;
			return (int)i;
		}
		if (argc > 1 && strcmp(argv[1], w->sub) == 0) {
			*used = 2;
			return (int)i;
		}
	}
	return -1;
}

void
tally_cmd_list(FILE *f, const void *const *tab, size_t n, int width)
{
	char buf[64];
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "  %-*s %s\n", width, words(entry(tab, i), buf, sizeof(buf)),
		    entry(tab, i)->summary);
}

void
tally_cmd_unknown(const char *prog, const void *const *tab, size_t n, int argc, char **argv)
{
	char subs[160] = "";
	size_t i, off = 0;

	for (i = 0; i < n && off < sizeof(subs); i++) {
		const struct tally_cmd_words *w = entry(tab, i);

		if (w->sub != NULL && strcmp(argv[0], w->group) == 0)
			off += (size_t)snprintf(subs + off, sizeof(subs) - off, "%s%s",
			    off > 0 ? ", " : "", w->sub);
	}
	if (off > 0 && argc > 1)
		fprintf(stderr, "%s: %s: unknown subcommand \"%s\"; one of: %s\n",
		    prog, argv[0], argv[1], subs);
	else if (off > 0)
		fprintf(stderr, "%s: %s: missing subcommand; one of: %s\n", prog, argv[0], subs);
	else
		fprintf(stderr, "%s: unknown command \"%s\" (try %s --help)\n",
		    prog, argv[0], prog);
}

void
tally_cmd_usage(const char *prefix, const struct tally_cmd_words *w, FILE *f)
{
	char buf[64];

	fprintf(f, "usage: %s %s %s\n%s\n", prefix, words(w, buf, sizeof(buf)), w->args,
	    w->summary);
	if (w->help != NULL)
		fputs(w->help, f);
	fputs("  -h, --help              this text\n", f);
}

void
tally_cmd_verrx(const char *prog, const struct tally_cmd_words *w, const char *fmt, va_list ap)
{
	char buf[64], msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s: %s: %s\n", prog, words(w, buf, sizeof(buf)), msg);
}

void
tally_cmd_errx(const char *prog, const struct tally_cmd_words *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tally_cmd_verrx(prog, w, fmt, ap);
	va_end(ap);
}
