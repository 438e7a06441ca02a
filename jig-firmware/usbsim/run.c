/*
 * run.c - tally-dutsim's line: start COMMAND in its own process group,
 * keep up to --slots DUTs plugged, unplug a DUT when the host is done with
 * it (it released every interface it claimed, or closed the node, or the
 * DUT timed out, or it left by an unplug fault) and plug the next; end
 * COMMAND when every DUT was served.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dutsim.h"
#include "err.h"
#include "log.h"
#include "simdut.h"

#define POLL_US 2000            /* main loop period */
#define RELEASE_GRACE_US 200000 /* no interface claimed and no ioctl for this long */

extern char **environ;

static int
spawn(struct dutsim *s)
{
	posix_spawnattr_t attr;
	int r;

	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	r = posix_spawnp(&s->child, s->o->cmd[0], NULL, &attr, s->o->cmd, environ);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		fprintf(stderr, "tally-dutsim: cannot start %s: %s\n", s->o->cmd[0],
		    strerror(r));
		return -1;
	}
	return 0;
}

static void
poll_child(struct dutsim *s)
{
	if (!s->child_done && waitpid(s->child, &s->child_status, WNOHANG) == s->child)
		s->child_done = 1;
}

/* SIGTERM, up to DUTSIM_TERM_WAIT seconds, SIGKILL; then the rest of its
 * process group. */
static void
end_child(struct dutsim *s)
{
	int i;

	if (!s->child_done) {
		kill(-s->child, SIGTERM);
		for (i = 0; i < DUTSIM_TERM_WAIT * 100 && !s->child_done; i++) {
			g_usleep(10000);
			poll_child(s);
		}
	}
	if (!s->child_done) {
		fprintf(stderr, "tally-dutsim: %s did not end after SIGTERM; killed\n",
		    s->o->cmd[0]);
		kill(-s->child, SIGKILL);
		while (waitpid(s->child, &s->child_status, 0) < 0 && errno == EINTR)
			;
		s->child_done = 1;
	}
	kill(-s->child, SIGKILL);       /* anything COMMAND left behind */
}

static int
plug(struct dutsim *s, struct dutsim_dut *d, unsigned port)
{
	struct dutmodel_config c;
	struct usbsim_ident id;
	int r;

	memset(&c, 0, sizeof(c));
	c.uid = (const uint8_t *)d->name;
	c.uid_len = strlen(d->name);
	c.product = s->o->product;
	c.oem_root = s->oem_root;
	c.attestation_key = s->att_key;
	memcpy(c.boot_key_hash, s->o->boot_key_hash, sizeof(c.boot_key_hash));
	c.software_version = s->o->software_version;
	c.fault = &d->fault;
	if ((r = dutmodel_new(&c, &d->m)) != 0) {
		log_tally_err(r, "DUT %s", d->name);
		return r;
	}
	usbsim_ident_init(&id, d->m, s->o->vid, s->o->pid);
	if ((r = usbsim_plug(s->bed, d->m, &id, port, &d->port)) != 0)
		return r;
	d->plugged = 1;
	return 0;
}

/* Why the host is done with a plugged DUT, or NULL while it is not. */
static const char *
done(const struct dutsim *s, const struct dutsim_dut *d,
    const struct usbsim_activity *a, gint64 now)
{
	if (a->gone)
		return "unplugged";
	if (a->had_client && !a->client_open)
		return "closed";
	if (a->ever_claimed && a->claimed == 0 &&
	    now - a->last_ioctl_us >= RELEASE_GRACE_US)
		return "released";
	if (now - d->port.plugged_us >= (gint64)s->o->dut_timeout * G_USEC_PER_SEC)
		return "timeout";
	return NULL;
}

static void
unplug(struct dutsim *s, struct dutsim_dut *d, const char *why)
{
	usbsim_handler_activity(d->port.handler, &d->act);
	d->ms = (g_get_monotonic_time() - d->port.plugged_us) / 1000;
	d->end = why;
	usbsim_unplug(s->bed, &d->port);
	d->plugged = 0;
	d->served = 1;
}

/* One pass over the slots. Returns the number of DUTs plugged now. */
static unsigned
tend(struct dutsim *s, unsigned *next, int plug_more)
{
	struct usbsim_activity a;
	unsigned slot, i, busy = 0;
	const char *why;
	gint64 now = g_get_monotonic_time();

	for (i = 0; i < s->o->count; i++) {
		struct dutsim_dut *d = &s->duts[i];

		if (!d->plugged)
			continue;
		usbsim_handler_activity(d->port.handler, &a);
		if ((why = done(s, d, &a, now)) != NULL)
			unplug(s, d, why);
		else
			busy |= 1u << (d->port.port - 1);
	}
	for (slot = 0; plug_more && slot < s->o->slots && *next < s->o->count; slot++) {
		if (busy & (1u << slot))
			continue;
		if (plug(s, &s->duts[*next], slot + 1) != 0)
			s->duts[*next].end = "not plugged (error)";
		(*next)++;
		busy |= 1u << slot;
	}
	for (i = 0, slot = 0; i < s->o->count; i++)
		slot += s->duts[i].plugged;
	return slot;
}

int
dutsim_run(struct dutsim *s)
{
	unsigned next = 0, plugged;
	unsigned i;

	/* The first DUTs are on the bus before COMMAND starts. */
	tend(s, &next, 1);
	if (spawn(s) != 0)
		return -1;
	for (;;) {
		poll_child(s);
		plugged = tend(s, &next, !s->child_done && !*s->stop);
		if (s->child_done || *s->stop || (next >= s->o->count && plugged == 0))
			break;
		usbsim_bed_collect(s->bed);
		g_usleep(POLL_US);
	}
	for (i = 0; i < s->o->count; i++)
		if (s->duts[i].plugged)
			unplug(s, &s->duts[i], s->child_done ? "command exited" : "stopped");
	end_child(s);
	return 0;
}
