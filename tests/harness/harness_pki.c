/* harness_pki.c - keys, jig CA and certificates, OEM-signed quotas for the
 * integration-test harness, all with OpenSSL APIs (see harness.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "artifacts.pb-c.h"
#include "dsse.h"
#include "err.h"
#include "harness.h"
#include "harness_int.h"
#include "key.h"
#include "util.h"

const uint8_t th_firmware[32] = {
	0x7a, 0x11, 0x79, 0x00, 0x66, 0x69, 0x72, 0x6d, 0x77, 0x61, 0x72, 0x65,
	0x2d, 0x31, 0x2e, 0x30, 0x2e, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return TALLY_ERR_CRYPTO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : TALLY_ERR_CRYPTO;
}

static int
add_exts(X509 *x, X509 *issuer, bool ca)
{
	if (ca)
		return add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
		    add_ext(x, x, NID_subject_key_identifier, "hash") ? TALLY_ERR_CRYPTO : 0;
	return add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, issuer, NID_ext_key_usage, "clientAuth") ||
	    add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
	    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") ?
	    TALLY_ERR_CRYPTO : 0;
}

/* X.509 v3 "CN=cn" for key, valid from an hour ago for 30 days, issued by
 * issuer/issuer_key, or self-signed CA when issuer is NULL. */
X509 *
th_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	return th_cert_valid(key, cn, issuer, issuer_key, -3600, 30L * 86400);
}

X509 *
th_cert_valid(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    long not_before_s, long not_after_s)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint64_t serial;

	if (x == NULL || RAND_bytes((uint8_t *)&serial, sizeof(serial)) != 1 ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), not_before_s) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), not_after_s) == NULL)
		goto fail;
	if ((name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1 || add_exts(x, issuer, issuer == NULL) != 0 ||
	    X509_sign(x, issuer != NULL ? issuer_key : key, EVP_sha256()) <= 0)
		goto fail;
	return x;
 fail:
	X509_free(x);
	return NULL;
}

int
th_write_cert(X509 *x, const char *path)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return TALLY_ERR_IO;
	ok = PEM_write_X509(f, x) == 1;
	return fclose(f) == 0 && ok ? 0 : TALLY_ERR_IO;
}

/* Key + certificate for jig j from ca/ca_key, files in dir as <cn>.pem/.key. */
int
th_make_jig(const char *dir, const char *cn, X509 *ca, EVP_PKEY *ca_key, struct th_jig *j)
{
	int r;

	memset(j, 0, sizeof(*j));
	snprintf(j->cert_path, sizeof(j->cert_path), "%s/%s.pem", dir, cn);
	snprintf(j->key_path, sizeof(j->key_path), "%s/%s.key", dir, cn);
	if ((r = tally_key_generate(TALLY_KEY_P256, &j->key)) != 0 ||
	    (r = tally_key_id(j->key, j->key_id)) != 0 ||
	    (r = tally_key_write_private(j->key, j->key_path)) != 0)
		return r;
	if ((j->cert = th_cert(j->key, cn, ca, ca_key)) == NULL)
		return TALLY_ERR_CRYPTO;
	return th_write_cert(j->cert, j->cert_path);
}

void
th_jig_free(struct th_jig *j)
{
	EVP_PKEY_free(j->key);
	X509_free(j->cert);
	j->key = NULL;
	j->cert = NULL;
}

int
th_foreign_jig(struct th *t, const char *cn, struct th_jig *out)
{
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	int r;

	if ((r = tally_key_generate(TALLY_KEY_P256, &ca_key)) != 0)
		goto out;
	r = TALLY_ERR_CRYPTO;
	if ((ca = th_cert(ca_key, "another jig CA", NULL, NULL)) == NULL)
		goto out;
	r = th_make_jig(t->dir, cn, ca, ca_key, out);
 out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return r;
}

int
th_jig_recert(struct th *t, unsigned i, const char *cn, long not_before_s,
    long not_after_s, struct th_jig *out)
{
	const struct th_jig *j;

	memset(out, 0, sizeof(*out));
	if (i >= t->njigs)
		return TALLY_ERR_INVALID;
	j = &t->jig[i];
	snprintf(out->cert_path, sizeof(out->cert_path), "%s/%s.pem", t->dir, cn);
	snprintf(out->key_path, sizeof(out->key_path), "%s", j->key_path);
	memcpy(out->key_id, j->key_id, sizeof(out->key_id));
	if (EVP_PKEY_up_ref(j->key) != 1)
		return TALLY_ERR_CRYPTO;
	out->key = j->key;
	if ((out->cert = th_cert_valid(j->key, cn, t->ca, t->ca_key, not_before_s,
	    not_after_s)) == NULL)
		return TALLY_ERR_CRYPTO;
	return th_write_cert(out->cert, out->cert_path);
}

int
th_make_pki(struct th *t, unsigned njigs)
{
	char cn[16];
	unsigned i;
	int r;

	if ((r = tally_key_generate(TALLY_KEY_P256, &t->oem_key)) != 0 ||
	    (r = tally_key_write_private(t->oem_key, t->oem_path)) != 0 ||
	    (r = tally_key_write_public(t->oem_key, t->oem_pub_path)) != 0 ||
	    (r = tally_key_generate(TALLY_KEY_P256, &t->ca_key)) != 0)
		return r;
	if ((t->ca = th_cert(t->ca_key, "tally test jig CA", NULL, NULL)) == NULL)
		return TALLY_ERR_CRYPTO;
	if ((r = th_write_cert(t->ca, t->ca_path)) != 0)
		return r;
	for (i = 0; i < njigs && i < TH_JIGS_MAX; i++) {
		snprintf(cn, sizeof(cn), "jig%u", i);
		if ((r = th_make_jig(t->dir, cn, t->ca, t->ca_key, &t->jig[i])) != 0)
			return r;
		t->njigs = i + 1;
	}
	return 0;
}

/* The quota's attestation policy from q: the SPKIs of q's attestation
 * keys into keys (OPENSSL_free each, also on error) and m. */
static int
quota_attestation(const struct th_quota *q, Tally__Quota *m,
    ProtobufCBinaryData keys[TH_ATTESTATION_KEYS_MAX])
{
	size_t i;
	int r;

	if (q->n_attestation_keys == 0)
		return 0;
	if (q->n_attestation_keys > TH_ATTESTATION_KEYS_MAX)
		return TALLY_ERR_INVALID;
	for (i = 0; i < q->n_attestation_keys; i++)
		if ((r = tally_key_spki(q->attestation_keys[i], &keys[i].data,
		    &keys[i].len)) != 0)
			return r;
	m->attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
	m->n_attestation_public_keys = q->n_attestation_keys;
	m->attestation_public_keys = keys;
	return 0;
}

int
th_make_quota(struct th *t, const struct th_quota *q, uint8_t quota_id[16],
    uint8_t **env, size_t *len)
{
	Tally__Quota m = TALLY__QUOTA__INIT;
	ProtobufCBinaryData fw, keys[TH_ATTESTATION_KEYS_MAX] = { { 0, NULL } };
	uint8_t qid[16], *payload = NULL;
	int64_t now = tally_now();
	size_t i, plen;
	int r;

	if (RAND_bytes(qid, sizeof(qid)) != 1)
		return TALLY_ERR_CRYPTO;
	if ((r = quota_attestation(q, &m, keys)) != 0)
		goto out;
	m.quota_id = (ProtobufCBinaryData){ sizeof(qid), qid };
	m.appliance_key_id = (ProtobufCBinaryData){ 32,
	    (uint8_t *)(q->appliance_key_id != NULL ? q->appliance_key_id : t->appliance_key_id) };
	if (q->appliance_key_id == NULL)
		m.appliance_public_key = (ProtobufCBinaryData){ t->appliance_spki_len, t->appliance_spki };
	m.product = (char *)(q->product != NULL ? q->product : "widget");
	fw = (ProtobufCBinaryData){ 32, (uint8_t *)(q->firmware != NULL ? q->firmware : th_firmware) };
	m.n_firmware_digests = 1;
	m.firmware_digests = &fw;
	m.units = q->units != 0 ? q->units : 100;
	m.serial_first = q->serial_first;
	m.serial_last = q->serial_last;
	m.not_before = q->not_before != 0 || q->not_after != 0 ? q->not_before : now - 60;
	m.not_after = q->not_before != 0 || q->not_after != 0 ? q->not_after : now + 86400;
	m.max_unreconciled = q->max_unreconciled;
	m.scrap_allowance = q->scrap_allowance;
	m.issued_at = now;
	plen = tally__quota__get_packed_size(&m);
	r = TALLY_ERR_NOMEM;
	if ((payload = malloc(plen)) == NULL)
		goto out;
	tally__quota__pack(&m, payload);
	r = tally_dsse_sign(q->signer != NULL ? q->signer : t->oem_key, TALLY_PT_QUOTA,
	    payload, plen, env, len);
	free(payload);
	if (r == 0 && quota_id != NULL)
		memcpy(quota_id, qid, sizeof(qid));
out:
	for (i = 0; i < TH_ATTESTATION_KEYS_MAX; i++)
		OPENSSL_free(keys[i].data);
	return r;
}
