/* main.c - tally-oem: a table of commands, see oem.h. */
#include <stdio.h>
#include <string.h>
#include "oem.h"
#include "verify_token.h"

static const struct oem_cmd *const commands[] = {
	&oem_cmd_keygen,
	&oem_cmd_quota_create,
	&oem_cmd_reconcile,
	&oem_cmd_receipt,
	&oem_cmd_verify_token,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: tally-oem COMMAND [ARGS]\n"
	    "The OEM's offline tool: root key, quotas, reconciliation of exports, receipts,\n"
	    "token bundles checked as a device does.\n\n"
	    "  -h, --help    this text\n  --version     print the version\n\n"
	    "commands (each takes --help):\n");
	tally_cmd_list(f, (const void *const *)commands, NCOMMANDS, 14);
}

int
main(int argc, char **argv)
{
	const struct oem_cmd *cmd;
	int i, used;

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
	if ((i = tally_cmd_lookup((const void *const *)commands, NCOMMANDS, argc - 1,
	    argv + 1, &used)) < 0) {
		tally_cmd_unknown("tally-oem", (const void *const *)commands, NCOMMANDS,
		    argc - 1, argv + 1);
		return OEM_EXIT_USAGE;
	}
	cmd = commands[i];
	return cmd->exec(cmd, argc - used, argv + used);
}
