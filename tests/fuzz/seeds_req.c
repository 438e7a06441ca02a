/* seeds_req.c - seeds of fuzz_jigframe (jig Request frames) and
 * fuzz_ctlreq (CtlRequest frames); see seeds.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>

#include "attest.h"
#include "checkpoint.h"
#include "cosignature.h"
#include "ctl.pb-c.h"
#include "dsse.h"
#include "jig.pb-c.h"
#include "key.h"
#include "tests/fuzz/seeds.h"
#include "tests/harness/fx_core.h"

static void
put_frames(const char *root, const char *target, const char *name, int mode,
    struct seed_frames *f)
{
	seed_put(root, target, name, mode, f->buf, f->len);
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* One request of the jig protocol as its own seed, in the mode given. */
static void
jig_one(const char *root, const char *name, int mode, Tally__Request *rq)
{
	struct seed_frames f = { 0 };

	seed_frame(&f, &rq->base);
	put_frames(root, "jigframe", name, mode, &f);
}

static uint8_t *
report_env(const struct fz_keys *k, size_t *len)
{
	Tally__InstallReport r = TALLY__INSTALL_REPORT__INIT;
	uint8_t *p, *env = NULL;
	size_t plen;

	r.token_log_index = 7;
	r.device_uid.data = (uint8_t *)FZ_UID;
	r.device_uid.len = strlen(FZ_UID);
	r.result = TALLY__INSTALL_RESULT__INSTALLED;
	r.time = FZ_ISSUED_AT + 60;
	if (fz_pack(&r.base, &p, &plen) == 0)
		tally_dsse_sign(k->jig.key, TALLY_PT_REPORT, p, plen, &env, len);
	free(p);
	return env;
}

void
seeds_jig(const char *root, const struct fz_keys *k)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__Hello h = TALLY__HELLO__INIT;
	Tally__ChallengeRequest c = TALLY__CHALLENGE_REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__ReportInstallRequest ri = TALLY__REPORT_INSTALL_REQUEST__INIT;
	uint8_t rec[TALLY_ATTESTATION_MAX];
	struct seed_frames all = { 0 };
	size_t rec_len;

	rq.request_id = 1;
	rq.body_case = TALLY__REQUEST__BODY_HELLO;
	rq.hello = &h;
	h.jig_software = (char *)"tally-jig 0.1.0";
	jig_one(root, "hello", 2, &rq);
	jig_one(root, "hello-bytewise", 0, &rq);
	seed_frame(&all, &rq.base);
	rq.request_id = 2;
	rq.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	rq.challenge = &c;
	jig_one(root, "challenge", 2, &rq);
	seed_frame(&all, &rq.base);
	rq.request_id = 3;
	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	it.product = (char *)FZ_PRODUCT;
	it.device_uid.data = (uint8_t *)FZ_UID;
	it.device_uid.len = strlen(FZ_UID);
	it.nonce.data = (uint8_t *)fz_nonce;
	it.nonce.len = sizeof(fz_nonce);
	it.firmware_digest.data = (uint8_t *)fz_fw;
	it.firmware_digest.len = sizeof(fz_fw);
	jig_one(root, "issue-by-product", 2, &rq);
	it.quota_id.data = (uint8_t *)fz_quota_id;
	it.quota_id.len = sizeof(fz_quota_id);
	it.product = (char *)"";
	if (tally_attestation_make(k->att.key, fz_nonce, (const uint8_t *)FZ_UID,
	    strlen(FZ_UID), fz_boot_key_hash, 7, rec, sizeof(rec), &rec_len) != 0)
		exit(1);
	it.attestation.data = rec;
	it.attestation.len = rec_len;
	jig_one(root, "issue-by-quota-attested", 2, &rq);
	seed_frame(&all, &rq.base);
	rq.request_id = 4;
	rq.body_case = TALLY__REQUEST__BODY_REPORT_INSTALL;
	rq.report_install = &ri;
	if ((ri.report.data = report_env(k, &ri.report.len)) == NULL)
		exit(1);
	jig_one(root, "report", 2, &rq);
	seed_frame(&all, &rq.base);
	free(ri.report.data);
	put_frames(root, "jigframe", "session-7-byte-pieces", 1, &all);
}

/* Each control request as its own seed, and all of them in one. */
struct ctl_seeds {
	const char *root;
	struct seed_frames all;
	uint64_t id;
};

static void
ctl_one(struct ctl_seeds *s, const char *name, Tally__CtlRequest *rq)
{
	struct seed_frames f = { 0 };

	rq->request_id = ++s->id;
	seed_frame(&f, &rq->base);
	put_frames(s->root, "ctlreq", name, -1, &f);
	seed_frame(&s->all, &rq->base);
}

static void
ctl_reads(struct ctl_seeds *s)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__StatusRequest st = TALLY__STATUS_REQUEST__INIT;
	Tally__IdentityRequest id = TALLY__IDENTITY_REQUEST__INIT;
	Tally__QuotaListRequest ql = TALLY__QUOTA_LIST_REQUEST__INIT;
	Tally__JigListRequest jl = TALLY__JIG_LIST_REQUEST__INIT;
	Tally__TokenShowRequest ts = TALLY__TOKEN_SHOW_REQUEST__INIT;
	Tally__LogProofRequest lp = TALLY__LOG_PROOF_REQUEST__INIT;
	Tally__LogConsistencyRequest lc = TALLY__LOG_CONSISTENCY_REQUEST__INIT;

	rq.body_case = TALLY__CTL_REQUEST__BODY_STATUS;
	rq.status = &st;
	ctl_one(s, "status", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	rq.identity = &id;
	ctl_one(s, "identity", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_LIST;
	rq.quota_list = &ql;
	ctl_one(s, "quota-list", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_LIST;
	rq.jig_list = &jl;
	ctl_one(s, "jig-list", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_TOKEN_SHOW;
	rq.token_show = &ts;
	ts.device_uid.data = (uint8_t *)FZ_UID;
	ts.device_uid.len = strlen(FZ_UID);
	ctl_one(s, "token-show", &rq);
	ts.bundle_quota_id.data = (uint8_t *)fz_quota_id;
	ts.bundle_quota_id.len = sizeof(fz_quota_id);
	ctl_one(s, "token-show-bundle", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_PROOF;
	rq.log_proof = &lp;
	ctl_one(s, "log-proof-latest", &rq);
	lp.tree_size = 1;
	ctl_one(s, "log-proof-0-of-1", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_CONSISTENCY;
	rq.log_consistency = &lc;
	lc.from_size = 1;
	ctl_one(s, "log-consistency", &rq);
}

static void
ctl_quota(struct ctl_seeds *s, const struct fz_keys *k)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaImportRequest qi = TALLY__QUOTA_IMPORT_REQUEST__INIT;
	ProtobufCBinaryData fw[1];
	Tally__Quota q;
	uint8_t *p;
	size_t plen;

	fz_quota_fill(k, &q, fw);
	if (fz_pack(&q.base, &p, &plen) != 0 ||
	    tally_dsse_sign(k->oem.key, TALLY_PT_QUOTA, p, plen, &qi.quota.data,
	    &qi.quota.len) != 0)
		exit(1);
	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT;
	rq.quota_import = &qi;
	ctl_one(s, "quota-import", &rq);
	free(p);
	free(qi.quota.data);
}

static void
ctl_jig(struct ctl_seeds *s, const struct fz_keys *k)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__JigEnrollRequest je = TALLY__JIG_ENROLL_REQUEST__INIT;
	Tally__JigRevokeRequest jr = TALLY__JIG_REVOKE_REQUEST__INIT;
	EVP_PKEY *ca_key = NULL;
	X509 *ca;

	if (tally_key_generate(TALLY_KEY_P256, &ca_key) != 0 ||
	    (ca = fx_ca(ca_key, "fuzz jig")) == NULL ||
	    (je.certificate.data = fx_der(ca, &je.certificate.len)) == NULL)
		exit(1);
	je.name = (char *)"line-1";
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_ENROLL;
	rq.jig_enroll = &je;
	ctl_one(s, "jig-enroll", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_REVOKE;
	rq.jig_revoke = &jr;
	jr.jig_key_id.data = (uint8_t *)k->jig.id;
	jr.jig_key_id.len = sizeof(k->jig.id);
	ctl_one(s, "jig-revoke", &rq);
	free(je.certificate.data);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

static void
ctl_log(struct ctl_seeds *s, const struct fz_keys *k)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__CheckpointRequest cp = TALLY__CHECKPOINT_REQUEST__INIT;
	Tally__LogExportRequest le = TALLY__LOG_EXPORT_REQUEST__INIT;
	Tally__ReceiptImportRequest ri = TALLY__RECEIPT_IMPORT_REQUEST__INIT;
	char origin[TALLY_ORIGIN_MAX], *note, *receipt;
	uint8_t root[32] = { 0x5a };

	rq.body_case = TALLY__CTL_REQUEST__BODY_CHECKPOINT;
	rq.checkpoint = &cp;
	ctl_one(s, "checkpoint", &rq);
	rq.body_case = TALLY__CTL_REQUEST__BODY_LOG_EXPORT;
	rq.log_export = &le;
	ctl_one(s, "log-export", &rq);
	le.full = true;
	ctl_one(s, "log-export-full", &rq);
	tally_checkpoint_origin(k->app.id, origin);
	if (tally_checkpoint_sign(k->app.key, origin, 1, root, &note) != 0 ||
	    tally_cosign(k->oem.key, note, strlen(note), FZ_ISSUED_AT, &receipt) != 0)
		exit(1);
	rq.body_case = TALLY__CTL_REQUEST__BODY_RECEIPT_IMPORT;
	rq.receipt_import = &ri;
	ri.receipt = receipt;
	ctl_one(s, "receipt-import", &rq);
	free(note);
	free(receipt);
}

void
seeds_ctl(const char *root, const struct fz_keys *k)
{
	struct ctl_seeds s = { .root = root };

	ctl_reads(&s);
	ctl_quota(&s, k);
	ctl_jig(&s, k);
	ctl_log(&s, k);
	put_frames(root, "ctlreq", "all-requests", -1, &s.all);
}
