/* cmd_quota.c - tally-oem quota create: options to an oem_quota_spec,
 * signed by quota_create.c and written as a quota file. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include "err.h"
#include "oem.h"
#include "quota_create.h"
#include "util.h"

#define VALID_DAYS_DEFAULT 365

struct quota_opts {
	struct oem_quota_spec spec;
	uint8_t digests[TALLY_FIRMWARE_MAX][TALLY_DIGEST_LEN];
	const char *key_uri, *appliance_pub, *appliance_kid, *out;
	const char *not_before, *not_after, *valid_days, *serial_first, *serial_last;
	const char *att_paths[TALLY_ATT_KEYS_MAX];  /* --attestation-key PEM files */
	ProtobufCBinaryData att[TALLY_ATT_KEYS_MAX]; /* their SPKIs (OPENSSL_free) */
	size_t n_att;
	int json;
};

enum { O_KEY = 256, O_APUB, O_AKID, O_PRODUCT, O_UNITS, O_FW, O_FWD, O_SF, O_SL,
	O_NB, O_NA, O_VD, O_MAXU, O_SCRAP, O_OUT, O_JSON, O_HELP, O_ATT };

static const struct option quota_options[] = {
	{ "key", required_argument, NULL, O_KEY },
	{ "appliance-pub", required_argument, NULL, O_APUB },
	{ "appliance-key-id", required_argument, NULL, O_AKID },
	{ "product", required_argument, NULL, O_PRODUCT },
	{ "units", required_argument, NULL, O_UNITS },
	{ "firmware", required_argument, NULL, O_FW },
	{ "firmware-digest", required_argument, NULL, O_FWD },
	{ "serial-first", required_argument, NULL, O_SF },
	{ "serial-last", required_argument, NULL, O_SL },
	{ "not-before", required_argument, NULL, O_NB },
	{ "not-after", required_argument, NULL, O_NA },
	{ "valid-days", required_argument, NULL, O_VD },
	{ "max-unreconciled", required_argument, NULL, O_MAXU },
	{ "scrap-allowance", required_argument, NULL, O_SCRAP },
	{ "attestation-key", required_argument, NULL, O_ATT },
	{ "out", required_argument, NULL, O_OUT },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static int
add_firmware(const struct oem_cmd *self, struct quota_opts *o, const char *arg, int is_file)
{
	uint8_t *d;

	if (o->spec.n_firmware >= TALLY_FIRMWARE_MAX) {
		oem_errx(self, "at most %d firmware digests per quota", TALLY_FIRMWARE_MAX);
		return -1;
	}
	d = o->digests[o->spec.n_firmware];
	if (is_file && oem_file_digest(arg, d) != 0) {
		oem_errx(self, "--firmware %s: %s", arg, strerror(errno));
		return -1;
	}
	if (!is_file && tally_unhex(arg, d, TALLY_DIGEST_LEN) != 0) {
		oem_errx(self, "--firmware-digest %s: not 64 hex digits (SHA-256)", arg);
		return -1;
	}
	o->spec.n_firmware++;
	return 0;
}

static int
number(const struct oem_cmd *self, const char *name, const char *arg,
    uint64_t min, uint64_t max, uint64_t *v)
{
	if (oem_parse_u64(arg, min, max, v) == 0)
		return 0;
	oem_errx(self, "--%s %s: a whole number from %llu to %llu", name, arg,
	    (unsigned long long)min, (unsigned long long)max);
	return -1;
}

/* One option; returns 0, -1 on a bad value (message printed), 1 for --help. */
static int
quota_opt(const struct oem_cmd *self, struct quota_opts *o, int ch, const char *arg)
{
	struct oem_quota_spec *s = &o->spec;

	switch (ch) {
	case O_KEY: o->key_uri = arg; return 0;
	case O_APUB: o->appliance_pub = arg; return 0;
	case O_AKID: o->appliance_kid = arg; return 0;
	case O_PRODUCT: s->product = arg; return 0;
	case O_UNITS: return number(self, "units", arg, 1, TALLY_UNITS_MAX, &s->units);
	case O_FW: return add_firmware(self, o, arg, 1);
	case O_FWD: return add_firmware(self, o, arg, 0);
	case O_SF: o->serial_first = arg; return 0;
	case O_SL: o->serial_last = arg; return 0;
	case O_NB: o->not_before = arg; return 0;
	case O_NA: o->not_after = arg; return 0;
	case O_VD: o->valid_days = arg; return 0;
	case O_MAXU: return number(self, "max-unreconciled", arg, 0, UINT64_MAX,
	    &s->max_unreconciled);
	case O_SCRAP: return number(self, "scrap-allowance", arg, 0, UINT64_MAX,
	    &s->scrap_allowance);
	case O_ATT:
		if (o->n_att >= TALLY_ATT_KEYS_MAX) {
			oem_errx(self, "at most %d --attestation-key per quota", TALLY_ATT_KEYS_MAX);
			return -1;
		}
		o->att_paths[o->n_att++] = arg;
		return 0;
	case O_OUT: o->out = arg; return 0;
	case O_JSON: o->json = 1; return 0;
	case O_HELP: return 1;
	default: return -1;
	}
}

/* Validity window: not_before defaults to now, not_after to not_before +
 * VALID_DAYS_DEFAULT days. */
static int
quota_times(const struct oem_cmd *self, struct quota_opts *o)
{
	struct oem_quota_spec *s = &o->spec;
	uint64_t days = VALID_DAYS_DEFAULT;

	s->issued_at = tally_now();
	s->not_before = s->issued_at;
	if (o->not_before != NULL && oem_parse_time(o->not_before, &s->not_before) != 0) {
		oem_errx(self, "--not-before %s: Unix seconds or YYYY-MM-DDTHH:MM:SSZ",
		    o->not_before);
		return -1;
	}
	if (o->not_after != NULL && o->valid_days != NULL) {
		oem_errx(self, "--not-after and --valid-days exclude each other");
		return -1;
	}
	if (o->not_after != NULL) {
		if (oem_parse_time(o->not_after, &s->not_after) == 0)
			return 0;
		oem_errx(self, "--not-after %s: Unix seconds or YYYY-MM-DDTHH:MM:SSZ",
		    o->not_after);
		return -1;
	}
	if (o->valid_days != NULL && number(self, "valid-days", o->valid_days, 1,
	    36500, &days) != 0)
		return -1;
	s->not_after = s->not_before + (int64_t)days * 86400;
	return 0;
}

static int
quota_serials(const struct oem_cmd *self, struct quota_opts *o)
{
	if ((o->serial_first == NULL) != (o->serial_last == NULL)) {
		oem_errx(self, "--serial-first and --serial-last go together");
		return -1;
	}
	if (o->serial_first == NULL)
		return 0;
	if (number(self, "serial-first", o->serial_first, 1, UINT64_MAX,
	    &o->spec.serial_first) != 0 ||
	    number(self, "serial-last", o->serial_last, 1, UINT64_MAX,
	    &o->spec.serial_last) != 0)
		return -1;
	return 0;
}

static int
load_keys(const struct oem_cmd *self, struct quota_opts *o, EVP_PKEY **oem,
    uint8_t **spki)
{
	EVP_PKEY *app = NULL;
	size_t len;
	int r;

	if ((r = tally_key_load(o->key_uri, oem)) != 0) {
		oem_errx(self, "--key %s: %s", o->key_uri, r == TALLY_ERR_KEY_PERM ?
		    "readable by group or others; chmod 600 it" : tally_strerror(r));
		return -1;
	}
	if (o->appliance_kid != NULL) {
		if (tally_unhex(o->appliance_kid, o->spec.appliance_key_id,
		    TALLY_KEY_ID_LEN) == 0)
			return 0;
		oem_errx(self, "--appliance-key-id %s: not 64 hex digits", o->appliance_kid);
		return -1;
	}
	if ((r = tally_key_load_public(o->appliance_pub, &app)) != 0 ||
	    (r = tally_key_spki(app, spki, &len)) != 0) {
		oem_errx(self, "--appliance-pub %s: %s", o->appliance_pub, tally_strerror(r));
		EVP_PKEY_free(app);
		return -1;
	}
	EVP_PKEY_free(app);
	o->spec.appliance_spki = *spki;
	o->spec.appliance_spki_len = len;
	return 0;
}

/* The public keys of --attestation-key (PEM "PUBLIC KEY", or the public
 * half of a private key file) as SPKIs in o->att; none twice. */
static int
load_attestation_keys(const struct oem_cmd *self, struct quota_opts *o)
{
	EVP_PKEY *k = NULL;
	size_t i, j;
	int r;

	for (i = 0; i < o->n_att; i++) {
		if ((r = tally_key_load_public(o->att_paths[i], &k)) != 0 ||
		    (r = tally_key_spki(k, &o->att[i].data, &o->att[i].len)) != 0) {
			oem_errx(self, "--attestation-key %s: %s", o->att_paths[i],
			    r == TALLY_ERR_KEY ? "not an ECDSA P-256 or Ed25519 key" :
			    r == TALLY_ERR_NOT_FOUND ? "no such file, or no PEM key in it" :
			    tally_strerror(r));
			EVP_PKEY_free(k);
			return -1;
		}
		EVP_PKEY_free(k);
		k = NULL;
		for (j = 0; j < i; j++)
			if (o->att[j].len == o->att[i].len &&
			    memcmp(o->att[j].data, o->att[i].data, o->att[i].len) == 0) {
				oem_errx(self, "--attestation-key %s: the same key as %s",
				    o->att_paths[i], o->att_paths[j]);
				return -1;
			}
	}
	o->spec.attestation_keys = o->att;
	o->spec.n_attestation_keys = o->n_att;
	return 0;
}

/* Key IDs of the attestation keys, for --json. */
static json_t *
attestation_json(const struct quota_opts *o)
{
	char hex[2 * TALLY_KEY_ID_LEN + 1];
	uint8_t id[TALLY_KEY_ID_LEN];
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < o->n_att; i++) {
		tally_key_id_spki(o->att[i].data, o->att[i].len, id);
		tally_hex(id, sizeof(id), hex);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

static int
quota_print(const struct oem_cmd *self, const struct quota_opts *o,
    const uint8_t qid[TALLY_QUOTA_ID_LEN])
{
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	json_t *j;

	tally_hex(qid, TALLY_QUOTA_ID_LEN, hex);
	if (!o->json) {
		char nb[32], na[32];

		oem_fmt_time(o->spec.not_before, nb);
		oem_fmt_time(o->spec.not_after, na);
		printf("quota ID: %s\nwrote %s: %llu units of %s, valid from %s until %s\n",
		    hex, o->out, (unsigned long long)o->spec.units, o->spec.product, nb, na);
		if (o->n_att > 0)
			printf("attestation required: %zu trusted key%s\n", o->n_att,
			    o->n_att == 1 ? "" : "s");
		return OEM_EXIT_OK;
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "quota_id", hex,
	    "out", o->out, "product", o->spec.product, "units", (json_int_t)o->spec.units,
	    "not_before", (json_int_t)o->spec.not_before,
	    "not_after", (json_int_t)o->spec.not_after,
	    "attestation", o->n_att > 0 ? "required" : "none",
	    "attestation_key_ids", attestation_json(o));
	if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
		json_decref(j);
		oem_errx(self, "cannot print JSON");
		return OEM_EXIT_USAGE;
	}
	json_decref(j);
	putchar('\n');
	return OEM_EXIT_OK;
}

static const char *
create_error(int r)
{
	switch (r) {
	case TALLY_ERR_INVALID:
		return "the quota is not valid (product 1..64 printable ASCII, "
		    "not-before before not-after, serial range at least units long, "
		    "appliance key P-256 or Ed25519)";
	case TALLY_ERR_TOO_LARGE:
		return "the quota is too large to sign";
	default:
		return tally_strerror(r);
	}
}

static int
quota_create_run(const struct oem_cmd *self, struct quota_opts *o)
{
	uint8_t qid[TALLY_QUOTA_ID_LEN], *spki = NULL, *env = NULL;
	EVP_PKEY *oem = NULL;
	size_t envlen = 0;
	int r, ex = OEM_EXIT_USAGE;

	if (access(o->out, F_OK) == 0) {
		oem_errx(self, "%s exists; refusing to overwrite a quota file", o->out);
		return OEM_EXIT_USAGE;
	}
	if (load_keys(self, o, &oem, &spki) != 0 || load_attestation_keys(self, o) != 0)
		goto out;
	o->spec.oem_key = oem;
	if ((r = oem_quota_create(&o->spec, qid, &env, &envlen)) != 0) {
		oem_errx(self, "%s", create_error(r));
		ex = OEM_EXIT_ANOMALY;
		goto out;
	}
	if (tally_write_file(o->out, env, envlen, 0644) != 0) {
		oem_errx(self, "write %s: %s", o->out, strerror(errno));
		goto out;
	}
	ex = quota_print(self, o, qid);
 out:
	free(env);
	OPENSSL_free(spki);
	for (size_t i = 0; i < o->n_att; i++)
		OPENSSL_free(o->att[i].data);
	EVP_PKEY_free(oem);
	return ex;
}

static int
quota_create_exec(const struct oem_cmd *self, int argc, char **argv)
{
	struct quota_opts o;
	int ch, r;

	memset(&o, 0, sizeof(o));
	o.spec.firmware = (const uint8_t (*)[TALLY_DIGEST_LEN])o.digests;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", quota_options, NULL)) != -1) {
		if (ch == 'h' || (r = quota_opt(self, &o, ch, optarg)) == 1) {
			oem_usage(self, stdout);
			return OEM_EXIT_OK;
		}
		if (r != 0) {
			if (ch == '?')
				oem_usage(self, stderr);
			return OEM_EXIT_USAGE;
		}
	}
	if (optind != argc || o.key_uri == NULL || o.out == NULL ||
	    o.spec.product == NULL || o.spec.units == 0 || o.spec.n_firmware == 0 ||
	    (o.appliance_pub == NULL) == (o.appliance_kid == NULL)) {
		oem_usage(self, stderr);
		return OEM_EXIT_USAGE;
	}
	if (quota_times(self, &o) != 0 || quota_serials(self, &o) != 0)
		return OEM_EXIT_USAGE;
	return quota_create_run(self, &o);
}

const struct oem_cmd oem_cmd_quota_create = {
	{
		"quota", "create",
		"--key OEMKEY (--appliance-pub PEM | --appliance-key-id HEX) --product P\n"
		"         --units N (--firmware FILE | --firmware-digest HEX)... --out FILE\n"
		"         [--serial-first N --serial-last N] [--not-before T]\n"
		"         [--not-after T | --valid-days D] [--max-unreconciled N]\n"
		"         [--scrap-allowance N] [--attestation-key PEM]... [--json]",
		"Create a quota for one appliance, signed by the OEM root key.",
		"  --key URI               OEM root private key (file path or provider URI)\n"
		"  --appliance-pub PEM     the appliance public key (tallyctl identity --out)\n"
		"  --appliance-key-id HEX  or only its key ID (64 hex digits)\n"
		"  --product P             product name, 1..64 printable ASCII\n"
		"  --units N               tokens the appliance may issue, 1..2^32\n"
		"  --firmware FILE         allow this firmware image (SHA-256 of the file)\n"
		"  --firmware-digest HEX   allow this SHA-256 digest (both repeatable, <= 16)\n"
		"  --serial-first N, --serial-last N  serial-number range, inclusive\n"
		"  --not-before T          start of validity (default now)\n"
		"  --not-after T           end of validity, or\n"
		"  --valid-days D          validity in days (default 365)\n"
		"                          T is Unix seconds or YYYY-MM-DDTHH:MM:SSZ\n"
		"  --max-unreconciled N    stop issuing past N unreconciled tokens (0: no limit)\n"
		"  --scrap-allowance N     units failed installs may return (default 0)\n"
		"  --attestation-key PEM   require DUT attestation by this ECDSA P-256 or\n"
		"                          Ed25519 public key (repeatable, <= 16); without\n"
		"                          it the quota needs no attestation\n"
		"  --out FILE              the quota file to write (never overwritten)\n"
		"  --json                  print the quota ID and fields as JSON\n",
	},
	quota_create_exec,
};
