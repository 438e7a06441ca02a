/* fz.c - fixed keys, artifacts and a temporary folder for the fuzz
 * targets and seeds.c; see fz.h.
 *
 * libFuzzer calls LLVMFuzzerTestOneInput with nothing but the input, so
 * what a target sets up once lives in file-scope statics of that target;
 * the folder here is one too. Test code only. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "artifact.h"
#include "dsse.h"
#include "key.h"
#include "util.h"
#include "tests/fuzz/fz.h"

const uint8_t fz_quota_id[16] = { 0x51, 0x0a, 0x7a, 0x00, [15] = 0x01 };
const uint8_t fz_fw[32] = { 0xf1, 0x2e, 0x03, 0x44, [31] = 0x99 };
const uint8_t fz_nonce[32] = { 0x0e, 0xce, [31] = 0x42 };
const uint8_t fz_boot_key_hash[32] = { 0xb0, 0x07, [31] = 0x01 };

static int
key_make(const char *label, struct fz_key *k)
{
	char text[64];
	uint8_t seed[32], *der = NULL;
	size_t len = 0;
	int r = -1;

	snprintf(text, sizeof(text), "tally fuzz %s", label);
	SHA256((const uint8_t *)text, strlen(text), seed);
	k->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (k->key == NULL || tally_key_spki(k->key, &der, &len) != 0 ||
	    len > sizeof(k->spki))
		goto out;
	memcpy(k->spki, der, len);
	k->spki_len = len;
	tally_key_id_spki(der, len, k->id);
	r = 0;
 out:
	if (r != 0)
		ERR_print_errors_fp(stderr);
	OPENSSL_free(der);
	return r;
}

int
fz_keys_init(struct fz_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (key_make("oem", &k->oem) != 0 || key_make("appliance", &k->app) != 0 ||
	    key_make("jig", &k->jig) != 0 || key_make("attestation", &k->att) != 0) {
		fz_keys_free(k);
		return -1;
	}
	return 0;
}

void
fz_keys_free(struct fz_keys *k)
{
	EVP_PKEY_free(k->oem.key);
	EVP_PKEY_free(k->app.key);
	EVP_PKEY_free(k->jig.key);
	EVP_PKEY_free(k->att.key);
	memset(k, 0, sizeof(*k));
}

void
fz_quota_fill(const struct fz_keys *k, Tally__Quota *q, ProtobufCBinaryData fw[1])
{
	tally__quota__init(q);
	q->quota_id.data = (uint8_t *)fz_quota_id;
	q->quota_id.len = sizeof(fz_quota_id);
	q->appliance_key_id.data = (uint8_t *)k->app.id;
	q->appliance_key_id.len = sizeof(k->app.id);
	q->appliance_public_key.data = (uint8_t *)k->app.spki;
	q->appliance_public_key.len = k->app.spki_len;
	q->product = (char *)FZ_PRODUCT;
	fw[0].data = (uint8_t *)fz_fw;
	fw[0].len = sizeof(fz_fw);
	q->firmware_digests = fw;
	q->n_firmware_digests = 1;
	q->units = 100;
	q->not_before = FZ_NOT_BEFORE;
	q->not_after = FZ_NOT_AFTER;
	q->issued_at = FZ_NOT_BEFORE;
}

void
fz_token_fill(const struct fz_keys *k, Tally__Token *t)
{
	tally__token__init(t);
	t->log_index = 7;
	t->quota_id.data = (uint8_t *)fz_quota_id;
	t->quota_id.len = sizeof(fz_quota_id);
	t->appliance_key_id.data = (uint8_t *)k->app.id;
	t->appliance_key_id.len = sizeof(k->app.id);
	t->product = (char *)FZ_PRODUCT;
	t->device_uid.data = (uint8_t *)FZ_UID;
	t->device_uid.len = strlen(FZ_UID);
	t->firmware_digest.data = (uint8_t *)fz_fw;
	t->firmware_digest.len = sizeof(fz_fw);
	t->jig_key_id.data = (uint8_t *)k->jig.id;
	t->jig_key_id.len = sizeof(k->jig.id);
	t->issued_at = FZ_ISSUED_AT;
	t->nonce.data = (uint8_t *)fz_nonce;
	t->nonce.len = sizeof(fz_nonce);
}

int
fz_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(msg);
	if ((*out = malloc(*len ? *len : 1)) == NULL)
		return -1;
	protobuf_c_message_pack(msg, *out);
	return 0;
}

int
fz_bundle(const struct fz_keys *k, const uint8_t *qenv, size_t qlen,
    const uint8_t *tenv, size_t tlen, uint8_t **out, size_t *len)
{
	Tally__TokenBundle b = TALLY__TOKEN_BUNDLE__INIT;

	b.quota.data = (uint8_t *)qenv;
	b.quota.len = qlen;
	b.token.data = (uint8_t *)tenv;
	b.token.len = tlen;
	b.appliance_public_key.data = (uint8_t *)k->app.spki;
	b.appliance_public_key.len = k->app.spki_len;
	return fz_pack(&b.base, out, len);
}

/* The folder of this process; set once by fz_dir. */
static char fz_folder[256];

static void
dir_remove(void)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	if (fz_folder[0] == '\0' || (d = opendir(fz_folder)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fz_folder, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(fz_folder);
}

const char *
fz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fz_folder[0] != '\0')
		return fz_folder;
	snprintf(fz_folder, sizeof(fz_folder), "%s/tally-fuzz-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fz_folder) == NULL) {
		fz_folder[0] = '\0';
		return NULL;
	}
	atexit(dir_remove);
	return fz_folder;
}

int
fz_file(const char *name, const uint8_t *data, size_t len, unsigned mode, char path[256])
{
	const char *dir = fz_dir();
	int fd, r;

	if (dir == NULL || snprintf(path, 256, "%s/%s", dir, name) >= 256)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return -1;
	r = fchmod(fd, mode) == 0 && tally_write_all(fd, data, len) == 0 ? 0 : -1;
	close(fd);
	return r;
}

/* The fixed valid quota (OEM-signed) and token (appliance-signed)
 * envelopes, new buffers (free()). */
static int
sign_fixed(const struct fz_keys *k, int quota, uint8_t **env, size_t *len)
{
	ProtobufCBinaryData fw[1];
	Tally__Quota q;
	Tally__Token t;
	uint8_t *p = NULL;
	size_t plen;
	int r;

	if (quota)
		fz_quota_fill(k, &q, fw);
	else
		fz_token_fill(k, &t);
	if (fz_pack(quota ? &q.base : &t.base, &p, &plen) != 0)
		return -1;
	r = tally_dsse_sign(quota ? k->oem.key : k->app.key,
	    quota ? TALLY_PT_QUOTA : TALLY_PT_TOKEN, p, plen, env, len);
	free(p);
	return r == 0 ? 0 : -1;
}

int
fz_bundle_input(const struct fz_keys *k, unsigned mode, const uint8_t *data,
    size_t size, uint8_t **out, size_t *len)
{
	uint8_t *qe = NULL, *te = NULL;
	size_t ql, tl, n;
	int r = -1;

	if (mode == 0) {
		if ((*out = malloc(size ? size : 1)) == NULL)
			return -1;
		memcpy(*out, data, size);
		*len = size;
		return 0;
	}
	if (mode == 1) {
		if (sign_fixed(k, 1, &qe, &ql) != 0 ||
		    tally_dsse_sign(k->app.key, TALLY_PT_TOKEN, data, size, &te, &tl) != 0)
			goto out;
	} else if (mode == 2) {
		if (sign_fixed(k, 0, &te, &tl) != 0 ||
		    tally_dsse_sign(k->oem.key, TALLY_PT_QUOTA, data, size, &qe, &ql) != 0)
			goto out;
	} else {
		if (size < 2 || (n = (size_t)data[0] << 8 | data[1]) > size - 2 ||
		    tally_dsse_sign(k->oem.key, TALLY_PT_QUOTA, data + 2, n, &qe, &ql) != 0 ||
		    tally_dsse_sign(k->app.key, TALLY_PT_TOKEN, data + 2 + n, size - 2 - n,
		    &te, &tl) != 0)
			goto out;
	}
	r = fz_bundle(k, qe, ql, te, tl, out, len);
 out:
	free(qe);
	free(te);
	return r;
}
