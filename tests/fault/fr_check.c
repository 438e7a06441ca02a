/* fr_check.c - the checks after every kill and restart of the fault
 * harness; see faultrun.h. Every failed check prints one "# fault: ..."
 * line and makes fr_check return TALLY_ERR_MISMATCH; the checks go on. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "merkle.h"
#include "oem/reconcile.h"
#include "tests/fault/fr_int.h"
#include "tests/harness/th_issue.h"
#include "tests/harness/th_log.h"

#define REASK 3   /* received UIDs asked again per jig and round */

static int
failed(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# fault: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return TALLY_ERR_MISMATCH;
}

/* LogExportRequest{full} into path as tallyctl writes it. */
static int
export_full(struct th *t, const char *path)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogExportRequest le = TALLY__LOG_EXPORT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint8_t *buf;
	size_t len;
	bool last = false;
	int cfd = -1, fd, r;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return TALLY_ERR_IO;
	le.full = true;
	rq.request_id = t->next_id++;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	rq.log_export = &le;
	if ((r = th_ctl_connect(t, &cfd)) == 0)
		r = th_ctl_send(cfd, &rq);
	while (r == 0 && !last && (r = th_ctl_recv(cfd, &resp)) == 0) {
		last = resp->last;
		if (resp->error != 0 || resp->body_case != TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD)
			r = TALLY_ERR_INVALID;
		else if ((buf = malloc(len = tally__export_record__get_packed_size(
		    resp->export_record))) == NULL)
			r = TALLY_ERR_NOMEM;
		else {
			tally__export_record__pack(resp->export_record, buf);
			r = tally_frame_write_fd(fd, buf, len);
			free(buf);
		}
		tally__ctl_response__free_unpacked(resp, NULL);
	}
	if (cfd >= 0)
		close(cfd);
	close(fd);
	return r;
}

static int
cmp_uid(const void *a, const void *b)
{
	const struct th_log_token *x = a, *y = b;

	if (x->uid_len != y->uid_len)
		return x->uid_len < y->uid_len ? -1 : 1;
	return memcmp(x->uid, y->uid, x->uid_len);
}

/* One token per UID, token log_index = entry index, every received
 * token in the log with the same bytes. */
static int
check_tokens(struct fr *fr, struct th_log_tokens *lt)
{
	struct th_log_token key = { .uid_len = FR_UID_LEN }, *hit;
	int r = 0;

	for (size_t i = 0; i < lt->n; i++)
		if (lt->v[i].token_index != lt->v[i].index)
			r = failed("token at entry %llu names log index %llu",
			    (unsigned long long)lt->v[i].index,
			    (unsigned long long)lt->v[i].token_index);
	if (lt->n > 1)
		qsort(lt->v, lt->n, sizeof(*lt->v), cmp_uid);
	for (size_t i = 1; i < lt->n; i++)
		if (cmp_uid(&lt->v[i - 1], &lt->v[i]) == 0)
			r = failed("two tokens for one UID (entries %llu and %llu)",
			    (unsigned long long)lt->v[i - 1].index,
			    (unsigned long long)lt->v[i].index);
	for (unsigned j = 0; j < fr->o->jigs; j++) {
		for (size_t i = 0; i < fr->jig[j].n_tok; i++) {
			const struct fr_tok *x = &fr->jig[j].tok[i];

			memcpy(key.uid, x->uid, FR_UID_LEN);
			hit = bsearch(&key, lt->v, lt->n, sizeof(*lt->v), cmp_uid);
			if (hit == NULL)
				r = failed("a token jig %u received is not in the log", j);
			else if (hit->env_len != x->env_len ||
			    memcmp(hit->env, x->env, x->env_len) != 0)
				r = failed("a token jig %u received differs from the log's "
				    "(entry %llu)", j, (unsigned long long)hit->index);
		}
	}
	return r;
}

/* Counters of quota list and status against the reconciled log. */
static int
check_counters(struct fr *fr, const struct oem_reconcile_result *res, uint64_t n_tok,
    uint64_t entries)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaListRequest ql = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint64_t reports = 0;
	int r = 0;

	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	rq.quota_list = &ql;
	if (th_ctl(fr->t, &rq, &resp) != 0 || resp->error != 0 ||
	    resp->body_case != TALLY__CTL_RESPONSE__BODY_QUOTA_LIST ||
	    resp->quota_list->n_quotas != 1 || (res != NULL && res->n_quotas != 1))
		r = failed("quota list: no answer or not one quota");
	else if (resp->quota_list->quotas[0]->issued != n_tok || (res != NULL &&
	    (res->quotas[0].issued != n_tok ||
	    resp->quota_list->quotas[0]->returned != res->quotas[0].returned)))
		r = failed("quota counters issued %llu returned %llu, the log says %llu and %llu",
		    (unsigned long long)resp->quota_list->quotas[0]->issued,
		    (unsigned long long)resp->quota_list->quotas[0]->returned,
		    (unsigned long long)n_tok,
		    (unsigned long long)(res != NULL ? res->quotas[0].returned : 0));
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	resp = NULL;
	if (th_status(fr->t, &resp) != 0 || resp->error != 0 ||
	    resp->body_case != TALLY__CTL_RESPONSE__BODY_STATUS)
		r = failed("status: no answer");
	else if (resp->status->tokens_issued != n_tok || resp->status->log_size != entries)
		r = failed("status: %llu tokens, log size %llu; the log has %llu and %llu",
		    (unsigned long long)resp->status->tokens_issued,
		    (unsigned long long)resp->status->log_size,
		    (unsigned long long)n_tok, (unsigned long long)entries);
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	for (unsigned j = 0; j < fr->o->jigs; j++)
		reports += fr->jig[j].reports;
	if (res != NULL && res->reports_installed + res->reports_failed < reports)
		r = failed("%llu install reports acknowledged, %llu in the log",
		    (unsigned long long)reports,
		    (unsigned long long)(res->reports_installed + res->reports_failed));
	return r;
}

/* Checkpoint n (given out before) is consistent with the tree of the
 * export (size, root): tallyd's proof verifies, and the note stored at
 * n's size is n's text. */
static int
check_note(struct fr *fr, const struct fr_note *n, uint64_t size, const uint8_t root[32])
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogConsistencyRequest lc = TALLY__LOG_CONSISTENCY_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	Tally__LogConsistencyResponse *c;
	uint8_t proof[TALLY_PROOF_MAX][32];
	int r = 0;

	if (n->size > size)
		return failed("checkpoint of size %llu given out, the log has %llu entries",
		    (unsigned long long)n->size, (unsigned long long)size);
	if (n->size == 0)
		return 0;
	lc.from_size = n->size;
	lc.to_size = size;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_CONSISTENCY;
	rq.log_consistency = &lc;
	if (th_ctl(fr->t, &rq, &resp) != 0 || resp->error != 0 ||
	    resp->body_case != TALLY__CTL_RESPONSE__BODY_LOG_CONSISTENCY) {
		r = failed("no consistency proof from %llu to %llu", (unsigned long long)n->size,
		    (unsigned long long)size);
		goto out;
	}
	c = resp->log_consistency;
	for (size_t i = 0; i < c->n_hashes && i < TALLY_PROOF_MAX; i++)
		if (c->hashes[i].len == 32)
			memcpy(proof[i], c->hashes[i].data, 32);
	if (c->n_hashes > TALLY_PROOF_MAX || c->from_root.len != 32 || c->to_root.len != 32 ||
	    memcmp(c->from_root.data, n->root, 32) != 0 || memcmp(c->to_root.data, root, 32) != 0 ||
	    tally_merkle_verify_consistency(n->size, size, n->root, root,
	    (const uint8_t (*)[32])proof, c->n_hashes) != 0)
		r = failed("checkpoint %llu is not consistent with the log of %llu entries",
		    (unsigned long long)n->size, (unsigned long long)size);
	else if (c->from_checkpoint == NULL || strcmp(c->from_checkpoint, n->text) != 0)
		r = failed("the checkpoint stored at size %llu is not the one given out",
		    (unsigned long long)n->size);
 out:
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

/* Up to REASK received UIDs of each jig asked again: same bytes, reissued. */
static int
check_reask(struct fr *fr)
{
	uint8_t uids[REASK][FR_UID_LEN], *env = NULL;
	struct th_issue_res res[REASK];
	const struct fr_tok *sel[REASK];
	struct jig_client *c = NULL;
	size_t env_len;
	int r = 0;

	for (unsigned j = 0; j < fr->o->jigs && r == 0; j++) {
		const struct fr_jig *jg = &fr->jig[j];
		size_t n = jg->n_tok < REASK ? jg->n_tok : REASK;

		if (n == 0)
			continue;
		for (size_t k = 0; k < n; k++) {
			sel[k] = &jg->tok[fr_rand(0, (unsigned)jg->n_tok - 1)];
			memcpy(uids[k], sel[k]->uid, FR_UID_LEN);
		}
		if (th_jig_connect(fr->t, j, 0, &c) != 0 ||
		    th_issue_pipelined(c, FR_PRODUCT, &uids[0][0], FR_UID_LEN, n, res) != 0)
			r = failed("jig %u could not ask again after the restart", j);
		for (size_t k = 0; k < n && r == 0; k++) {
			if (res[k].code != 0 || !res[k].reissued ||
			    th_bundle_token(res[k].bundle, res[k].bundle_len, &env, &env_len) != 0 ||
			    env_len != sel[k]->env_len || memcmp(env, sel[k]->env, env_len) != 0)
				r = failed("a UID asked again after the restart did not get its "
				    "token back (code %d, reissued %d)", res[k].code, res[k].reissued);
			free(env);
			env = NULL;
			fr->res->reasked++;
		}
		th_issue_res_clear(res, n);
		jig_client_close(c);
		c = NULL;
	}
	return r;
}

/* Reconcile of the export, counters, and the checkpoints seen. */
static int
check_export(struct fr *fr, const char *path, struct th_log_tokens *lt)
{
	struct oem_reconcile_result res;
	int r = 0;

	if (oem_reconcile_file(path, fr->t->oem_key, &res) != 0) {
		r = failed("the export does not reconcile: %s", res.error);
		goto out;
	}
	if (res.anomalies_total != 0 || !res.checkpoint_ok || res.entries != lt->entries ||
	    res.n_tokens != lt->n)
		r = failed("reconcile: %llu anomalies (first: %s), checkpoint %s, %llu entries",
		    (unsigned long long)res.anomalies_total, res.n_anomalies > 0 ?
		    res.anomalies[0].msg : "-", res.checkpoint_ok ? "ok" : "BAD",
		    (unsigned long long)res.entries);
	if (check_counters(fr, &res, lt->n, lt->entries) != 0)
		r = TALLY_ERR_MISMATCH;
	for (size_t i = 0; i < fr->n_notes; i++)
		if (check_note(fr, &fr->notes[i], res.tree_size, res.root) != 0)
			r = TALLY_ERR_MISMATCH;
	fr_notes_clear(fr);
	fr_note_keep(fr, res.checkpoint);   /* the next round checks against it */
	fr->res->tokens_in_log = lt->n;
	fr->res->entries = res.entries;
 out:
	oem_reconcile_result_free(&res);
	return r;
}

/* Without the reconcile: counters against the entries, and the notes
 * seen against tallyd's current checkpoint through consistency proofs. */
static int
check_light(struct fr *fr, struct th_log_tokens *lt)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__CheckpointRequest cr = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	struct fr_note now = { 0 };
	int r = 0;

	rq.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	rq.checkpoint = &cr;
	if (th_ctl(fr->t, &rq, &resp) != 0 || resp->error != 0 ||
	    resp->body_case != TALLY__CTL_RESPONSE__BODY_CHECKPOINT ||
	    th_note_verify(fr->t, resp->checkpoint->note, &now.size, now.root) != 0 ||
	    now.size != lt->entries)
		r = failed("no checkpoint of the %llu entries exported, signed by the appliance",
		    (unsigned long long)lt->entries);
	else {
		for (size_t i = 0; i < fr->n_notes; i++)
			if (check_note(fr, &fr->notes[i], now.size, now.root) != 0)
				r = TALLY_ERR_MISMATCH;
		fr_notes_clear(fr);
		fr_note_keep(fr, resp->checkpoint->note);
	}
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	if (check_counters(fr, NULL, lt->n, lt->entries) != 0)
		r = TALLY_ERR_MISMATCH;
	fr->res->tokens_in_log = lt->n;
	fr->res->entries = lt->entries;
	return r;
}

int
fr_check(struct fr *fr, bool reconcile)
{
	struct th_log_tokens lt = { 0 };
	char path[TH_PATH + 16];
	int r = 0;

	snprintf(path, sizeof(path), "%s/export.bin", fr->t->dir);
	if (export_full(fr->t, path) != 0)
		return failed("no full export after the restart");
	if (th_export_tokens(path, &lt) != 0)   /* also: no index gap */
		r = failed("the export's entries are not 0, 1, 2, ... or do not parse");
	else {
		if ((reconcile ? check_export(fr, path, &lt) : check_light(fr, &lt)) != 0)
			r = TALLY_ERR_MISMATCH;
		if (check_tokens(fr, &lt) != 0)
			r = TALLY_ERR_MISMATCH;
	}
	th_log_tokens_free(&lt);
	unlink(path);
	if (r == 0 && check_reask(fr) != 0)
		r = TALLY_ERR_MISMATCH;
	for (unsigned j = 0; j < fr->o->jigs; j++)
		if (fr->jig[j].err[0] != '\0') {
			r = failed("%s", fr->jig[j].err);
			fr->jig[j].err[0] = '\0';
		}
	return r;
}
