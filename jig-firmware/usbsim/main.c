/*
 * tally-dutsim - simulated tally provisioning DUTs on a umockdev USB bus,
 * for a command that drives them through libusb (docs/jig-guide.md,
 * docs/dut-protocol.md):
 *
 *   tally-dutsim --oem-root PEM --product NAME --uid-prefix STR --count N
 *       [options] -- COMMAND [ARG...]
 *
 * Hotplug needs this process to run with libumockdev-preload: when it does
 * not, it re-executes itself under umockdev-wrapper (with
 * ASAN_OPTIONS=verify_asan_link_order=0 added, which AddressSanitizer builds
 * need next to the preload; COMMAND inherits both). The testbed folder is
 * removed at exit; COMMAND and its process group are ended.
 * Exit: 0 COMMAND exited 0, 1 it did not, 2 usage or setup error.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dutsim.h"
#include "err.h"
#include "key.h"
#include "simdut.h"

#define REEXEC_MARK "TALLY_DUTSIM_REEXEC"

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int
load_keys(const struct dutsim_opts *o, struct dutsim *s)
{
	int r;

	if ((r = tally_key_load_public(o->oem_root, &s->oem_root)) != 0) {
		fprintf(stderr, "tally-dutsim: --oem-root %s: %s\n", o->oem_root,
		    tally_strerror(r));
		return -1;
	}
	if (o->attestation_key != NULL &&
	    (r = tally_key_load(o->attestation_key, &s->att_key)) != 0) {
		fprintf(stderr, "tally-dutsim: --attestation-key %s: %s\n",
		    o->attestation_key, tally_strerror(r));
		return -1;
	}
	return 0;
}

static int
make_line(const struct dutsim_opts *o, struct dutsim *s)
{
	const struct dm_fault *f;
	unsigned i;

	if ((s->duts = calloc(o->count, sizeof(*s->duts))) == NULL)
		return -1;
	for (i = 0; i < o->count; i++) {
		s->duts[i].index = i + 1;
		if (simdut_uid_name(o->prefix, i + 1, s->duts[i].name,
		    sizeof(s->duts[i].name)) < 0)
			return -1;
		if ((f = dutsim_fault_for(o, i + 1)) != NULL)
			s->duts[i].fault = *f;
	}
	return 0;
}

static void
cleanup(struct dutsim *s)
{
	unsigned i;

	usbsim_bed_free(s->bed);        /* handlers first: they borrow the models */
	for (i = 0; s->duts != NULL && i < s->o->count; i++)
		dutmodel_free(s->duts[i].m);
	free(s->duts);
	EVP_PKEY_free(s->oem_root);
	EVP_PKEY_free(s->att_key);
}

int
main(int argc, char **argv)
{
	struct dutsim_opts o;
	struct dutsim s;
	int r, rc = 2;

	if ((r = dutsim_parse(argc, argv, &o)) != 0)
		return r > 0 ? 0 : 2;
	if (!usbsim_under_preload()) {
		usbsim_reexec_preloaded("tally-dutsim", REEXEC_MARK, argv);
		return 2;
	}
	unsetenv(REEXEC_MARK);
	signals();
	memset(&s, 0, sizeof(s));
	s.o = &o;
	s.stop = &stop_requested;
	if (load_keys(&o, &s) != 0 || make_line(&o, &s) != 0 ||
	    usbsim_bed_new(&s.bed) != 0 || dutsim_run(&s) != 0)
		goto out;
	dutsim_report(&s, stdout);
	rc = WIFEXITED(s.child_status) && WEXITSTATUS(s.child_status) == 0 ? 0 : 1;
 out:
	cleanup(&s);
	return rc;
}
