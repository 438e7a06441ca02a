/* th_usb_check.c - checks of a USB line against the appliance's log, see
 * th_usb.h. Each prints why it fails as "# ..." lines on stderr. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "artifacts.pb-c.h"
#include "th_usb.h"

static bool
why(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return false;
}

static void
dump(const struct th_line_res *res)
{
	fprintf(stderr, "# --- tally-dutsim stdout ---\n%s# --- stderr ---\n%s"
	    "# --- end ---\n", res->proc.out != NULL ? res->proc.out : "",
	    res->proc.err != NULL ? res->proc.err : "");
}

static bool
clean(const struct th_line_res *res, int jig_exit)
{
	int code = th_proc_exit_code(res->proc.status);

	if (res->proc.timed_out)
		return why("tally-dutsim overstayed its time and was stopped");
	if (res->proc.leftover != 0)
		return why("%u processes left behind (killed)", res->proc.leftover);
	if (res->sanitizer)
		return why("sanitizer report on stderr");
	if (res->jig_exit != jig_exit)
		return why("tally-jig exit %d, expected %d", res->jig_exit, jig_exit);
	if (code != (jig_exit == 0 ? 0 : 1))
		return why("tally-dutsim exit %d (status %#x)", code, res->proc.status);
	return true;
}

bool
th_line_clean(const struct th_line_res *res, int jig_exit)
{
	if (clean(res, jig_exit))
		return true;
	dump(res);
	return false;
}

static bool
dut_programmed(const struct th_dut *d, const char *uid)
{
	if (d == NULL)
		return why("%s: no tally-dutsim line", uid);
	if (strcmp(d->state, "PROGRAMMED") != 0 || strcmp(d->verdict, "OK") != 0 ||
	    strcmp(d->dfu, "OK") != 0 || d->dfu_last[0] != '\0' || d->token < 0)
		return why("%s: DUT %s bundle=%s dfu=%s(%s) token=%" PRId64, uid,
		    d->state, d->verdict, d->dfu, d->dfu_last, d->token);
	if (strcmp(d->end, "closed") != 0 && strcmp(d->end, "released") != 0)
		return why("%s: DUT left the bus: %s", uid, d->end);
	return true;
}

/* Exactly one of tally-jig's lines for uid says programmed with token
 * index (others may be refusals or failures of the same UID). */
static bool
jig_programmed(const struct th_line_res *res, const char *uid, int64_t index)
{
	char line[512], want[64];
	unsigned i, n = th_unit_lines(res, uid), hits = 0;
	size_t wl;

	wl = (size_t)snprintf(want, sizeof(want), "programmed, token #%" PRId64, index);
	for (i = 0; i < n; i++)
		if (th_unit_line(res, uid, i, line, sizeof(line)) &&
		    strncmp(line, want, wl) == 0 && (line[wl] == '\0' || line[wl] == ','))
			hits++;
	if (hits != 1)
		return why("%s: %u of %u tally-jig lines say \"%s\"", uid, hits, n, want);
	return true;
}

static bool
log_programmed(const struct th_usb *u, const struct th_usb_log *log,
    const char *uid, int64_t index, bool attested)
{
	const struct th_usb_token *tok = th_usb_token_of(log, uid);
	size_t i;

	if (th_usb_tokens_of(log, uid) != 1 || tok == NULL || (int64_t)tok->index != index)
		return why("%s: %u tokens in the log, first at %" PRIu64 ", expected one at %"
		    PRId64, uid, th_usb_tokens_of(log, uid), tok != NULL ? tok->index : 0,
		    index);
	if (attested ? tok->att_key_id_len != 32 || memcmp(tok->att_key_id, u->att_id, 32) != 0 :
	    tok->att_key_id_len != 0)
		return why("%s: token's attestation key ID is not the expected one", uid);
	for (i = 0; i < log->n_reports; i++)
		if (strcmp(log->reports[i].uid, uid) == 0 &&
		    (int64_t)log->reports[i].token_index == index &&
		    log->reports[i].result == TALLY__INSTALL_RESULT__INSTALLED)
			return true;
	return why("%s: no INSTALLED report of token %" PRId64 " in the log", uid, index);
}

bool
th_usb_programmed(const struct th_usb *u, const struct th_line_res *res,
    const struct th_usb_log *log, const char *uid, bool attested)
{
	const struct th_dut *d = th_dut_of(res, uid);

	return dut_programmed(d, uid) && jig_programmed(res, uid, d->token) &&
	    log_programmed(u, log, uid, d->token, attested);
}
