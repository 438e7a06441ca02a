/* cmd_token.c - tallyctl token show UID: every token issued to a device,
 * each checked against the appliance key before it is printed; with
 * --bundle-out FILE also the device's token bundle, byte for byte what
 * the jig was given, written to FILE for tally-oem verify-token. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "artifact.h"
#include "ctl.h"
#include "err.h"
#include "key.h"
#include "util.h"

/* What the command line asked for. */
struct show_opts {
	uint8_t uid[TALLY_UID_MAX];
	size_t uid_len;
	int json;
	const char *bundle_out;   /* NULL: no bundle file */
	int force;                /* replace an existing bundle file */
	int have_qid;
	uint8_t qid[TALLY_QUOTA_ID_LEN];
};

/* The bundle written, for the report. */
struct bundle_done {
	const Tally__Token *tok;
	size_t len;
};

static json_t *
token_json_base(const Tally__Token *t)
{
	return json_pack("{s:I, s:o, s:o, s:s, s:o, s:I, s:o, s:o, s:I}",
	    "log_index", (json_int_t)t->log_index,
	    "quota_id", ctl_json_hex(t->quota_id.data, t->quota_id.len),
	    "appliance_key_id", ctl_json_hex(t->appliance_key_id.data, t->appliance_key_id.len),
	    "product", t->product,
	    "device_uid", ctl_json_hex(t->device_uid.data, t->device_uid.len),
	    "serial_number", (json_int_t)t->serial_number,
	    "firmware_digest", ctl_json_hex(t->firmware_digest.data, t->firmware_digest.len),
	    "jig_key_id", ctl_json_hex(t->jig_key_id.data, t->jig_key_id.len),
	    "issued_at", (json_int_t)t->issued_at);
}

/* The token as JSON, with an "attestation" object when the quota required it. */
static json_t *
token_json(const Tally__Token *t)
{
	json_t *o, *att;

	o = token_json_base(t);
	if (o == NULL || t->attestation_key_id.len == 0)
		return o;
	att = json_pack("{s:o, s:o, s:I}",
	    "key_id", ctl_json_hex(t->attestation_key_id.data, t->attestation_key_id.len),
	    "boot_key_hash", ctl_json_hex(t->boot_key_hash.data, t->boot_key_hash.len),
	    "software_version", (json_int_t)t->software_version);
	if (att == NULL || json_object_set_new(o, "attestation", att) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Field lengths were checked by tally_token_open (tally_token_check). */
static void
token_text(const Tally__Token *t)
{
	char hex[2 * TALLY_UID_MAX + 1], tm[32];

	printf("token at log entry %llu\n", (unsigned long long)t->log_index);
	printf("  quota:           %s\n", ctl_hex(t->quota_id.data, t->quota_id.len, hex));
	printf("  product:         %s\n", t->product);
	printf("  device UID:      %s\n", ctl_hex(t->device_uid.data, t->device_uid.len, hex));
	if (t->serial_number != 0)
		printf("  serial number:   %llu\n", (unsigned long long)t->serial_number);
	printf("  firmware digest: %s\n", ctl_hex(t->firmware_digest.data, 32, hex));
	printf("  jig key ID:      %s\n", ctl_hex(t->jig_key_id.data, 32, hex));
	printf("  issued at:       %s\n", ctl_time(t->issued_at, tm));
	if (t->attestation_key_id.len != 0) {
		printf("  attested by:     %s\n", ctl_hex(t->attestation_key_id.data, 32, hex));
		printf("  boot key hash:   %s\n", ctl_hex(t->boot_key_hash.data, 32, hex));
		printf("  software:        %u\n", (unsigned)t->software_version);
	}
	printf("  signature:       valid (appliance key %s)\n",
	    ctl_hex(t->appliance_key_id.data, 32, hex));
}

/* Opens every token of ts with the appliance key into toks[i]; a token
 * that does not verify is reported and left NULL (exit status 1). */
static int
tokens_open(const struct ctl_cmd *self, const Tally__TokenShowResponse *ts,
    EVP_PKEY *appliance, Tally__Token **toks)
{
	size_t i;
	int r, ex = CTL_EXIT_OK;

	for (i = 0; i < ts->n_tokens; i++) {
		r = tally_token_open(ts->tokens[i].data, ts->tokens[i].len, appliance, &toks[i]);
		if (r != 0) {
			ctl_errx(self, "token %zu from tallyd does not verify: %s", i,
			    tally_strerror(r));
			toks[i] = NULL;
			ex = CTL_EXIT_REFUSED;
		}
	}
	return ex;
}

static int
tokens_print(const struct ctl_cmd *self, Tally__Token *const *toks, size_t n,
    const struct show_opts *o, const struct bundle_done *bd)
{
	json_t *arr = o->json ? json_array() : NULL, *top = arr;
	char hex[2 * TALLY_QUOTA_ID_LEN + 1];
	size_t i;

	for (i = 0; i < n; i++) {
		if (toks[i] == NULL)
			continue;
		if (o->json)
			json_array_append_new(arr, token_json(toks[i]));
		else
			token_text(toks[i]);
	}
	if (bd->tok != NULL && o->json)
		top = json_pack("{s:o, s:{s:s, s:o, s:I, s:I}}", "tokens", arr, "bundle",
		    "out", o->bundle_out, "quota_id", ctl_json_hex(bd->tok->quota_id.data,
		    bd->tok->quota_id.len), "log_index", (json_int_t)bd->tok->log_index,
		    "bytes", (json_int_t)bd->len);
	else if (bd->tok != NULL)
		printf("token bundle of quota %s (log entry %llu, %zu bytes) written to %s\n",
		    ctl_hex(bd->tok->quota_id.data, TALLY_QUOTA_ID_LEN, hex),
		    (unsigned long long)bd->tok->log_index, bd->len, o->bundle_out);
	if (o->json && ctl_json_print(self, top) != CTL_EXIT_OK)
		return CTL_EXIT_USAGE;
	return CTL_EXIT_OK;
}

/* "q1, q2, ..." of the quotas the verified tokens are under (free()). */
static char *
quota_names(Tally__Token *const *toks, size_t n)
{
	char *s = malloc(n * (2 * TALLY_QUOTA_ID_LEN + 2) + 1), *p = s;
	size_t i;

	if (s == NULL)
		return NULL;
	*p = '\0';
	for (i = 0; i < n; i++) {
		if (toks[i] == NULL)
			continue;
		if (p != s)
			p = stpcpy(p, ", ");
		p += strlen(ctl_hex(toks[i]->quota_id.data, TALLY_QUOTA_ID_LEN, p));
	}
	return s;
}

/* The token whose bundle is wanted: the one under --quota-id, or the
 * only one. Exit status 1 when there is none, 2 when it is ambiguous. */
static int
bundle_pick(const struct ctl_cmd *self, Tally__Token *const *toks, size_t n,
    const struct show_opts *o, size_t *pick)
{
	char hex[2 * TALLY_QUOTA_ID_LEN + 1], *names;
	size_t i;

	for (i = 0; o->have_qid && i < n; i++) {
		if (toks[i] != NULL && memcmp(toks[i]->quota_id.data, o->qid,
		    TALLY_QUOTA_ID_LEN) == 0) {
			*pick = i;
			return CTL_EXIT_OK;
		}
	}
	if (o->have_qid) {
		ctl_errx(self, "no bundle written: the device has no token under quota %s",
		    ctl_hex(o->qid, TALLY_QUOTA_ID_LEN, hex));
		return CTL_EXIT_REFUSED;
	}
	if (n == 1 && toks[0] != NULL) {
		*pick = 0;
		return CTL_EXIT_OK;
	}
	if (n == 1)
		return CTL_EXIT_REFUSED;   /* its token did not verify: said above */
	names = quota_names(toks, n);
	ctl_errx(self, "no bundle written: the device has tokens under %zu quotas (%s); "
	    "name one with --quota-id", n, names != NULL ? names : "out of memory");
	free(names);
	return CTL_EXIT_USAGE;
}

/* Is the answer one bundle holding exactly the token shown before (want)
 * and the appliance key of `identity` (spki)? */
static int
bundle_check(const Tally__TokenShowResponse *ts, const ProtobufCBinaryData *want,
    const ProtobufCBinaryData *spki)
{
	Tally__TokenBundle *b;
	int ok;

	if (ts->n_bundles != 1 || ts->n_tokens != 1 || ts->bundles[0].len > TALLY_BUNDLE_MAX ||
	    ts->tokens[0].len != want->len ||
	    memcmp(ts->tokens[0].data, want->data, want->len) != 0 ||
	    (b = tally__token_bundle__unpack(NULL, ts->bundles[0].len,
	    ts->bundles[0].data)) == NULL)
		return 0;
	ok = b->quota.len > 0 && b->token.len == want->len &&
	    memcmp(b->token.data, want->data, want->len) == 0 &&
	    b->appliance_public_key.len == spki->len &&
	    memcmp(b->appliance_public_key.data, spki->data, spki->len) == 0;
	tally__token_bundle__free_unpacked(b, NULL);
	return ok;
}

/* Writes the bundle to o->bundle_out (mode 0644, replaced atomically).
 * Without --force an existing file is refused: the name is taken with
 * O_EXCL first, so nothing that is there is ever replaced. */
static int
bundle_write(const struct ctl_cmd *self, const struct show_opts *o,
    const ProtobufCBinaryData *b)
{
	int fd, err;

	if (!o->force) {
		if ((fd = open(o->bundle_out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644)) < 0) {
			err = errno;
			ctl_errx(self, "%s: %s", o->bundle_out, err == EEXIST ?
			    "file exists (--force replaces it)" : strerror(err));
			return CTL_EXIT_USAGE;
		}
		close(fd);
	}
	if (tally_write_file(o->bundle_out, b->data, b->len, 0644) != 0) {
		err = errno;
		ctl_errx(self, "write %s: %s", o->bundle_out, strerror(err));
		if (!o->force)
			unlink(o->bundle_out);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* Asks tallyd for the bundle of the token shown as `want` under quota
 * qid, checks it against what was shown and writes it. */
static int
bundle_save(const struct ctl_ctx *ctx, const struct ctl_cmd *self, struct ctl_client *c,
    const struct show_opts *o, const uint8_t *qid, const ProtobufCBinaryData *want,
    const ProtobufCBinaryData *spki, size_t *len)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__TokenShowRequest tsr = TALLY__TOKEN_SHOW_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int ex;

	tsr.device_uid = (ProtobufCBinaryData){ o->uid_len, (uint8_t *)o->uid };
	tsr.bundle_quota_id = (ProtobufCBinaryData){ TALLY_QUOTA_ID_LEN, (uint8_t *)qid };
	req.body_case = TALLY__CTL_REQUEST__BODY_TOKEN_SHOW;
	req.token_show = &tsr;
	if ((ex = ctl_call(ctx, self, c, &req, TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW,
	    &resp)) != CTL_EXIT_OK)
		goto out;
	if (!bundle_check(resp->token_show, want, spki)) {
		ctl_errx(self, "no bundle written: tallyd's bundle does not hold the token "
		    "and appliance key it showed");
		ex = CTL_EXIT_REFUSED;
		goto out;
	}
	if ((ex = bundle_write(self, o, &resp->token_show->bundles[0])) == CTL_EXIT_OK)
		*len = resp->token_show->bundles[0].len;
 out:
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

/* Verifies the tokens of ts, writes the bundle when asked, prints. */
static int
tokens_report(const struct ctl_ctx *ctx, const struct ctl_cmd *self, struct ctl_client *c,
    const struct show_opts *o, const Tally__TokenShowResponse *ts,
    const Tally__IdentityResponse *id, EVP_PKEY *appliance)
{
	Tally__Token **toks = calloc(ts->n_tokens ? ts->n_tokens : 1, sizeof(*toks));
	struct bundle_done bd = { NULL, 0 };
	size_t i, pick = 0;
	int ex, ex2;

	if (toks == NULL) {
		ctl_errx(self, "out of memory");
		return CTL_EXIT_USAGE;
	}
	ex = tokens_open(self, ts, appliance, toks);
	if (o->bundle_out != NULL) {
		if ((ex2 = bundle_pick(self, toks, ts->n_tokens, o, &pick)) == CTL_EXIT_OK)
			ex2 = bundle_save(ctx, self, c, o, toks[pick]->quota_id.data,
			    &ts->tokens[pick], &id->public_key, &bd.len);
		if (ex2 != CTL_EXIT_OK)
			ex = ex2;
		else
			bd.tok = toks[pick];
	}
	if ((ex2 = tokens_print(self, toks, ts->n_tokens, o, &bd)) != CTL_EXIT_OK)
		ex = ex2;
	for (i = 0; i < ts->n_tokens; i++)
		if (toks[i] != NULL)
			tally__token__free_unpacked(toks[i], NULL);
	free(toks);
	return ex;
}

static int
token_show(const struct ctl_ctx *ctx, const struct ctl_cmd *self, const struct show_opts *o)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__IdentityRequest idr = TALLY__IDENTITY_REQUEST__INIT;
	Tally__TokenShowRequest tsr = TALLY__TOKEN_SHOW_REQUEST__INIT;
	Tally__CtlResponse *id = NULL, *ts = NULL;
	struct ctl_client *c = NULL;
	EVP_PKEY *appliance = NULL;
	int ex;

	if ((ex = ctl_connect(ctx, self, &c)) != CTL_EXIT_OK)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	req.identity = &idr;
	if ((ex = ctl_call(ctx, self, c, &req, TALLY__CTL_RESPONSE__BODY_IDENTITY, &id)) != 0)
		goto out;
	if (tally_key_from_spki(id->identity->public_key.data,
	    id->identity->public_key.len, &appliance) != 0) {
		ex = ctl_io_failed(self, ctx, TALLY_ERR_INVALID);
		goto out;
	}
	tsr.device_uid = (ProtobufCBinaryData){ o->uid_len, (uint8_t *)o->uid };
	req.body_case = TALLY__CTL_REQUEST__BODY_TOKEN_SHOW;
	req.token_show = &tsr;
	if ((ex = ctl_call(ctx, self, c, &req, TALLY__CTL_RESPONSE__BODY_TOKEN_SHOW, &ts)) != 0)
		goto out;
	ex = tokens_report(ctx, self, c, o, ts->token_show, id->identity, appliance);
 out:
	EVP_PKEY_free(appliance);
	if (id != NULL)
		tally__ctl_response__free_unpacked(id, NULL);
	if (ts != NULL)
		tally__ctl_response__free_unpacked(ts, NULL);
	ctl_client_close(c);
	return ex;
}

/* The UID argument: text with --text, else hex; 1..64 bytes. */
static int
uid_arg(const struct ctl_cmd *self, const char *arg, int text, struct show_opts *o)
{
	if (text && (o->uid_len = strlen(arg)) >= 1 && o->uid_len <= TALLY_UID_MAX) {
		memcpy(o->uid, arg, o->uid_len);
		return 0;
	}
	if (!text && tally_unhex_var(arg, o->uid, sizeof(o->uid), &o->uid_len) == 0 &&
	    o->uid_len > 0)
		return 0;
	ctl_errx(self, "%s: a device UID is 1 to %d bytes (%s)", arg, TALLY_UID_MAX,
	    text ? "as text" : "in hex");
	return -1;
}

static int
token_show_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "bundle-out", required_argument, NULL, 'o' },
		{ "quota-id", required_argument, NULL, 'q' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct show_opts o = { .uid_len = 0 };
	const char *qid = NULL;
	int ch, text = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "tjo:q:h", opts, NULL)) != -1) {
		switch (ch) {
		case 't': text = 1; break;
		case 'j': o.json = 1; break;
		case 'o': o.bundle_out = optarg; break;
		case 'q': qid = optarg; break;
		case 'F': o.force = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || ((qid != NULL || o.force) && o.bundle_out == NULL)) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	if (qid != NULL && tally_unhex(qid, o.qid, sizeof(o.qid)) != 0) {
		ctl_errx(self, "--quota-id %s: a quota ID is 16 bytes in hex", qid);
		return CTL_EXIT_USAGE;
	}
	o.have_qid = qid != NULL;
	if (uid_arg(self, argv[optind], text, &o) != 0)
		return CTL_EXIT_USAGE;
	return token_show(ctx, self, &o);
}

const struct ctl_cmd ctl_cmd_token_show = {
	{
		"token", "show",
		"[--text] [--json] [--bundle-out FILE [--quota-id HEX] [--force]] UID",
		"Show every token issued to a device UID, verified against the appliance key.",
		"  -t, --text              UID is a printable string, not hex\n"
		"  --json                  print the tokens as JSON\n"
		"  -o, --bundle-out FILE   also write the device's token bundle (what the\n"
		"                          jig gave the DUT) to FILE, mode 0644, for\n"
		"                          tally-oem verify-token; never over an existing FILE\n"
		"  -q, --quota-id HEX      the quota whose bundle to write, when the device\n"
		"                          has tokens under several\n"
		"  --force                 replace FILE if it exists\n",
	},
	token_show_exec,
};
