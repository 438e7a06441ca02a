/* th_issue.c - pipelined token requests, quota counters, log export to a
 * file and its token entries, for the issuance integration tests; see
 * th_issue.h. */
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
#include "th_issue.h"

int
th_jig_connect(struct th *t, unsigned i, uint16_t port, struct jig_client **out)
{
	*out = NULL;
	if (i >= t->njigs)
		return TALLY_ERR_INVALID;
	return jig_client_connect("127.0.0.1", port != 0 ? port : t->port,
	    t->jig[i].cert_path, t->jig[i].key, t->appliance_key_id, out);
}

void
th_issue_res_clear(struct th_issue_res *res, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		free(res[k].bundle);
		res[k] = (struct th_issue_res){ .code = -1 };
	}
}

/* Slot of request id among ids[0..n) not answered yet (done[k] == 0). */
static int
slot_of(const uint64_t *ids, const bool *done, size_t n, uint64_t id, size_t *k)
{
	for (*k = 0; *k < n; (*k)++)
		if (ids[*k] == id && !done[*k])
			return 0;
	return TALLY_ERR_INVALID;
}

static int
challenges(struct jig_client *c, size_t n, uint8_t (*nonce)[32])
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__ChallengeRequest ch = TALLY__CHALLENGE_REQUEST__INIT;
	Tally__Response *resp = NULL;
	uint64_t ids[TH_PIPELINE_MAX];
	bool done[TH_PIPELINE_MAX] = { false };
	size_t k, got;
	int r;

	rq.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	rq.challenge = &ch;
	for (k = 0; k < n; k++) {
		rq.request_id = 0;
		if ((r = jig_client_send(c, &rq)) != 0)
			return r;
		ids[k] = rq.request_id;
	}
	for (got = 0; got < n; got++) {
		if ((r = jig_client_recv(c, &resp)) != 0)
			return r;
		r = slot_of(ids, done, n, resp->request_id, &k);
		if (r == 0 && (resp->error != TALLY__ERROR_CODE__OK ||
		    resp->body_case != TALLY__RESPONSE__BODY_CHALLENGE))
			r = TALLY_ERR_INVALID;
		if (r == 0) {
			memcpy(nonce[k], resp->challenge->nonce.data, 32);
			done[k] = true;
		}
		tally__response__free_unpacked(resp, NULL);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Fills res from one IssueToken answer. */
static int
take_answer(const Tally__Response *resp, struct th_issue_res *res)
{
	Tally__TokenBundle *b;

	if (resp->error != TALLY__ERROR_CODE__OK) {
		res->code = (int)resp->error;
		return 0;
	}
	if (resp->body_case != TALLY__RESPONSE__BODY_ISSUE_TOKEN ||
	    (b = resp->issue_token->bundle) == NULL)
		return TALLY_ERR_INVALID;
	res->bundle_len = tally__token_bundle__get_packed_size(b);
	if ((res->bundle = malloc(res->bundle_len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__token_bundle__pack(b, res->bundle);
	res->reissued = resp->issue_token->reissued;
	res->code = 0;
	return 0;
}

static int
issues(struct jig_client *c, const char *product, const uint8_t *uids, size_t uid_len,
    size_t n, uint8_t (*nonce)[32], struct th_issue_res *res)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp = NULL;
	uint64_t ids[TH_PIPELINE_MAX];
	bool done[TH_PIPELINE_MAX] = { false };
	size_t k, got;
	int r;

	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	it.product = (char *)product;
	for (k = 0; k < n; k++) {
		it.device_uid = (ProtobufCBinaryData){ uid_len, (uint8_t *)uids + k * uid_len };
		it.nonce = (ProtobufCBinaryData){ 32, nonce[k] };
		rq.request_id = 0;
		if ((r = jig_client_send(c, &rq)) != 0)
			return r;
		ids[k] = rq.request_id;
	}
	for (got = 0; got < n; got++) {
		if ((r = jig_client_recv(c, &resp)) != 0)
			return r;
		if ((r = slot_of(ids, done, n, resp->request_id, &k)) == 0 &&
		    (r = take_answer(resp, &res[k])) == 0)
			done[k] = true;
		tally__response__free_unpacked(resp, NULL);
		if (r != 0)
			return r;
	}
	return 0;
}

int
th_issue_pipelined(struct jig_client *c, const char *product,
    const uint8_t *uids, size_t uid_len, size_t n, struct th_issue_res *res)
{
	uint8_t nonce[TH_PIPELINE_MAX][32];
	size_t k;
	int r;

	if (n < 1 || n > TH_PIPELINE_MAX || uid_len < 1 || uid_len > 64 || product == NULL)
		return TALLY_ERR_INVALID;
	for (k = 0; k < n; k++)
		res[k] = (struct th_issue_res){ .code = -1 };
	if ((r = challenges(c, n, nonce)) != 0)
		return r;
	return issues(c, product, uids, uid_len, n, nonce, res);
}

int
th_bundle_token(const uint8_t *bundle, size_t len, uint8_t **env, size_t *env_len)
{
	Tally__TokenBundle *b = tally__token_bundle__unpack(NULL, len, bundle);
	int r = TALLY_ERR_INVALID;

	*env = NULL;
	if (b == NULL)
		return TALLY_ERR_INVALID;
	if (b->token.len > 0) {
		r = (*env = malloc(b->token.len)) != NULL ? 0 : TALLY_ERR_NOMEM;
		if (r == 0) {
			memcpy(*env, b->token.data, b->token.len);
			*env_len = b->token.len;
		}
	}
	tally__token_bundle__free_unpacked(b, NULL);
	return r;
}

int
th_quota_counts(struct th *t, const uint8_t quota_id[16], uint64_t *units,
    uint64_t *issued)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaListRequest ql = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	size_t i;
	int r;

	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	rq.quota_list = &ql;
	if ((r = th_ctl(t, &rq, &resp)) != 0)
		return r;
	r = TALLY_ERR_INVALID;
	if (resp->error == 0 && resp->body_case == TALLY__CTL_RESPONSE__BODY_QUOTA_LIST) {
		r = TALLY_ERR_NOT_FOUND;
		for (i = 0; i < resp->quota_list->n_quotas; i++) {
			const Tally__QuotaInfo *q = resp->quota_list->quotas[i];

			if (q->quota_id.len != 16 || memcmp(q->quota_id.data, quota_id, 16) != 0)
				continue;
			if (units != NULL)
				*units = q->units;
			if (issued != NULL)
				*issued = q->issued;
			r = 0;
		}
	}
	tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

int
th_log_size(struct th *t, uint64_t *size)
{
	Tally__CtlResponse *resp = NULL;
	int r;

	if ((r = th_status(t, &resp)) != 0)
		return r;
	r = TALLY_ERR_INVALID;
	if (resp->error == 0 && resp->body_case == TALLY__CTL_RESPONSE__BODY_STATUS) {
		*size = resp->status->log_size;
		r = 0;
	}
	tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

/* Writes one ExportRecord as a frame; checks header, context (quotas and
 * jigs, format 2), entries, checkpoint order (*stage 0 before the header,
 * 1 in the context and entries, 2 after the checkpoint). */
static int
export_write(int fd, const Tally__ExportRecord *rec, int *stage, uint64_t *entries)
{
	uint8_t *buf;
	size_t len;
	int r;

	switch (rec->body_case) {
	case TALLY__EXPORT_RECORD__BODY_HEADER:
		r = *stage == 0 ? 0 : TALLY_ERR_INVALID;
		*stage = 1;
		break;
	case TALLY__EXPORT_RECORD__BODY_QUOTA:
	case TALLY__EXPORT_RECORD__BODY_JIG:
		r = *stage == 1 && *entries == 0 ? 0 : TALLY_ERR_INVALID;
		break;
	case TALLY__EXPORT_RECORD__BODY_ENTRY:
		r = *stage == 1 ? 0 : TALLY_ERR_INVALID;
		(*entries)++;
		break;
	case TALLY__EXPORT_RECORD__BODY_CHECKPOINT:
		r = *stage == 1 ? 0 : TALLY_ERR_INVALID;
		*stage = 2;
		break;
	default:
		r = TALLY_ERR_INVALID;
	}
	if (r != 0)
		return r;
	len = tally__export_record__get_packed_size(rec);
	if ((buf = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__export_record__pack(rec, buf);
	r = tally_frame_write_fd(fd, buf, len);
	free(buf);
	return r;
}

static int
export_stream(int cfd, int fd, uint64_t *entries)
{
	Tally__CtlResponse *resp = NULL;
	int stage = 0, r = 0;
	bool last = false;

	while (r == 0 && !last) {
		if ((r = th_ctl_recv(cfd, &resp)) != 0)
			break;
		if (resp->error != 0 || resp->body_case != TALLY__CTL_RESPONSE__BODY_EXPORT_RECORD)
			r = TALLY_ERR_INVALID;
		else
			r = export_write(fd, resp->export_record, &stage, entries);
		last = resp->last;
		tally__ctl_response__free_unpacked(resp, NULL);
	}
	return r == 0 && stage != 2 ? TALLY_ERR_INVALID : r;
}

int
th_export(struct th *t, const char *path, uint64_t *entries)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__LogExportRequest le = TALLY__LOG_EXPORT_REQUEST__INIT;
	uint64_t n = 0;
	int cfd = -1, fd, r;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return TALLY_ERR_IO;
	rq.request_id = t->next_id++;
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	rq.log_export = &le;
	if ((r = th_ctl_connect(t, &cfd)) == 0 && (r = th_ctl_send(cfd, &rq)) == 0)
		r = export_stream(cfd, fd, &n);
	if (cfd >= 0)
		close(cfd);
	if (close(fd) != 0 && r == 0)
		r = TALLY_ERR_IO;
	if (r == 0 && entries != NULL)
		*entries = n;
	return r;
}

/* Appends the token of a LogTokenIssued entry to out. */
static int
keep_token(const Tally__LogEntry *e, struct th_log_tokens *out)
{
	const ProtobufCBinaryData *env = &e->token_issued->token;
	Tally__Envelope *ev = NULL;
	Tally__Token *tok = NULL;
	struct th_log_token *lt, *v;
	int r;

	if ((r = tally_dsse_parse(env->data, env->len, TALLY_PT_TOKEN, &ev)) != 0)
		return r;
	tok = tally__token__unpack(NULL, ev->payload.len, ev->payload.data);
	tally__envelope__free_unpacked(ev, NULL);
	if (tok == NULL || tok->device_uid.len < 1 || tok->device_uid.len > 64) {
		r = TALLY_ERR_INVALID;
		goto out;
	}
	r = TALLY_ERR_NOMEM;
	if ((v = realloc(out->v, (out->n + 1) * sizeof(*v))) == NULL)
		goto out;
	out->v = v;
	lt = &v[out->n];
	*lt = (struct th_log_token){ .index = e->index, .token_index = tok->log_index };
	if ((lt->env = malloc(env->len)) == NULL)
		goto out;
	memcpy(lt->env, env->data, env->len);
	lt->env_len = env->len;
	memcpy(lt->uid, tok->device_uid.data, tok->device_uid.len);
	lt->uid_len = tok->device_uid.len;
	out->n++;
	r = 0;
out:
	if (tok != NULL)
		tally__token__free_unpacked(tok, NULL);
	return r;
}

/* One export record: a LogEntry in its place goes to fn. */
static int
read_record(const uint8_t *buf, size_t len, uint64_t *entries,
    int (*fn)(const Tally__LogEntry *e, void *ctx), void *ctx)
{
	Tally__ExportRecord *rec = tally__export_record__unpack(NULL, len, buf);
	Tally__LogEntry *e = NULL;
	int r = 0;

	if (rec == NULL)
		return TALLY_ERR_INVALID;
	if (rec->body_case == TALLY__EXPORT_RECORD__BODY_ENTRY) {
		e = tally__log_entry__unpack(NULL, rec->entry.len, rec->entry.data);
		if (e == NULL || e->index != *entries)
			r = TALLY_ERR_INVALID;   /* not a LogEntry, or an index gap */
		else
			r = fn(e, ctx);
		if (e != NULL)
			tally__log_entry__free_unpacked(e, NULL);
		(*entries)++;
	}
	tally__export_record__free_unpacked(rec, NULL);
	return r;
}

int
th_export_each_entry(const char *path,
    int (*fn)(const Tally__LogEntry *e, void *ctx), void *ctx, uint64_t *entries)
{
	uint8_t *buf = malloc(TALLY_FRAME_MAX);
	uint64_t n = 0;
	size_t len;
	int fd, r;

	if (buf == NULL)
		return TALLY_ERR_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		free(buf);
		return TALLY_ERR_IO;
	}
	while ((r = tally_frame_read_fd(fd, buf, TALLY_FRAME_MAX, &len)) == 0)
		if ((r = read_record(buf, len, &n, fn, ctx)) != 0)
			break;
	close(fd);
	free(buf);
	if (entries != NULL)
		*entries = n;
	return r == TALLY_ERR_CLOSED ? 0 : r;
}

static int
token_entry(const Tally__LogEntry *e, void *ctx)
{
	if (e->body_case != TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED)
		return 0;
	return e->token_issued != NULL ? keep_token(e, ctx) : TALLY_ERR_INVALID;
}

int
th_export_tokens(const char *path, struct th_log_tokens *out)
{
	*out = (struct th_log_tokens){ 0 };
	return th_export_each_entry(path, token_entry, out, &out->entries);
}

void
th_log_tokens_free(struct th_log_tokens *lt)
{
	size_t i;

	if (lt == NULL)
		return;
	for (i = 0; i < lt->n; i++)
		free(lt->v[i].env);
	free(lt->v);
	*lt = (struct th_log_tokens){ 0 };
}

int
th_stop_clean(struct th *t)
{
	int rc = th_stop(t, 20000);

	if (rc != 0) {
		fprintf(stderr, "# tallyd exit status %d on SIGTERM\n", rc);
		return TALLY_ERR_MISMATCH;
	}
	if (th_log_contains(t, "Sanitizer") || th_log_contains(t, "runtime error:")) {
		fprintf(stderr, "# sanitizer report in %s\n", t->log_path);
		return TALLY_ERR_MISMATCH;
	}
	return 0;
}
