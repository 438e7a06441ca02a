/* ctlreq.c - control request handlers, see ctlreq.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "artifact.h"
#include "checkpoint.h"
#include "control.h"
#include "ctlreq.h"
#include "daemon.h"
#include "dsse.h"
#include "err.h"
#include "evframe.h"
#include "log.h"
#include "query.h"
#include "session.h"
#include "util.h"
#include "writer.h"

#define CERT_MAX 16384              /* largest DER jig certificate, bytes */
#define NAME_MAX_LEN 64             /* jig name, printable ASCII */
#define EXPORT_CHUNK 64             /* log entries read per read transaction */
#define EXPORT_HIGH (256u * 1024)   /* output bytes queued before waiting */

static const char *
req_name(Tally__CtlRequest__BodyCase c)
{
	switch (c) {
	case TALLY__CTL_REQUEST__BODY_STATUS:		return "status";
	case TALLY__CTL_REQUEST__BODY_IDENTITY:		return "identity";
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:	return "quota import";
	case TALLY__CTL_REQUEST__BODY_QUOTA_LIST:	return "quota list";
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:	return "jig enroll";
	case TALLY__CTL_REQUEST__BODY_JIG_LIST:		return "jig list";
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:	return "jig revoke";
	case TALLY__CTL_REQUEST__BODY_CHECKPOINT:	return "checkpoint";
	case TALLY__CTL_REQUEST__BODY_LOG_EXPORT:	return "log export";
	case TALLY__CTL_REQUEST__BODY_TOKEN_SHOW:	return "token show";
	default:					return "unknown request";
	}
}

static void
reply(struct ctlconn *cc, uint64_t request_id, Tally__CtlResponse *resp)
{
	resp->request_id = request_id;
	resp->last = true;
	control_send(cc, resp);
}

/* Reply of a query: resp when r == 0, else the mapped error. */
static void
reply_query(struct ctlconn *cc, uint64_t request_id, int r, Tally__CtlResponse *resp,
    const char *what)
{
	if (r == 0) {
		reply(cc, request_id, resp);
	} else if (r == TALLY_ERR_NOT_FOUND) {
		control_reply_error(cc, request_id, TALLY__ERROR_CODE__NOT_FOUND, "not found");
	} else {
		log_tally_err(r, "control uid %u: %s", (unsigned)cc->uid, what);
		control_reply_error(cc, request_id, TALLY__ERROR_CODE__INTERNAL, tally_strerror(r));
	}
}

static void
do_status(struct ctlconn *cc, Tally__CtlRequest *rq, struct tally_arena *a)
{
	struct tallyd *d = control_daemon(cc->c);
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__StatusResponse st = TALLY__STATUS_RESPONSE__INIT;
	int r = query_status(d->store, a, &st);

	st.listen = d->listen_addr;
	st.version = (char *)TALLY_VERSION;
	st.started_at = d->started_at;
	st.jig_connections = d->sessions.count;
	resp.body_case = TALLY__CTL_RESPONSE__BODY_STATUS;
	resp.status = &st;
	reply_query(cc, rq->request_id, r, &resp, "status");
}

static void
do_read(struct ctlconn *cc, Tally__CtlRequest *rq, struct tally_arena *a)
{
	struct store *st = control_daemon(cc->c)->store;
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__IdentityResponse id = TALLY__IDENTITY_RESPONSE__INIT;
	Tally__QuotaListResponse ql = TALLY__QUOTA_LIST_RESPONSE__INIT;
	Tally__JigListResponse jl = TALLY__JIG_LIST_RESPONSE__INIT;
	int r;

	switch (rq->body_case) {
	case TALLY__CTL_REQUEST__BODY_IDENTITY:
		r = query_identity(st, a, &id);
		resp.body_case = TALLY__CTL_RESPONSE__BODY_IDENTITY;
		resp.identity = &id;
		break;
	case TALLY__CTL_REQUEST__BODY_QUOTA_LIST:
		r = query_quota_list(st, a, &ql);
		resp.body_case = TALLY__CTL_RESPONSE__BODY_QUOTA_LIST;
		resp.quota_list = &ql;
		break;
	default:
		r = query_jig_list(st, a, &jl);
		resp.body_case = TALLY__CTL_RESPONSE__BODY_JIG_LIST;
		resp.jig_list = &jl;
		break;
	}
	reply_query(cc, rq->request_id, r, &resp, "query");
}

static void
do_token_show(struct ctlconn *cc, Tally__CtlRequest *rq, struct tally_arena *a)
{
	const Tally__TokenShowRequest *ts = rq->token_show;
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__TokenShowResponse out = TALLY__TOKEN_SHOW_RESPONSE__INIT;
	int r;

	if (ts->device_uid.len < 1 || ts->device_uid.len > TALLY_UID_MAX) {
		control_reply_error(cc, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "device UID must be 1..64 bytes");
		return;
	}
	r = query_token_show(control_daemon(cc->c)->store, ts->device_uid.data,
	    ts->device_uid.len, a, &out);
	resp.body_case = TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW;
	resp.token_show = &out;
	reply_query(cc, rq->request_id, r, &resp, "token show");
}

static bool
printable(const char *p, size_t max)
{
	size_t n = strlen(p), i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return n <= max;
}

/* Field checks of the requests that go to the writer; NULL when good. */
static const char *
write_invalid(const Tally__CtlRequest *rq)
{
	switch (rq->body_case) {
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:
		if (rq->quota_import->quota.len < 1 ||
		    rq->quota_import->quota.len > TALLY_ENVELOPE_MAX)
			return "quota must be a serialized Envelope of 1..16384 bytes";
		return NULL;
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:
		if (rq->jig_enroll->certificate.len < 1 ||
		    rq->jig_enroll->certificate.len > CERT_MAX)
			return "certificate must be DER of 1..16384 bytes";
		if (!printable(rq->jig_enroll->name, NAME_MAX_LEN))
			return "name must be at most 64 printable characters";
		return NULL;
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:
		if (rq->jig_revoke->jig_key_id.len != 32)
			return "jig key ID must be 32 bytes";
		return NULL;
	default:
		return NULL;
	}
}

static void ctlreq_done(struct wreq *w, void *arg);

static int
fill_wreq(struct wreq *w, const Tally__CtlRequest *rq)
{
	switch (rq->body_case) {
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:
		w->in.quota.len = rq->quota_import->quota.len;
		w->in.quota.env = malloc(w->in.quota.len);
		if (w->in.quota.env == NULL)
			return TALLY_ERR_NOMEM;
		memcpy(w->in.quota.env, rq->quota_import->quota.data, w->in.quota.len);
		return 0;
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:
		w->in.enroll.len = rq->jig_enroll->certificate.len;
		w->in.enroll.cert = malloc(w->in.enroll.len);
		if (w->in.enroll.cert == NULL)
			return TALLY_ERR_NOMEM;
		memcpy(w->in.enroll.cert, rq->jig_enroll->certificate.data, w->in.enroll.len);
		snprintf(w->in.enroll.name, sizeof(w->in.enroll.name), "%s", rq->jig_enroll->name);
		return 0;
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:
		memcpy(w->in.revoke.jig_key_id, rq->jig_revoke->jig_key_id.data, 32);
		return 0;
	default:
		return 0;   /* checkpoint, log export: nothing to carry */
	}
}

static enum wreq_kind
kind_of(Tally__CtlRequest__BodyCase c)
{
	switch (c) {
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:	return WREQ_QUOTA_IMPORT;
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:	return WREQ_JIG_ENROLL;
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:	return WREQ_JIG_REVOKE;
	default:					return WREQ_CHECKPOINT;
	}
}

/* Requests that change state (or need a fresh checkpoint): queued to the
 * writer with the operator's uid; cc waits for ctlreq_done. */
static void
do_write(struct ctlconn *cc, Tally__CtlRequest *rq)
{
	struct tallyd *d = control_daemon(cc->c);
	const char *bad = write_invalid(rq);
	struct wreq *w = NULL;

	if (bad != NULL) {
		log_info("operator uid %u: %s refused: %s", (unsigned)cc->uid,
		    req_name(rq->body_case), bad);
		control_reply_error(cc, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST, bad);
		return;
	}
	if ((w = wreq_new(kind_of(rq->body_case))) == NULL || fill_wreq(w, rq) != 0) {
		wreq_free(w);
		control_reply_error(cc, rq->request_id, TALLY__ERROR_CODE__INTERNAL, "out of memory");
		return;
	}
	w->conn_id = cc->id;
	w->request_id = rq->request_id;
	w->has_operator = true;
	w->operator_uid = (uint32_t)cc->uid;
	w->done = ctlreq_done;
	w->arg = cc->c;
	if (rq->body_case == TALLY__CTL_REQUEST__BODY_LOG_EXPORT) {
		cc->exporting = true;
		cc->exp_request_id = rq->request_id;
		cc->exp_next = rq->log_export->from_index;
	}
	control_pause(cc);
	writer_submit(d->writer, w);
}

static int
emit_entry(void *arg, uint64_t index, const uint8_t *entry, size_t len)
{
	struct ctlconn *cc = arg;
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;

	(void)index;
	rec.body_case = TALLY__EXPORT_RECORD__BODY_ENTRY;
	rec.entry.data = (uint8_t *)entry;
	rec.entry.len = len;
	resp.request_id = cc->exp_request_id;
	resp.body_case = TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD;
	resp.export_record = &rec;
	return evframe_write(bufferevent_get_output(cc->bev), &resp.base);
}

static void
export_end(struct ctlconn *cc)
{
	free(cc->exp_note);
	cc->exp_note = NULL;
	cc->exporting = false;
	control_resume(cc);
}

static void
export_header(struct ctlconn *cc)
{
	struct tallyd *d = control_daemon(cc->c);
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	Tally__ExportHeader h = TALLY__EXPORT_HEADER__INIT;
	char origin[TALLY_ORIGIN_MAX];

	tally_checkpoint_origin(d->key_id, origin);
	h.format_version = 1;
	h.origin = origin;
	h.appliance_public_key.data = d->spki;
	h.appliance_public_key.len = d->spki_len;
	h.first_index = cc->exp_next;
	h.entry_count = cc->exp_end - cc->exp_next;
	h.exported_at = tally_now();
	rec.body_case = TALLY__EXPORT_RECORD__BODY_HEADER;
	rec.header = &h;
	resp.request_id = cc->exp_request_id;
	resp.body_case = TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD;
	resp.export_record = &rec;
	control_send(cc, &resp);
}

void
ctlreq_export_pump(struct ctlconn *cc)
{
	struct evbuffer *out = bufferevent_get_output(cc->bev);
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	uint64_t n;
	int r;

	while (!cc->closing && cc->exp_next < cc->exp_end &&
	    evbuffer_get_length(out) < EXPORT_HIGH) {
		n = cc->exp_end - cc->exp_next < EXPORT_CHUNK ?
		    cc->exp_end - cc->exp_next : EXPORT_CHUNK;
		r = query_log_range(control_daemon(cc->c)->store, cc->exp_next, n, emit_entry, cc);
		if (r != 0) {
			log_tally_err(r, "operator uid %u: log export at entry %llu",
			    (unsigned)cc->uid, (unsigned long long)cc->exp_next);
			control_reply_error(cc, cc->exp_request_id, TALLY__ERROR_CODE__INTERNAL,
			    "log export failed while reading the log");
			export_end(cc);
			return;
		}
		cc->exp_next += n;
	}
	if (cc->closing || cc->exp_next < cc->exp_end)
		return;   /* write_cb calls again once the output drained */
	rec.body_case = TALLY__EXPORT_RECORD__BODY_CHECKPOINT;
	rec.checkpoint = cc->exp_note;
	resp.body_case = TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD;
	resp.export_record = &rec;
	reply(cc, cc->exp_request_id, &resp);
	log_info("operator uid %u: log export sent %llu entries", (unsigned)cc->uid,
	    (unsigned long long)cc->exp_end);
	export_end(cc);
}

/* Starts streaming once the export's checkpoint is signed and stored. */
static void
export_start(struct ctlconn *cc, struct wreq *w)
{
	if (cc->exp_next > w->tree_size) {
		control_reply_error(cc, cc->exp_request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "from_index is past the end of the log");
		export_end(cc);
		return;
	}
	cc->exp_end = w->tree_size;
	cc->exp_note = (char *)w->out;   /* NUL-terminated note, now ours */
	w->out = NULL;
	export_header(cc);
	ctlreq_export_pump(cc);
}

static void
reply_write(struct ctlconn *cc, struct wreq *w, unsigned closed)
{
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__QuotaImportResponse qi = TALLY__QUOTA_IMPORT_RESPONSE__INIT;
	Tally__JigEnrollResponse je = TALLY__JIG_ENROLL_RESPONSE__INIT;
	Tally__JigRevokeResponse jr = TALLY__JIG_REVOKE_RESPONSE__INIT;
	Tally__CheckpointResponse cp = TALLY__CHECKPOINT_RESPONSE__INIT;

	switch (w->kind) {
	case WREQ_QUOTA_IMPORT:
		qi.quota_id.data = w->id;
		qi.quota_id.len = TALLY_QUOTA_ID_LEN;
		qi.log_index = w->log_index;
		resp.body_case = TALLY__CTL_RESPONSE__BODY_QUOTA_IMPORT;
		resp.quota_import = &qi;
		break;
	case WREQ_JIG_ENROLL:
		je.jig_key_id.data = w->id;
		je.jig_key_id.len = 32;
		je.log_index = w->log_index;
		resp.body_case = TALLY__CTL_RESPONSE__BODY_JIG_ENROLL;
		resp.jig_enroll = &je;
		break;
	case WREQ_JIG_REVOKE:
		jr.log_index = w->log_index;
		jr.connections_closed = closed;
		resp.body_case = TALLY__CTL_RESPONSE__BODY_JIG_REVOKE;
		resp.jig_revoke = &jr;
		break;
	default:
		cp.note = w->out != NULL ? (char *)w->out : (char *)"";
		cp.tree_size = w->tree_size;
		cp.root_hash.data = w->root;
		cp.root_hash.len = sizeof(w->root);
		resp.body_case = TALLY__CTL_RESPONSE__BODY_CHECKPOINT;
		resp.checkpoint = &cp;
		break;
	}
	reply(cc, w->request_id, &resp);
}

static const char *
wreq_name(enum wreq_kind k)
{
	switch (k) {
	case WREQ_QUOTA_IMPORT:	return "quota import";
	case WREQ_JIG_ENROLL:	return "jig enroll";
	case WREQ_JIG_REVOKE:	return "jig revoke";
	default:		return "checkpoint";
	}
}

/* The writer is done with an operator request. A successful revoke closes
 * the jig's connections even when the operator has gone. */
static void
ctlreq_done(struct wreq *w, void *arg)
{
	struct control *c = arg;
	struct ctlconn *cc = control_lookup(c, w->conn_id);
	unsigned closed = 0;

	w->message[sizeof(w->message) - 1] = '\0';
	if (w->kind == WREQ_JIG_REVOKE && w->error == 0)
		closed = session_close_jig(control_daemon(c), w->in.revoke.jig_key_id);
	if (w->error != 0)
		log_info("operator uid %u: %s refused: %s (code %d)", (unsigned)w->operator_uid,
		    wreq_name(w->kind), w->message, w->error);
	else if (w->kind == WREQ_CHECKPOINT)
		log_info("operator uid %u: checkpoint done, tree size %llu",
		    (unsigned)w->operator_uid, (unsigned long long)w->tree_size);
	else
		log_info("operator uid %u: %s done, log index %llu", (unsigned)w->operator_uid,
		    wreq_name(w->kind), (unsigned long long)w->log_index);
	if (cc == NULL)
		goto out;
	if (w->error != 0) {
		control_reply_error(cc, w->request_id, w->error, w->message);
		cc->exporting = false;
		control_resume(cc);
	} else if (cc->exporting) {
		export_start(cc, w);
	} else {
		reply_write(cc, w, closed);
		control_resume(cc);
	}
	control_settle(cc);
 out:
	wreq_free(w);
}

void
ctlreq_handle(struct ctlconn *cc, Tally__CtlRequest *rq)
{
	struct tally_arena a = TALLY_ARENA_INIT;

	if (rq->body_case == TALLY__CTL_REQUEST__BODY_STATUS)
		log_debug("operator uid %u: status", (unsigned)cc->uid);
	else
		log_info("operator uid %u: %s", (unsigned)cc->uid, req_name(rq->body_case));
	switch (rq->body_case) {
	case TALLY__CTL_REQUEST__BODY_STATUS:
		do_status(cc, rq, &a);
		break;
	case TALLY__CTL_REQUEST__BODY_IDENTITY:
	case TALLY__CTL_REQUEST__BODY_QUOTA_LIST:
	case TALLY__CTL_REQUEST__BODY_JIG_LIST:
		do_read(cc, rq, &a);
		break;
	case TALLY__CTL_REQUEST__BODY_TOKEN_SHOW:
		do_token_show(cc, rq, &a);
		break;
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:
	case TALLY__CTL_REQUEST__BODY_CHECKPOINT:
	case TALLY__CTL_REQUEST__BODY_LOG_EXPORT:
		do_write(cc, rq);
		break;
	default:
		control_reply_error(cc, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "request without a known body");
		break;
	}
	tally_arena_release(&a);
}
