/* main.c - tally-oem: a table of commands, see oem.h. */
#include <stdio.h>
#include <string.h>
#include "oem.h"

static const struct oem_cmd *const commands[] = {
	&oem_cmd_keygen,
	&oem_cmd_quota_create,
	&oem_cmd_reconcile,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	char words[32];
	size_t i;

	fprintf(f, "usage: tally-oem COMMAND [ARGS]\n"
	    "The OEM's offline tool: root key, quotas, reconciliation of exports.\n\n"
	    "  -h, --help    this text\n  --version     print the version\n\n"
	    "commands (each takes --help):\n");
	for (i = 0; i < NCOMMANDS; i++) {
		snprintf(words, sizeof(words), "%s%s%s", commands[i]->group,
		    commands[i]->sub != NULL ? " " : "",
		    commands[i]->sub != NULL ? commands[i]->sub : "");
		fprintf(f, "  %-14s %s\n", words, commands[i]->summary);
	}
}

static const struct oem_cmd *
lookup(int argc, char **argv, int *used)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		const struct oem_cmd *c = commands[i];

		if (strcmp(argv[0], c->group) != 0)
			continue;
		if (c->sub == NULL) {
			*used = 1;
			return c;
		}
		if (argc > 1 && strcmp(argv[1], c->sub) == 0) {
			*used = 2;
			return c;
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct oem_cmd *cmd;
	int used;

	if (argc < 2) {
		usage(stderr);
		return OEM_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return OEM_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tally-oem %s\n", TALLY_VERSION);
		return OEM_EXIT_OK;
	}
	if ((cmd = lookup(argc - 1, argv + 1, &used)) == NULL) {
		if (strcmp(argv[1], "quota") == 0)
			fprintf(stderr, "tally-oem: quota: %s subcommand; one of: create\n",
			    argc > 2 ? "unknown" : "missing");
		else
			fprintf(stderr, "tally-oem: unknown command \"%s\" (try tally-oem "
			    "--help)\n", argv[1]);
		return OEM_EXIT_USAGE;
	}
	return cmd->exec(cmd, argc - used, argv + used);
}
