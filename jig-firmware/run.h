/*
 * run.h - tally-jig's subcommands on top of client.h, jig.h and the DUT
 * sources: connecting with bounded retries, serving a line of DUTs (one
 * or several at once), and the status query.
 */
#ifndef JIG_RUN_H
#define JIG_RUN_H

#include <stdatomic.h>
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
	unsigned max_units;   /* 0 = until the source runs out or a stop */
	unsigned slots;       /* DUTs programmed at once, 1..JIG_SLOTS_MAX; 0 = 1 */
	FILE *out;            /* one line per unit */
	atomic_int *stop;     /* non-zero: start no further unit (set by SIGINT/
	                       * SIGTERM); jig_run sets it too when the run ends
	                       * on an error, so a source waiting on the same flag
	                       * returns; may be NULL */
};

/* Serves a line: o->slots worker threads, each with its own connection to
 * the appliance (all made before any DUT is touched), take DUTs from src
 * (src->next is called by one thread at a time) until it runs out
 * (TALLY_ERR_NOT_FOUND, or TALLY_ERR_TIMEOUT: no DUT within the source's
 * wait), o->max_units were started, or *o->stop is set. Each DUT is
 * programmed with jig_program; its jig_unit_line goes to o->out (whole
 * lines, one slot at a time) and it is added to *counts.
 * When a slot's link drops it reconnects (bounded by the configuration's
 * reconnect_attempts, with backoff) and resumes its unit where it was;
 * after a stop no reconnect is tried (that unit fails: TALLY_ERR_CLOSED).
 * Units in progress are always finished before jig_run returns.
 * Returns 0, or the first error that ended the run, with errmsg set: the
 * appliance could not be reached (before the first unit, or again after
 * a drop: that unit counts as failed), TALLY_ERR_PERM when it refused
 * this jig (JIG_REVOKED, JIG_NOT_ENROLLED), a DUT source error,
 * TALLY_ERR_INVALID (slots), TALLY_ERR_NOMEM. */
int jig_run(const struct jig_setup *s, struct jig_dut_source *src,
    const struct jig_run_opts *o, struct jig_counts *counts,
    char *errmsg, size_t cap);

/* Writes the Hello response as text (or JSON when json != 0) to out.
 * Returns 0 or TALLY_ERR_NOMEM / TALLY_ERR_IO. */
int jig_print_hello(const Tally__HelloResponse *h, int json, FILE *out);

#endif
