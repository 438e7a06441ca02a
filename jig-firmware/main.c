/*
 * tally-jig - the programming station's client (DESIGN.md §6):
 *   tally-jig -c CONFIG run      program every DUT of the line, one line each
 *   tally-jig -c CONFIG once     program one DUT
 *   tally-jig -c CONFIG status   the appliance's products and units left
 * DUTs come from USB (usbsource.c) or, with [simulate], are simulated.
 * Exit status: 0 ok / 1 refused, failed or no DUT / 2 usage or setup error.
 * SIGINT/SIGTERM: the units in progress are finished, then the summary.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "run.h"
#include "setup.h"
#include "simdut.h"
#include "usbsource.h"

#define DEFAULT_CONFIG "/etc/tally/jig.conf"

/* Set by SIGINT/SIGTERM: finish the units in progress, then stop.
 * Lock-free (checked in main), so a signal handler may store to it. */
static atomic_int stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

/* SIGPIPE ignored (a closed TLS link is an error return, not a death);
 * SIGINT/SIGTERM ask for a stop. SA_RESTART keeps DUT I/O going. */
static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct opts {
	const char *config;
	int json;
	unsigned wait_s;              /* USB: give up waiting for a DUT (0 = never) */
	atomic_int *stop;             /* set by SIGINT/SIGTERM */
};

struct cmd {
	const char *name;
	int (*exec)(const struct opts *o);
	const char *help;
};

static int
load(const struct opts *o, int for_units, struct jig_setup *s)
{
	char msg[JIG_ERRMSG_MAX];

	if (jig_setup_load(o->config, for_units, s, msg, sizeof(msg)) == 0)
		return 0;
	fprintf(stderr, "tally-jig: %s\n", msg);
	return -1;
}

/* The DUT source of the configuration: simulated, or USB. */
static int
open_source(const struct opts *o, const struct jig_setup *s, unsigned count,
    struct jig_dut_source *src)
{
	struct usbsource_opts uo = { 0 };
	char msg[JIG_ERRMSG_MAX];
	int r;

	if (s->cfg.have_simulate) {
		r = simdut_source(s->cfg.sim_uid_prefix, count, s->cfg.product,
		    s->oem_root, src);
		if (r != 0)
			fprintf(stderr, "tally-jig: simulated DUTs: %s\n",
			    tally_strerror(r));
		return r;
	}
	uo.vid = s->cfg.usb_vid;
	uo.pid = s->cfg.usb_pid;
	uo.timeout_ms = s->cfg.usb_timeout_ms;
	uo.wait_ms = o->wait_s * 1000u;
	uo.stop = o->stop;
	if ((r = usbsource_open(&uo, src, msg, sizeof(msg))) != 0)
		fprintf(stderr, "tally-jig: %s\n", msg);
	return r;
}

/* The exit status of run or once, after jig_run returned r. */
static int
serve_status(const struct opts *o, const struct jig_setup *s, int once, int r,
    const struct jig_counts *n)
{
	unsigned total = n->programmed + n->refused + n->failed;

	if (r != 0 && total == 0)
		return r == TALLY_ERR_PERM ? 1 : 2;  /* refused, or could not start */
	if (once && total == 0 && !atomic_load(o->stop)) {
		if (o->wait_s > 0)
			fprintf(stderr, "tally-jig: no DUT (USB %04x:%04x) arrived "
			    "within %u s\n", s->cfg.usb_vid, s->cfg.usb_pid, o->wait_s);
		else
			fprintf(stderr, "tally-jig: no DUT to program\n");
	}
	if (once)
		return n->programmed == 1 ? 0 : 1;
	return r == 0 ? 0 : 1;
}

static int
serve(const struct opts *o, int once)
{
	struct jig_setup s;
	struct jig_dut_source src = { 0 };
	struct jig_counts n = { 0, 0, 0 };
	struct jig_run_opts ro = { once ? 1 : 0, 1, stdout, o->stop };
	char msg[JIG_ERRMSG_MAX] = "";
	int r, rc = 2;

	if (load(o, 1, &s) != 0 ||
	    open_source(o, &s, once ? 1 : s.cfg.sim_duts, &src) != 0)
		goto out;
	if (!once && !s.cfg.have_simulate)
		ro.slots = s.cfg.usb_slots;
	r = jig_run(&s, &src, &ro, &n, msg, sizeof(msg));
	if (r != 0)
		fprintf(stderr, "tally-jig: %s\n", msg);
	rc = serve_status(o, &s, once, r, &n);
	if (!once && (r == 0 || n.programmed + n.refused + n.failed > 0))
		printf("jig: programmed=%u refused=%u failed=%u\n",
		    n.programmed, n.refused, n.failed);
 out:
	if (src.close != NULL)
		src.close(src.ctx);
	jig_setup_free(&s);
	return rc;
}

static int
cmd_run(const struct opts *o)
{
	return serve(o, 0);
}

static int
cmd_once(const struct opts *o)
{
	return serve(o, 1);
}

static int
cmd_status(const struct opts *o)
{
	struct jig_setup s;
	struct jig_client *c = NULL;
	Tally__Response *hello = NULL;
	char msg[JIG_ERRMSG_MAX];
	int r, rc = 2;

	if (load(o, 0, &s) != 0)
		goto out;
	r = jig_connect_retry(&s, 0, &c, &hello, msg, sizeof(msg));
	if (r != 0) {
		fprintf(stderr, "tally-jig: %s\n", msg);
		rc = r == TALLY_ERR_PERM ? 1 : 2;
		goto out;
	}
	rc = jig_print_hello(hello->hello, o->json, stdout) == 0 ? 0 : 2;
 out:
	if (hello != NULL)
		tally__response__free_unpacked(hello, NULL);
	jig_client_close(c);
	jig_setup_free(&s);
	return rc;
}

static const struct cmd cmds[] = {
	{ "run", cmd_run, "program every DUT of the line; one line per unit, then a summary" },
	{ "once", cmd_once, "program one DUT; exit 0 programmed, 1 refused, failed or no DUT" },
	{ "status", cmd_status, "show the appliance's products and units left (--json)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: tally-jig [-c CONFIG] [--json] [--wait SECONDS] COMMAND\n\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "      --json         status: print JSON\n"
	    "      --wait SECONDS USB: stop waiting for a DUT after SECONDS without\n"
	    "                     one (once: exit 1; run: summary, exit 0)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n\ncommands:\n", DEFAULT_CONFIG);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\nexit status: 0 ok, 1 refused, failed or no DUT, 2 usage or setup error\n");
}

static int
parse_wait(const char *v, unsigned *out)
{
	unsigned long n;
	char *end;

	if (v[0] < '0' || v[0] > '9')
		return -1;
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n < 1 || n > 86400)
		return -1;
	*out = (unsigned)n;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { DEFAULT_CONFIG, 0, 0, &stop_requested };
	size_t i;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.config = optarg; break;
		case 'j': o.json = 1; break;
		case 'w':
			if (parse_wait(optarg, &o.wait_s) != 0) {
				fprintf(stderr, "tally-jig: --wait: expected "
				    "seconds, 1..86400\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tally-jig %s\n", TALLY_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	signals();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0)
			return cmds[i].exec(&o);
	fprintf(stderr, "tally-jig: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
