/* cmd_receipt.c - tally-oem receipt --key OEMKEY --ledger DIR
 * (--appliance KEYID | --export EXPORT) --out FILE: cosigns (C2SP
 * tlog-cosignature) the checkpoint the ledger last verified for that
 * appliance and writes the receipt, which the CM imports with tallyctl
 * receipt import. See ledger.h (oem_ledger_receipt). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "ctl.pb-c.h"
#include "err.h"
#include "frame.h"
#include "key.h"
#include "ledger.h"
#include "oem.h"
#include "util.h"

struct rcpt {
	const char *key, *ledger, *appliance, *export, *out;
	int json;
};

/* The appliance key ID of an export and the checkpoint it ends with
 * (*note, free()). The file is read frame by frame, nothing is verified:
 * the ledger says whether that checkpoint was. */
static int
export_peek(const char *path, uint8_t key_id[TALLY_KEY_ID_LEN], char **note)
{
	Tally__ExportRecord *rec;
	uint8_t *buf = malloc(TALLY_FRAME_MAX);
	size_t len;
	int fd, r, have_key = 0;

	*note = NULL;
	if (buf == NULL)
		return TALLY_ERR_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		free(buf);
		return TALLY_ERR_IO;
	}
	while ((r = tally_frame_read_fd(fd, buf, TALLY_FRAME_MAX, &len)) == 0) {
		if ((rec = tally__export_record__unpack(NULL, len, buf)) == NULL) {
			r = TALLY_ERR_INVALID;
			break;
		}
		if (rec->body_case == TALLY__EXPORT_RECORD__BODY_HEADER && !have_key) {
			tally_key_id_spki(rec->header->appliance_public_key.data,
			    rec->header->appliance_public_key.len, key_id);
			have_key = 1;
		} else if (rec->body_case == TALLY__EXPORT_RECORD__BODY_CHECKPOINT) {
			free(*note);
			*note = strdup(rec->checkpoint);
		}
		tally__export_record__free_unpacked(rec, NULL);
	}
	close(fd);
	free(buf);
	if (r == TALLY_ERR_CLOSED)
		r = have_key && *note != NULL ? 0 : TALLY_ERR_INVALID;
	return r;
}

/* The appliance named by --appliance or --export; with --export its
 * checkpoint must be the one the ledger verified last. */
static int
which_appliance(const struct oem_cmd *self, const struct rcpt *o,
    uint8_t key_id[TALLY_KEY_ID_LEN], char **note)
{
	int r;

	*note = NULL;
	if (o->appliance != NULL) {
		if (tally_unhex(o->appliance, key_id, TALLY_KEY_ID_LEN) == 0)
			return 0;
		oem_errx(self, "--appliance: not a key ID (64 hex digits)");
		return OEM_EXIT_USAGE;
	}
	if ((r = export_peek(o->export, key_id, note)) == 0)
		return 0;
	oem_errx(self, "--export %s: %s", o->export, r == TALLY_ERR_IO ?
	    strerror(errno) : "not an export file (no header or no checkpoint)");
	return OEM_EXIT_USAGE;
}

static int
report(const struct oem_cmd *self, const struct rcpt *o,
    const struct oem_ledger_appliance *a, int64_t ts, const char *receipt)
{
	char origin[TALLY_ORIGIN_MAX], when[32];
	int r;

	if ((r = tally_write_file(o->out, (const uint8_t *)receipt, strlen(receipt),
	    0644)) != 0) {
		oem_errx(self, "--out %s: %s", o->out, strerror(errno));
		return OEM_EXIT_USAGE;
	}
	tally_checkpoint_origin(a->key_id, origin);
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:s}", "appliance", origin,
		    "out", o->out, "tree_size", (json_int_t)a->size,
		    "cosigned_at", (json_int_t)ts, "receipt", receipt);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
		return OEM_EXIT_OK;
	}
	printf("receipt for %s: checkpoint of %llu entries, cosigned at %s\n"
	    "wrote %s\n", origin, (unsigned long long)a->size, oem_fmt_time(ts, when), o->out);
	return OEM_EXIT_OK;
}

static int
cosign(const struct oem_cmd *self, const struct rcpt *o, EVP_PKEY *key,
    struct oem_ledger *l)
{
	struct oem_ledger_appliance *a = malloc(sizeof(*a));
	uint8_t key_id[TALLY_KEY_ID_LEN];
	char *receipt = NULL, *note = NULL, hex[2 * TALLY_KEY_ID_LEN + 1];
	int64_t ts = tally_now();
	int r, ex;

	if (a == NULL || (ex = which_appliance(self, o, key_id, &note)) != 0) {
		ex = a == NULL ? OEM_EXIT_USAGE : ex;
		goto out;
	}
	tally_hex(key_id, TALLY_KEY_ID_LEN, hex);
	r = oem_ledger_receipt(l, key, key_id, ts, &receipt, a);
	ex = OEM_EXIT_ANOMALY;
	if (r == TALLY_ERR_NOT_FOUND)
		oem_errx(self, "the ledger has no verified checkpoint of appliance %s: "
		    "reconcile its export with --ledger first", hex);
	else if (r == TALLY_ERR_MISMATCH)
		oem_errx(self, "--key is not the OEM root key the ledger was made with");
	else if (r != 0) {
		oem_errx(self, "%s", tally_strerror(r));
		ex = OEM_EXIT_USAGE;
	} else if (note != NULL && strcmp(note, a->note) != 0)
		oem_errx(self, "%s: its checkpoint is not the one the ledger verified last "
		    "(%llu entries): reconcile it with --ledger first", o->export,
		    (unsigned long long)a->size);
	else
		ex = report(self, o, a, ts, receipt);
 out:
	free(receipt);
	free(note);
	free(a);
	return ex;
}

static int
receipt_exec(const struct oem_cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "appliance", required_argument, NULL, 'a' },
		{ "export", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rcpt o = { 0 };
	struct oem_ledger *l = NULL;
	EVP_PKEY *key = NULL;
	int ch, r, ex;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:l:a:e:o:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': o.key = optarg; break;
		case 'l': o.ledger = optarg; break;
		case 'a': o.appliance = optarg; break;
		case 'e': o.export = optarg; break;
		case 'o': o.out = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': oem_usage(self, stdout); return OEM_EXIT_OK;
		default: oem_usage(self, stderr); return OEM_EXIT_USAGE;
		}
	}
	if (o.key == NULL || o.ledger == NULL || o.out == NULL || optind != argc ||
	    (o.appliance == NULL) == (o.export == NULL)) {
		oem_usage(self, stderr);
		return OEM_EXIT_USAGE;
	}
	if (access(o.out, F_OK) == 0) {
		oem_errx(self, "--out %s: exists; not overwritten", o.out);
		return OEM_EXIT_USAGE;
	}
	if (access(o.ledger, F_OK) != 0) {  /* a receipt never makes a ledger */
		oem_errx(self, "--ledger %s: %s", o.ledger, strerror(errno));
		return OEM_EXIT_USAGE;
	}
	if ((r = tally_key_load(o.key, &key)) != 0) {
		oem_errx(self, "--key %s: %s", o.key, tally_strerror(r));
		return OEM_EXIT_USAGE;
	}
	if ((r = oem_ledger_open(o.ledger, OEM_LEDGER_MAP_SIZE, &l)) != 0) {
		oem_errx(self, "--ledger %s: %s", o.ledger, r == TALLY_ERR_IO ?
		    strerror(errno) : tally_strerror(r));
		EVP_PKEY_free(key);
		return OEM_EXIT_USAGE;
	}
	ex = cosign(self, &o, key, l);
	oem_ledger_close(l);
	EVP_PKEY_free(key);
	return ex;
}

const struct oem_cmd oem_cmd_receipt = {
	{
		"receipt", NULL,
		"--key OEMKEY --ledger DIR (--appliance KEYID | --export EXPORT) --out FILE",
		"Cosign the checkpoint the ledger last verified for an appliance.",
		"Writes a receipt (C2SP tlog-cosignature by the OEM root key on the\n"
		"appliance's checkpoint) for tallyctl receipt import. Refused when the\n"
		"ledger has no verified checkpoint of the appliance, when --export's\n"
		"checkpoint is not the one it verified last, or when --key is not the\n"
		"ledger's OEM root key.\n"
		"  -k, --key OEMKEY        the OEM root private key\n"
		"  -l, --ledger DIR        the OEM ledger folder\n"
		"  -a, --appliance KEYID   the appliance key ID (64 hex digits), or\n"
		"  -e, --export EXPORT     the export just reconciled with --ledger\n"
		"  -o, --out FILE          the receipt file to write (never overwritten)\n"
		"  --json                  print appliance, out, tree_size, cosigned_at, receipt\n",
	},
	receipt_exec,
};
