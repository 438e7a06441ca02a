/* opts.c - tally-dutsim's command line (getopt_long), see dutsim.h. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "dutproto.h"
#include "dutsim.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tally-dutsim --oem-root PEM --product NAME --uid-prefix STR --count N\n"
	    "         [--attestation-key URI] [--boot-key-hash HEX] [--software-version N]\n"
	    "         [--vid HEX --pid HEX] [--slots N] [--fault UNIT:KIND[:WHERE]]...\n"
	    "         [--dut-timeout SECONDS] [--json] -- COMMAND [ARG...]\n\n"
	    "Runs COMMAND (e.g. tally-jig run) against N simulated tally DUTs on a\n"
	    "umockdev USB bus: up to --slots plugged at a time (default 1), each\n"
	    "unplugged when the host released or closed it (or after --dut-timeout,\n"
	    "default %u s) and replaced by the next. Then COMMAND gets SIGTERM and one\n"
	    "line per DUT is printed. Exit: 0 when COMMAND exited 0, 1 otherwise, 2 on\n"
	    "a usage or setup error.\n\n"
	    "UNIT is a DUT number (1..N) or its UID (PREFIX-0001...). KIND: stall, nak,\n"
	    "short, unplug (WHERE: identity|challenge|attestation|bundle|verify|status|\n"
	    "dfu|dfu:BLOCK), wrong-attestation-key, clone=UID, misreport-uid=UID,\n"
	    "corrupt-image[:dfu:BLOCK]. See docs/dut-protocol.md.\n",
	    DUTSIM_TIMEOUT_DEFAULT);
}

static int
num(const char *s, unsigned long min, unsigned long max, int base,
    unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		if (!(base == 16 && ((s[0] >= 'a' && s[0] <= 'f') ||
		    (s[0] >= 'A' && s[0] <= 'F'))))
			return -1;
	v = strtoul(s, &end, base);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* --fault UNIT:KIND[:WHERE] */
static int
add_fault(struct dutsim_opts *o, const char *arg)
{
	struct dutsim_fault *f = &o->faults[o->n_faults];
	const char *colon = strchr(arg, ':');
	size_t n = colon != NULL ? (size_t)(colon - arg) : 0;

	/* argv stays as it is: tally-dutsim may re-execute itself with it. */
	if (n == 0 || n >= sizeof(f->unit) || o->n_faults >= DUTSIM_FAULTS_MAX ||
	    dm_fault_parse(colon + 1, &f->fault) != 0)
		return -1;
	memcpy(f->unit, arg, n);
	f->unit[n] = '\0';
	o->n_faults++;
	return 0;
}

static int
option(struct dutsim_opts *o, int ch, const char *arg)
{
	unsigned long v;

	switch (ch) {
	case 'r': o->oem_root = arg; return 0;
	case 'p': o->product = arg; return 0;
	case 'u': o->prefix = arg; return 0;
	case 'a': o->attestation_key = arg; return 0;
	case 'j': o->json = 1; return 0;
	case 'f': return add_fault(o, arg);
	case 'n':
		if (num(arg, 1, DUTSIM_COUNT_MAX, 10, &v) != 0) return -1;
		o->count = (unsigned)v; return 0;
	case 's':
		if (num(arg, 1, DUTSIM_SLOTS_MAX, 10, &v) != 0) return -1;
		o->slots = (unsigned)v; return 0;
	case 't':
		if (num(arg, 1, 86400, 10, &v) != 0) return -1;
		o->dut_timeout = (unsigned)v; return 0;
	case 'V':
		if (num(arg, 0, 0xffffffffUL, 10, &v) != 0) return -1;
		o->software_version = (uint32_t)v; return 0;
	case 'v':
	case 'P':
		if (num(arg, 0, 0xffff, 16, &v) != 0) return -1;
		if (ch == 'v') o->vid = (uint16_t)v; else o->pid = (uint16_t)v;
		return 0;
	case 'b':
		return strlen(arg) == 2 * TALLY_DIGEST_LEN &&
		    tally_unhex(arg, o->boot_key_hash, TALLY_DIGEST_LEN) == 0 ? 0 : -1;
	default:
		return -1;
	}
}

static int
check(struct dutsim_opts *o)
{
	if (o->oem_root == NULL || o->product == NULL || o->prefix == NULL ||
	    o->count == 0) {
		fprintf(stderr, "tally-dutsim: --oem-root, --product, --uid-prefix "
		    "and --count are required\n");
		return -1;
	}
	if (o->cmd == NULL || o->cmd[0] == NULL) {
		fprintf(stderr, "tally-dutsim: no COMMAND after --\n");
		return -1;
	}
	if (strlen(o->prefix) == 0 || strlen(o->prefix) > TALLY_UID_MAX - 10 ||
	    strlen(o->product) > TALLY_PRODUCT_MAX) {
		fprintf(stderr, "tally-dutsim: --uid-prefix (1..%d bytes) or "
		    "--product (0..%d bytes) too long\n", TALLY_UID_MAX - 10,
		    TALLY_PRODUCT_MAX);
		return -1;
	}
	return dutsim_check_faults(o);
}

int
dutsim_parse(int argc, char **argv, struct dutsim_opts *o)
{
	static const struct option longopts[] = {
		{ "oem-root", required_argument, NULL, 'r' },
		{ "product", required_argument, NULL, 'p' },
		{ "uid-prefix", required_argument, NULL, 'u' },
		{ "count", required_argument, NULL, 'n' },
		{ "attestation-key", required_argument, NULL, 'a' },
		{ "boot-key-hash", required_argument, NULL, 'b' },
		{ "software-version", required_argument, NULL, 'V' },
		{ "vid", required_argument, NULL, 'v' },
		{ "pid", required_argument, NULL, 'P' },
		{ "slots", required_argument, NULL, 's' },
		{ "fault", required_argument, NULL, 'f' },
		{ "dut-timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx;

	memset(o, 0, sizeof(*o));
	o->slots = 1;
	o->vid = TDP_VID_DEFAULT;
	o->pid = TDP_PID_DEFAULT;
	o->dut_timeout = DUTSIM_TIMEOUT_DEFAULT;
	/* "+": stop at the first non-option, COMMAND's own options stay its. */
	while ((ch = getopt_long(argc, argv, "+h", longopts, &idx)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 1;
		}
		if (ch == '?' || option(o, ch, optarg) != 0) {
			if (ch != '?')
				fprintf(stderr, "tally-dutsim: bad value for --%s: %s\n",
				    longopts[idx].name, optarg);
			usage(stderr);
			return -1;
		}
	}
	o->cmd = argv + optind;
	return check(o) == 0 ? 0 : -1;
}

const struct dm_fault *
dutsim_fault_for(const struct dutsim_opts *o, unsigned index)
{
	size_t i;

	for (i = 0; i < o->n_faults; i++)
		if (o->faults[i].index == index)
			return &o->faults[i].fault;
	return NULL;
}

/* The DUT number a --fault UNIT names, or 0. */
static unsigned
unit_index(const struct dutsim_opts *o, const char *unit)
{
	size_t n = strlen(o->prefix);
	unsigned long v;

	if (num(unit, 1, o->count, 10, &v) == 0)
		return (unsigned)v;
	if (strncmp(unit, o->prefix, n) != 0 || unit[n] != '-' ||
	    strlen(unit + n + 1) < 4 || num(unit + n + 1, 1, o->count, 10, &v) != 0)
		return 0;
	return (unsigned)v;
}

int
dutsim_check_faults(struct dutsim_opts *o)
{
	size_t k, j;

	for (k = 0; k < o->n_faults; k++) {
		if ((o->faults[k].index = unit_index(o, o->faults[k].unit)) == 0) {
			fprintf(stderr, "tally-dutsim: --fault %s: no such DUT (1..%u)\n",
			    o->faults[k].unit, o->count);
			return -1;
		}
		for (j = 0; j < k; j++) {
			if (o->faults[j].index == o->faults[k].index) {
				fprintf(stderr, "tally-dutsim: DUT %u has two --fault "
				    "options (one per DUT)\n", o->faults[k].index);
				return -1;
			}
		}
	}
	return 0;
}
