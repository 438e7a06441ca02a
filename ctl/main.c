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
	&ctl_cmd_checkpoint,
	&ctl_cmd_token_show,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	size_t i;
	char words[32];

	fprintf(f, "usage: tallyctl [-s PATH] COMMAND [ARGS]\n"
	    "Operator commands for tallyd, through its control socket.\n\n"
	    "  -s, --socket PATH  control socket (default $%s or %s)\n"
	    "  -h, --help         this text\n  --version          print the version\n\n"
	    "commands (each takes --help):\n", CTL_SOCKET_ENV, CTL_SOCKET_DEFAULT);
	for (i = 0; i < NCOMMANDS; i++) {
		snprintf(words, sizeof(words), "%s%s%s", commands[i]->group,
		    commands[i]->sub != NULL ? " " : "",
		    commands[i]->sub != NULL ? commands[i]->sub : "");
		fprintf(f, "  %-18s %s\n", words, commands[i]->summary);
	}
}

/* Finds the command named by argv[0] (and argv[1] for two-word commands);
 * *used is how many words it took. */
static const struct ctl_cmd *
lookup(int argc, char **argv, int *used)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		const struct ctl_cmd *c = commands[i];

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

/* One line: the subcommands of a known group, or the unknown command. */
static void
unknown(int argc, char **argv)
{
	char subs[128] = "";
	size_t i, off = 0;

	for (i = 0; i < NCOMMANDS; i++)
		if (commands[i]->sub != NULL && strcmp(argv[0], commands[i]->group) == 0 &&
		    off < sizeof(subs))
			off += (size_t)snprintf(subs + off, sizeof(subs) - off, "%s%s",
			    off > 0 ? ", " : "", commands[i]->sub);
	if (off > 0 && argc > 1)
		fprintf(stderr, "tallyctl: %s: unknown subcommand \"%s\"; one of: %s\n",
		    argv[0], argv[1], subs);
	else if (off > 0)
		fprintf(stderr, "tallyctl: %s: missing subcommand; one of: %s\n",
		    argv[0], subs);
	else
		fprintf(stderr, "tallyctl: unknown command \"%s\" (try tallyctl --help)\n",
		    argv[0]);
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
	int ch, used;

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
	if ((cmd = lookup(argc, argv, &used)) == NULL) {
		unknown(argc, argv);
		return CTL_EXIT_USAGE;
	}
	return cmd->exec(&ctx, cmd, argc - used + 1, argv + used - 1);
}
