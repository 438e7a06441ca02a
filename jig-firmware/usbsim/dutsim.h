/*
 * dutsim.h - the pieces of tally-dutsim (usbsim/main.c): its options
 * (opts.c), the line of simulated DUTs it plugs and unplugs while a command
 * runs (run.c), and the report it prints (report.c).
 */
#ifndef JIG_DUTSIM_H
#define JIG_DUTSIM_H

#include <stdio.h>
#include <sys/types.h>
#include "usbsim.h"

#define DUTSIM_COUNT_MAX 100000
#define DUTSIM_SLOTS_MAX 32
#define DUTSIM_FAULTS_MAX 64
#define DUTSIM_TIMEOUT_DEFAULT 60       /* seconds a DUT may stay plugged */
#define DUTSIM_TERM_WAIT 10             /* seconds COMMAND gets after SIGTERM */

struct dutsim_fault {
	char unit[TALLY_UID_MAX + 1]; /* "N" (1-based) or a UID PREFIX-NNNN, as given */
	unsigned index;         /* the DUT it names, set by dutsim_check_faults */
	struct dm_fault fault;
};

struct dutsim_opts {
	const char *oem_root;           /* PEM path */
	const char *product;
	const char *prefix;             /* UID prefix */
	unsigned count, slots;
	const char *attestation_key;    /* key URI or NULL */
	uint8_t boot_key_hash[TALLY_DIGEST_LEN];
	uint32_t software_version;
	uint16_t vid, pid;
	unsigned dut_timeout;           /* seconds */
	int json;
	struct dutsim_fault faults[DUTSIM_FAULTS_MAX];
	size_t n_faults;
	char **cmd;                     /* COMMAND [ARG...], NULL-terminated */
};

/* Parses the command line into *o. Returns 0, 1 when --help was printed
 * (exit 0), or -1 after a usage message on stderr (exit 2). */
int dutsim_parse(int argc, char **argv, struct dutsim_opts *o);

/* The fault for DUT number index (1-based), or NULL. */
const struct dm_fault *dutsim_fault_for(const struct dutsim_opts *o,
    unsigned index);

/* Sets each fault's index; -1 (message on stderr) when a --fault names no
 * DUT of the line, or two name the same DUT. */
int dutsim_check_faults(struct dutsim_opts *o);

/* One DUT of the line. */
struct dutsim_dut {
	unsigned index;                 /* 1..count */
	char name[TALLY_UID_MAX + 1];   /* PREFIX-NNNN, its fused UID */
	struct dm_fault fault;
	struct dutmodel *m;             /* made when plugged */
	struct usbsim_port port;
	int plugged;                    /* on the bus now */
	int served;                     /* was plugged and has left */
	const char *end;                /* why it left: released, closed, timeout, unplugged, ... */
	struct usbsim_activity act;     /* the host's activity when it left */
	gint64 ms;                      /* time on the bus */
};

/* Shared state of a run. */
struct dutsim {
	const struct dutsim_opts *o;
	EVP_PKEY *oem_root, *att_key;
	struct usbsim_bed *bed;
	struct dutsim_dut *duts;        /* count of them */
	pid_t child;                    /* COMMAND, its own process group */
	int child_status;               /* waitpid status once reaped */
	int child_done;
	volatile sig_atomic_t *stop;    /* set by SIGINT/SIGTERM */
};

/* Starts COMMAND, serves the line (plug, wait until the host is done,
 * unplug, next) until every DUT was served, COMMAND exited or a stop was
 * asked; then ends COMMAND (SIGTERM, bounded wait, SIGKILL) and its
 * process group. Returns 0 or -1 when COMMAND could not be started. */
int dutsim_run(struct dutsim *s);

/* One line per DUT (text, or JSON lines) to f. */
void dutsim_report(const struct dutsim *s, FILE *f);

#endif
