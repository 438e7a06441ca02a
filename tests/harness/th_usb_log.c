/* th_usb_log.c - what the appliance logged and counted during a USB line:
 * tokens, install reports and attestation failures from a log export,
 * and the quota's counters; see th_usb.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "artifacts.pb-c.h"
#include "dsse.h"
#include "err.h"
#include "frame.h"
#include "log.pb-c.h"
#include "ctl.pb-c.h"
#include "th_issue.h"
#include "th_usb.h"

static void
copy_uid(char out[65], const ProtobufCBinaryData *uid)
{
	size_t n = uid->len < 64 ? uid->len : 64;

	memcpy(out, uid->data, n);
	out[n] = '\0';
}

/* The DSSE envelope env of type, parsed without checking the signature
 * (tally-oem reconcile does that); *ev: tally__envelope__free_unpacked. */
static int
envelope(const ProtobufCBinaryData *env, const char *type, Tally__Envelope **ev)
{
	return tally_dsse_parse(env->data, env->len, type, ev);
}

static int
take_token(const Tally__LogEntry *e, struct th_usb_log *out)
{
	Tally__Envelope *ev = NULL;
	Tally__Token *tok;
	struct th_usb_token *x;

	if (envelope(&e->token_issued->token, TALLY_PT_TOKEN, &ev) != 0)
		return TALLY_ERR_INVALID;
	tok = tally__token__unpack(NULL, ev->payload.len, ev->payload.data);
	tally__envelope__free_unpacked(ev, NULL);
	if (tok == NULL)
		return TALLY_ERR_INVALID;
	if (out->n_tokens >= TH_USB_MAX) {
		tally__token__free_unpacked(tok, NULL);
		return TALLY_ERR_TOO_LARGE;
	}
	x = &out->tokens[out->n_tokens++];
	copy_uid(x->uid, &tok->device_uid);
	x->index = e->index;
	if (tok->attestation_key_id.len == 32) {
		memcpy(x->att_key_id, tok->attestation_key_id.data, 32);
		x->att_key_id_len = 32;
	}
	tally__token__free_unpacked(tok, NULL);
	return 0;
}

static int
take_report(const Tally__LogEntry *e, struct th_usb_log *out)
{
	Tally__Envelope *ev = NULL;
	Tally__InstallReport *rep;
	struct th_usb_report *x;

	if (envelope(&e->install_reported->report, TALLY_PT_REPORT, &ev) != 0)
		return TALLY_ERR_INVALID;
	rep = tally__install_report__unpack(NULL, ev->payload.len, ev->payload.data);
	tally__envelope__free_unpacked(ev, NULL);
	if (rep == NULL)
		return TALLY_ERR_INVALID;
	if (out->n_reports >= TH_USB_MAX) {
		tally__install_report__free_unpacked(rep, NULL);
		return TALLY_ERR_TOO_LARGE;
	}
	x = &out->reports[out->n_reports++];
	copy_uid(x->uid, &rep->device_uid);
	x->token_index = rep->token_log_index;
	x->result = (int)rep->result;
	snprintf(x->reason, sizeof(x->reason), "%s", rep->reason != NULL ? rep->reason : "");
	x->unit_returned = e->install_reported->unit_returned;
	tally__install_report__free_unpacked(rep, NULL);
	return 0;
}

static int
take_attfail(const Tally__LogEntry *e, struct th_usb_log *out)
{
	const Tally__LogAttestationFailed *a = e->attestation_failed;
	struct th_usb_attfail *x;

	if (out->n_attfails >= TH_USB_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (a->jig_key_id.len != 32 || a->quota_id.len != 16)
		return TALLY_ERR_INVALID;
	x = &out->attfails[out->n_attfails++];
	copy_uid(x->uid, &a->device_uid);
	memcpy(x->jig_key_id, a->jig_key_id.data, 32);
	memcpy(x->quota_id, a->quota_id.data, 16);
	snprintf(x->reason, sizeof(x->reason), "%s", a->reason != NULL ? a->reason : "");
	return 0;
}

static int
take_entry(const Tally__LogEntry *e, void *ctx)
{
	struct th_usb_log *out = ctx;

	switch (e->body_case) {
	case TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED:
		return take_token(e, out);
	case TALLY__LOG_ENTRY__BODY_INSTALL_REPORTED:
		return take_report(e, out);
	case TALLY__LOG_ENTRY__BODY_ATTESTATION_FAILED:
		return take_attfail(e, out);
	default:
		return 0;
	}
}

int
th_usb_log_read(struct th_usb *u, struct th_usb_log *out)
{
	char path[TH_PATH + 16];
	int r;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/usb-export.tlx", u->t->dir);
	if ((r = th_export(u->t, path, NULL)) == 0)
		r = th_export_each_entry(path, take_entry, out, &out->entries);
	unlink(path);
	return r;
}

int
th_usb_quota(struct th_usb *u, uint64_t *issued, uint64_t *returned)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaListRequest ql = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	size_t i;
	int r;

	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	rq.quota_list = &ql;
	if ((r = th_ctl(u->t, &rq, &resp)) != 0)
		return r;
	r = TALLY_ERR_INVALID;
	if (resp->error == 0 && resp->body_case == TALLY__CTL_RESPONSE__BODY_QUOTA_LIST) {
		r = TALLY_ERR_NOT_FOUND;
		for (i = 0; i < resp->quota_list->n_quotas; i++) {
			const Tally__QuotaInfo *q = resp->quota_list->quotas[i];

			if (q->quota_id.len != 16 || memcmp(q->quota_id.data, u->qid, 16) != 0)
				continue;
			*issued = q->issued;
			*returned = q->returned;
			r = 0;
		}
	}
	tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

unsigned
th_usb_tokens_of(const struct th_usb_log *log, const char *uid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < log->n_tokens; i++)
		n += strcmp(log->tokens[i].uid, uid) == 0;
	return n;
}

const struct th_usb_token *
th_usb_token_of(const struct th_usb_log *log, const char *uid)
{
	size_t i;

	for (i = 0; i < log->n_tokens; i++)
		if (strcmp(log->tokens[i].uid, uid) == 0)
			return &log->tokens[i];
	return NULL;
}

unsigned
th_usb_reports_of(const struct th_usb_log *log, const char *uid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < log->n_reports; i++)
		n += strcmp(log->reports[i].uid, uid) == 0;
	return n;
}

const struct th_usb_report *
th_usb_report_of(const struct th_usb_log *log, const char *uid)
{
	size_t i;

	for (i = 0; i < log->n_reports; i++)
		if (strcmp(log->reports[i].uid, uid) == 0)
			return &log->reports[i];
	return NULL;
}
