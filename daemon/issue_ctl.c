/* issue_ctl.c - the writer's operations other than token issue: quota
 * import, install report, jig enrol and revoke, checkpoint; see issue.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "artifact.h"
#include "dsse.h"
#include "err.h"
#include "fault.h"
#include "key.h"
#include "log.h"
#include "jig.pb-c.h"
#include "issue.h"
#include "writer.h"

#define CERT_MAX 16384     /* largest jig certificate accepted, DER bytes */
#define SUBJECT_MAX 256    /* longest subject kept, bytes */

/* A LogEntry for r with the operator fields of a control request. */
static void
entry_init(Tally__LogEntry *e, const struct wreq *r)
{
	tally__log_entry__init(e);
	e->has_operator = r->has_operator;
	e->operator_uid = r->operator_uid;
}

/* Quota refusals of DESIGN.md §2, in order: signature, binding, expiry, replay. */
static int
quota_check(struct issue_ctx *ctx, struct wreq *r, Tally__Quota **out)
{
	Tally__Quota *q = NULL;
	int rc;

	rc = tally_quota_open(r->in.quota.env, r->in.quota.len, ctx->oem_root, &q);
	if (rc == TALLY_ERR_SIGNATURE)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_BAD_SIGNATURE,
		    "quota not signed by the OEM root key");
	else if (rc != 0)
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST, "quota unreadable: %s",
		    tally_strerror(rc));
	else if (q->appliance_key_id.len != 32 ||
	    memcmp(q->appliance_key_id.data, ctx->key_id, 32) != 0)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_WRONG_APPLIANCE,
		    "quota is for another appliance");
	else if (q->not_after <= ctx->now)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_EXPIRED, "quota expired");
	else if (issue_quota_find(ctx, q->quota_id.data) != NULL)
		issue_fail(r, TALLY__ERROR_CODE__QUOTA_REPLAYED,
		    "quota already imported");
	if (r->error != 0) {
		if (q != NULL)
			tally__quota__free_unpacked(q, NULL);
		return -1;
	}
	*out = q;
	return 0;
}

void
issue_quota_import(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	Tally__LogEntry e;
	Tally__LogQuotaImported qi = TALLY__LOG_QUOTA_IMPORTED__INIT;
	Tally__QuotaRecord rec = TALLY__QUOTA_RECORD__INIT;
	Tally__Quota *q;
	uint64_t index;

	if (quota_check(ctx, r, &q) != 0)
		return;
	memcpy(r->id, q->quota_id.data, 16);
	entry_init(&e, r);
	qi.quota.data = r->in.quota.env;
	qi.quota.len = r->in.quota.len;
	e.body_case = TALLY__LOG_ENTRY__BODY_QUOTA_IMPORTED;
	e.quota_imported = &qi;
	if (issue_append(ctx, t, &e, &index) != 0) {
		tally__quota__free_unpacked(q, NULL);
		return;
	}
	rec.envelope = qi.quota;
	rec.import_index = index;
	if (issue_quota_add(ctx, &rec, q) != 0) {
		t->ret = TALLY_ERR_NOMEM;  /* logged but not cached: abort the batch */
		return;
	}
	r->log_index = index;
}

/* Does the token at index exist and name device uid? qid gets its quota ID. */
static int
token_names_uid(struct store_txn *t, uint64_t index, const ProtobufCBinaryData *uid,
    uint8_t qid[16])
{
	Tally__LogEntry *e = NULL;
	Tally__Envelope *env = NULL;
	Tally__Token *tok = NULL;
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;
	int ok = 0;

	store_be64_put(key, index);
	if (store_txn_get(t, STORE_DB_LOG, key, 8, &v, &vlen) != 0 ||
	    (e = tally__log_entry__unpack(NULL, vlen, v)) == NULL ||
	    e->body_case != TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED ||
	    tally_dsse_parse(e->token_issued->token.data, e->token_issued->token.len,
	    TALLY_PT_TOKEN, &env) != 0 ||
	    (tok = tally__token__unpack(NULL, env->payload.len, env->payload.data)) == NULL)
		goto out;
	ok = tok->device_uid.len == uid->len && tok->quota_id.len == 16 &&
	    memcmp(tok->device_uid.data, uid->data, uid->len) == 0;
	if (ok)
		memcpy(qid, tok->quota_id.data, 16);
 out:
	if (tok != NULL)
		tally__token__free_unpacked(tok, NULL);
	if (env != NULL)
		tally__envelope__free_unpacked(env, NULL);
	if (e != NULL)
		tally__log_entry__free_unpacked(e, NULL);
	return ok;
}

/* Does a failed install of the token at index return its unit to qe
 * (within scrap_allowance, once per token)? */
static bool
scrap_returns(struct store_txn *t, const struct quota_entry *qe,
    const Tally__InstallReport *rep)
{
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;

	if (rep->result != TALLY__INSTALL_RESULT__FAILED || qe == NULL ||
	    qe->rec->returned >= qe->q->scrap_allowance)
		return false;
	store_be64_put(key, rep->token_log_index);
	return store_txn_get(t, STORE_DB_RETURNED, key, 8, &v, &vlen) == TALLY_ERR_NOT_FOUND;
}

/* The unit of the token of rep goes back to qe; report is the entry saying so. */
static void
scrap_return(struct store_txn *t, struct quota_entry *qe,
    const Tally__InstallReport *rep, uint64_t report)
{
	uint8_t key[8], val[8];

	store_be64_put(key, rep->token_log_index);
	store_be64_put(val, report);
	if (store_txn_put(t, STORE_DB_RETURNED, key, 8, val, 8, MDB_NOOVERWRITE) != 0)
		return;
	qe->rec->returned++;
	qe->dirty = true;
}

void
issue_report(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	Tally__LogEntry e;
	Tally__LogInstallReported ir = TALLY__LOG_INSTALL_REPORTED__INIT;
	Tally__InstallReport *rep = NULL;
	struct quota_entry *qe;
	struct jig_entry *je;
	uint8_t qid[16];
	uint64_t index;
	int rc;

	if ((je = issue_active_jig(ctx, r)) == NULL)
		return;
	rc = tally_report_open(r->in.report.env, r->in.report.len, je->pub, &rep);
	if (rc != 0) {
		issue_fail(r, TALLY__ERROR_CODE__REPORT_INVALID,
		    "report not signed by this jig or malformed: %s", tally_strerror(rc));
		return;
	}
	if (!token_names_uid(t, rep->token_log_index, &rep->device_uid, qid)) {
		if (t->ret == 0)
			issue_fail(r, TALLY__ERROR_CODE__REPORT_INVALID,
			    "no token at log index %llu for that device",
			    (unsigned long long)rep->token_log_index);
		goto out;
	}
	entry_init(&e, r);
	ir.report.data = r->in.report.env;
	ir.report.len = r->in.report.len;
	qe = issue_quota_find(ctx, qid);
	ir.unit_returned = scrap_returns(t, qe, rep);
	e.body_case = TALLY__LOG_ENTRY__BODY_INSTALL_REPORTED;
	e.install_reported = &ir;
	if (issue_append(ctx, t, &e, &index) != 0)
		goto out;
	if (ir.unit_returned)
		scrap_return(t, qe, rep, index);
	if (t->ret == 0) {
		r->log_index = index;
		r->unit_returned = ir.unit_returned;
	}
 out:
	tally__install_report__free_unpacked(rep, NULL);
}

/* Parses and verifies a jig certificate against the jig CA. */
static X509 *
cert_verify(struct issue_ctx *ctx, struct wreq *r)
{
	const unsigned char *p = r->in.enroll.cert;
	X509_STORE_CTX *vc = NULL;
	X509 *x = NULL;
	int ok = 0;

	if (r->in.enroll.len == 0 || r->in.enroll.len > CERT_MAX ||
	    (x = d2i_X509(NULL, &p, (long)r->in.enroll.len)) == NULL ||
	    p != r->in.enroll.cert + r->in.enroll.len) {
		issue_fail(r, TALLY__ERROR_CODE__JIG_BAD_CERTIFICATE,
		    "not a DER X.509 certificate");
		goto out;
	}
	if ((vc = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(vc, ctx->ca, x, NULL) != 1 ||
	    X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_CLIENT) != 1) {
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "certificate check failed");
		goto out;
	}
	if (X509_verify_cert(vc) != 1)
		issue_fail(r, TALLY__ERROR_CODE__JIG_BAD_CERTIFICATE,
		    "certificate does not chain to the jig CA: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
	else if (tally_key_type(X509_get0_pubkey(x)) == 0)
		issue_fail(r, TALLY__ERROR_CODE__JIG_BAD_CERTIFICATE,
		    "certificate key is neither P-256 nor Ed25519");
	else
		ok = 1;
 out:
	ERR_clear_error();
	X509_STORE_CTX_free(vc);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* RFC 2253 subject of x into out (SUBJECT_MAX + 1 bytes). */
static void
cert_subject(X509 *x, char out[SUBJECT_MAX + 1])
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n > SUBJECT_MAX)
			n = SUBJECT_MAX;
		if (n > 0)
			memcpy(out, data, (size_t)n);
		out[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
}

/* Is name printable ASCII, at most 64 bytes? */
static bool
name_ok(const char *name, size_t cap)
{
	size_t n = strnlen(name, cap);

	if (n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

/* Logs the enrolment and adds the jig to the cache. */
static void
enroll_write(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r, X509 *x)
{
	Tally__LogEntry e;
	Tally__LogJigEnrolled je = TALLY__LOG_JIG_ENROLLED__INIT;
	Tally__JigRecord rec = TALLY__JIG_RECORD__INIT;
	char subject[SUBJECT_MAX + 1];
	uint64_t index;

	entry_init(&e, r);
	je.jig_key_id.data = r->id;
	je.jig_key_id.len = 32;
	je.name = r->in.enroll.name;
	je.certificate.data = r->in.enroll.cert;
	je.certificate.len = r->in.enroll.len;
	e.body_case = TALLY__LOG_ENTRY__BODY_JIG_ENROLLED;
	e.jig_enrolled = &je;
	if (issue_append(ctx, t, &e, &index) != 0)
		return;
	cert_subject(x, subject);
	rec.name = r->in.enroll.name;
	rec.certificate = je.certificate;
	rec.subject = subject;
	rec.status = TALLY__JIG_STATUS__JIG_STATUS_ACTIVE;
	rec.enrolled_index = index;
	rec.enrolled_at = ctx->now;
	if (issue_jig_add(ctx, r->id, &rec) != 0) {
		t->ret = TALLY_ERR_NOMEM;  /* logged but not cached: abort the batch */
		return;
	}
	ctx->jigs_changed = true;
	r->log_index = index;
}

void
issue_jig_enroll(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	X509 *x;

	if (!name_ok(r->in.enroll.name, sizeof(r->in.enroll.name))) {
		issue_fail(r, TALLY__ERROR_CODE__BAD_REQUEST,
		    "jig name must be printable ASCII, at most 64 bytes");
		return;
	}
	if ((x = cert_verify(ctx, r)) == NULL)
		return;
	if (tally_key_id(X509_get0_pubkey(x), r->id) != 0)
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "cannot hash the jig key");
	else if (issue_jig_find(ctx, r->id) != NULL)
		issue_fail(r, TALLY__ERROR_CODE__JIG_ALREADY_ENROLLED,
		    "jig already enrolled");
	else
		enroll_write(ctx, t, r, x);
	X509_free(x);
}

void
issue_jig_revoke(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	Tally__LogEntry e;
	Tally__LogJigRevoked jr = TALLY__LOG_JIG_REVOKED__INIT;
	struct jig_entry *je;
	uint64_t index;

	if ((je = issue_jig_find(ctx, r->in.revoke.jig_key_id)) == NULL) {
		issue_fail(r, TALLY__ERROR_CODE__NOT_FOUND, "no such jig");
		return;
	}
	if (je->rec->status == TALLY__JIG_STATUS__JIG_STATUS_REVOKED) {
		issue_fail(r, TALLY__ERROR_CODE__JIG_REVOKED, "jig already revoked");
		return;
	}
	entry_init(&e, r);
	jr.jig_key_id.data = je->id;
	jr.jig_key_id.len = 32;
	e.body_case = TALLY__LOG_ENTRY__BODY_JIG_REVOKED;
	e.jig_revoked = &jr;
	if (issue_append(ctx, t, &e, &index) != 0)
		return;
	je->rec->status = TALLY__JIG_STATUS__JIG_STATUS_REVOKED;
	je->rec->revoked_index = index;
	je->rec->revoked_at = ctx->now;
	je->dirty = true;
	ctx->jigs_changed = true;
	memcpy(r->id, je->id, 32);
	r->log_index = index;
}

/* The checkpoint stored under key, if any, into r->out. 0, NOT_FOUND or t->ret. */
static int
stored_checkpoint(struct store_txn *t, const uint8_t key[8], struct wreq *r)
{
	const uint8_t *v;
	size_t vlen;
	int rc;

	if ((rc = store_txn_get(t, STORE_DB_CHECKPOINTS, key, 8, &v, &vlen)) != 0)
		return rc;
	if ((r->out = malloc(vlen + 1)) == NULL)
		return (t->ret = TALLY_ERR_NOMEM);
	memcpy(r->out, v, vlen);
	r->out[vlen] = '\0';
	r->out_len = vlen;
	return 0;
}

void
issue_checkpoint(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	char *note = NULL;
	uint8_t key[8];
	int rc;

	r->tree_size = ctx->frontier.size;
	tally_merkle_frontier_root(&ctx->frontier, r->root);
	store_be64_put(key, r->tree_size);
	if (stored_checkpoint(t, key, r) != TALLY_ERR_NOT_FOUND)
		return;  /* the log has not grown since: no new signature */
	rc = tally_checkpoint_sign(ctx->key, ctx->origin, r->tree_size, r->root, &note);
	if (rc != 0) {
		log_tally_err(rc, "cannot sign a checkpoint");
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "checkpoint signing failed");
		return;
	}
	TALLY_FAULT("checkpoint");
	if (store_txn_put(t, STORE_DB_CHECKPOINTS, key, 8, note, strlen(note), 0) != 0) {
		free(note);
		return;
	}
	r->out = (uint8_t *)note;
	r->out_len = strlen(note);
}
