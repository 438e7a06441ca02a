/* th_usb.c - the appliance, quota, firmware and jig configuration of the
 * USB integration tests, and one tally-dutsim + tally-jig line, see
 * th_usb.h. The log side is in th_usb_log.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "err.h"
#include "key.h"
#include "th_usb.h"
#include "util.h"

#define ARGS_MAX (32 + 2 * TH_USB_FAULTS_MAX)
#define FIRMWARE_DEFAULT 20000

/* The jig's exit code survives tally-dutsim's SIGTERM to its group. */
static const char jig_wrapper[] =
    "trap '' TERM; \"$@\"; rc=$?; echo \"jig-exit $rc\"; exit $rc";

static int
make_firmware(struct th_usb *u, size_t len)
{
	uint8_t *buf = malloc(len);
	unsigned int dlen = 0;
	int r = TALLY_ERR_CRYPTO;

	if (buf == NULL)
		return TALLY_ERR_NOMEM;
	if (RAND_bytes(buf, (int)len) == 1 &&
	    EVP_Digest(buf, len, u->fw_digest, &dlen, EVP_sha256(), NULL) == 1 &&
	    dlen == 32)
		r = tally_write_file(u->fw_path, buf, len, 0600);
	free(buf);
	return r;
}

static int
write_jig_conf(struct th_usb *u, const struct th_usb_opts *o)
{
	struct th *t = u->t;
	char kid[65], text[2048];
	int n;

	tally_hex(t->appliance_key_id, 32, kid);
	n = snprintf(text, sizeof(text),
	    "[jig]\nappliance = 127.0.0.1:%u\nappliance_key_id = %s\n"
	    "certificate = %s\nkey = %s\noem_root = %s\nproduct = widget\n"
	    "firmware = %s\ntimeout = 5\nreconnect_attempts = 1\n\n"
	    "[usb]\nslots = %u\ntransfer_timeout_ms = %u\n",
	    t->port, kid, t->jig[0].cert_path, t->jig[0].key_path, t->oem_pub_path,
	    u->fw_path, o->slots != 0 ? o->slots : 2,
	    o->transfer_timeout_ms != 0 ? o->transfer_timeout_ms : 300);
	if (n < 0 || (size_t)n >= sizeof(text))
		return TALLY_ERR_TOO_LARGE;
	return tally_write_file(u->jig_conf, (const uint8_t *)text, (size_t)n, 0600);
}

static int
import_quota(struct th_usb *u, const struct th_usb_opts *o)
{
	struct th_quota q = { .units = o->units != 0 ? o->units : 20,
	    .scrap_allowance = o->scrap_allowance, .firmware = u->fw_digest };
	uint8_t *env = NULL;
	size_t len;
	int r;

	if (o->attest) {
		q.attestation_keys = &u->att;
		q.n_attestation_keys = 1;
	}
	if ((r = th_make_quota(u->t, &q, u->qid, &env, &len)) != 0)
		return r;
	r = th_import_code(u->t, env, len);
	free(env);
	return r > 0 ? TALLY_ERR_INVALID : r;
}

int
th_usb_setup(struct th_usb *u, const struct th_usb_opts *o)
{
	const char *build = getenv("TALLY_BUILD");
	struct th *t;
	int r;

	memset(u, 0, sizeof(*u));
	snprintf(u->bin, sizeof(u->bin), "%s", build != NULL ? build : "build/check");
	if ((r = th_setup(&u->t, &(struct th_opts){ .njigs = 1 })) != 0)
		return r;
	t = u->t;
	snprintf(u->att_path, sizeof(u->att_path), "%s/dut-att.key", t->dir);
	snprintf(u->fw_path, sizeof(u->fw_path), "%s/firmware.bin", t->dir);
	snprintf(u->jig_conf, sizeof(u->jig_conf), "%s/jig.conf", t->dir);
	if ((r = th_enroll(t, 0)) != 0 ||
	    (r = tally_key_generate(TALLY_KEY_P256, &u->att)) != 0 ||
	    (r = tally_key_id(u->att, u->att_id)) != 0 ||
	    (r = tally_key_write_private(u->att, u->att_path)) != 0 ||
	    (r = make_firmware(u, o->firmware_len != 0 ? o->firmware_len :
	    FIRMWARE_DEFAULT)) != 0 ||
	    (r = import_quota(u, o)) != 0 ||
	    (r = write_jig_conf(u, o)) != 0) {
		th_usb_cleanup(u);
		return r > 0 ? TALLY_ERR_INVALID : r;
	}
	return 0;
}

void
th_usb_cleanup(struct th_usb *u)
{
	EVP_PKEY_free(u->att);
	u->att = NULL;
	th_cleanup(u->t);
	u->t = NULL;
}

/* tally-dutsim's arguments for l into argv (ARGS_MAX + 1 entries). */
static int
line_argv(struct th_usb *u, const struct th_line *l, const char **argv,
    char bufs[4][TH_PATH + 32])
{
	size_t n = 0, i;

	if (l->prefix == NULL || l->count < 1 || l->count > TH_USB_MAX)
		return TALLY_ERR_INVALID;
	snprintf(bufs[0], TH_PATH + 32, "%s/tally-dutsim", u->bin);
	snprintf(bufs[1], TH_PATH + 32, "%u", l->count);
	snprintf(bufs[2], TH_PATH + 32, "%u", l->slots != 0 ? l->slots : 1);
	snprintf(bufs[3], TH_PATH + 32, "%s/tally-jig", u->bin);
	const char *head[] = { bufs[0], "--oem-root", u->t->oem_pub_path,
	    "--product", "widget", "--uid-prefix", l->prefix, "--count", bufs[1],
	    "--slots", bufs[2], "--json", "--dut-timeout", "20" };
	for (i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		argv[n++] = head[i];
	if (!l->no_attestation_key) {
		argv[n++] = "--attestation-key";
		argv[n++] = u->att_path;
	}
	for (i = 0; i < TH_USB_FAULTS_MAX && l->faults[i] != NULL; i++) {
		argv[n++] = "--fault";
		argv[n++] = l->faults[i];
	}
	const char *tail[] = { "--", "/bin/sh", "-c", jig_wrapper, "sh", bufs[3],
	    "-c", u->jig_conf, "--wait", TH_USB_JIG_WAIT_S, l->once ? "once" : "run" };
	for (i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		argv[n++] = tail[i];
	argv[n] = NULL;
	return 0;
}

static void
copy_str(json_t *o, const char *key, char *buf, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(buf, cap, "%s", s != NULL ? s : "");
}

/* One tally-dutsim JSON line into d. */
static int
parse_dut(const char *line, struct th_dut *d)
{
	json_t *o = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL), *tok;

	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return TALLY_ERR_INVALID;
	}
	memset(d, 0, sizeof(*d));
	d->unit = (int)json_integer_value(json_object_get(o, "unit"));
	copy_str(o, "uid", d->uid, sizeof(d->uid));
	copy_str(o, "presented_uid", d->presented, sizeof(d->presented));
	copy_str(o, "state", d->state, sizeof(d->state));
	copy_str(o, "bundle_verdict", d->verdict, sizeof(d->verdict));
	copy_str(o, "dfu_status", d->dfu, sizeof(d->dfu));
	copy_str(o, "dfu_last_error", d->dfu_last, sizeof(d->dfu_last));
	copy_str(o, "fault", d->fault, sizeof(d->fault));
	copy_str(o, "end", d->end, sizeof(d->end));
	d->fault_fired = json_is_true(json_object_get(o, "fault_fired"));
	tok = json_object_get(o, "token_log_index");
	d->token = json_is_integer(tok) ? (int64_t)json_integer_value(tok) : -1;
	d->transfers = (unsigned)json_integer_value(json_object_get(o, "transfers"));
	json_decref(o);
	return 0;
}

static int
parse_out(struct th_line_res *res)
{
	char *line = res->proc.out, *nl;
	int r;

	for (; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (line[0] == '{') {
			if (res->n_duts >= TH_USB_MAX)
				return TALLY_ERR_TOO_LARGE;
			if ((r = parse_dut(line, &res->duts[res->n_duts++])) != 0)
				return r;
		} else if (sscanf(line, "jig: programmed=%u refused=%u failed=%u",
		    &res->programmed, &res->refused, &res->failed) == 3) {
			res->summary = true;
		} else {
			sscanf(line, "jig-exit %d", &res->jig_exit);
		}
		if (nl != NULL)
			*nl = '\n';
	}
	return 0;
}

/* Sanitizer reports on stderr: "==PID==ERROR: ..." and UBSan's
 * "...: runtime error: ...". */
static void
parse_err(struct th_line_res *res)
{
	const char *p = res->proc.err;
	char *end;

	if (strstr(p, "runtime error:") != NULL)
		res->sanitizer = true;
	while ((p = strstr(p, "==")) != NULL) {
		(void)strtol(p + 2, &end, 10);
		p += 2;
		if (end == p || strncmp(end, "==ERROR: ", 9) != 0)
			continue;
		res->sanitizer = true;
	}
}

int
th_usb_line(struct th_usb *u, const struct th_line *l, struct th_line_res *res)
{
	const char *argv[ARGS_MAX + 1];
	char bufs[4][TH_PATH + 32];
	int r;

	memset(res, 0, sizeof(*res));
	res->jig_exit = -1;
	if ((r = line_argv(u, l, argv, bufs)) != 0)
		return r;
	r = th_proc_run(u->t->dir, argv, l->timeout_ms > 0 ? l->timeout_ms :
	    TH_USB_RUN_TIMEOUT_MS, &res->proc);
	if (r != 0)
		return r;
	parse_err(res);
	if (getenv("TALLY_TEST_LOG") != NULL)
		fprintf(stderr, "# --- tally-dutsim stdout ---\n%s# --- stderr ---\n%s",
		    res->proc.out, res->proc.err);
	return parse_out(res);
}

void
th_line_res_free(struct th_line_res *res)
{
	th_proc_res_free(&res->proc);
}

bool
th_unit_line(const struct th_line_res *res, const char *uid, unsigned nth,
    char *buf, size_t cap)
{
	char head[80];
	const char *p = res->proc.out, *nl;
	size_t hl;

	snprintf(head, sizeof(head), "unit %s: ", uid);
	hl = strlen(head);
	for (; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (strncmp(p, head, hl) != 0 || nth-- > 0)
			continue;
		snprintf(buf, cap, "%.*s", (int)((nl != NULL ? (size_t)(nl - p) :
		    strlen(p)) - hl), p + hl);
		return true;
	}
	return false;
}

unsigned
th_unit_lines(const struct th_line_res *res, const char *uid)
{
	char buf[8];
	unsigned n = 0;

	while (th_unit_line(res, uid, n, buf, sizeof(buf)))
		n++;
	return n;
}

const struct th_dut *
th_dut_of(const struct th_line_res *res, const char *uid)
{
	size_t i;

	for (i = 0; i < res->n_duts; i++)
		if (strcmp(res->duts[i].uid, uid) == 0)
			return &res->duts[i];
	return NULL;
}

int
th_usb_fx_setup(void **state, const struct th_usb_opts *o)
{
	struct th_usb_fx *f = calloc(1, sizeof(*f));

	*state = f;
	if (f == NULL || th_usb_setup(&f->u, o) != 0) {
		free(f);
		*state = NULL;
		return -1;
	}
	return 0;
}

int
th_usb_fx_teardown(void **state)
{
	struct th_usb_fx *f = *state;
	size_t i;

	if (f == NULL)
		return 0;
	for (i = 0; i < sizeof(f->res) / sizeof(f->res[0]); i++)
		th_line_res_free(&f->res[i]);
	th_usb_cleanup(&f->u);
	free(f);
	*state = NULL;
	return 0;
}
