/* th_log.c - log export reading, checkpoint verification, tallyd's memory
 * and the tallyctl binary, for the Merkle log integration tests; see
 * th_log.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "checkpoint.h"
#include "err.h"
#include "key.h"
#include "merkle.h"
#include "util.h"
#include "log.pb-c.h"
#include "th_log.h"

#define TALLYCTL_ARGS_MAX 12

static int
bad(int r, const char *why)
{
	fprintf(stderr, "# export: %s\n", why);
	return r;
}

int
th_note_verify(struct th *t, const char *note, uint64_t *size, uint8_t root[32])
{
	char origin[TALLY_ORIGIN_MAX];
	EVP_PKEY *pub = NULL;
	int r;

	if (note == NULL)
		return TALLY_ERR_INVALID;
	tally_checkpoint_origin(t->appliance_key_id, origin);
	if ((r = tally_key_from_spki(t->appliance_spki, t->appliance_spki_len, &pub)) == 0)
		r = tally_checkpoint_verify(note, strlen(note), pub, origin, size, root);
	EVP_PKEY_free(pub);
	return r;
}

long
th_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* State of one export being read. */
struct reading {
	struct th_export_seen *s;
	struct tally_merkle_frontier fr;
	int stage;   /* 0 header, 1 quotas, 2 jigs, 3 entries, 4 done */
};

static int
take_header(struct reading *rd, Tally__ExportRecord *rec)
{
	uint8_t nodes[TALLY_MERKLE_MAX_HEIGHT][32];
	Tally__ExportHeader *h = rec->header;
	size_t i;

	if (rd->stage != 0)
		return bad(TALLY_ERR_INVALID, "a second header");
	rd->stage = 1;
	rd->s->hdr = h;
	rec->header = NULL;   /* now ours */
	rec->body_case = TALLY__EXPORT_RECORD__BODY__NOT_SET;
	if (h->format_version != 2 || h->n_prev_frontier > TALLY_MERKLE_MAX_HEIGHT)
		return bad(TALLY_ERR_INVALID, "header: not format 2, or too many prev_frontier hashes");
	for (i = 0; i < h->n_prev_frontier; i++) {
		if (h->prev_frontier[i].len != 32)
			return bad(TALLY_ERR_INVALID, "header: prev_frontier hash not 32 bytes");
		memcpy(nodes[i], h->prev_frontier[i].data, 32);
	}
	if (tally_merkle_frontier_set(&rd->fr, h->first_index, (const uint8_t (*)[32])nodes,
	    (unsigned)h->n_prev_frontier) != 0)
		return bad(TALLY_ERR_INVALID, "header: prev_frontier does not fit first_index");
	return 0;
}

static int
take_entry(struct reading *rd, const ProtobufCBinaryData *entry)
{
	struct th_export_seen *s = rd->s;
	uint8_t leaf[32];
	Tally__LogEntry *e;
	bool ok;

	if (rd->stage < 1 || rd->stage > 3)
		return bad(TALLY_ERR_INVALID, "an entry out of place");
	rd->stage = 3;
	e = tally__log_entry__unpack(NULL, entry->len, entry->data);
	ok = e != NULL && e->index == s->hdr->first_index + s->entries;
	if (e != NULL)
		tally__log_entry__free_unpacked(e, NULL);
	if (!ok)
		return bad(TALLY_ERR_INVALID, "an entry that is not the next log entry");
	tally_merkle_leaf_hash(entry->data, entry->len, leaf);
	if (tally_merkle_frontier_append(&rd->fr, leaf) != 0)
		return TALLY_ERR_INVALID;
	s->entries++;
	s->bytes += entry->len;
	return 0;
}

static int
take_record(struct reading *rd, Tally__ExportRecord *rec)
{
	switch (rec->body_case) {
	case TALLY__EXPORT_RECORD__BODY_HEADER:
		return take_header(rd, rec);
	case TALLY__EXPORT_RECORD__BODY_QUOTA:
		if (rd->stage != 1)
			return bad(TALLY_ERR_INVALID, "a quota record out of place");
		rd->s->quotas++;
		return 0;
	case TALLY__EXPORT_RECORD__BODY_JIG:
		if (rd->stage != 1 && rd->stage != 2)
			return bad(TALLY_ERR_INVALID, "a jig record out of place");
		rd->stage = 2;
		rd->s->jigs++;
		return 0;
	case TALLY__EXPORT_RECORD__BODY_ENTRY:
		return take_entry(rd, &rec->entry);
	case TALLY__EXPORT_RECORD__BODY_CHECKPOINT:
		if (rd->stage < 1 || rd->stage > 3)
			return bad(TALLY_ERR_INVALID, "a checkpoint out of place");
		rd->stage = 4;
		return (rd->s->note = strdup(rec->checkpoint)) != NULL ? 0 : TALLY_ERR_NOMEM;
	default:
		return bad(TALLY_ERR_INVALID, "a record of unknown type");
	}
}

/* Reads responses on fd until the last one. */
static int
read_stream(struct th *t, int fd, struct reading *rd, int pause_ms, long *rss_kb)
{
	Tally__CtlResponse *resp = NULL;
	bool last = false;
	int r = 0;

	while (r == 0 && !last) {
		if ((r = th_ctl_recv(fd, &resp)) != 0)
			break;
		last = resp->last;
		if (resp->error != 0 || resp->body_case != TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD)
			r = bad(TALLY_ERR_INVALID, resp->message != NULL && resp->message[0] != '\0' ?
			    resp->message : "refused, or not an export record");
		else if ((r = take_record(rd, resp->export_record)) == 0 &&
		    last != (rd->stage == 4))
			r = bad(TALLY_ERR_INVALID, "last set on a record other than the checkpoint");
		tally__ctl_response__free_unpacked(resp, NULL);
		if (r == 0 && pause_ms > 0 && rd->stage == 1 && rd->s->quotas == 0) {
			usleep((useconds_t)pause_ms * 1000);
			*rss_kb = th_rss_kb(t->pid);
			pause_ms = 0;
		}
	}
	return r;
}

int
th_export_read(struct th *t, bool full, int pause_ms, long *rss_kb,
    struct th_export_seen *s)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogExportRequest le = TALLY__LOG_EXPORT_REQUEST__INIT;
	struct reading rd = { .s = s };
	uint8_t root[32];
	uint64_t size;
	int fd = -1, r;

	*s = (struct th_export_seen){ 0 };
	tally_merkle_frontier_init(&rd.fr);
	le.full = full;
	rq.request_id = t->next_id++;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	rq.log_export = &le;
	if ((r = th_ctl_connect(t, &fd)) == 0 && (r = th_ctl_send(fd, &rq)) == 0)
		r = read_stream(t, fd, &rd, pause_ms, rss_kb);
	if (fd >= 0)
		close(fd);
	if (r != 0)
		return r;
	tally_merkle_frontier_root(&rd.fr, s->root);
	if (s->entries != s->hdr->entry_count)
		return bad(TALLY_ERR_INVALID, "entry count differs from the header's");
	if ((r = th_note_verify(t, s->note, &size, root)) != 0)
		return bad(r, "checkpoint not signed by the appliance key");
	if (size != s->hdr->first_index + s->entries || memcmp(root, s->root, 32) != 0)
		return bad(TALLY_ERR_MISMATCH, "checkpoint does not sign the exported entries");
	return 0;
}

void
th_export_seen_free(struct th_export_seen *s)
{
	if (s->hdr != NULL)
		tally__export_header__free_unpacked(s->hdr, NULL);
	free(s->note);
	*s = (struct th_export_seen){ 0 };
}

/* Child side of th_run_tallyctl: never returns. */
static void
exec_tallyctl(const char *bin, const char *po, const char *pe, const char *const *argv)
{
	int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fo >= 0 && fe >= 0 && dup2(fo, STDOUT_FILENO) >= 0 && dup2(fe, STDERR_FILENO) >= 0)
		execv(bin, (char *const *)argv);
	_exit(127);
}

int
th_run_tallyctl(struct th *t, char **out, char **err, const char *const *args)
{
	const char *build = getenv("TALLY_BUILD") != NULL ? getenv("TALLY_BUILD") : "build/check";
	const char *argv[TALLYCTL_ARGS_MAX + 4] = { "tallyctl", "-s", t->sock_path };
	char bin[256], po[TH_PATH + 16], pe[TH_PATH + 16];
	size_t n = 3, len;
	int status, r;
	pid_t pid;

	*out = *err = NULL;
	snprintf(bin, sizeof(bin), "%s/tallyctl", build);
	snprintf(po, sizeof(po), "%s/tallyctl.out", t->dir);
	snprintf(pe, sizeof(pe), "%s/tallyctl.err", t->dir);
	while (*args != NULL && n < TALLYCTL_ARGS_MAX + 3)
		argv[n++] = *args++;
	argv[n] = NULL;
	if ((pid = fork()) < 0)
		return TALLY_ERR_IO;
	if (pid == 0)
		exec_tallyctl(bin, po, pe, argv);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return TALLY_ERR_IO;
	if ((r = tally_read_file(po, 1u << 20, (uint8_t **)out, &len)) != 0 ||
	    (r = tally_read_file(pe, 1u << 20, (uint8_t **)err, &len)) != 0) {
		free(*out);
		*out = NULL;
		return r;
	}
	unlink(po);
	unlink(pe);
	return WEXITSTATUS(status);
}
