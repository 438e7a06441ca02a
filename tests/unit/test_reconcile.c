/* test_reconcile.c - OEM reconciliation of export files (oem/reconcile.h).
 * Each test builds a synthetic export in a mkdtemp folder with real keys:
 * the OEM root signs quotas, an appliance key signs tokens and the
 * checkpoint, a jig key (with its X.509 certificate) signs install reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "checkpoint.h"
#include "ctl.pb-c.h"
#include "dsse.h"
#include "err.h"
#include "frame.h"
#include "key.h"
#include "log.pb-c.h"
#include "merkle.h"
#include "util.h"
#include "oem/quota_create.h"
#include "oem/reconcile.h"
#include "oem/reconcile_print.h"

#define MAX_ENTRIES 64

struct blob {
	uint8_t *data;
	size_t len;
};

struct rfx {
	char dir[64], path[128];
	EVP_PKEY *oem, *app, *jig, *other;
	uint8_t app_id[32], jig_id[32], fw[32];
	uint8_t *app_spki, *jig_cert;
	size_t app_spki_len, jig_cert_len;
	int64_t now;
	uint64_t serial_first, serial_last;  /* range of the next quota */
	uint64_t serial;                     /* serial number of the next token */
	struct blob e[MAX_ENTRIES];
	size_t n;
};

/* How the file differs from the log the checkpoint was signed over. */
struct wopts {
	long drop;            /* entry left out, or -1 */
	long flip;            /* entry with one byte flipped, or -1 */
	EVP_PKEY *cp_key;     /* checkpoint signer (NULL: the appliance) */
	int no_checkpoint;
};

static const struct wopts CLEAN = { -1, -1, NULL, 0 };

/* A self-signed certificate for key, DER in a new buffer. */
static int
make_cert(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int r = -1, l;

	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL ||
	    X509_set_pubkey(x, key) != 1 || (n = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"jig-1", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1 ||
	    X509_sign(x, key, tally_key_type(key) == TALLY_KEY_ED25519 ? NULL :
	    EVP_sha256()) <= 0)
		goto out;
	*der = NULL;
	if ((l = i2d_X509(x, der)) > 0) {
		*len = (size_t)l;
		r = 0;
	}
 out:
	X509_free(x);
	return r;
}

static int
setup(void **state)
{
	struct rfx *f = calloc(1, sizeof(*f));

	*state = f;
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tally-reconcile-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/export.bin", f->dir);
	memset(f->fw, 0xf1, sizeof(f->fw));
	f->now = tally_now();
	if (tally_key_generate(TALLY_KEY_P256, &f->oem) != 0 ||
	    tally_key_generate(TALLY_KEY_ED25519, &f->app) != 0 ||
	    tally_key_generate(TALLY_KEY_P256, &f->jig) != 0 ||
	    tally_key_generate(TALLY_KEY_ED25519, &f->other) != 0 ||
	    tally_key_id(f->app, f->app_id) != 0 || tally_key_id(f->jig, f->jig_id) != 0 ||
	    tally_key_spki(f->app, &f->app_spki, &f->app_spki_len) != 0)
		return -1;
	return make_cert(f->jig, &f->jig_cert, &f->jig_cert_len);
}

static int
teardown(void **state)
{
	struct rfx *f = *state;
	size_t i;

	if (f == NULL)
		return 0;
	for (i = 0; i < f->n; i++)
		free(f->e[i].data);
	unlink(f->path);
	rmdir(f->dir);
	EVP_PKEY_free(f->oem);
	EVP_PKEY_free(f->app);
	EVP_PKEY_free(f->jig);
	EVP_PKEY_free(f->other);
	OPENSSL_free(f->app_spki);
	OPENSSL_free(f->jig_cert);
	free(f);
	return 0;
}

/* Appends e as the next entry (its index is set to its position). */
static uint64_t
add_entry(struct rfx *f, Tally__LogEntry *e)
{
	struct blob *b;

	assert_true(f->n < MAX_ENTRIES);
	b = &f->e[f->n];
	e->index = f->n;
	e->time = f->now;
	b->len = tally__log_entry__get_packed_size(e);
	assert_non_null(b->data = malloc(b->len));
	tally__log_entry__pack(e, b->data);
	return f->n++;
}

static void
add_start(struct rfx *f)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogStart s = TALLY__LOG_START__INIT;

	s.version = "0.1.0";
	s.appliance_key_id.data = f->app_id;
	s.appliance_key_id.len = 32;
	e.body_case = TALLY__LOG_ENTRY__BODY_START;
	e.start = &s;
	add_entry(f, &e);
}

static void
add_enroll(struct rfx *f)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogJigEnrolled j = TALLY__LOG_JIG_ENROLLED__INIT;

	j.jig_key_id.data = f->jig_id;
	j.jig_key_id.len = 32;
	j.name = "jig-1";
	j.certificate.data = f->jig_cert;
	j.certificate.len = f->jig_cert_len;
	e.body_case = TALLY__LOG_ENTRY__BODY_JIG_ENROLLED;
	e.jig_enrolled = &j;
	e.has_operator = 1;
	add_entry(f, &e);
}

/* A quota of units for this appliance (or for spki), signed by signer. */
static void
add_quota_full(struct rfx *f, EVP_PKEY *signer, const uint8_t *spki, size_t spki_len,
    uint64_t units, uint64_t scrap, uint8_t qid[16])
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogQuotaImported qi = TALLY__LOG_QUOTA_IMPORTED__INIT;
	struct oem_quota_spec s = { 0 };
	const uint8_t (*fw)[32] = (const uint8_t (*)[32])f->fw;
	uint8_t *env = NULL;
	size_t len = 0;

	s.oem_key = signer;
	s.appliance_spki = spki;
	s.appliance_spki_len = spki_len;
	s.product = "widget";
	s.firmware = fw;
	s.n_firmware = 1;
	s.units = units;
	s.scrap_allowance = scrap;
	s.serial_first = f->serial_first;
	s.serial_last = f->serial_last;
	s.not_before = f->now - 60;
	s.not_after = f->now + 3600;
	s.issued_at = f->now - 120;
	assert_int_equal(oem_quota_create(&s, qid, &env, &len), 0);
	qi.quota.data = env;
	qi.quota.len = len;
	e.body_case = TALLY__LOG_ENTRY__BODY_QUOTA_IMPORTED;
	e.quota_imported = &qi;
	add_entry(f, &e);
	free(env);
}

static void
add_quota(struct rfx *f, uint64_t units, uint8_t qid[16])
{
	add_quota_full(f, f->oem, f->app_spki, f->app_spki_len, units, 0, qid);
}

/* A token for uid under qid signed by signer; its log_index is the entry's
 * own index plus index_skew. Returns the entry index. */
static uint64_t
add_token_full(struct rfx *f, EVP_PKEY *signer, const uint8_t qid[16],
    const char *uid, int64_t index_skew)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogTokenIssued ti = TALLY__LOG_TOKEN_ISSUED__INIT;
	Tally__Token t = TALLY__TOKEN__INIT;
	uint8_t nonce[32], *payload, *env = NULL;
	size_t plen, elen = 0;
	uint64_t idx;

	memset(nonce, 0x6e, sizeof(nonce));
	t.log_index = (uint64_t)((int64_t)f->n + index_skew);
	t.quota_id.data = (uint8_t *)qid;
	t.quota_id.len = 16;
	t.appliance_key_id.data = f->app_id;
	t.appliance_key_id.len = 32;
	t.product = "widget";
	t.device_uid.data = (uint8_t *)uid;
	t.device_uid.len = strlen(uid);
	t.serial_number = f->serial;
	t.firmware_digest.data = f->fw;
	t.firmware_digest.len = 32;
	t.jig_key_id.data = f->jig_id;
	t.jig_key_id.len = 32;
	t.issued_at = f->now;
	t.nonce.data = nonce;
	t.nonce.len = 32;
	plen = tally__token__get_packed_size(&t);
	assert_non_null(payload = malloc(plen));
	tally__token__pack(&t, payload);
	assert_int_equal(tally_dsse_sign(signer, TALLY_PT_TOKEN, payload, plen, &env, &elen), 0);
	free(payload);
	ti.token.data = env;
	ti.token.len = elen;
	e.body_case = TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED;
	e.token_issued = &ti;
	idx = add_entry(f, &e);
	free(env);
	return idx;
}

static uint64_t
add_token(struct rfx *f, const uint8_t qid[16], const char *uid)
{
	return add_token_full(f, f->app, qid, uid, 0);
}

static void
add_report(struct rfx *f, EVP_PKEY *signer, uint64_t token_index, const char *uid,
    Tally__InstallResult result, int unit_returned)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogInstallReported ir = TALLY__LOG_INSTALL_REPORTED__INIT;
	Tally__InstallReport r = TALLY__INSTALL_REPORT__INIT;
	uint8_t *payload, *env = NULL;
	size_t plen, elen = 0;

	r.token_log_index = token_index;
	r.device_uid.data = (uint8_t *)uid;
	r.device_uid.len = strlen(uid);
	r.result = result;
	r.reason = result == TALLY__INSTALL_RESULT__FAILED ? "flash verify failed" : "";
	r.time = f->now;
	plen = tally__install_report__get_packed_size(&r);
	assert_non_null(payload = malloc(plen));
	tally__install_report__pack(&r, payload);
	assert_int_equal(tally_dsse_sign(signer, TALLY_PT_REPORT, payload, plen, &env, &elen), 0);
	free(payload);
	ir.report.data = env;
	ir.report.len = elen;
	ir.unit_returned = unit_returned;
	e.body_case = TALLY__LOG_ENTRY__BODY_INSTALL_REPORTED;
	e.install_reported = &ir;
	add_entry(f, &e);
	free(env);
}

static void
write_record(int fd, const Tally__ExportRecord *rec)
{
	size_t len = tally__export_record__get_packed_size(rec);
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	tally__export_record__pack(rec, buf);
	assert_int_equal(tally_frame_write_fd(fd, buf, len), 0);
	free(buf);
}

/* The checkpoint note over all f->n entries, signed by key. */
static char *
sign_checkpoint(struct rfx *f, EVP_PKEY *key)
{
	uint8_t *leaves = calloc(f->n + 1, TALLY_HASH_LEN), root[TALLY_HASH_LEN];
	char origin[TALLY_ORIGIN_MAX], *note = NULL;
	size_t i;

	assert_non_null(leaves);
	for (i = 0; i < f->n; i++)
		tally_merkle_leaf_hash(f->e[i].data, f->e[i].len, leaves + i * TALLY_HASH_LEN);
	tally_merkle_root(leaves, f->n, root);
	free(leaves);
	tally_checkpoint_origin(f->app_id, origin);
	assert_int_equal(tally_checkpoint_sign(key, origin, f->n, root, &note), 0);
	return note;
}

static void
write_export(struct rfx *f, const struct wopts *o)
{
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	Tally__ExportHeader h = TALLY__EXPORT_HEADER__INIT;
	char origin[TALLY_ORIGIN_MAX], *note;
	size_t i;
	int fd;

	unlink(f->path);
	assert_true((fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	tally_checkpoint_origin(f->app_id, origin);
	h.format_version = 1;
	h.origin = origin;
	h.appliance_public_key.data = f->app_spki;
	h.appliance_public_key.len = f->app_spki_len;
	h.entry_count = f->n;
	h.exported_at = f->now;
	rec.body_case = TALLY__EXPORT_RECORD__BODY_HEADER;
	rec.header = &h;
	write_record(fd, &rec);
	for (i = 0; i < f->n; i++) {
		if ((long)i == o->drop)
			continue;
		rec.body_case = TALLY__EXPORT_RECORD__BODY_ENTRY;
		rec.entry.len = f->e[i].len;
		rec.entry.data = malloc(f->e[i].len);
		assert_non_null(rec.entry.data);
		memcpy(rec.entry.data, f->e[i].data, f->e[i].len);
		if ((long)i == o->flip)
			rec.entry.data[rec.entry.len - 1] ^= 0x01;
		write_record(fd, &rec);
		free(rec.entry.data);
	}
	if (!o->no_checkpoint) {
		note = sign_checkpoint(f, o->cp_key != NULL ? o->cp_key : f->app);
		rec.body_case = TALLY__EXPORT_RECORD__BODY_CHECKPOINT;
		rec.checkpoint = note;
		write_record(fd, &rec);
		free(note);
	}
	assert_int_equal(close(fd), 0);
}

static size_t
count_kind(const struct oem_reconcile_result *res, enum oem_anomaly_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < res->n_anomalies; i++)
		if (res->anomalies[i].kind == kind)
			n++;
	return n;
}

/* Writes the export with o, reconciles it, expects success of the read. */
static void
reconcile(struct rfx *f, const struct wopts *o, struct oem_reconcile_result *res)
{
	write_export(f, o);
	assert_int_equal(oem_reconcile_file(f->path, f->oem, res), 0);
}

/* start, jig, quota of units, tokens for each uid; returns the quota ID. */
static void
basic_log(struct rfx *f, uint64_t units, const char *const *uids, size_t n,
    uint8_t qid[16], uint64_t *tok_idx)
{
	size_t i;

	add_start(f);
	add_enroll(f);
	add_quota(f, units, qid);
	for (i = 0; i < n; i++)
		tok_idx[i] = add_token(f, qid, uids[i]);
}

static const char *const UIDS[] = { "UID-A", "UID-B", "UID-C" };

static void
test_clean(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3];
	json_t *j;

	basic_log(f, 3, UIDS, 3, qid, tok);
	add_report(f, f->jig, tok[0], "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	add_report(f, f->jig, tok[1], "UID-B", TALLY__INSTALL_RESULT__FAILED, 0);
	reconcile(f, &CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.entries, 8);
	assert_int_equal(res.tree_size, 8);
	assert_true(res.checkpoint_ok);
	assert_memory_equal(res.appliance_key_id, f->app_id, 32);
	assert_int_equal(res.jigs_enrolled, 1);
	assert_int_equal(res.n_quotas, 1);
	assert_memory_equal(res.quotas[0].quota_id, qid, 16);
	assert_int_equal(res.quotas[0].units, 3);
	assert_int_equal(res.quotas[0].issued, 3);
	assert_int_equal(res.n_tokens, 3);
	assert_int_equal(res.reports_installed, 1);
	assert_int_equal(res.reports_failed, 1);
	assert_int_equal(res.unreported, 1);
	assert_int_equal(res.tokens[2].index, tok[2]);
	j = oem_reconcile_json(f->path, &res);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "anomalies_total")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "unreported")), 1);
	json_decref(j);
	oem_reconcile_result_free(&res);
}

/* A log with a quota and no token yet (a fresh appliance) reconciles
 * clean; the duplicate checks run over zero tokens. */
static void
test_no_tokens(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];

	basic_log(f, 3, UIDS, 0, qid, NULL);
	reconcile(f, &CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.n_tokens, 0);
	assert_int_equal(res.n_quotas, 1);
	assert_int_equal(res.quotas[0].issued, 0);
	assert_true(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_edited_byte(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct wopts o = CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 3, UIDS, 3, qid, tok);
	o.flip = 0;  /* the last byte of the start entry's key ID */
	reconcile(f, &o, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_ROOT_MISMATCH), 1);
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_dropped_entry(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct wopts o = CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 3, UIDS, 3, qid, tok);
	o.drop = (long)tok[1];
	reconcile(f, &o, &res);
	assert_int_equal(res.entries, 5);
	assert_true(count_kind(&res, OEM_ANOM_ENTRY_INDEX) >= 1);
	assert_true(count_kind(&res, OEM_ANOM_CHECKPOINT_SIZE) >= 1);
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_over_quota(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 2, UIDS, 3, qid, tok);
	reconcile(f, &CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_OVER_QUOTA), 1);
	assert_int_equal(res.anomalies[0].index, tok[2]);
	assert_int_equal(res.quotas[0].issued, 3);
	assert_true(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

/* Units returned by failed installs count, up to scrap_allowance. */
static void
test_scrap_allowance(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t a, b;

	add_start(f);
	add_enroll(f);
	add_quota_full(f, f->oem, f->app_spki, f->app_spki_len, 2, 1, qid);
	a = add_token(f, qid, "UID-A");
	b = add_token(f, qid, "UID-B");
	add_report(f, f->jig, a, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	add_report(f, f->jig, b, "UID-B", TALLY__INSTALL_RESULT__FAILED, 1);
	add_token(f, qid, "UID-C");  /* uses the returned unit */
	reconcile(f, &CLEAN, &res);
	assert_int_equal(res.anomalies_total, 0);
	assert_int_equal(res.quotas[0].returned, 1);
	oem_reconcile_result_free(&res);
	add_report(f, f->jig, a, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 1);
	add_token(f, qid, "UID-D");  /* past units + allowance */
	reconcile(f, &CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_SCRAP), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_OVER_QUOTA), 1);
	oem_reconcile_result_free(&res);
}

static void
test_duplicate_uid(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16], qid2[16];
	uint64_t tok[3], dup;

	basic_log(f, 5, UIDS, 3, qid, tok);
	add_quota(f, 5, qid2);
	dup = add_token(f, qid2, "UID-B");  /* same UID under another quota */
	reconcile(f, &CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_DUPLICATE_UID), 1);
	assert_int_equal(res.anomalies[0].index, dup);
	assert_non_null(strstr(res.anomalies[0].msg, "5549442d42"));  /* hex of UID-B */
	oem_reconcile_result_free(&res);
}

static void
test_serials(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t dup, outside;

	add_start(f);
	add_enroll(f);
	f->serial_first = 100;
	f->serial_last = 104;
	add_quota(f, 5, qid);
	f->serial = 100;
	add_token(f, qid, "UID-A");
	f->serial = 101;
	add_token(f, qid, "UID-B");
	dup = add_token(f, qid, "UID-C");
	f->serial = 200;
	outside = add_token(f, qid, "UID-D");
	reconcile(f, &CLEAN, &res);
	assert_int_equal(res.anomalies_total, 2);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_QUOTA), 1);
	assert_int_equal(res.anomalies[0].index, outside);
	assert_int_equal(count_kind(&res, OEM_ANOM_DUPLICATE_SERIAL), 1);
	assert_int_equal(res.anomalies[1].index, dup);
	oem_reconcile_result_free(&res);
}

static void
test_token_other_key(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[2];

	basic_log(f, 5, UIDS, 2, qid, tok);
	add_token_full(f, f->other, qid, "UID-X", 0);
	add_token_full(f, f->app, qid, "UID-Y", 1);  /* wrong log_index */
	reconcile(f, &CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_SIGNATURE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_BINDING), 1);
	assert_int_equal(res.n_tokens, 3);  /* the forged one is not counted */
	assert_true(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
test_quota_anomalies(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t q1[16], q2[16], q3[16];
	uint8_t *spki = NULL;
	size_t spki_len = 0;

	assert_int_equal(tally_key_spki(f->other, &spki, &spki_len), 0);
	add_start(f);
	add_enroll(f);
	add_quota_full(f, f->other, f->app_spki, f->app_spki_len, 5, 0, q1); /* not the OEM */
	add_quota_full(f, f->oem, spki, spki_len, 5, 0, q2);  /* other appliance */
	add_quota(f, 5, q3);
	add_token(f, q1, "UID-A");  /* under a quota that was refused */
	add_token(f, q3, "UID-B");
	reconcile(f, &CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_QUOTA_SIGNATURE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_QUOTA_APPLIANCE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_TOKEN_QUOTA), 1);
	assert_int_equal(res.anomalies_total, 3);
	assert_int_equal(res.n_quotas, 1);
	OPENSSL_free(spki);
	oem_reconcile_result_free(&res);
}

static void
test_report_anomalies(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	uint8_t qid[16];
	uint64_t tok[3];

	basic_log(f, 5, UIDS, 3, qid, tok);
	add_report(f, f->other, tok[0], "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	add_report(f, f->jig, tok[1], "UID-Z", TALLY__INSTALL_RESULT__INSTALLED, 0);
	add_report(f, f->jig, 0, "UID-A", TALLY__INSTALL_RESULT__INSTALLED, 0);
	add_report(f, f->jig, tok[2], "UID-C", TALLY__INSTALL_RESULT__INSTALLED, 0);
	reconcile(f, &CLEAN, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_REPORT_SIGNATURE), 1);
	assert_int_equal(count_kind(&res, OEM_ANOM_REPORT_BINDING), 2);
	assert_int_equal(res.reports_installed, 1);
	assert_int_equal(res.unreported, 2);
	oem_reconcile_result_free(&res);
}

static void
test_checkpoint_other_key(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct wopts o = CLEAN;
	uint8_t qid[16];
	uint64_t tok[1];

	basic_log(f, 5, UIDS, 1, qid, tok);
	o.cp_key = f->other;
	reconcile(f, &o, &res);
	assert_int_equal(count_kind(&res, OEM_ANOM_CHECKPOINT_SIGNATURE), 1);
	assert_false(res.checkpoint_ok);
	oem_reconcile_result_free(&res);
}

static void
truncate_to(const char *path, off_t len)
{
	assert_int_equal(truncate(path, len), 0);
}

static void
test_truncated(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	struct wopts o = CLEAN;
	uint8_t qid[16];
	uint64_t tok[3];
	off_t size;
	int fd;

	basic_log(f, 5, UIDS, 3, qid, tok);
	write_export(f, &CLEAN);
	assert_true((fd = open(f->path, O_RDONLY)) >= 0);
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	truncate_to(f->path, size - 10);  /* inside the checkpoint frame */
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res), TALLY_ERR_INVALID);
	assert_non_null(strstr(res.error, "truncated"));
	oem_reconcile_result_free(&res);
	o.no_checkpoint = 1;  /* cut at a frame boundary */
	write_export(f, &o);
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res), TALLY_ERR_INVALID);
	assert_non_null(strstr(res.error, "no checkpoint"));
	oem_reconcile_result_free(&res);
	truncate_to(f->path, 2);  /* inside the first length prefix */
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res), TALLY_ERR_INVALID);
	oem_reconcile_result_free(&res);
}

static void
test_hostile_files(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res;
	static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0x00 };
	static const uint8_t junk[] = { 0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0xff };
	int fd;

	assert_int_equal(oem_reconcile_file("/nonexistent/export", f->oem, &res),
	    TALLY_ERR_IO);
	oem_reconcile_result_free(&res);
	assert_int_equal(tally_write_file(f->path, huge, sizeof(huge), 0600), 0);
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res), TALLY_ERR_TOO_LARGE);
	oem_reconcile_result_free(&res);
	assert_int_equal(tally_write_file(f->path, junk, sizeof(junk), 0600), 0);
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res), TALLY_ERR_INVALID);
	oem_reconcile_result_free(&res);
	assert_true((fd = open(f->path, O_WRONLY | O_TRUNC)) >= 0);
	close(fd);  /* empty file */
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res), TALLY_ERR_INVALID);
	oem_reconcile_result_free(&res);
}

/* The same UID in exports of two appliances is a clone; the same export
 * given twice is not. */
static void
test_cross_exports(void **state)
{
	struct rfx *f = *state;
	struct oem_reconcile_result res[3];
	char second[160];
	uint8_t qid[16];
	uint64_t tok[3];
	size_t i;

	basic_log(f, 5, UIDS, 3, qid, tok);
	write_export(f, &CLEAN);
	snprintf(second, sizeof(second), "%s/second.bin", f->dir);
	assert_int_equal(rename(f->path, second), 0);
	/* a second appliance, same OEM and jig */
	for (i = 0; i < f->n; i++)
		free(f->e[i].data);
	f->n = 0;
	EVP_PKEY_free(f->app);
	OPENSSL_free(f->app_spki);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &f->app), 0);
	assert_int_equal(tally_key_id(f->app, f->app_id), 0);
	assert_int_equal(tally_key_spki(f->app, &f->app_spki, &f->app_spki_len), 0);
	basic_log(f, 5, UIDS + 2, 1, qid, tok);  /* UID-C again */
	write_export(f, &CLEAN);
	assert_int_equal(oem_reconcile_file(second, f->oem, &res[0]), 0);
	assert_int_equal(oem_reconcile_file(second, f->oem, &res[1]), 0);
	assert_int_equal(oem_reconcile_file(f->path, f->oem, &res[2]), 0);
	assert_int_equal(oem_reconcile_cross(res, 2), 0);  /* same export twice */
	assert_int_equal(res[1].anomalies_total, 0);
	assert_int_equal(oem_reconcile_cross(res + 1, 2), 0);
	assert_int_equal(res[1].anomalies_total, 0);
	assert_int_equal(count_kind(&res[2], OEM_ANOM_DUPLICATE_UID), 1);
	for (i = 0; i < 3; i++)
		oem_reconcile_result_free(&res[i]);
	unlink(second);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrap_allowance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_anomalies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_anomalies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_exports, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
