/*
 * run.h - tally-jig's subcommands on top of client.h, jig.h and the DUT
 * sources: connecting with bounded retries, serving a batch of DUTs over
 * one connection, and the status query.
 */
#ifndef JIG_RUN_H
#define JIG_RUN_H

#include <signal.h>
#include <stdio.h>
#include "client.h"
#include "jig.h"
#include "setup.h"
#include "transport.h"

#define JIG_SOFTWARE "tally-jig " TALLY_VERSION

struct jig_counts {
	unsigned programmed, refused, failed;
};

/* Connects to the configured appliance and sends Hello (so a jig the
 * appliance does not accept is told at once). Up to attempts + 1 tries,
 * waiting 0.5, 1, 2, 4, 8, 8, ... seconds between them; errors that a
 * retry cannot fix (wrong appliance key, TLS refused, the jig refused by
 * the appliance) end it at once. On 0, *out is connected
 * (jig_client_close) and, when hello is not NULL, *hello holds the Hello
 * response (tally__response__free_unpacked). On error errmsg (cap bytes)
 * says why. Errors: those of jig_client_connect and jig_client_hello, and
 * TALLY_ERR_PERM when the appliance refused the jig. */
int jig_connect_retry(const struct jig_setup *s, unsigned attempts,
    struct jig_client **out, Tally__Response **hello, char *errmsg, size_t cap);

/* One line about a finished unit, without newline, e.g.
 * "unit STR-0001: programmed, token #17, serial 1001" or
 * "unit STR-0042: refused: QUOTA_EXHAUSTED (quota 3f.. has no units left)". */
void jig_unit_line(const struct jig_unit *u, char *buf, size_t cap);

struct jig_run_opts {
	unsigned max_units;                /* 0 = until the source runs out */
	FILE *out;                         /* one line per unit */
	const volatile sig_atomic_t *stop; /* non-zero: stop after this unit; may be NULL */
};

/* Programs every DUT src gives (at most o->max_units) in sequence over one
 * connection, printing jig_unit_line for each to o->out and adding to
 * *counts. When *o->stop becomes non-zero (a signal), the unit in
 * progress is finished, no further unit is started and no reconnect is
 * tried (a unit whose link drops then fails: TALLY_ERR_CLOSED). When the link drops, reconnects (bounded by the
 * configuration's reconnect_attempts) and resumes the unit in progress.
 * Returns 0 when src ran out or max_units were done; a negative error
 * with errmsg set when the appliance could not be reached (before the
 * first unit, or again after a drop: that unit counts as failed), or
 * TALLY_ERR_PERM when it refused this jig (JIG_REVOKED, JIG_NOT_ENROLLED:
 * the run stops after that unit). */
int jig_run(const struct jig_setup *s, struct jig_dut_source *src,
    const struct jig_run_opts *o, struct jig_counts *counts,
    char *errmsg, size_t cap);

/* Writes the Hello response as text (or JSON when json != 0) to out.
 * Returns 0 or TALLY_ERR_NOMEM / TALLY_ERR_IO. */
int jig_print_hello(const Tally__HelloResponse *h, int json, FILE *out);

#endif
