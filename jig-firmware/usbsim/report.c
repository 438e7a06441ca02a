/* report.c - tally-dutsim's one line per DUT: text, or JSON lines
 * (jansson) with --json. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "dutproto.h"
#include "dutsim.h"

static const char *
state_name(enum jig_dut_state s)
{
	static const char *const n[] = { "BLANK", "TOKEN_ACCEPTED", "PROGRAMMED",
	    "REJECTED" };

	return (unsigned)s < 4 ? n[s] : "?";
}

static const char *
verdict_name(int v)
{
	static const char *const n[] = { "OK", "MALFORMED", "BAD_SIGNATURE",
	    "WRONG_DEVICE", "EXPIRED", "NO_TOKEN", "WRONG_FIRMWARE", "FLASH_ERROR" };

	return v >= 0 && v < 8 ? n[v] : "none";
}

/* DFU 1.1 §6.1.2 status names. */
static const char *
dfu_status_name(uint8_t s)
{
	static const char *const n[] = { "OK", "errTARGET", "errFILE", "errWRITE",
	    "errERASE", "errCHECK_ERASED", "errPROG", "errVERIFY", "errADDRESS",
	    "errNOTDONE", "errFIRMWARE", "errVENDOR", "errUSBR", "errPOR",
	    "errUNKNOWN", "errSTALLEDPKT" };

	return s < 16 ? n[s] : "?";
}

/* What one DUT's line says. */
struct line {
	char uid[TALLY_UID_MAX + 1];            /* fused */
	char shown[TALLY_UID_MAX + 1];          /* presented, "" when the same */
	char fault[DM_FAULT_TEXT_MAX];
	struct dutmodel_report r;
	int have_report;
};

static void
copy_uid(char *out, const uint8_t *uid, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = uid[i] >= 0x20 && uid[i] <= 0x7e ? (char)uid[i] : '?';
	out[n] = '\0';
}

static void
line_of(const struct dutsim_dut *d, struct line *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->uid, sizeof(l->uid), "%s", d->name);
	dm_fault_format(&d->fault, l->fault, sizeof(l->fault));
	if (d->m == NULL)
		return;
	/* After the unplug the handler no longer touches the model. */
	dutmodel_report(d->m, &l->r);
	l->have_report = 1;
	copy_uid(l->shown, l->r.uid, l->r.uid_len);
	if (strcmp(l->shown, l->uid) == 0)
		l->shown[0] = '\0';
}

static void
print_text(const struct dutsim_dut *d, const struct line *l, FILE *f)
{
	fprintf(f, "%s:", l->uid);
	if (!l->have_report) {
		fprintf(f, " %s\n", d->end != NULL ? d->end : "not plugged");
		return;
	}
	if (l->shown[0] != '\0')
		fprintf(f, " presented=%s", l->shown);
	fprintf(f, " %s bundle=%s dfu=%s", state_name(l->r.state),
	    verdict_name(l->r.bundle_verdict), dfu_status_name(l->r.dfu_status));
	if (l->r.dfu_last_error != 0 && l->r.dfu_last_error != l->r.dfu_status)
		fprintf(f, "(after %s)", dfu_status_name(l->r.dfu_last_error));
	if (l->r.has_token)
		fprintf(f, " token=%llu", (unsigned long long)l->r.token_index);
	fprintf(f, " fault=%s%s end=%s transfers=%u time=%lldms\n", l->fault,
	    d->fault.kind == DM_FAULT_NONE ? "" : l->r.fault_fired ? "(fired)" :
	    "(not reached)", d->end != NULL ? d->end : "?", d->act.transfers,
	    (long long)d->ms);
}

static void
print_json(const struct dutsim_dut *d, const struct line *l, FILE *f)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "unit", (int)d->index,
	    "uid", l->uid, "fault", l->fault, "end",
	    d->end != NULL ? d->end : "not plugged");
	char *s;

	if (o == NULL)
		return;
	if (l->have_report) {
		json_object_set_new(o, "presented_uid", json_string(l->shown[0] != '\0' ?
		    l->shown : l->uid));
		json_object_set_new(o, "state", json_string(state_name(l->r.state)));
		json_object_set_new(o, "bundle_verdict", l->r.bundle_verdict < 0 ?
		    json_null() : json_string(verdict_name(l->r.bundle_verdict)));
		json_object_set_new(o, "dfu_status",
		    json_string(dfu_status_name(l->r.dfu_status)));
		json_object_set_new(o, "dfu_last_error", l->r.dfu_last_error == 0 ?
		    json_null() : json_string(dfu_status_name(l->r.dfu_last_error)));
		json_object_set_new(o, "fault_fired", json_boolean(l->r.fault_fired));
		json_object_set_new(o, "token_log_index", l->r.has_token ?
		    json_integer((json_int_t)l->r.token_index) : json_null());
		json_object_set_new(o, "transfers", json_integer(d->act.transfers));
		json_object_set_new(o, "busy_us", json_integer(d->act.busy_us));
		json_object_set_new(o, "time_ms", json_integer(d->ms));
	}
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL)
		fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}

void
dutsim_report(const struct dutsim *s, FILE *f)
{
	struct line l;
	unsigned i;

	for (i = 0; i < s->o->count; i++) {
		line_of(&s->duts[i], &l);
		if (s->o->json)
			print_json(&s->duts[i], &l, f);
		else
			print_text(&s->duts[i], &l, f);
	}
	fflush(f);
}
