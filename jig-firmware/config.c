/* config.c - the jig's INI configuration, see config.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>
#include "config.h"
#include "dutproto.h"
#include "err.h"
#include "util.h"

#define WHY_MAX 200

struct parse_state {
	struct jig_config *cfg;
	FILE *fp;
	int line;          /* lines read so far = number of the current line */
	int err;           /* first error, 0 if none */
	int err_line;
	char why[WHY_MAX];
	unsigned seen;     /* bit per key of the table below */
	int jig_line;      /* first line of a [jig] key, for "missing" messages */
};

typedef int (*setter)(struct jig_config *c, const char *v, char *why);

struct key_entry {
	const char *section;
	const char *name;
	setter set;
	int required;      /* 1: always; 2: when [simulate] is present */
};

static int
parse_uint(const char *v, unsigned long max, unsigned *out)
{
	unsigned long n;
	char *end;

	if (v[0] == '\0' || !isdigit((unsigned char)v[0]) || strlen(v) > 10)
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int
printable(const char *v, size_t min, size_t max)
{
	size_t i, n = strlen(v);

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return 0;
	return 1;
}

static int
host_ok(const char *h, int bracketed)
{
	size_t i, n = strlen(h);

	if (n == 0 || n > JIG_HOST_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (isalnum(ch) || ch == '.' || ch == '-' || ch == '_')
			continue;
		if (bracketed && (ch == ':' || ch == '%'))
			continue;
		return 0;
	}
	return 1;
}

int
jig_config_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon, *start = s;
	unsigned p;
	size_t n;
	int bracketed = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return TALLY_ERR_INVALID;
		start = s + 1;
		colon = close + 1;
		n = (size_t)(close - start);
		bracketed = 1;
	} else {
		if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':') != NULL)
			return TALLY_ERR_INVALID;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= cap || parse_uint(colon + 1, 65535, &p) != 0 || p == 0)
		return TALLY_ERR_INVALID;
	memcpy(host, start, n);
	host[n] = '\0';
	if (!host_ok(host, bracketed))
		return TALLY_ERR_INVALID;
	*port = (uint16_t)p;
	return 0;
}

static int
set_appliance(struct jig_config *c, const char *v, char *why)
{
	if (jig_config_parse_hostport(v, c->host, sizeof(c->host), &c->port) == 0)
		return 0;
	snprintf(why, WHY_MAX, "expected HOST:PORT or [ADDR]:PORT with port 1..65535");
	return -1;
}

static int
set_key_id(struct jig_config *c, const char *v, char *why)
{
	if (tally_unhex(v, c->appliance_key_id, TALLY_KEY_ID_LEN) == 0)
		return 0;
	snprintf(why, WHY_MAX, "expected %d hex digits", 2 * TALLY_KEY_ID_LEN);
	return -1;
}

static int
set_quota_id(struct jig_config *c, const char *v, char *why)
{
	if (tally_unhex(v, c->quota_id, TALLY_QUOTA_ID_LEN) == 0) {
		c->have_quota_id = 1;
		return 0;
	}
	snprintf(why, WHY_MAX, "expected %d hex digits", 2 * TALLY_QUOTA_ID_LEN);
	return -1;
}

static int
set_path(char *dst, const char *v, char *why)
{
	if (printable(v, 1, JIG_PATH_MAX - 1)) {
		snprintf(dst, JIG_PATH_MAX, "%s", v);
		return 0;
	}
	snprintf(why, WHY_MAX, "expected a path of 1..%d printable characters",
	    JIG_PATH_MAX - 1);
	return -1;
}

static int
set_certificate(struct jig_config *c, const char *v, char *why)
{
	return set_path(c->certificate, v, why);
}

static int
set_key(struct jig_config *c, const char *v, char *why)
{
	return set_path(c->key, v, why);
}

static int
set_oem_root(struct jig_config *c, const char *v, char *why)
{
	return set_path(c->oem_root, v, why);
}

static int
set_firmware(struct jig_config *c, const char *v, char *why)
{
	return set_path(c->firmware, v, why);
}

static int
set_product(struct jig_config *c, const char *v, char *why)
{
	if (printable(v, 1, TALLY_PRODUCT_MAX)) {
		snprintf(c->product, sizeof(c->product), "%s", v);
		return 0;
	}
	snprintf(why, WHY_MAX, "expected 1..%d printable ASCII characters",
	    TALLY_PRODUCT_MAX);
	return -1;
}

static int
set_timeout(struct jig_config *c, const char *v, char *why)
{
	if (parse_uint(v, 600, &c->timeout_s) == 0 && c->timeout_s >= 1)
		return 0;
	snprintf(why, WHY_MAX, "expected seconds, 1..600");
	return -1;
}

static int
set_reconnect(struct jig_config *c, const char *v, char *why)
{
	if (parse_uint(v, 100, &c->reconnect_attempts) == 0)
		return 0;
	snprintf(why, WHY_MAX, "expected a count, 0..100");
	return -1;
}

static int
set_duts(struct jig_config *c, const char *v, char *why)
{
	if (parse_uint(v, 1000000, &c->sim_duts) == 0)
		return 0;
	snprintf(why, WHY_MAX, "expected a count, 0..1000000");
	return -1;
}

static int
set_uid_prefix(struct jig_config *c, const char *v, char *why)
{
	if (printable(v, 1, sizeof(c->sim_uid_prefix) - 1)) {
		snprintf(c->sim_uid_prefix, sizeof(c->sim_uid_prefix), "%s", v);
		return 0;
	}
	snprintf(why, WHY_MAX, "expected 1..%zu printable ASCII characters",
	    sizeof(c->sim_uid_prefix) - 1);
	return -1;
}

/* A USB ID: 1..4 hex digits, optional 0x; 0000 is not an ID. */
static int
set_usb_id(uint16_t *dst, const char *v, char *why)
{
	const char *p = v;
	unsigned long n;
	size_t i, len;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	len = strlen(p);
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)p[i]))
			break;
	if (len >= 1 && len <= 4 && i == len &&
	    (n = strtoul(p, NULL, 16)) != 0) {
		*dst = (uint16_t)n;
		return 0;
	}
	snprintf(why, WHY_MAX, "expected a USB ID, 1..4 hex digits, not 0");
	return -1;
}

static int
set_vid(struct jig_config *c, const char *v, char *why)
{
	return set_usb_id(&c->usb_vid, v, why);
}

static int
set_pid(struct jig_config *c, const char *v, char *why)
{
	return set_usb_id(&c->usb_pid, v, why);
}

static int
set_slots(struct jig_config *c, const char *v, char *why)
{
	if (parse_uint(v, JIG_SLOTS_MAX, &c->usb_slots) == 0 && c->usb_slots >= 1)
		return 0;
	snprintf(why, WHY_MAX, "expected a count, 1..%d", JIG_SLOTS_MAX);
	return -1;
}

static int
set_transfer_timeout(struct jig_config *c, const char *v, char *why)
{
	if (parse_uint(v, JIG_TRANSFER_TIMEOUT_MAX, &c->usb_timeout_ms) == 0 &&
	    c->usb_timeout_ms >= JIG_TRANSFER_TIMEOUT_MIN)
		return 0;
	snprintf(why, WHY_MAX, "expected milliseconds, %d..%d",
	    JIG_TRANSFER_TIMEOUT_MIN, JIG_TRANSFER_TIMEOUT_MAX);
	return -1;
}

static const struct key_entry keys[] = {
	{ "jig", "appliance", set_appliance, 1 },
	{ "jig", "appliance_key_id", set_key_id, 1 },
	{ "jig", "certificate", set_certificate, 1 },
	{ "jig", "key", set_key, 1 },
	{ "jig", "oem_root", set_oem_root, 2 },
	{ "jig", "product", set_product, 1 },
	{ "jig", "quota_id", set_quota_id, 0 },
	{ "jig", "firmware", set_firmware, 1 },
	{ "jig", "timeout", set_timeout, 0 },
	{ "jig", "reconnect_attempts", set_reconnect, 0 },
	{ "usb", "vid", set_vid, 0 },
	{ "usb", "pid", set_pid, 0 },
	{ "usb", "slots", set_slots, 0 },
	{ "usb", "transfer_timeout_ms", set_transfer_timeout, 0 },
	{ "simulate", "duts", set_duts, 2 },
	{ "simulate", "uid_prefix", set_uid_prefix, 2 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void fail(struct parse_state *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first error only, with the current line. */
static void
fail(struct parse_state *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err != 0)
		return;
	ps->err = TALLY_ERR_INVALID;
	ps->err_line = ps->line;
	va_start(ap, fmt);
	vsnprintf(ps->why, sizeof(ps->why), fmt, ap);
	va_end(ap);
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;
	char why[WHY_MAX];
	size_t i;

	if (strcmp(section, "simulate") == 0)
		ps->cfg->have_simulate = 1;
	if (strcmp(section, "usb") == 0)
		ps->cfg->have_usb = 1;
	if (ps->cfg->have_usb && ps->cfg->have_simulate) {
		fail(ps, "[usb] and [simulate] exclude each other");
		return 0;
	}
	if (strcmp(section, "jig") == 0 && ps->jig_line == 0)
		ps->jig_line = ps->line;
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			break;
	if (i == NKEYS) {
		fail(ps, "unknown key '%s' in section [%s]", name, section);
		return 0;
	}
	if (ps->seen & (1u << i)) {
		fail(ps, "%s: given more than once", name);
		return 0;
	}
	ps->seen |= 1u << i;
	if (keys[i].set(ps->cfg, value, why) != 0) {
		fail(ps, "%s: %s", name, why);
		return 0;
	}
	return 1;
}

/* fgets for ini_parse_stream that counts lines and refuses long ones. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	size_t n;

	if (fgets(str, num, ps->fp) == NULL)
		return NULL;
	ps->line++;
	n = strlen(str);
	if (n + 1 == (size_t)num && str[n - 1] != '\n' && !feof(ps->fp)) {
		if (ps->err == 0) {
			ps->err = TALLY_ERR_TOO_LARGE;
			ps->err_line = ps->line;
			snprintf(ps->why, sizeof(ps->why),
			    "line longer than %d bytes", num - 1);
		}
		return NULL;
	}
	return str;
}

/* After parsing: every required key present? */
static int
check_required(struct parse_state *ps)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (ps->seen & (1u << i))
			continue;
		if (keys[i].required == 1 ||
		    (keys[i].required == 2 && ps->cfg->have_simulate)) {
			ps->err = TALLY_ERR_INVALID;
			ps->err_line = strcmp(keys[i].section, "jig") == 0 ?
			    ps->jig_line : 0;
			snprintf(ps->why, sizeof(ps->why),
			    "[%s] has no '%s' (required)", keys[i].section,
			    keys[i].name);
			return ps->err;
		}
	}
	return 0;
}

int
jig_config_load(const char *path, struct jig_config *cfg, char *errmsg, size_t cap)
{
	struct parse_state ps = { .cfg = cfg };
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_s = JIG_TIMEOUT_DEFAULT;
	cfg->reconnect_attempts = JIG_RECONNECT_DEFAULT;
	cfg->usb_vid = TDP_VID_DEFAULT;
	cfg->usb_pid = TDP_PID_DEFAULT;
	cfg->usb_slots = JIG_SLOTS_DEFAULT;
	cfg->usb_timeout_ms = JIG_TRANSFER_TIMEOUT_DEFAULT;
	if ((ps.fp = fopen(path, "re")) == NULL) {
		snprintf(errmsg, cap, "%s: cannot open: %s", path, strerror(errno));
		return TALLY_ERR_IO;
	}
	r = ini_parse_stream(reader, &ps, handler, &ps);
	if (ferror(ps.fp)) {
		snprintf(errmsg, cap, "%s: read error", path);
		r = TALLY_ERR_IO;
		goto out;
	}
	if (ps.err == 0 && r > 0) {
		ps.err = TALLY_ERR_INVALID;
		ps.err_line = r;
		snprintf(ps.why, sizeof(ps.why), "syntax error (expected [section] or key = value)");
	}
	if (ps.err == 0)
		check_required(&ps);
	r = ps.err;
	if (r != 0 && ps.err_line > 0)
		snprintf(errmsg, cap, "%s:%d: %s", path, ps.err_line, ps.why);
	else if (r != 0)
		snprintf(errmsg, cap, "%s: %s", path, ps.why);
 out:
	fclose(ps.fp);
	if (r != 0)
		memset(cfg, 0, sizeof(*cfg));
	return r;
}
