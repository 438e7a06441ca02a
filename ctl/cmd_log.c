/* cmd_log.c - tallyctl log export --out FILE: the log as an export file
 * (proto/ctl.proto ExportRecord frames: header, entries, checkpoint),
 * written through a temporary file and renamed into place. */
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
#include "frame.h"

struct export_state {
	FILE *f;
	int have_header, have_checkpoint;
	uint64_t first_index, declared, entries, tree_size;
};

/* Tree size from a checkpoint note: its second line, decimal. */
static int
note_size(const char *note, uint64_t *size)
{
	const char *p = strchr(note, '\n');
	char *end;

	if (p == NULL || p[1] < '0' || p[1] > '9')
		return TALLY_ERR_INVALID;
	errno = 0;
	*size = strtoull(p + 1, &end, 10);
	return errno != 0 || *end != '\n' ? TALLY_ERR_INVALID : 0;
}

/* Checks the record fits the export layout: header, entries, checkpoint. */
static int
export_track(struct export_state *st, const Tally__ExportRecord *rec)
{
	if (st->have_checkpoint)
		return TALLY_ERR_INVALID;
	switch (rec->body_case) {
	case TALLY__EXPORT_RECORD__BODY_HEADER:
		if (st->have_header)
			return TALLY_ERR_INVALID;
		st->have_header = 1;
		st->first_index = rec->header->first_index;
		st->declared = rec->header->entry_count;
		return 0;
	case TALLY__EXPORT_RECORD__BODY_ENTRY:
		if (!st->have_header)
			return TALLY_ERR_INVALID;
		st->entries++;
		return 0;
	case TALLY__EXPORT_RECORD__BODY_CHECKPOINT:
		if (!st->have_header || st->entries != st->declared)
			return TALLY_ERR_INVALID;
		st->have_checkpoint = 1;
		return note_size(rec->checkpoint, &st->tree_size);
	default:
		return TALLY_ERR_INVALID;
	}
}

static int
export_record(void *arg, const Tally__CtlResponse *resp)
{
	struct export_state *st = arg;
	uint8_t hdr[TALLY_FRAME_HDR], *buf;
	size_t len;
	int r;

	if (resp->body_case != TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD ||
	    (r = export_track(st, resp->export_record)) != 0)
		return TALLY_ERR_INVALID;
	len = tally__export_record__get_packed_size(resp->export_record);
	if ((r = tally_frame_header(hdr, len)) != 0)
		return r;
	if ((buf = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__export_record__pack(resp->export_record, buf);
	r = fwrite(hdr, 1, sizeof(hdr), st->f) == sizeof(hdr) &&
	    fwrite(buf, 1, len, st->f) == len ? 0 : TALLY_ERR_IO;
	free(buf);
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

static int
export_run(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    struct export_state *st)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__LogExportRequest body = TALLY__LOG_EXPORT_REQUEST__INIT;
	Tally__CtlResponse *end = NULL;
	struct ctl_client *c = NULL;
	int r, ex;

	if ((ex = ctl_connect(ctx, self, &c)) != CTL_EXIT_OK)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	req.log_export = &body;
	r = ctl_client_stream(c, &req, export_record, st, &end);
	if (r == TALLY_ERR_IO && ferror(st->f)) {
		ctl_errx(self, "write: %s", strerror(errno));
		ex = CTL_EXIT_USAGE;
	} else if (r != 0)
		ex = ctl_io_failed(self, ctx, r);
	else if (end->error != TALLY__ERROR_CODE__OK)
		ex = ctl_refused(self, end);
	else if (!st->have_checkpoint || st->tree_size != st->first_index + st->entries)
		ex = ctl_io_failed(self, ctx, TALLY_ERR_INVALID);
	if (end != NULL)
		tally__ctl_response__free_unpacked(end, NULL);
	ctl_client_close(c);
	return ex;
}

static int
export_to(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    const char *path, int json)
{
	struct export_state st = { 0 };
	char tmp[PATH_MAX];
	int fd, ex;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		errno = ENAMETOOLONG;
	else if ((fd = mkstemp(tmp)) >= 0) {
		/* an export holds no secret; the operator carries it to the OEM */
		if (fchmod(fd, 0644) != 0 || (st.f = fdopen(fd, "w")) == NULL) {
			close(fd);
			unlink(tmp);
		}
	}
	if (st.f == NULL) {
		ctl_errx(self, "cannot create a temporary file next to %s: %s",
		    path, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if ((ex = export_run(ctx, self, &st)) != CTL_EXIT_OK) {
		fclose(st.f);
		unlink(tmp);
		return ex;
	}
	if (export_commit(st.f, tmp, path) != 0) {
		ctl_errx(self, "write %s: %s", path, strerror(errno));
		unlink(tmp);
		return CTL_EXIT_USAGE;
	}
	if (json)
		return ctl_json_print(self, json_pack("{s:s, s:I, s:I, s:I}", "out", path,
		    "first_index", (json_int_t)st.first_index,
		    "entries", (json_int_t)st.entries, "tree_size", (json_int_t)st.tree_size));
	printf("exported %llu entries (tree size %llu) to %s\n",
	    (unsigned long long)st.entries, (unsigned long long)st.tree_size, path);
	return CTL_EXIT_OK;
}

static int
log_export_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int ch, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'j': json = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (out == NULL || optind != argc) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	return export_to(ctx, self, out, json);
}

const struct ctl_cmd ctl_cmd_log_export = {
	{
		"log", "export", "--out FILE [--json]",
		"Export the whole log with its signed checkpoint, for tally-oem reconcile.",
		"  -o, --out FILE    the export file to write (replaced atomically)\n"
		"  --json            print the counts as JSON\n",
	},
	log_export_exec,
};
