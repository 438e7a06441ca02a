/* ctlreq.c - control requests: dispatch and the read-only ones (status,
 * identity, lists, token show, inclusion and consistency proofs), each in
 * one LMDB read transaction on the loop thread; see ctlreq.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "artifact.h"
#include "control.h"
#include "ctlreq.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "query.h"

const char *
ctlreq_name(Tally__CtlRequest__BodyCase c)
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
	case TALLY__CTL_REQUEST__BODY_LOG_PROOF:	return "log proof";
	case TALLY__CTL_REQUEST__BODY_LOG_CONSISTENCY:	return "log consistency";
	case TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT:	return "receipt import";
	default:					return "unknown request";
	}
}

void
ctlreq_reply(struct ctlconn *cc, uint64_t request_id, Tally__CtlResponse *resp)
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
		ctlreq_reply(cc, request_id, resp);
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
	if (ts->bundle_quota_id.len != 0 && ts->bundle_quota_id.len != 16) {
		control_reply_error(cc, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "bundle quota ID must be 16 bytes");
		return;
	}
	if (ts->bundle_quota_id.len == 16)
		r = query_token_bundle(control_daemon(cc->c)->store, ts->device_uid.data,
		    ts->device_uid.len, ts->bundle_quota_id.data, a, &out);
	else
		r = query_token_show(control_daemon(cc->c)->store, ts->device_uid.data,
		    ts->device_uid.len, a, &out);
	resp.body_case = TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW;
	resp.token_show = &out;
	reply_query(cc, rq->request_id, r, &resp, "token show");
}

/* Reply of a proof query: resp, or BAD_REQUEST with bad (sizes out of
 * range), NOT_FOUND (no checkpoint yet) or INTERNAL. */
static void
reply_proof(struct ctlconn *cc, uint64_t request_id, int r, Tally__CtlResponse *resp,
    const char *bad)
{
	if (r == TALLY_ERR_INVALID) {
		log_info("operator uid %u: refused: %s", (unsigned)cc->uid, bad);
		control_reply_error(cc, request_id, TALLY__ERROR_CODE__BAD_REQUEST, bad);
	} else if (r == TALLY_ERR_NOT_FOUND) {
		control_reply_error(cc, request_id, TALLY__ERROR_CODE__NOT_FOUND,
		    "no checkpoint signed yet (tallyctl checkpoint signs one)");
	} else {
		reply_query(cc, request_id, r, resp, "proof");
	}
}

static void
do_log_proof(struct ctlconn *cc, Tally__CtlRequest *rq, struct tally_arena *a)
{
	const Tally__LogProofRequest *lp = rq->log_proof;
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__LogProofResponse out;
	char bad[128];
	int r;

	r = query_log_proof(control_daemon(cc->c)->store, lp->index, lp->tree_size, a, &out);
	snprintf(bad, sizeof(bad), "index %llu must be below the tree size %llu, and the "
	    "tree size at most the log size", (unsigned long long)lp->index,
	    (unsigned long long)lp->tree_size);
	if (lp->tree_size == 0)
		snprintf(bad, sizeof(bad), "index %llu is not below the latest checkpoint's "
		    "tree size", (unsigned long long)lp->index);
	resp.body_case = TALLY__CTL_RESPONSE__BODY_LOG_PROOF;
	resp.log_proof = &out;
	reply_proof(cc, rq->request_id, r, &resp, bad);
}

static void
do_log_consistency(struct ctlconn *cc, Tally__CtlRequest *rq, struct tally_arena *a)
{
	const Tally__LogConsistencyRequest *lc = rq->log_consistency;
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;
	Tally__LogConsistencyResponse out;
	char bad[128];
	int r;

	r = query_log_consistency(control_daemon(cc->c)->store, lc->from_size, lc->to_size,
	    a, &out);
	snprintf(bad, sizeof(bad), "sizes must be 0 < from (%llu) <= to (%llu; 0 = latest "
	    "checkpoint) <= log size", (unsigned long long)lc->from_size,
	    (unsigned long long)lc->to_size);
	resp.body_case = TALLY__CTL_RESPONSE__BODY_LOG_CONSISTENCY;
	resp.log_consistency = &out;
	reply_proof(cc, rq->request_id, r, &resp, bad);
}

void
ctlreq_handle(struct ctlconn *cc, Tally__CtlRequest *rq)
{
	struct tally_arena a = TALLY_ARENA_INIT;

	if (rq->body_case == TALLY__CTL_REQUEST__BODY_STATUS)
		log_debug("operator uid %u: status", (unsigned)cc->uid);
	else
		log_info("operator uid %u: %s", (unsigned)cc->uid, ctlreq_name(rq->body_case));
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
	case TALLY__CTL_REQUEST__BODY_LOG_PROOF:
		do_log_proof(cc, rq, &a);
		break;
	case TALLY__CTL_REQUEST__BODY_LOG_CONSISTENCY:
		do_log_consistency(cc, rq, &a);
		break;
	case TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT:
	case TALLY__CTL_REQUEST__BODY_JIG_ENROLL:
	case TALLY__CTL_REQUEST__BODY_JIG_REVOKE:
	case TALLY__CTL_REQUEST__BODY_CHECKPOINT:
	case TALLY__CTL_REQUEST__BODY_LOG_EXPORT:
	case TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT:
		ctlreq_write(cc, rq);
		break;
	default:
		control_reply_error(cc, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "request without a known body");
		break;
	}
	tally_arena_release(&a);
}
