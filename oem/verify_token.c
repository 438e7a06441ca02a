/* verify_token.c - tally-oem verify-token --bundle FILE --oem-root PEM
 * (--uid UID | --uid-hex HEX) [--firmware IMAGE] [--product NAME]
 * [--now TIME] [--json]: the device-side verifier (lib/devverify.h) with
 * its OpenSSL back-end on a token bundle file, so the OEM sees exactly
 * what a DUT would decide. See verify_token.h. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include "devverify.h"
#include "err.h"
#include "key.h"
#include "oem.h"
#include "util.h"
#include "verify_token.h"

struct vt_opts {
	const char *bundle, *root, *uid, *uid_hex, *firmware, *product, *now;
	int json;
};

struct vt_input {
	uint8_t *bundle;             /* free() */
	size_t len;
	int too_large;               /* the file is over TDV_BUNDLE_MAX */
	uint8_t *spki;               /* OEM root SPKI, OPENSSL_free() */
	size_t spki_len;
	uint8_t uid[TDV_UID_MAX];
	size_t uid_len;
	int64_t now;                 /* 0: as a device without a clock */
	int has_fw;
	uint8_t fw[TDV_DIGEST_LEN];  /* SHA-256 of --firmware */
};

struct vt_verdict {
	enum tdv_result r;
	struct tdv_token tok;
	int fw_match;
};

/* Parses argv into *o. Returns -1 to go on, else the exit status. */
static int
vt_parse(const struct oem_cmd *self, int argc, char **argv, struct vt_opts *o)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "oem-root", required_argument, NULL, 'r' },
		{ "uid", required_argument, NULL, 'u' },
		{ "uid-hex", required_argument, NULL, 'x' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "product", required_argument, NULL, 'p' },
		{ "now", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "b:r:u:x:f:p:n:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': o->bundle = optarg; break;
		case 'r': o->root = optarg; break;
		case 'u': o->uid = optarg; break;
		case 'x': o->uid_hex = optarg; break;
		case 'f': o->firmware = optarg; break;
		case 'p': o->product = optarg; break;
		case 'n': o->now = optarg; break;
		case 'j': o->json = 1; break;
		case 'h': oem_usage(self, stdout); return OEM_EXIT_OK;
		default: oem_usage(self, stderr); return OEM_EXIT_USAGE;
		}
	}
	if (o->bundle == NULL || o->root == NULL || optind != argc ||
	    (o->uid == NULL) == (o->uid_hex == NULL)) {
		oem_usage(self, stderr);
		return OEM_EXIT_USAGE;
	}
	return -1;
}

/* The device's UID, product and clock from the options. */
static int
vt_device(const struct oem_cmd *self, const struct vt_opts *o, struct vt_input *in)
{
	size_t n;

	if (o->uid != NULL) {
		if ((n = strlen(o->uid)) == 0 || n > TDV_UID_MAX) {
			oem_errx(self, "--uid: 1 to %d characters", TDV_UID_MAX);
			return OEM_EXIT_USAGE;
		}
		memcpy(in->uid, o->uid, n);
		in->uid_len = n;
	} else if (tally_unhex_var(o->uid_hex, in->uid, TDV_UID_MAX, &in->uid_len) != 0 ||
	    in->uid_len == 0) {
		oem_errx(self, "--uid-hex: 1 to %d bytes in hex", TDV_UID_MAX);
		return OEM_EXIT_USAGE;
	}
	if (o->product != NULL &&
	    ((n = strlen(o->product)) == 0 || n > TDV_PRODUCT_MAX)) {
		oem_errx(self, "--product: 1 to %d characters", TDV_PRODUCT_MAX);
		return OEM_EXIT_USAGE;
	}
	in->now = tally_now();
	if (o->now != NULL && oem_parse_time(o->now, &in->now) != 0) {
		oem_errx(self, "--now %s: Unix seconds or YYYY-MM-DDTHH:MM:SSZ", o->now);
		return OEM_EXIT_USAGE;
	}
	return OEM_EXIT_OK;
}

/* The bundle file, the OEM root key and the firmware image's digest. */
static int
vt_files(const struct oem_cmd *self, const struct vt_opts *o, struct vt_input *in)
{
	EVP_PKEY *root = NULL;
	int r;

	r = tally_read_file(o->bundle, TDV_BUNDLE_MAX, &in->bundle, &in->len);
	if (r == TALLY_ERR_TOO_LARGE)
		in->too_large = 1;
	else if (r != 0) {
		oem_errx(self, "--bundle %s: %s", o->bundle,
		    r == TALLY_ERR_IO ? strerror(errno) : tally_strerror(r));
		return OEM_EXIT_USAGE;
	}
	if ((r = tally_key_load_public(o->root, &root)) != 0 ||
	    (r = tally_key_spki(root, &in->spki, &in->spki_len)) != 0) {
		oem_errx(self, "--oem-root %s: %s", o->root, r == TALLY_ERR_IO ?
		    strerror(errno) : tally_strerror(r));
		EVP_PKEY_free(root);
		return OEM_EXIT_USAGE;
	}
	EVP_PKEY_free(root);
	if (o->firmware != NULL) {
		if ((r = oem_file_digest(o->firmware, in->fw)) != 0) {
			oem_errx(self, "--firmware %s: %s", o->firmware, r == TALLY_ERR_IO ?
			    strerror(errno) : tally_strerror(r));
			return OEM_EXIT_USAGE;
		}
		in->has_fw = 1;
	}
	return OEM_EXIT_OK;
}

/* What the device would decide. Returns 0 or TALLY_ERR_NOMEM. */
static int
vt_verify(const struct vt_opts *o, const struct vt_input *in, struct vt_verdict *v)
{
	struct tdv_crypto c;
	struct tdv_params p = { 0 };

	memset(v, 0, sizeof(*v));
	if (in->too_large) {
		v->r = TDV_TOO_LARGE;
		return 0;
	}
	if ((p.work = malloc(TDV_WORK_MIN)) == NULL)
		return TALLY_ERR_NOMEM;
	tdv_crypto_openssl(&c);
	p.crypto = &c;
	p.oem_root_spki = in->spki;
	p.oem_root_spki_len = in->spki_len;
	p.uid = in->uid;
	p.uid_len = in->uid_len;
	p.product = o->product;
	p.now = in->now;
	p.work_len = TDV_WORK_MIN;
	v->r = tdv_verify_bundle(&p, in->bundle, in->len, &v->tok);
	if (v->r == TDV_OK && in->has_fw)
		v->fw_match = tdv_firmware_matches(&v->tok, in->fw);
	free(p.work);
	return 0;
}

static int
vt_accepted(const struct vt_input *in, const struct vt_verdict *v)
{
	return v->r == TDV_OK && (!in->has_fw || v->fw_match);
}

static const char *
vt_result(const struct vt_input *in, const struct vt_verdict *v)
{
	if (v->r == TDV_OK && in->has_fw && !v->fw_match)
		return "firmware image not the token's";
	return tdv_result_name(v->r);
}

/* Lower-case hex of b (at most TDV_UID_MAX bytes) into out; returns out. */
static char *
vt_hexstr(const uint8_t *b, size_t len, char out[2 * TDV_UID_MAX + 1])
{
	tally_hex(b, len, out);
	return out;
}

static void
vt_print_text(const struct vt_opts *o, const struct vt_input *in,
    const struct vt_verdict *v)
{
	char hex[2 * TDV_UID_MAX + 1], when[32];
	const struct tdv_token *t = &v->tok;

	vt_hexstr(in->uid, in->uid_len, hex);
	if (v->r != TDV_OK) {
		printf("bundle refused for device %s: %s\n", hex, vt_result(in, v));
		return;
	}
	printf("bundle accepted for device %s\n", hex);
	printf("  log index:       %llu\n", (unsigned long long)t->log_index);
	printf("  quota:           %s\n", vt_hexstr(t->quota_id, TDV_QUOTA_ID_LEN, hex));
	printf("  appliance key:   %s\n", vt_hexstr(t->appliance_key_id, 32, hex));
	if (t->serial_number != 0)
		printf("  serial number:   %llu\n", (unsigned long long)t->serial_number);
	else
		printf("  serial number:   none\n");
	printf("  firmware digest: %s\n", vt_hexstr(t->firmware_digest, 32, hex));
	printf("  issued at:       %s\n", oem_fmt_time(t->issued_at, when));
	if (!in->has_fw)
		return;
	if (v->fw_match)
		printf("  firmware image:  %s matches\n", o->firmware);
	else
		printf("firmware refused: %s has SHA-256 %s, not the token's digest\n",
		    o->firmware, vt_hexstr(in->fw, 32, hex));
}

static json_t *
vt_hex(const uint8_t *b, size_t len)
{
	char hex[2 * TDV_UID_MAX + 1];

	return json_string(vt_hexstr(b, len, hex));
}

static void
vt_print_json(const struct vt_opts *o, const struct vt_input *in,
    const struct vt_verdict *v)
{
	const struct tdv_token *t = &v->tok;
	json_t *j = json_pack("{s:b, s:s, s:o}", "accepted", vt_accepted(in, v),
	    "result", vt_result(in, v), "device_uid", vt_hex(in->uid, in->uid_len));

	if (v->r == TDV_OK)
		json_object_set_new(j, "token", json_pack("{s:I, s:o, s:o, s:I, s:o, s:I}",
		    "log_index", (json_int_t)t->log_index,
		    "quota_id", vt_hex(t->quota_id, TDV_QUOTA_ID_LEN),
		    "appliance_key_id", vt_hex(t->appliance_key_id, 32),
		    "serial_number", (json_int_t)t->serial_number,
		    "firmware_digest", vt_hex(t->firmware_digest, 32),
		    "issued_at", (json_int_t)t->issued_at));
	if (v->r == TDV_OK && in->has_fw)
		json_object_set_new(j, "firmware", json_pack("{s:s, s:o, s:b}",
		    "path", o->firmware, "sha256", vt_hex(in->fw, 32),
		    "matches", v->fw_match));
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
}

static int
verify_token_exec(const struct oem_cmd *self, int argc, char **argv)
{
	struct vt_opts o = { 0 };
	struct vt_input in = { 0 };
	struct vt_verdict v;
	int ex;

	if ((ex = vt_parse(self, argc, argv, &o)) != -1)
		return ex;
	if ((ex = vt_device(self, &o, &in)) != OEM_EXIT_OK ||
	    (ex = vt_files(self, &o, &in)) != OEM_EXIT_OK)
		goto out;
	if (vt_verify(&o, &in, &v) != 0) {
		oem_errx(self, "%s", tally_strerror(TALLY_ERR_NOMEM));
		ex = OEM_EXIT_USAGE;
		goto out;
	}
	if (o.json)
		vt_print_json(&o, &in, &v);
	else
		vt_print_text(&o, &in, &v);
	ex = vt_accepted(&in, &v) ? OEM_EXIT_OK : OEM_EXIT_ANOMALY;
 out:
	free(in.bundle);
	OPENSSL_free(in.spki);
	return ex;
}

const struct oem_cmd oem_cmd_verify_token = {
	{
		"verify-token", NULL,
		"--bundle FILE --oem-root PEM (--uid UID | --uid-hex HEX) [--firmware IMAGE] "
		"[--product NAME] [--now TIME] [--json]",
		"Check a token bundle exactly as a device does (lib/devverify).",
		"  -b, --bundle FILE       serialized TokenBundle, as the jig writes it to the DUT\n"
		"  -r, --oem-root PEM      OEM root public key (or the private key file)\n"
		"  -u, --uid UID           the device's UID as text\n"
		"  -x, --uid-hex HEX       the device's UID in hex (instead of --uid)\n"
		"  -f, --firmware IMAGE    also check the image's SHA-256 against the token\n"
		"  -p, --product NAME      the device's product; the token must be for it\n"
		"  -n, --now TIME          the device's clock: Unix seconds or\n"
		"                          YYYY-MM-DDTHH:MM:SSZ; 0 = no clock (default: now)\n"
		"  -j, --json              the verdict as JSON\n",
	},
	verify_token_exec,
};
