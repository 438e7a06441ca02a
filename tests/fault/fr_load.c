/* fr_load.c - the load of one round of the fault harness: jig threads
 * (IssueToken batches and install reports) and a control thread
 * (checkpoints, receipts, exports); see faultrun.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

#include "cosignature.h"
#include "dsse.h"
#include "err.h"
#include "util.h"
#include "jig-firmware/jig.h"
#include "tests/fault/fr_int.h"
#include "tests/harness/th_issue.h"
#include "tests/harness/th_log.h"

void
fr_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

unsigned
fr_rand(unsigned lo, unsigned hi)
{
	uint32_t x = 0;

	RAND_bytes((uint8_t *)&x, sizeof(x));
	return lo + x % (hi - lo + 1);
}

/* Token.log_index inside a token envelope. */
static int
token_index(const uint8_t *env, size_t len, uint64_t *index)
{
	Tally__Envelope *ev = NULL;
	Tally__Token *tok;
	int r;

	if ((r = tally_dsse_parse(env, len, TALLY_PT_TOKEN, &ev)) != 0)
		return r;
	tok = tally__token__unpack(NULL, ev->payload.len, ev->payload.data);
	tally__envelope__free_unpacked(ev, NULL);
	if (tok == NULL)
		return TALLY_ERR_INVALID;
	*index = tok->log_index;
	tally__token__free_unpacked(tok, NULL);
	return 0;
}

/* Keeps a received token (the first for its UID); 1 when it is new. */
static int
keep(struct fr_jig *j, const uint8_t uid[FR_UID_LEN], const struct th_issue_res *res,
    uint8_t **env, size_t *env_len)
{
	struct fr_tok *v;

	if (th_bundle_token(res->bundle, res->bundle_len, env, env_len) != 0) {
		snprintf(j->err, sizeof(j->err), "jig %u: a bundle without a token", j->id);
		return TALLY_ERR_INVALID;
	}
	j->received++;
	if (j->n_tok == j->cap_tok) {
		j->cap_tok = j->cap_tok ? 2 * j->cap_tok : 256;
		if ((v = realloc(j->tok, j->cap_tok * sizeof(*v))) == NULL)
			return TALLY_ERR_NOMEM;
		j->tok = v;
	}
	memcpy(j->tok[j->n_tok].uid, uid, FR_UID_LEN);
	if ((j->tok[j->n_tok].env = malloc(*env_len)) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(j->tok[j->n_tok].env, *env, *env_len);
	j->tok[j->n_tok++].env_len = *env_len;
	return 0;
}

/* Reports a new token: INSTALLED, or FAILED for one in eight. */
static int
report(struct fr_jig *j, struct jig_client *c, const uint8_t uid[FR_UID_LEN],
    const uint8_t *env, size_t env_len)
{
	struct fr *fr = j->fr;
	struct jig_refusal ref;
	uint8_t *rep = NULL;
	size_t rep_len;
	uint64_t index, li;
	int ret, r;

	if ((r = token_index(env, env_len, &index)) != 0 ||
	    (r = jig_report_sign(fr->t->jig[j->id].key, index, uid, FR_UID_LEN,
	    fr_rand(0, 7) == 0 ? "fault harness: scrapped" : NULL, &rep, &rep_len)) != 0)
		return r;
	j->reports_sent++;
	r = jig_client_report(c, rep, rep_len, &li, &ret, &ref);
	free(rep);
	if (r == JIG_CLIENT_REFUSED) {
		snprintf(j->err, sizeof(j->err), "jig %u: report refused: %d %s", j->id,
		    (int)ref.code, ref.message);
		return 0;
	}
	if (r == 0)
		j->reports++;
	return r;
}

/* The UIDs of the next batch: unanswered ones first, then fresh ones. */
static size_t
next_batch(struct fr_jig *j, uint8_t uids[FR_BATCH][FR_UID_LEN])
{
	size_t n = j->n_pending;

	memcpy(uids, j->pending, n * FR_UID_LEN);
	j->n_pending = 0;
	for (; n < FR_BATCH; n++, j->next++) {
		memcpy(uids[n], "flt", 3);
		uids[n][3] = (uint8_t)j->id;
		uids[n][4] = (uint8_t)(j->next >> 24);
		uids[n][5] = (uint8_t)(j->next >> 16);
		uids[n][6] = (uint8_t)(j->next >> 8);
		uids[n][7] = (uint8_t)j->next;
	}
	return n;
}

/* One batch and the reports of its new tokens. Returns the link error. */
static int
one_batch(struct fr_jig *j, struct jig_client *c)
{
	uint8_t uids[FR_BATCH][FR_UID_LEN], *env = NULL;
	struct th_issue_res res[FR_BATCH];
	size_t n = next_batch(j, uids), k, env_len;
	int r, rr = 0;

	r = th_issue_pipelined(c, FR_PRODUCT, &uids[0][0], FR_UID_LEN, n, res);
	for (k = 0; k < n && j->err[0] == '\0'; k++) {
		if (res[k].code < 0) {
			memcpy(j->pending[j->n_pending++], uids[k], FR_UID_LEN);
			continue;
		}
		if (res[k].code > 0) {
			snprintf(j->err, sizeof(j->err), "jig %u: IssueToken refused: %d",
			    j->id, res[k].code);
			break;
		}
		if (keep(j, uids[k], &res[k], &env, &env_len) != 0)
			break;
		if (r == 0 && rr == 0)
			rr = report(j, c, uids[k], env, env_len);
		free(env);
		env = NULL;
	}
	free(env);
	th_issue_res_clear(res, n);
	return r != 0 ? r : rr;
}

void *
fr_jig_main(void *arg)
{
	struct fr_jig *j = arg;
	struct fr *fr = j->fr;
	struct jig_client *c = NULL;

	while (!atomic_load(&fr->stop) && j->err[0] == '\0') {
		if (c == NULL) {
			if (jig_client_connect_ctx("127.0.0.1", fr->port, j->ctx,
			    fr->t->appliance_key_id, &c) != 0) {
				fr_sleep_ms(10);   /* tallyd is down */
				continue;
			}
			jig_client_set_timeout(c, 5);
		}
		if (one_batch(j, c) != 0) {
			jig_client_close(c);
			c = NULL;
		}
	}
	jig_client_close(c);
	return NULL;
}

void
fr_note_keep(struct fr *fr, const char *text)
{
	struct fr_note *n;

	if (text == NULL || fr->n_notes == FR_NOTES_MAX)
		return;
	n = &fr->notes[fr->n_notes];
	if (th_note_verify(fr->t, text, &n->size, n->root) != 0 ||
	    (n->text = strdup(text)) == NULL)
		return;
	fr->n_notes++;
}

void
fr_notes_clear(struct fr *fr)
{
	for (size_t i = 0; i < fr->n_notes; i++)
		free(fr->notes[i].text);
	fr->n_notes = 0;
}

/* CheckpointRequest: a new or stored note. */
static void
ask_checkpoint(struct fr *fr)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__CheckpointRequest cr = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;

	rq.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	rq.checkpoint = &cr;
	if (th_ctl(fr->t, &rq, &resp) != 0)
		return;
	if (resp->error == 0 && resp->body_case == TALLY__CTL_RESPONSE__BODY_CHECKPOINT) {
		fr->checkpoints++;
		fr_note_keep(fr, resp->checkpoint->note);
	}
	tally__ctl_response__free_unpacked(resp, NULL);
}

/* The OEM cosigns the latest checkpoint seen; tallyd imports it. */
static void
import_receipt(struct fr *fr)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__ReceiptImportRequest ri = TALLY__RECEIPT_IMPORT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	const char *note;
	char *receipt = NULL;

	if (fr->n_notes == 0)
		return;
	note = fr->notes[fr->n_notes - 1].text;
	if (tally_cosign(fr->t->oem_key, note, strlen(note), tally_now(), &receipt) != 0)
		return;
	ri.receipt = receipt;
	rq.body_case = TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT;
	rq.receipt_import = &ri;
	if (th_ctl(fr->t, &rq, &resp) == 0) {
		fr->receipts += resp->error == 0;
		tally__ctl_response__free_unpacked(resp, NULL);
	}
	free(receipt);
}

/* A log export, full or from the last receipt; its checkpoint is kept. */
static void
export_once(struct fr *fr)
{
	struct th_export_seen s;

	if (th_export_read(fr->t, fr_rand(0, 1) == 0, 0, NULL, &s) == 0)
		fr_note_keep(fr, s.note);
	th_export_seen_free(&s);
}

void *
fr_ctl_main(void *arg)
{
	struct fr *fr = arg;
	unsigned x;

	while (!atomic_load(&fr->stop)) {
		fr_sleep_ms(fr_rand(5, 40));
		x = fr_rand(0, 9);
		if (x < 4)
			ask_checkpoint(fr);
		else if (x < 7)
			import_receipt(fr);
		else
			export_once(fr);
	}
	return NULL;
}
