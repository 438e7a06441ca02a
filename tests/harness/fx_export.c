/* fx_export.c - synthetic appliance logs and format 2 export files for
 * the OEM tests. See fx_export.h. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "checkpoint.h"
#include "cosignature.h"
#include "ctl.pb-c.h"
#include "dsse.h"
#include "frame.h"
#include "key.h"
#include "log.pb-c.h"
#include "util.h"
#include "oem/quota_create.h"
#include "tests/harness/fx_export.h"

const struct fx_wopts FX_CLEAN = { -1, -1, NULL, 0, 2, NULL, 0 };

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

int
fx_world_init(struct fx_world *w)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "/tmp/tally-oemfx-XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	memset(w->fw, 0xf1, sizeof(w->fw));
	w->now = tally_now() - 5 * 86400;  /* five days of history fit */
	w->product = "widget";
	if (tally_key_generate(TALLY_KEY_P256, &w->oem) != 0 ||
	    tally_key_generate(TALLY_KEY_P256, &w->jig) != 0 ||
	    tally_key_generate(TALLY_KEY_ED25519, &w->other) != 0 ||
	    tally_key_id(w->jig, w->jig_id) != 0)
		return -1;
	return make_cert(w->jig, &w->jig_cert, &w->jig_cert_len);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
fx_world_free(struct fx_world *w)
{
	if (w->dir[0] != '\0')
		nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	EVP_PKEY_free(w->oem);
	EVP_PKEY_free(w->jig);
	EVP_PKEY_free(w->other);
	OPENSSL_free(w->jig_cert);
	memset(w, 0, sizeof(*w));
}

char *
fx_path(const struct fx_world *w, const char *name, char *out)
{
	snprintf(out, FX_PATH, "%s/%s", w->dir, name);
	return out;
}

void
fx_app_init(struct fx_world *w, struct fx_app *a, int type)
{
	memset(a, 0, sizeof(*a));
	a->now = w->now;
	assert_int_equal(tally_key_generate((enum tally_key_type)type, &a->key), 0);
	assert_int_equal(tally_key_id(a->key, a->id), 0);
	assert_int_equal(tally_key_spki(a->key, &a->spki, &a->spki_len), 0);
}

void
fx_app_truncate(struct fx_app *a, size_t n)
{
	while (a->n > n)
		free(a->e[--a->n].data);
}

void
fx_app_free(struct fx_app *a)
{
	fx_app_truncate(a, 0);
	free(a->e);
	EVP_PKEY_free(a->key);
	OPENSSL_free(a->spki);
	memset(a, 0, sizeof(*a));
}

uint64_t
fx_add_raw(struct fx_app *a, const uint8_t *data, size_t len, int ctx)
{
	struct fx_blob *b;

	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 32 : 2 * a->cap;
		assert_non_null(a->e = realloc(a->e, a->cap * sizeof(*a->e)));
	}
	b = &a->e[a->n];
	assert_non_null(b->data = malloc(len));
	memcpy(b->data, data, len);
	b->len = len;
	b->ctx = ctx;
	tally_merkle_leaf_hash(data, len, b->leaf);
	return a->n++;
}

/* Appends e as the next entry (index = position, time = a->now). */
static uint64_t
add_entry(struct fx_app *a, Tally__LogEntry *e, int ctx)
{
	size_t len;
	uint8_t *buf;
	uint64_t idx;

	e->index = a->n;
	e->time = a->now;
	len = tally__log_entry__get_packed_size(e);
	assert_non_null(buf = malloc(len));
	tally__log_entry__pack(e, buf);
	idx = fx_add_raw(a, buf, len, ctx);
	free(buf);
	return idx;
}

uint64_t
fx_add_start(struct fx_app *a)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogStart s = TALLY__LOG_START__INIT;

	s.version = "0.1.0";
	s.appliance_key_id.data = a->id;
	s.appliance_key_id.len = 32;
	e.body_case = TALLY__LOG_ENTRY__BODY_START;
	e.start = &s;
	return add_entry(a, &e, 0);
}

uint64_t
fx_add_enroll(struct fx_world *w, struct fx_app *a)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogJigEnrolled j = TALLY__LOG_JIG_ENROLLED__INIT;

	j.jig_key_id.data = w->jig_id;
	j.jig_key_id.len = 32;
	j.name = "jig-1";
	j.certificate.data = w->jig_cert;
	j.certificate.len = w->jig_cert_len;
	e.body_case = TALLY__LOG_ENTRY__BODY_JIG_ENROLLED;
	e.jig_enrolled = &j;
	e.has_operator = 1;
	return add_entry(a, &e, 2);
}

uint64_t
fx_add_revoke(struct fx_world *w, struct fx_app *a)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogJigRevoked j = TALLY__LOG_JIG_REVOKED__INIT;

	j.jig_key_id.data = w->jig_id;
	j.jig_key_id.len = 32;
	e.body_case = TALLY__LOG_ENTRY__BODY_JIG_REVOKED;
	e.jig_revoked = &j;
	return add_entry(a, &e, 0);
}

uint64_t
fx_add_quota_full(struct fx_world *w, struct fx_app *a, EVP_PKEY *signer,
    const uint8_t *spki, size_t spki_len, uint64_t units, uint64_t scrap,
    uint64_t sfirst, uint64_t slast, uint8_t qid[16])
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogQuotaImported qi = TALLY__LOG_QUOTA_IMPORTED__INIT;
	struct oem_quota_spec s = { 0 };
	const uint8_t (*fw)[32] = (const uint8_t (*)[32])w->fw;
	uint8_t *env = NULL;
	size_t len = 0;
	uint64_t idx;

	s.oem_key = signer;
	s.appliance_spki = spki != NULL ? spki : a->spki;
	s.appliance_spki_len = spki != NULL ? spki_len : a->spki_len;
	s.product = w->product;
	s.firmware = fw;
	s.n_firmware = 1;
	s.units = units;
	s.scrap_allowance = scrap;
	s.serial_first = sfirst;
	s.serial_last = slast;
	s.not_before = w->now - 60;
	s.not_after = w->now + 30 * 86400;
	s.issued_at = w->now - 120;
	assert_int_equal(oem_quota_create(&s, qid, &env, &len), 0);
	qi.quota.data = env;
	qi.quota.len = len;
	e.body_case = TALLY__LOG_ENTRY__BODY_QUOTA_IMPORTED;
	e.quota_imported = &qi;
	e.has_operator = 1;
	idx = add_entry(a, &e, 1);
	free(env);
	return idx;
}

uint64_t
fx_add_quota(struct fx_world *w, struct fx_app *a, uint64_t units, uint8_t qid[16])
{
	return fx_add_quota_full(w, a, w->oem, NULL, 0, units, 0, 0, 0, qid);
}

uint64_t
fx_add_token_full(struct fx_world *w, struct fx_app *a, EVP_PKEY *signer,
    const uint8_t qid[16], const char *uid, int64_t skew)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogTokenIssued ti = TALLY__LOG_TOKEN_ISSUED__INIT;
	Tally__Token t = TALLY__TOKEN__INIT;
	uint8_t nonce[32], *payload, *env = NULL;
	size_t plen, elen = 0;
	uint64_t idx;

	memset(nonce, 0x6e, sizeof(nonce));
	t.log_index = (uint64_t)((int64_t)a->n + skew);
	t.quota_id.data = (uint8_t *)qid;
	t.quota_id.len = 16;
	t.appliance_key_id.data = a->id;
	t.appliance_key_id.len = 32;
	t.product = (char *)w->product;
	t.device_uid.data = (uint8_t *)uid;
	t.device_uid.len = strlen(uid);
	t.serial_number = a->serial;
	t.firmware_digest.data = w->fw;
	t.firmware_digest.len = 32;
	t.jig_key_id.data = w->jig_id;
	t.jig_key_id.len = 32;
	t.issued_at = a->now;
	t.nonce.data = nonce;
	t.nonce.len = 32;
	plen = tally__token__get_packed_size(&t);
	assert_non_null(payload = malloc(plen));
	tally__token__pack(&t, payload);
	assert_int_equal(tally_dsse_sign(signer != NULL ? signer : a->key, TALLY_PT_TOKEN,
	    payload, plen, &env, &elen), 0);
	free(payload);
	ti.token.data = env;
	ti.token.len = elen;
	e.body_case = TALLY__LOG_ENTRY__BODY_TOKEN_ISSUED;
	e.token_issued = &ti;
	idx = add_entry(a, &e, 0);
	free(env);
	if (a->serial != 0)
		a->serial++;
	return idx;
}

uint64_t
fx_add_token(struct fx_world *w, struct fx_app *a, const uint8_t qid[16], const char *uid)
{
	return fx_add_token_full(w, a, NULL, qid, uid, 0);
}

uint64_t
fx_add_report(struct fx_world *w, struct fx_app *a, EVP_PKEY *signer,
    uint64_t token_index, const char *uid, Tally__InstallResult result,
    int unit_returned)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogInstallReported ir = TALLY__LOG_INSTALL_REPORTED__INIT;
	Tally__InstallReport r = TALLY__INSTALL_REPORT__INIT;
	uint8_t *payload, *env = NULL;
	size_t plen, elen = 0;
	uint64_t idx;

	r.token_log_index = token_index;
	r.device_uid.data = (uint8_t *)uid;
	r.device_uid.len = strlen(uid);
	r.result = result;
	r.reason = result == TALLY__INSTALL_RESULT__FAILED ? "flash verify failed" : "";
	r.time = a->now;
	plen = tally__install_report__get_packed_size(&r);
	assert_non_null(payload = malloc(plen));
	tally__install_report__pack(&r, payload);
	assert_int_equal(tally_dsse_sign(signer != NULL ? signer : w->jig, TALLY_PT_REPORT,
	    payload, plen, &env, &elen), 0);
	free(payload);
	ir.report.data = env;
	ir.report.len = elen;
	ir.unit_returned = unit_returned;
	e.body_case = TALLY__LOG_ENTRY__BODY_INSTALL_REPORTED;
	e.install_reported = &ir;
	idx = add_entry(a, &e, 0);
	free(env);
	return idx;
}

uint64_t
fx_add_receipt(struct fx_app *a, uint64_t size, EVP_PKEY *cosigner)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogReceiptImported ri = TALLY__LOG_RECEIPT_IMPORTED__INIT;
	char *note = fx_checkpoint(a, size, NULL), *receipt = NULL;
	uint64_t idx;

	assert_int_equal(tally_cosign(cosigner, note, strlen(note), a->now, &receipt), 0);
	ri.receipt = receipt;
	ri.tree_size = size;
	ri.cosigned_at = a->now;
	e.body_case = TALLY__LOG_ENTRY__BODY_RECEIPT_IMPORTED;
	e.receipt_imported = &ri;
	e.has_operator = 1;
	idx = add_entry(a, &e, 0);
	free(receipt);
	free(note);
	return idx;
}

/* Leaf hashes of the first n entries, contiguous (free()). */
static uint8_t *
leaves(const struct fx_app *a, uint64_t n)
{
	uint8_t *l = calloc(n + 1, TALLY_HASH_LEN);
	uint64_t i;

	assert_non_null(l);
	for (i = 0; i < n; i++)
		memcpy(l + i * TALLY_HASH_LEN, a->e[i].leaf, TALLY_HASH_LEN);
	return l;
}

void
fx_root(const struct fx_app *a, uint64_t size, uint8_t out[TALLY_HASH_LEN])
{
	uint8_t *l = leaves(a, size);

	tally_merkle_root(l, size, out);
	free(l);
}

char *
fx_checkpoint(struct fx_app *a, uint64_t size, EVP_PKEY *key)
{
	uint8_t root[TALLY_HASH_LEN];
	char origin[TALLY_ORIGIN_MAX], *note = NULL;

	fx_root(a, size, root);
	tally_checkpoint_origin(a->id, origin);
	assert_int_equal(tally_checkpoint_sign(key != NULL ? key : a->key, origin, size,
	    root, &note), 0);
	return note;
}

/* Perfect subtree (level, index) from the contiguous leaf hashes in arg. */
static int
node_fn(void *arg, unsigned level, uint64_t index, uint8_t out[TALLY_HASH_LEN])
{
	const uint8_t *l = arg;

	tally_merkle_root(l + (index << level) * TALLY_HASH_LEN, 1ull << level, out);
	return 0;
}

struct hdr_bufs {
	uint8_t front[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN];
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN];
	ProtobufCBinaryData fb[TALLY_MERKLE_MAX_HEIGHT], pb[TALLY_PROOF_MAX];
	char origin[TALLY_ORIGIN_MAX];
	char *prev;
};

/* prev_checkpoint, prev_frontier and the consistency proof first -> n. */
static void
fill_header(struct fx_app *a, uint64_t first, const struct fx_wopts *o,
    Tally__ExportHeader *h, struct hdr_bufs *b)
{
	struct tally_merkle_frontier f;
	uint8_t *l = leaves(a, a->n);
	size_t i, np = 0;

	tally_merkle_frontier_init(&f);
	for (i = 0; i < first; i++)
		assert_int_equal(tally_merkle_frontier_append(&f, a->e[i].leaf), 0);
	for (i = 0; i < f.count; i++) {
		memcpy(b->front[i], f.node[i], TALLY_HASH_LEN);
		b->fb[i].data = b->front[i];
		b->fb[i].len = TALLY_HASH_LEN;
	}
	if (first > 0 && first <= a->n) {
		assert_int_equal(tally_merkle_consistency_proof(first, a->n, node_fn, l,
		    b->proof, &np), 0);
		b->prev = fx_checkpoint(a, first, o->prev_key);
	}
	if (np > 0 && o->bad_proof)
		b->proof[np / 2][5] ^= 0x10;
	for (i = 0; i < np; i++) {
		b->pb[i].data = b->proof[i];
		b->pb[i].len = TALLY_HASH_LEN;
	}
	free(l);
	h->prev_checkpoint = b->prev != NULL ? b->prev : "";
	h->n_prev_frontier = f.count;
	h->prev_frontier = b->fb;
	h->n_consistency_proof = np;
	h->consistency_proof = b->pb;
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

/* Every quota envelope and jig enrolment of the log, as context records. */
static void
write_context(int fd, const struct fx_app *a)
{
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	Tally__LogEntry *e;
	uint8_t *buf;
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (a->e[i].ctx == 0)
			continue;
		assert_non_null(e = tally__log_entry__unpack(NULL, a->e[i].len, a->e[i].data));
		if (a->e[i].ctx == 1) {
			rec.body_case = TALLY__EXPORT_RECORD__BODY_QUOTA;
			rec.quota = e->quota_imported->quota;
		} else {
			rec.body_case = TALLY__EXPORT_RECORD__BODY_JIG;
			rec.jig.len = tally__log_jig_enrolled__get_packed_size(e->jig_enrolled);
			assert_non_null(buf = malloc(rec.jig.len));
			tally__log_jig_enrolled__pack(e->jig_enrolled, buf);
			rec.jig.data = buf;
		}
		write_record(fd, &rec);
		if (a->e[i].ctx == 2)
			free(rec.jig.data);
		tally__log_entry__free_unpacked(e, NULL);
	}
}

static void
write_entries(int fd, const struct fx_app *a, uint64_t first, const struct fx_wopts *o)
{
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	size_t i;

	for (i = first; i < a->n; i++) {
		if ((long)i == o->drop)
			continue;
		rec.body_case = TALLY__EXPORT_RECORD__BODY_ENTRY;
		rec.entry.len = a->e[i].len;
		assert_non_null(rec.entry.data = malloc(a->e[i].len));
		memcpy(rec.entry.data, a->e[i].data, a->e[i].len);
		if ((long)i == o->flip)
			rec.entry.data[rec.entry.len - 1] ^= 0x01;
		write_record(fd, &rec);
		free(rec.entry.data);
	}
}

void
fx_export_write(struct fx_app *a, const char *path, uint64_t first,
    const struct fx_wopts *o)
{
	Tally__ExportRecord rec = TALLY__EXPORT_RECORD__INIT;
	Tally__ExportHeader h = TALLY__EXPORT_HEADER__INIT;
	struct hdr_bufs *b = calloc(1, sizeof(*b));
	char *note;
	int fd;

	assert_non_null(b);
	unlink(path);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	tally_checkpoint_origin(a->id, b->origin);
	h.format_version = o->format == 1 ? 1 : 2;
	h.origin = b->origin;
	h.appliance_public_key.data = a->spki;
	h.appliance_public_key.len = a->spki_len;
	h.first_index = first;
	h.entry_count = a->n - first;
	h.exported_at = a->now;
	if (o->format != 1)
		fill_header(a, first, o, &h, b);
	rec.body_case = TALLY__EXPORT_RECORD__BODY_HEADER;
	rec.header = &h;
	write_record(fd, &rec);
	if (o->format != 1)
		write_context(fd, a);
	write_entries(fd, a, first, o);
	if (!o->no_checkpoint) {
		note = fx_checkpoint(a, a->n, o->cp_key);
		rec.body_case = TALLY__EXPORT_RECORD__BODY_CHECKPOINT;
		rec.checkpoint = note;
		write_record(fd, &rec);
		free(note);
	}
	assert_int_equal(close(fd), 0);
	free(b->prev);
	free(b);
}
