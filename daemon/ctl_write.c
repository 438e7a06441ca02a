/* ctl_write.c - control requests that go to the writer thread (quota
 * import, jig enroll/revoke, checkpoint, log export, receipt import):
 * field checks, the queued request with the operator's uid, and the reply
 * once the batch committed; see ctlreq.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "checkpoint.h"
#include "control.h"
#include "ctlreq.h"
#include "daemon.h"
#include "dsse.h"
#include "err.h"
#include "log.h"
#include "session.h"
#include "writer.h"

#define CERT_MAX 16384              /* largest DER jig certificate, bytes */
#define NAME_MAX_LEN 64             /* jig name, printable ASCII */

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
	size_t n;

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
	case TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT:
		n = strnlen(rq->receipt_import->receipt, TALLY_NOTE_MAX + 1);
		if (n < 1 || n > TALLY_NOTE_MAX)
			return "receipt must be a signed note of 1..8192 bytes";
		return NULL;
	default:
		return NULL;
	}
}

static void ctlreq_done(struct wreq *w, void *arg);

static int
copy_in(uint8_t **dst, size_t *dlen, const void *src, size_t len)
{
	if ((*dst = malloc(len ? len : 1)) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(*dst, src, len);
	*dlen = len;
	return 0;
}

static int
fill_wreq(struct wreq *w, const Tally__CtlRequest *rq)
{
	switch (rq->body_case) {
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:
		return copy_in(&w->in.quota.env, &w->in.quota.len, rq->quota_import->quota.data,
		    rq->quota_import->quota.len);
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:
		snprintf(w->in.enroll.name, sizeof(w->in.enroll.name), "%s", rq->jig_enroll->name);
		return copy_in(&w->in.enroll.cert, &w->in.enroll.len,
		    rq->jig_enroll->certificate.data, rq->jig_enroll->certificate.len);
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:
		memcpy(w->in.revoke.jig_key_id, rq->jig_revoke->jig_key_id.data, 32);
		return 0;
	case TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT:
		w->in.receipt.len = strlen(rq->receipt_import->receipt);  /* checked above */
		if ((w->in.receipt.text = strndup(rq->receipt_import->receipt,
		    w->in.receipt.len)) == NULL)
			return TALLY_ERR_NOMEM;
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
	case TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT:	return WREQ_RECEIPT_IMPORT;
	default:					return WREQ_CHECKPOINT;
	}
}

void
ctlreq_write(struct ctlconn *cc, Tally__CtlRequest *rq)
{
	struct tallyd *d = control_daemon(cc->c);
	const char *bad = write_invalid(rq);
	struct wreq *w = NULL;

	if (bad != NULL) {
		log_info("operator uid %u: %s refused: %s", (unsigned)cc->uid,
		    ctlreq_name(rq->body_case), bad);
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
		cc->exp_full = rq->log_export->full;
	}
	control_pause(cc);
	writer_submit(d->writer, w);
}

static void
reply_receipt(struct ctlconn *cc, struct wreq *w)
{
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__ReceiptImportResponse ri = TALLY__RECEIPT_IMPORT_RESPONSE__INIT;

	ri.tree_size = w->tree_size;
	ri.log_index = w->log_index;
	ri.cosigned_at = w->cosigned_at;
	resp.body_case = TALLY__CTL_RESPONSE__BODY_RECEIPT_IMPORT;
	resp.receipt_import = &ri;
	ctlreq_reply(cc, w->request_id, &resp);
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
	case WREQ_RECEIPT_IMPORT:
		reply_receipt(cc, w);
		return;
	default:
		cp.note = w->out != NULL ? (char *)w->out : (char *)"";
		cp.tree_size = w->tree_size;
		cp.root_hash.data = w->root;
		cp.root_hash.len = sizeof(w->root);
		resp.body_case = TALLY__CTL_RESPONSE__BODY_CHECKPOINT;
		resp.checkpoint = &cp;
		break;
	}
	ctlreq_reply(cc, w->request_id, &resp);
}

static const char *
wreq_name(enum wreq_kind k)
{
	switch (k) {
	case WREQ_QUOTA_IMPORT:		return "quota import";
	case WREQ_JIG_ENROLL:		return "jig enroll";
	case WREQ_JIG_REVOKE:		return "jig revoke";
	case WREQ_RECEIPT_IMPORT:	return "receipt import";
	default:			return "checkpoint";
	}
}

/* The operator action's outcome in tallyd's log (DESIGN.md §4 invariant 5). */
static void
log_done(const struct wreq *w)
{
	if (w->error != 0)
		log_info("operator uid %u: %s refused: %s (code %d)", (unsigned)w->operator_uid,
		    wreq_name(w->kind), w->message, w->error);
	else if (w->kind == WREQ_CHECKPOINT)
		log_info("operator uid %u: checkpoint done, tree size %llu",
		    (unsigned)w->operator_uid, (unsigned long long)w->tree_size);
	else if (w->kind == WREQ_RECEIPT_IMPORT)
		log_info("operator uid %u: receipt import done: OEM receipt for tree size %llu "
		    "(cosigned at %lld), log index %llu", (unsigned)w->operator_uid,
		    (unsigned long long)w->tree_size, (long long)w->cosigned_at,
		    (unsigned long long)w->log_index);
	else
		log_info("operator uid %u: %s done, log index %llu", (unsigned)w->operator_uid,
		    wreq_name(w->kind), (unsigned long long)w->log_index);
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
	log_done(w);
	if (cc == NULL)
		goto out;
	if (w->error != 0) {
		control_reply_error(cc, w->request_id, w->error, w->message);
		cc->exporting = false;
		control_resume(cc);
	} else if (cc->exporting) {
		ctlreq_export_begin(cc, w);
	} else {
		reply_write(cc, w, closed);
		control_resume(cc);
	}
	control_settle(cc);
 out:
	wreq_free(w);
}
