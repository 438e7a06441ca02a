/* dutmodel_fault.c - the DUT model's injected faults: their text form
 * (tally-dutsim --fault) and where they take effect. See dutmodel.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dutmodel_int.h"
#include "err.h"

static const struct {
	const char *name;
	enum dm_fault_kind kind;
} kinds[] = {
	{ "stall", DM_FAULT_STALL },
	{ "nak", DM_FAULT_NAK },
	{ "short", DM_FAULT_SHORT },
	{ "unplug", DM_FAULT_UNPLUG },
	{ "wrong-attestation-key", DM_FAULT_WRONG_ATT_KEY },
	{ "clone", DM_FAULT_CLONE },
	{ "misreport-uid", DM_FAULT_MISREPORT_UID },
	{ "corrupt-image", DM_FAULT_CORRUPT_IMAGE },
};

static const char *const wheres[] = {
	[DM_AT_IDENTITY] = "identity",
	[DM_AT_CHALLENGE] = "challenge",
	[DM_AT_ATTESTATION] = "attestation",
	[DM_AT_BUNDLE] = "bundle",
	[DM_AT_VERIFY] = "verify",
	[DM_AT_STATUS] = "status",
	[DM_AT_DFU] = "dfu",
};

/* "dfu" or "dfu:N" (N 0..65535); any where when dfu_only is 0. */
static int
parse_where(const char *s, int dfu_only, struct dm_fault *f)
{
	char *end;
	unsigned long n;
	size_t i;

	if (strncmp(s, "dfu:", 4) == 0) {
		if (s[4] < '0' || s[4] > '9')
			return TALLY_ERR_INVALID;
		n = strtoul(s + 4, &end, 10);
		if (*end != '\0' || n > 65535)
			return TALLY_ERR_INVALID;
		f->where = DM_AT_DFU;
		f->block = (uint32_t)n;
		return 0;
	}
	for (i = 0; i < sizeof(wheres) / sizeof(wheres[0]); i++) {
		if (strcmp(s, wheres[i]) == 0 && (!dfu_only || i == DM_AT_DFU)) {
			f->where = (enum dm_where)i;
			f->block = 0;
			return 0;
		}
	}
	return TALLY_ERR_INVALID;
}

static int
parse_uid(const char *s, struct dm_fault *f)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':')
			return TALLY_ERR_INVALID;
	memcpy(f->uid, s, n);
	f->uid_len = n;
	return 0;
}

/* The argument after the kind name: ":WHERE", "=UID" or nothing. */
static int
parse_arg(enum dm_fault_kind k, const char *rest, struct dm_fault *f)
{
	switch (k) {
	case DM_FAULT_SHORT:
		if (*rest != ':' || parse_where(rest + 1, 0, f) != 0 ||
		    f->where == DM_AT_CHALLENGE || f->where == DM_AT_BUNDLE ||
		    f->where == DM_AT_VERIFY)
			return TALLY_ERR_INVALID;
		return 0;
	case DM_FAULT_STALL:
	case DM_FAULT_NAK:
	case DM_FAULT_UNPLUG:
		return *rest == ':' ? parse_where(rest + 1, 0, f) : TALLY_ERR_INVALID;
	case DM_FAULT_CLONE:
	case DM_FAULT_MISREPORT_UID:
		return *rest == '=' ? parse_uid(rest + 1, f) : TALLY_ERR_INVALID;
	case DM_FAULT_CORRUPT_IMAGE:
		f->where = DM_AT_DFU;
		if (*rest == '\0')
			return 0;
		return *rest == ':' ? parse_where(rest + 1, 1, f) : TALLY_ERR_INVALID;
	case DM_FAULT_WRONG_ATT_KEY:
		return *rest == '\0' ? 0 : TALLY_ERR_INVALID;
	default:
		return TALLY_ERR_INVALID;
	}
}

int
dm_fault_parse(const char *text, struct dm_fault *out)
{
	struct dm_fault f;
	size_t i, n;

	if (text == NULL)
		return TALLY_ERR_INVALID;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = strlen(kinds[i].name);
		if (strncmp(text, kinds[i].name, n) != 0)
			continue;
		memset(&f, 0, sizeof(f));
		f.kind = kinds[i].kind;
		if (parse_arg(f.kind, text + n, &f) != 0)
			return TALLY_ERR_INVALID;
		*out = f;
		return 0;
	}
	return TALLY_ERR_INVALID;
}

static const char *
kind_name(enum dm_fault_kind k)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return "none";
}

void
dm_fault_format(const struct dm_fault *f, char *buf, size_t cap)
{
	const char *k = kind_name(f->kind);

	switch (f->kind) {
	case DM_FAULT_STALL:
	case DM_FAULT_NAK:
	case DM_FAULT_SHORT:
	case DM_FAULT_UNPLUG:
		if (f->where == DM_AT_DFU)
			snprintf(buf, cap, "%s:dfu:%u", k, (unsigned)f->block);
		else
			snprintf(buf, cap, "%s:%s", k, wheres[f->where]);
		break;
	case DM_FAULT_CLONE:
	case DM_FAULT_MISREPORT_UID:
		snprintf(buf, cap, "%s=%.*s", k, (int)f->uid_len, (const char *)f->uid);
		break;
	case DM_FAULT_CORRUPT_IMAGE:
		snprintf(buf, cap, "%s:dfu:%u", k, (unsigned)f->block);
		break;
	default:
		snprintf(buf, cap, "%s", k);
		break;
	}
}

/* Which fault point a request is. Returns 1 and sets *w, *block; *in_only
 * is 1 for the DFU_GETSTATUS after a block (only short applies there). */
static int
point_of(const struct dutmodel *m, const struct dm_setup *s, enum dm_where *w,
    uint32_t *block, int *in_only)
{
	*block = 0;
	*in_only = 0;
	if ((s->bmRequestType & 0x60) == 0x40) {
		switch (s->bRequest) {
		case TDP_GET_IDENTITY:    *w = DM_AT_IDENTITY; return 1;
		case TDP_SET_CHALLENGE:   *w = DM_AT_CHALLENGE; return 1;
		case TDP_GET_ATTESTATION: *w = DM_AT_ATTESTATION; return 1;
		case TDP_BUNDLE_DATA:     *w = DM_AT_BUNDLE; return 1;
		case TDP_BUNDLE_VERIFY:   *w = DM_AT_VERIFY; return 1;
		case TDP_GET_STATUS:      *w = DM_AT_STATUS; return 1;
		default:                  return 0;
		}
	}
	if ((s->bmRequestType & 0x60) != 0x20)
		return 0;
	*w = DM_AT_DFU;
	if (s->bRequest == TDP_DFU_DNLOAD && s->wLength > 0) {
		*block = s->wValue;
		return 1;
	}
	if (s->bRequest == TDP_DFU_GETSTATUS && m->dfu.state == TDP_DFU_DNLOAD_SYNC) {
		*block = m->dfu.cur_block;
		*in_only = 1;
		return 1;
	}
	return 0;
}

static int
applies(const struct dutmodel *m, const struct dm_setup *s, int *in_only)
{
	enum dm_where w;
	uint32_t block;

	if (!point_of(m, s, &w, &block, in_only) || w != m->fault.where)
		return 0;
	return w != DM_AT_DFU || block == m->fault.block;
}

enum dm_outcome
dm_fault_before(struct dutmodel *m, const struct dm_setup *s)
{
	int in_only;
	enum dm_fault_kind k = m->fault.kind;

	if (k != DM_FAULT_STALL && k != DM_FAULT_NAK && k != DM_FAULT_UNPLUG)
		return DM_ACK;
	if (!applies(m, s, &in_only) || in_only)
		return DM_ACK;
	m->fault_fired = 1;
	if (k == DM_FAULT_UNPLUG) {
		m->gone = 1;
		return DM_GONE;
	}
	return k == DM_FAULT_STALL ? DM_STALL : DM_NAK;
}

int
dm_fault_short(const struct dutmodel *m, const struct dm_setup *s)
{
	int in_only;

	if (m->fault.kind != DM_FAULT_SHORT || (s->bmRequestType & 0x80) == 0)
		return 0;
	return applies(m, s, &in_only);
}

int
dm_fault_corrupts(struct dutmodel *m, uint32_t block)
{
	if (m->fault.kind != DM_FAULT_CORRUPT_IMAGE || m->fault.block != block)
		return 0;
	m->fault_fired = 1;
	return 1;
}
