/* ctl_export.c - the streamed log export, format 2 (docs/formats.md
 * "Export file"): once the export's checkpoint is committed, one header,
 * the context records (every quota envelope, then every jig enrolment),
 * the entries [first_index, tree_size) and the checkpoint note, each an
 * ExportRecord in its own CtlResponse; see ctlreq.h.
 *
 * Memory stays bounded whatever the log's size: entries are read in read
 * transactions of at most EXPORT_CHUNK entries, and only while the
 * connection's output holds less than EXPORT_HIGH bytes; then the loop
 * waits for the write callback, which libevent calls once the peer has
 * read the output down to EXPORT_LOW (bufferevent write watermark). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "arena.h"
#include "control.h"
#include "ctlreq.h"
#include "daemon.h"
#include "err.h"
#include "fault.h"
#include "evframe.h"
#include "log.h"
#include "query.h"
#include "writer.h"

#define EXPORT_CHUNK 512            /* log entries read per read transaction */
#define EXPORT_HIGH (256u * 1024)   /* output bytes queued before waiting */
#define EXPORT_LOW (64u * 1024)     /* write callback once the output drains below */

/* Queues rec as one CtlResponse of the export on cc. */
static int
send_record(struct ctlconn *cc, Tally__ExportRecord *rec, bool last)
{
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;

	resp.request_id = cc->exp_request_id;
	resp.last = last;
	resp.body_case = TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD;
	resp.export_record = rec;
	return evframe_write(bufferevent_get_output(cc->bev), &resp.base);
}

void
ctlreq_export_end(struct ctlconn *cc)
{
	free(cc->exp_note);
	cc->exp_note = NULL;
	cc->exporting = false;
	if (!cc->closing)
		bufferevent_setwatermark(cc->bev, EV_WRITE, 0, 0);
	control_resume(cc);
}

/* Ends the export with an error answer (records already sent stay sent;
 * the error response carries last = true). */
static void
export_fail(struct ctlconn *cc, int r, const char *what)
{
	char msg[160];

	log_tally_err(r, "operator uid %u: log export: %s", (unsigned)cc->uid, what);
	snprintf(msg, sizeof(msg), "log export failed: %s: %s", what, tally_strerror(r));
	control_reply_error(cc, cc->exp_request_id, TALLY__ERROR_CODE__INTERNAL, msg);
	ctlreq_export_end(cc);
}

/* query_log_range callback: one entry record. Stops the read transaction
 * with TALLY_ERR_AGAIN once the output reached EXPORT_HIGH. */
static int
emit_entry(void *arg, uint64_t index, const uint8_t *entry, size_t len)
{
	struct ctlconn *cc = arg;
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	int r;

	if (index != cc->exp_next)
		return TALLY_ERR_STORAGE;
	rec.body_case = TALLY__EXPORT_RECORD__BODY_ENTRY;
	rec.entry.data = (uint8_t *)entry;
	rec.entry.len = len;
	if ((r = send_record(cc, &rec, false)) != 0)
		return r;
	cc->exp_next = index + 1;
	TALLY_FAULT("export");
	return evbuffer_get_length(bufferevent_get_output(cc->bev)) >= EXPORT_HIGH ?
	    TALLY_ERR_AGAIN : 0;
}

void
ctlreq_export_pump(struct ctlconn *cc)
{
	struct evbuffer *out = bufferevent_get_output(cc->bev);
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	uint64_t n;
	int r;

	while (!cc->closing && cc->exp_next < cc->exp_end &&
	    evbuffer_get_length(out) < EXPORT_HIGH) {
		n = cc->exp_end - cc->exp_next;
		r = query_log_range(control_daemon(cc->c)->store, cc->exp_next,
		    n < EXPORT_CHUNK ? n : EXPORT_CHUNK, emit_entry, cc);
		if (r != 0 && r != TALLY_ERR_AGAIN) {
			export_fail(cc, r, "reading the log");
			return;
		}
	}
	if (cc->closing || cc->exp_next < cc->exp_end)
		return;   /* the write callback calls again once the output drained */
	rec.body_case = TALLY__EXPORT_RECORD__BODY_CHECKPOINT;
	rec.checkpoint = cc->exp_note;
	if ((r = send_record(cc, &rec, true)) != 0) {
		export_fail(cc, r, "sending the checkpoint");
		return;
	}
	log_info("operator uid %u: log export sent, up to tree size %llu",
	    (unsigned)cc->uid, (unsigned long long)cc->exp_end);
	ctlreq_export_end(cc);
}

/* query_export_context callback: one quota or jig record. */
static int
emit_context(void *arg, int kind, const uint8_t *data, size_t len)
{
	struct ctlconn *cc = arg;
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;

	if (kind == TALLY__EXPORT_RECORD__BODY_QUOTA) {
		rec.body_case = TALLY__EXPORT_RECORD__BODY_QUOTA;
		rec.quota.data = (uint8_t *)data;
		rec.quota.len = len;
	} else if (kind == TALLY__EXPORT_RECORD__BODY_JIG) {
		rec.body_case = TALLY__EXPORT_RECORD__BODY_JIG;
		rec.jig.data = (uint8_t *)data;
		rec.jig.len = len;
	} else {
		return TALLY_ERR_INVALID;
	}
	return send_record(cc, &rec, false);
}

/* The header of an export ending at tree_size; sets exp_next. */
static int
send_header(struct ctlconn *cc, uint64_t tree_size)
{
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__ExportHeader h;
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	int r;

	if ((r = query_export_header(control_daemon(cc->c)->store, cc->exp_full, tree_size,
	    &a, &h)) == 0) {
		cc->exp_next = h.first_index;
		rec.body_case = TALLY__EXPORT_RECORD__BODY_HEADER;
		rec.header = &h;
		r = send_record(cc, &rec, false);
	}
	tally_arena_release(&a);
	return r;
}

void
ctlreq_export_begin(struct ctlconn *cc, struct wreq *w)
{
	int r;

	if (w->out == NULL) {
		export_fail(cc, TALLY_ERR_STORAGE, "the writer returned no checkpoint");
		return;
	}
	cc->exp_note = (char *)w->out;   /* NUL-terminated note, now ours */
	w->out = NULL;
	cc->exp_end = w->tree_size;
	if ((r = send_header(cc, w->tree_size)) != 0) {
		export_fail(cc, r, "building the header");
		return;
	}
	if ((r = query_export_context(control_daemon(cc->c)->store, emit_context, cc)) != 0) {
		export_fail(cc, r, "reading the quotas and jigs");
		return;
	}
	log_info("operator uid %u: log export of entries %llu..%llu%s", (unsigned)cc->uid,
	    (unsigned long long)cc->exp_next, (unsigned long long)cc->exp_end,
	    cc->exp_full ? " (full)" : "");
	bufferevent_setwatermark(cc->bev, EV_WRITE, EXPORT_LOW, 0);
	ctlreq_export_pump(cc);
}
