/* main.c - tallyctl: a table of commands, see ctl.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"

static const struct ctl_cmd *const commands[] = {
	&ctl_cmd_status,
	&ctl_cmd_identity,
	&ctl_cmd_quota_import,
	&ctl_cmd_quota_list,
	&ctl_cmd_jig_enroll,
	&ctl_cmd_jig_list,
	&ctl_cmd_jig_revoke,
	&ctl_cmd_log_export,
	&ctl_cmd_log_proof,
	&ctl_cmd_log_consistency,
	&ctl_cmd_receipt_import,
	&ctl_cmd_checkpoint,
	&ctl_cmd_token_show,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: tallyctl [-s PATH] COMMAND [ARGS]\n"
	    "Operator commands for tallyd, through its control socket.\n\n"
	    "  -s, --socket PATH  control socket (default $%s or %s)\n"
	    "  -h, --help         this text\n  --version          print the version\n\n"
	    "commands (each takes --help):\n", CTL_SOCKET_ENV, CTL_SOCKET_DEFAULT);
	tally_cmd_list(f, (const void *const *)commands, NCOMMANDS, 18);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_ctx ctx = { getenv(CTL_SOCKET_ENV), CTL_TIMEOUT_MS_DEFAULT };
	const struct ctl_cmd *cmd;
	int ch, i, used;

	while ((ch = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			ctx.socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("tallyctl %s\n", TALLY_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (ctx.socket_path == NULL || ctx.socket_path[0] == '\0')
		ctx.socket_path = CTL_SOCKET_DEFAULT;
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((i = tally_cmd_lookup((const void *const *)commands, NCOMMANDS, argc, argv,
	    &used)) < 0) {
		tally_cmd_unknown("tallyctl", (const void *const *)commands, NCOMMANDS, argc, argv);
		return CTL_EXIT_USAGE;
	}
	cmd = commands[i];
	return cmd->exec(&ctx, cmd, argc - used + 1, argv + used - 1);
}
