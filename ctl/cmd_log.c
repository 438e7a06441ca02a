/* cmd_log.c - tallyctl log export --out FILE [--full]: the log since the
 * last OEM receipt (or all of it) as an export file, format 2
 * (proto/ctl.proto ExportRecord frames: header, quotas, jigs, entries,
 * checkpoint; checked as they stream in, export.h), written through a
 * temporary file and renamed into place. Progress on stderr when it is a
 * terminal. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "ctl.h"
#include "err.h"
#include "export.h"
#include "frame.h"
#include "util.h"

struct export_state {
	FILE *f;
	struct export_check ec;
	bool progress;          /* stderr is a terminal */
	bool shown;             /* a progress line is on the terminal */
	uint64_t shown_ns;      /* when it was last updated (monotonic) */
};

#define PROGRESS_NS (200u * 1000 * 1000)   /* terminal updates at most 5 times a second */

/* "\rlog export: N / TOTAL entries" on a terminal, at most every
 * PROGRESS_NS and at the end; nothing when stderr is not a terminal. */
static void
progress(struct export_state *st, bool end)
{
	uint64_t now = tally_mono_ns();

	if (!st->progress || st->ec.stage < EXPORT_QUOTAS ||
	    (!end && st->shown && now - st->shown_ns < PROGRESS_NS))
		return;
	fprintf(stderr, "\rlog export: %llu / %llu entries%s",
	    (unsigned long long)st->ec.entries, (unsigned long long)st->ec.declared,
	    end ? ", complete\n" : "");
	st->shown = !end;
	st->shown_ns = now;
}

/* Ends the progress line before an error message. */
static void
progress_break(struct export_state *st)
{
	if (st->shown)
		fputc('\n', stderr);
	st->shown = false;
}

static int
export_record(void *arg, const Tally__CtlResponse *resp)
{
	struct export_state *st = arg;
	uint8_t hdr[TALLY_FRAME_HDR], *buf;
	size_t len;
	int r;

	if (resp->body_case != TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD)
		return TALLY_ERR_INVALID;
	if ((r = export_check_record(&st->ec, resp->export_record)) != 0)
		return r;
	len = tally__export_record__get_packed_size(resp->export_record);
	if ((r = tally_frame_header(hdr, len)) != 0)
		return r;
	if ((buf = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__export_record__pack(resp->export_record, buf);
	r = fwrite(hdr, 1, sizeof(hdr), st->f) == sizeof(hdr) &&
	    fwrite(buf, 1, len, st->f) == len ? 0 : TALLY_ERR_IO;
	free(buf);
	progress(st, st->ec.stage == EXPORT_DONE);
	return r;
}

/* Flushes, syncs and renames tmp to path, then syncs the folder. */
static int
export_commit(FILE *f, const char *tmp, const char *path)
{
	char dir[PATH_MAX];
	int dfd, r = 0;

	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		r = TALLY_ERR_IO;
	if (fclose(f) != 0 && r == 0)
		r = TALLY_ERR_IO;
	if (r == 0 && rename(tmp, path) != 0)
		r = TALLY_ERR_IO;
	if (r != 0)
		return r;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* How a stream that did not end well is reported. */
static int
export_failed(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    struct export_state *st, int r, const Tally__CtlResponse *end)
{
	progress_break(st);
	if (r == TALLY_ERR_IO && ferror(st->f)) {
		ctl_errx(self, "write: %s", strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if (r != 0 && st->ec.why != NULL) {
		ctl_errx(self, "export refused: %s", st->ec.why);
		return CTL_EXIT_REFUSED;
	}
	if (r != 0)
		return ctl_io_failed(self, ctx, r);
	if (end->error != TALLY__ERROR_CODE__OK)
		return ctl_refused(self, end);
	ctl_errx(self, "export refused: tallyd ended the stream before its checkpoint");
	return CTL_EXIT_REFUSED;
}

static int
export_run(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    struct export_state *st, int full)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__LogExportRequest body = TALLY__LOG_EXPORT_REQUEST__INIT;
	Tally__CtlResponse *end = NULL;
	struct ctl_client *c = NULL;
	int r, ex;

	if ((ex = ctl_connect(ctx, self, &c)) != CTL_EXIT_OK)
		return ex;
	body.full = full != 0;
	req.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	req.log_export = &body;
	r = ctl_client_stream(c, &req, export_record, st, &end);
	if (r != 0 || end->error != TALLY__ERROR_CODE__OK || st->ec.stage != EXPORT_DONE)
		ex = export_failed(ctx, self, st, r, end);
	if (end != NULL)
		tally__ctl_response__free_unpacked(end, NULL);
	ctl_client_close(c);
	return ex;
}

static int
export_print(const struct ctl_cmd *self, const struct export_check *ec, const char *path,
    int json)
{
	if (json)
		return ctl_json_print(self, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}",
		    "out", path, "first_index", (json_int_t)ec->first_index,
		    "entries", (json_int_t)ec->entries, "tree_size", (json_int_t)ec->tree_size,
		    "quotas", (json_int_t)ec->quotas, "jigs", (json_int_t)ec->jigs));
	printf("exported %llu entries (%llu..%llu, tree size %llu) with %llu quota%s and "
	    "%llu jig%s to %s\n", (unsigned long long)ec->entries,
	    (unsigned long long)ec->first_index,
	    (unsigned long long)(ec->tree_size ? ec->tree_size - 1 : 0),
	    (unsigned long long)ec->tree_size, (unsigned long long)ec->quotas,
	    ec->quotas == 1 ? "" : "s", (unsigned long long)ec->jigs, ec->jigs == 1 ? "" : "s",
	    path);
	return CTL_EXIT_OK;
}

/* A temporary file next to path (mode 0644), into *f and tmp. */
static int
export_tmp(const char *path, char *tmp, size_t tmplen, FILE **f)
{
	int fd;

	*f = NULL;
	if ((size_t)snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path) >= tmplen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0)
		return -1;
	/* an export holds no secret; the operator carries it to the OEM */
	if (fchmod(fd, 0644) != 0 || (*f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
export_to(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    const char *path, int full, int json)
{
	struct export_state st = { .progress = isatty(STDERR_FILENO) == 1 };
	char tmp[PATH_MAX];
	int ex;

	export_check_init(&st.ec);
	if (export_tmp(path, tmp, sizeof(tmp), &st.f) != 0) {
		ctl_errx(self, "cannot create a temporary file next to %s: %s",
		    path, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if ((ex = export_run(ctx, self, &st, full)) != CTL_EXIT_OK) {
		fclose(st.f);
		unlink(tmp);
	} else if (export_commit(st.f, tmp, path) != 0) {
		ctl_errx(self, "write %s: %s", path, strerror(errno));
		unlink(tmp);
		ex = CTL_EXIT_USAGE;
	} else {
		ex = export_print(self, &st.ec, path, json);
	}
	export_check_free(&st.ec);
	return ex;
}

static int
log_export_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "full", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int ch, full = 0, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:fjh", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'f': full = 1; break;
		case 'j': json = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (out == NULL || optind != argc) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	return export_to(ctx, self, out, full, json);
}

const struct ctl_cmd ctl_cmd_log_export = {
	{
		"log", "export", "--out FILE [--full] [--json]",
		"Export the log since the last OEM receipt, with a new signed checkpoint.",
		"  -o, --out FILE    the export file to write (replaced atomically)\n"
		"  -f, --full        export from entry 0, not from the last receipt\n"
		"  --json            print the counts as JSON\n",
	},
	log_export_exec,
};
