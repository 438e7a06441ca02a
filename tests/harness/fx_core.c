/* fx_core.c - fixtures for the store/writer unit tests; see fx_core.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/thread.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "dsse.h"
#include "err.h"
#include "key.h"
#include "daemon/store.h"
#include "util.h"
#include "tests/harness/fx_core.h"

const uint8_t fx_fw[32] = { 0xf1, 0x2e, 0x03, 0x44, [31] = 0x99 };

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name;
	long serial;

	RAND_bytes((unsigned char *)&serial, sizeof(serial));
	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial & 0x7fffffff) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1)
		goto fail;
	if (add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
	    add_ext(x, issuer, NID_key_usage, ca ? "critical,keyCertSign" : "critical,digitalSignature") ||
	    (!ca && add_ext(x, issuer, NID_ext_key_usage, "clientAuth")))
		goto fail;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto fail;
	return x;
 fail:
	X509_free(x);
	return NULL;
}

X509 *
fx_ca(EVP_PKEY *key, const char *cn)
{
	return make_cert(key, cn, NULL, key, 1);
}

X509 *
fx_cert(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *jig_key, const char *cn)
{
	return make_cert(jig_key, cn, ca, ca_key, 0);
}

uint8_t *
fx_der(X509 *x, size_t *len)
{
	unsigned char *der = NULL, *copy;
	int n = i2d_X509(x, &der);

	if (n <= 0 || (copy = malloc((size_t)n)) == NULL) {
		OPENSSL_free(der);
		return NULL;
	}
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return copy;
}

static int
write_ca(struct fx *f)
{
	FILE *fp = fopen(f->ca_file, "w");
	int ok;

	if (fp == NULL)
		return -1;
	ok = PEM_write_X509(fp, f->ca);
	return fclose(fp) == 0 && ok == 1 ? 0 : -1;
}

static int
start(struct fx *f)
{
	if (store_open(f->dir, f->map_size, &f->st) != 0)
		return -1;
	return writer_start(f->st, f->key, f->oem, f->ca_file, f->base, &f->w) == 0 ? 0 : -1;
}

static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int
fx_setup(struct fx *f, size_t map_size)
{
	struct timeval hour = { 3600, 0 };

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/tally-test-core-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->ca_file, sizeof(f->ca_file), "%s/ca.pem", f->dir);
	f->map_size = map_size;
	if (evthread_use_pthreads() != 0 || (f->base = event_base_new()) == NULL ||
	    (f->idle = evtimer_new(f->base, idle_cb, NULL)) == NULL ||
	    evtimer_add(f->idle, &hour) != 0)
		return -1;
	if (tally_key_generate(TALLY_KEY_P256, &f->key) != 0 ||
	    tally_key_generate(TALLY_KEY_ED25519, &f->oem) != 0 ||
	    tally_key_generate(TALLY_KEY_P256, &f->ca_key) != 0 ||
	    tally_key_id(f->key, f->key_id) != 0 ||
	    (f->ca = fx_ca(f->ca_key, "tally test jig CA")) == NULL || write_ca(f) != 0)
		return -1;
	return start(f);
}

int
fx_restart(struct fx *f)
{
	writer_stop(f->w, "test restart");
	store_close(f->st);
	f->w = NULL;
	f->st = NULL;
	return start(f);
}

/* Removes every file of the fixture folder, then the folder. */
static void
remove_dir(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void
fx_teardown(struct fx *f)
{
	if (f->w != NULL)
		writer_stop(f->w, "test end");
	store_close(f->st);
	if (f->idle != NULL)
		event_free(f->idle);
	if (f->base != NULL)
		event_base_free(f->base);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->oem);
	EVP_PKEY_free(f->ca_key);
	X509_free(f->ca);
	if (f->dir[0] != '\0')
		remove_dir(f->dir);
	memset(f, 0, sizeof(*f));
}

void
fx_quota_init(struct fx *f, Tally__Quota *q, uint8_t qid[16], const char *product,
    uint64_t units)
{
	static ProtobufCBinaryData fw = { 32, (uint8_t *)fx_fw };
	int64_t now = tally_now();

	tally__quota__init(q);
	RAND_bytes(qid, 16);
	q->quota_id.data = qid;
	q->quota_id.len = 16;
	q->appliance_key_id.data = f->key_id;
	q->appliance_key_id.len = 32;
	q->product = (char *)product;
	q->n_firmware_digests = 1;
	q->firmware_digests = &fw;
	q->units = units;
	q->not_before = now - 60;
	q->not_after = now + 3600;
	q->issued_at = now;
}

uint8_t *
fx_quota_sign(const Tally__Quota *q, EVP_PKEY *signer, size_t *len)
{
	size_t n = tally__quota__get_packed_size(q);
	uint8_t *payload = malloc(n), *env = NULL;

	if (payload == NULL)
		return NULL;
	tally__quota__pack(q, payload);
	if (tally_dsse_sign(signer, TALLY_PT_QUOTA, payload, n, &env, len) != 0)
		env = NULL;
	free(payload);
	return env;
}

static void
count_done(struct wreq *r, void *arg)
{
	struct fx *f = arg;

	(void)r;
	f->done++;
}

struct wreq *
fx_req(struct fx *f, enum wreq_kind kind)
{
	struct wreq *r = wreq_new(kind);

	r->done = count_done;
	r->arg = f;
	return r;
}

struct wreq *
fx_req_quota(struct fx *f, const uint8_t *env, size_t len)
{
	struct wreq *r = fx_req(f, WREQ_QUOTA_IMPORT);

	r->in.quota.env = malloc(len);
	memcpy(r->in.quota.env, env, len);
	r->in.quota.len = len;
	r->has_operator = true;
	r->operator_uid = 1000;
	return r;
}

struct wreq *
fx_req_enroll(struct fx *f, X509 *cert, const char *name)
{
	struct wreq *r = fx_req(f, WREQ_JIG_ENROLL);

	r->in.enroll.cert = fx_der(cert, &r->in.enroll.len);
	snprintf(r->in.enroll.name, sizeof(r->in.enroll.name), "%s", name);
	r->has_operator = true;
	r->operator_uid = 1000;
	return r;
}

struct wreq *
fx_req_issue(struct fx *f, const uint8_t jig_id[32], const char *product,
    const void *uid, size_t uid_len)
{
	struct wreq *r = fx_req(f, WREQ_ISSUE_TOKEN);

	memcpy(r->jig_key_id, jig_id, 32);
	snprintf(r->in.issue.product, sizeof(r->in.issue.product), "%s", product);
	memcpy(r->in.issue.uid, uid, uid_len);
	r->in.issue.uid_len = uid_len;
	RAND_bytes(r->in.issue.nonce, sizeof(r->in.issue.nonce));
	return r;
}

void
fx_run(struct fx *f, struct wreq **r, size_t n)
{
	size_t target = f->done + n;

	for (size_t i = 0; i < n; i++)
		writer_submit(f->w, r[i]);
	while (f->done < target)
		event_base_loop(f->base, EVLOOP_ONCE);
}

struct wreq *
fx_run1(struct fx *f, struct wreq *r)
{
	fx_run(f, &r, 1);
	return r;
}

int
fx_import(struct fx *f, const char *product, uint64_t units, uint8_t qid[16])
{
	Tally__Quota q;
	struct wreq *r;
	uint8_t *env;
	size_t len;
	int err;

	fx_quota_init(f, &q, qid, product, units);
	if ((env = fx_quota_sign(&q, f->oem, &len)) == NULL)
		return -1;
	r = fx_run1(f, fx_req_quota(f, env, len));
	err = r->error;
	wreq_free(r);
	free(env);
	return err;
}

int
fx_enroll(struct fx *f, enum tally_key_type type, EVP_PKEY **jig_key, uint8_t id[32])
{
	X509 *cert;
	struct wreq *r;
	int err;

	if (tally_key_generate(type, jig_key) != 0 || tally_key_id(*jig_key, id) != 0 ||
	    (cert = fx_cert(f->ca, f->ca_key, *jig_key, "jig")) == NULL)
		return -1;
	r = fx_run1(f, fx_req_enroll(f, cert, "line 1 jig"));
	err = r->error;
	if (err == 0 && memcmp(r->id, id, 32) != 0)
		err = -1;
	wreq_free(r);
	X509_free(cert);
	return err;
}
