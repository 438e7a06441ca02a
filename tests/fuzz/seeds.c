/* seeds.c - writes the seed corpora of the fuzz targets:
 *   seeds ROOT        (make fuzz-seeds: ROOT = fixtures/fuzz)
 * ROOT/<target>/<name>, each a small real input made by the project's
 * own code: artifacts signed with the fixed keys of fz.h (so they verify
 * inside the fuzzers), the example configuration files, an export file
 * from the OEM test harness (tests/harness/fx_export.h), jig and control
 * request frames (seeds_req.c). Names say what each seed is; the first
 * byte of a seed is the target's mode byte where it has modes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "attest.h"
#include "checkpoint.h"
#include "cosignature.h"
#include "dsse.h"
#include "key.h"
#include "note.h"
#include "util.h"
#include "tests/fuzz/seeds.h"
#include "tests/harness/fx_export.h"

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "seeds: %s failed\n", what);
	exit(1);
}

void
seed_put(const char *root, const char *target, const char *name, int mode,
    const void *data, size_t len)
{
	char path[512];
	uint8_t m = (uint8_t)mode;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    (mode >= 0 && fwrite(&m, 1, 1, f) != 1) ||
	    (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		die(path);
}

void
seed_frame(struct seed_frames *f, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	if ((f->buf = realloc(f->buf, f->len + 4 + n)) == NULL)
		die("realloc");
	f->buf[f->len] = (uint8_t)(n >> 24);
	f->buf[f->len + 1] = (uint8_t)(n >> 16);
	f->buf[f->len + 2] = (uint8_t)(n >> 8);
	f->buf[f->len + 3] = (uint8_t)n;
	protobuf_c_message_pack(m, f->buf + f->len + 4);
	f->len += 4 + n;
}

/* Packs m, signs it as type with key: the envelope (free()). */
static uint8_t *
envelope(const ProtobufCMessage *m, EVP_PKEY *key, const char *type, size_t *len,
    uint8_t **payload, size_t *plen)
{
	uint8_t *env = NULL;

	if (fz_pack(m, payload, plen) != 0 ||
	    tally_dsse_sign(key, type, *payload, *plen, &env, len) != 0)
		die("tally_dsse_sign");
	return env;
}

static void
seeds_artifacts(const char *root, const struct fz_keys *k)
{
	ProtobufCBinaryData fw[1];
	Tally__Quota q;
	Tally__Token t;
	uint8_t *qe, *te, *qp, *tp, *b, *both;
	size_t ql, tl, qpl, tpl, bl;

	fz_quota_fill(k, &q, fw);
	fz_token_fill(k, &t);
	qe = envelope(&q.base, k->oem.key, TALLY_PT_QUOTA, &ql, &qp, &qpl);
	te = envelope(&t.base, k->app.key, TALLY_PT_TOKEN, &tl, &tp, &tpl);
	seed_put(root, "quota", "envelope", 0, qe, ql);
	seed_put(root, "quota", "payload", 1, qp, qpl);
	if (fz_bundle(k, qe, ql, te, tl, &b, &bl) != 0 || (both = malloc(2 + qpl + tpl)) == NULL)
		die("fz_bundle");
	both[0] = (uint8_t)(qpl >> 8);
	both[1] = (uint8_t)qpl;
	memcpy(both + 2, qp, qpl);
	memcpy(both + 2 + qpl, tp, tpl);
	for (int i = 0; i < 2; i++) {
		const char *target = i == 0 ? "bundle" : "devverify";

		seed_put(root, target, "bundle", 0, b, bl);
		seed_put(root, target, "token-payload", 1, tp, tpl);
		seed_put(root, target, "quota-payload", 2, qp, qpl);
		seed_put(root, target, "both-payloads", 3, both, 2 + qpl + tpl);
	}
	free(qe); free(te); free(qp); free(tp); free(b); free(both);
}

static void
seeds_report(const char *root, const struct fz_keys *k)
{
	Tally__InstallReport r = TALLY__INSTALL_REPORT__INIT;
	uint8_t *env, *p;
	size_t len, plen;

	r.token_log_index = 7;
	r.device_uid.data = (uint8_t *)FZ_UID;
	r.device_uid.len = strlen(FZ_UID);
	r.result = TALLY__INSTALL_RESULT__INSTALLED;
	r.time = FZ_ISSUED_AT + 60;
	env = envelope(&r.base, k->jig.key, TALLY_PT_REPORT, &len, &p, &plen);
	seed_put(root, "report", "installed", 0, env, len);
	seed_put(root, "report", "installed-payload", 1, p, plen);
	free(env); free(p);
	r.result = TALLY__INSTALL_RESULT__FAILED;
	r.reason = (char *)"flash verify failed at 0x8000";
	env = envelope(&r.base, k->jig.key, TALLY_PT_REPORT, &len, &p, &plen);
	seed_put(root, "report", "failed", 0, env, len);
	seed_put(root, "report", "failed-payload", 1, p, plen);
	free(env); free(p);
}

/* The text of a checkpoint of size 5 under origin (static buffer). */
static const char *
checkpoint_text(const char *origin, char out[256])
{
	uint8_t root[32];
	char b64[64];

	memset(root, 0x5a, sizeof(root));
	tally_b64_encode(root, sizeof(root), b64);
	snprintf(out, 256, "%s\n5\n%s\n", origin, b64);
	return out;
}

static void
seeds_notes(const char *root, const struct fz_keys *k)
{
	char origin[TALLY_ORIGIN_MAX], text[256], *note, *vkey, *receipt;
	uint8_t rh[32];

	tally_checkpoint_origin(k->app.id, origin);
	memset(rh, 0x5a, sizeof(rh));
	if (tally_checkpoint_sign(k->app.key, origin, 5, rh, &note) != 0 ||
	    tally_note_vkey(k->app.key, origin, &vkey) != 0 ||
	    tally_cosign(k->oem.key, note, strlen(note), FZ_ISSUED_AT, &receipt) != 0)
		die("checkpoint");
	checkpoint_text(origin, text);
	seed_put(root, "note", "checkpoint", 0, note, strlen(note));
	seed_put(root, "note", "vkey", 1, vkey, strlen(vkey));
	seed_put(root, "note", "checkpoint-text", 2, text, strlen(text));
	seed_put(root, "receipt", "receipt", 0, receipt, strlen(receipt));
	seed_put(root, "receipt", "checkpoint-text", 1, text, strlen(text));
	free(note); free(vkey); free(receipt);
}

static void
seeds_attest(const char *root, const struct fz_keys *k)
{
	uint8_t rec[TALLY_ATTESTATION_MAX], in[33 + 64 + 4];
	size_t len, n = strlen(FZ_UID);

	if (tally_attestation_make(k->att.key, fz_nonce, (const uint8_t *)FZ_UID, n,
	    fz_boot_key_hash, 0x00010203, rec, sizeof(rec), &len) != 0)
		die("tally_attestation_make");
	seed_put(root, "attest", "record", 0, rec, len);
	seed_put(root, "attest", "statement", 1, rec, 117 + n);
	memcpy(in, fz_nonce, 32);
	in[32] = (uint8_t)n;
	memcpy(in + 33, FZ_UID, n);
	memcpy(in + 33 + n, "\x00\x01\x02\x03", 4);
	seed_put(root, "attest", "make", 2, in, 37 + n);
}

static void
seeds_config(const char *root)
{
	static const char *min_tallyd = "[tallyd]\noem_root = /etc/tally/oem-root.pub\n"
	    "jig_ca = /etc/tally/jig-ca.pem\nlisten = [::1]:7700\n";
	static const char *usb_jig = "[jig]\nappliance = [::1]:7700\nappliance_key_id = "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	    "certificate = jig.crt\nkey = jig.key\nproduct = widget\nfirmware = fw.bin\n"
	    "quota_id = 00112233445566778899aabbccddeeff\n"
	    "[usb]\nvid = 0x1209\npid = 0x7a11\nslots = 3\ntransfer_timeout_ms = 500\n";
	uint8_t *buf;
	size_t len;

	if (tally_read_file("fixtures/tallyd.conf.example", 65536, &buf, &len) != 0)
		die("fixtures/tallyd.conf.example");
	seed_put(root, "tallydconf", "example", -1, buf, len);
	free(buf);
	seed_put(root, "tallydconf", "minimal", -1, min_tallyd, strlen(min_tallyd));
	if (tally_read_file("fixtures/tally-jig.conf.example", 65536, &buf, &len) != 0)
		die("fixtures/tally-jig.conf.example");
	seed_put(root, "jigconf", "example", -1, buf, len);
	free(buf);
	seed_put(root, "jigconf", "usb", -1, usb_jig, strlen(usb_jig));
}

/* DUT records (jig-firmware/dutproto.h, docs/dut-protocol.md §3-4). */
static void
seeds_dut(const char *root, const struct fz_keys *k)
{
	uint8_t id[5 + 64 + 64], rec[TALLY_ATTESTATION_MAX];
	static const uint8_t status[4] = { 0, 1, 1, 0 };
	static const uint8_t dfu[6] = { 0, 0x32, 0, 0, 5, 0 };
	size_t ul = strlen(FZ_UID), pl = strlen(FZ_PRODUCT), len;

	id[0] = 1;              /* TDP_VERSION */
	id[1] = 0;              /* state */
	id[2] = 1;              /* TDP_FLAG_ATTESTATION */
	id[3] = (uint8_t)ul;
	memcpy(id + 4, FZ_UID, ul);
	id[4 + ul] = (uint8_t)pl;
	memcpy(id + 5 + ul, FZ_PRODUCT, pl);
	seed_put(root, "dutrecord", "identity", 0, id, 5 + ul + pl);
	if (tally_attestation_make(k->att.key, fz_nonce, (const uint8_t *)FZ_UID, ul,
	    fz_boot_key_hash, 1, rec, sizeof(rec), &len) != 0)
		die("tally_attestation_make");
	seed_put(root, "dutrecord", "attestation", 1, rec, len);
	seed_put(root, "dutrecord", "status", 2, status, sizeof(status));
	seed_put(root, "dutrecord", "dfu-status", 3, dfu, sizeof(dfu));
	seed_put(root, "dutrecord", "dfu-error-file", 4, "\x0a", 1);
}

/* A small format-2 export (start, enrolment, quota, two tokens, a report)
 * by the OEM test harness, its quotas signed with the fixed OEM key. */
static void
seeds_export(const char *root, const struct fz_keys *k)
{
	struct fx_world w;
	struct fx_app a;
	uint8_t qid[16], *buf;
	uint64_t tok;
	char path[FX_PATH];
	size_t len;

	if (fx_world_init(&w) != 0)
		die("fx_world_init");
	EVP_PKEY_free(w.oem);
	w.oem = k->oem.key;
	EVP_PKEY_up_ref(w.oem);
	fx_app_init(&w, &a, TALLY_KEY_ED25519);
	fx_add_start(&a);
	fx_add_enroll(&w, &a);
	fx_add_quota(&w, &a, 10, qid);
	tok = fx_add_token(&w, &a, qid, FZ_UID);
	fx_add_token(&w, &a, qid, "FUZZ-DUT-0002");
	fx_add_report(&w, &a, w.jig, tok, FZ_UID, TALLY__INSTALL_RESULT__INSTALLED, 0);
	fx_export_write(&a, fx_path(&w, "full.tally", path), 0, &FX_CLEAN);
	if (tally_read_file(path, 1 << 20, &buf, &len) != 0)
		die("export");
	seed_put(root, "export", "full", -1, buf, len);
	free(buf);
	fx_export_write(&a, fx_path(&w, "incr.tally", path), 3, &FX_CLEAN);
	if (tally_read_file(path, 1 << 20, &buf, &len) != 0)
		die("export");
	seed_put(root, "export", "incremental", -1, buf, len);
	free(buf);
	fx_app_free(&a);
	fx_world_free(&w);
}

int
main(int argc, char **argv)
{
	struct fz_keys k;

	if (argc != 2) {
		fprintf(stderr, "usage: seeds ROOT\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST)
		die(argv[1]);
	if (fz_keys_init(&k) != 0)
		die("fz_keys_init");
	seeds_artifacts(argv[1], &k);
	seeds_report(argv[1], &k);
	seeds_notes(argv[1], &k);
	seeds_attest(argv[1], &k);
	seeds_config(argv[1]);
	seeds_dut(argv[1], &k);
	seeds_export(argv[1], &k);
	seeds_jig(argv[1], &k);
	seeds_ctl(argv[1], &k);
	fz_keys_free(&k);
	return 0;
}
