/* common.c - helpers shared by the tallyctl commands, see ctl.h. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ctl.h"
#include "err.h"
#include "util.h"

void
ctl_usage(const struct ctl_cmd *cmd, FILE *f)
{
	tally_cmd_usage("tallyctl [-s PATH]", &cmd->words, f);
}

void
ctl_errx(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tally_cmd_verrx("tallyctl", &cmd->words, fmt, ap);
	va_end(ap);
}

int
ctl_std_opts(const struct ctl_cmd *cmd, int argc, char **argv,
    int nargs, int *json, int *first)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*json = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_usage(cmd, stdout);
			return CTL_EXIT_OK;
		case 'j':
			*json = 1;
			break;
		default:
			ctl_usage(cmd, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind != nargs) {
		ctl_usage(cmd, stderr);
		return CTL_EXIT_USAGE;
	}
	*first = optind;
	return -1;
}

int
ctl_connect(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd,
    struct ctl_client **c)
{
	int r;

	if ((r = ctl_client_connect(ctx->socket_path, ctx->timeout_ms, c)) == 0)
		return CTL_EXIT_OK;
	switch (r) {
	case TALLY_ERR_NOT_FOUND:
		fprintf(stderr, "tallyctl: tallyd is not running (no socket at %s)\n",
		    ctx->socket_path);
		break;
	case TALLY_ERR_INVALID:
		fprintf(stderr, "tallyctl: %s is not a socket (is tallyd's "
		    "control socket path right?)\n", ctx->socket_path);
		break;
	case TALLY_ERR_PERM:
		fprintf(stderr, "tallyctl: permission denied on %s (are you in "
		    "the tally group?)\n", ctx->socket_path);
		break;
	default:
		ctl_errx(cmd, "connect to %s: %s", ctx->socket_path, strerror(errno));
		break;
	}
	return CTL_EXIT_USAGE;
}

int
ctl_refused(const struct ctl_cmd *cmd, const Tally__CtlResponse *resp)
{
	ctl_errx(cmd, "%s: %s", ctl_error_name(resp->error),
	    resp->message != NULL && resp->message[0] != '\0' ?
	    resp->message : "refused by tallyd");
	return CTL_EXIT_REFUSED;
}

int
ctl_io_failed(const struct ctl_cmd *cmd, const struct ctl_ctx *ctx, int r)
{
	switch (r) {
	case TALLY_ERR_CLOSED:
		ctl_errx(cmd, "tallyd closed the connection on %s", ctx->socket_path);
		break;
	case TALLY_ERR_TIMEOUT:
		ctl_errx(cmd, "no answer from tallyd within %d ms", ctx->timeout_ms);
		break;
	case TALLY_ERR_INVALID:
		ctl_errx(cmd, "malformed answer from tallyd");
		break;
	case TALLY_ERR_IO:
		ctl_errx(cmd, "control socket %s: %s", ctx->socket_path, strerror(errno));
		break;
	default:
		ctl_errx(cmd, "%s", tally_strerror(r));
		break;
	}
	return CTL_EXIT_USAGE;
}

int
ctl_call(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd, struct ctl_client *c,
    Tally__CtlRequest *req, Tally__CtlResponse__BodyCase want, Tally__CtlResponse **resp)
{
	int r;

	*resp = NULL;
	if ((r = ctl_client_call(c, req, resp)) != 0)
		return ctl_io_failed(cmd, ctx, r);
	if ((*resp)->error != TALLY__ERROR_CODE__OK)
		return ctl_refused(cmd, *resp);
	if ((*resp)->body_case != want)
		return ctl_io_failed(cmd, ctx, TALLY_ERR_INVALID);
	return CTL_EXIT_OK;
}

int
ctl_rpc(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd,
    Tally__CtlRequest *req, Tally__CtlResponse__BodyCase want,
    Tally__CtlResponse **resp)
{
	struct ctl_client *c = NULL;
	Tally__CtlResponse *m = NULL;
	int r, ex;

	*resp = NULL;
	if ((ex = ctl_connect(ctx, cmd, &c)) != CTL_EXIT_OK)
		goto out;
	if ((r = ctl_client_call(c, req, &m)) != 0) {
		ex = ctl_io_failed(cmd, ctx, r);
		goto out;
	}
	if (m->error != TALLY__ERROR_CODE__OK) {
		ex = ctl_refused(cmd, m);
		goto out;
	}
	if (m->body_case != want) {
		ex = ctl_io_failed(cmd, ctx, TALLY_ERR_INVALID);
		goto out;
	}
	*resp = m;
	m = NULL;
	ex = CTL_EXIT_OK;
 out:
	if (m != NULL)
		tally__ctl_response__free_unpacked(m, NULL);
	ctl_client_close(c);
	return ex;
}

json_t *
ctl_json_hex(const uint8_t *buf, size_t len)
{
	char hex[2 * 64 + 1];

	if (len > 64)
		return NULL;
	tally_hex(buf, len, hex);
	return json_string(hex);
}

int
ctl_json_print(const struct ctl_cmd *cmd, json_t *obj)
{
	int r;

	if (obj == NULL) {
		ctl_errx(cmd, "out of memory building JSON");
		return CTL_EXIT_USAGE;
	}
	r = json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(obj);
	if (r != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		ctl_errx(cmd, "write to stdout: %s", strerror(errno));
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

char *
ctl_hex(const uint8_t *buf, size_t len, char *out)
{
	tally_hex(buf, len, out);
	return out;
}

char *
ctl_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "-");
	return out;
}
