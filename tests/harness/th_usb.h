/*
 * th_usb.h - the USB integration tests (tests/integration/test_usb*.c) on
 * top of harness.h: a real tallyd (th_setup) with one enrolled jig, a quota
 * for a firmware image made here (optionally requiring the attestation of
 * a P-256 key the simulated DUTs hold), and a line: the real
 * $TALLY_BUILD/tally-dutsim putting simulated DUTs on a umockdev USB bus
 * and running the real $TALLY_BUILD/tally-jig (USB backend, libusb,
 * hotplug) against them, bounded in time (th_proc.h). What the line did is
 * read back from both sides: tally-jig's per-unit lines and summary,
 * tally-dutsim's JSON line per DUT, and the appliance's log export
 * (tokens, install reports, attestation failures) and quota counters.
 *
 * Files in t->dir: dut-att.key (the DUTs' attestation key, 0600),
 * firmware.bin, jig.conf.
 *
 * Return conventions as in harness.h: 0 or a negative tally_err.
 */
#ifndef TALLY_TH_USB_H
#define TALLY_TH_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "harness.h"
#include "th_proc.h"

#define TH_USB_MAX 64          /* DUTs per line, tokens/reports/refusals per log */
#define TH_USB_FAULTS_MAX 8
#define TH_USB_RUN_TIMEOUT_MS 90000  /* default limit of one line */
#define TH_USB_JIG_WAIT_S "30" /* tally-jig --wait: an orphaned jig ends by itself */

struct th_usb_opts {
	uint64_t units;                 /* quota units; 0 = 20 */
	uint64_t scrap_allowance;       /* quota scrap_allowance */
	bool attest;                    /* the quota requires the DUTs' attestation key */
	unsigned slots;                 /* tally-jig [usb] slots; 0 = 2 */
	unsigned transfer_timeout_ms;   /* tally-jig [usb] transfer_timeout_ms; 0 = 300 */
	size_t firmware_len;            /* image bytes; 0 = 20000 (5 DFU blocks) */
};

struct th_usb {
	struct th *t;
	EVP_PKEY *att;                  /* the DUTs' attestation key (P-256) */
	uint8_t att_id[32];             /* its key ID */
	uint8_t fw_digest[32];          /* SHA-256 of the image */
	uint8_t qid[16];                /* the quota */
	char att_path[TH_PATH], fw_path[TH_PATH], jig_conf[TH_PATH];
	char bin[TH_PATH];              /* $TALLY_BUILD, default build/check */
};

/* th_setup (one jig, enrolled), the attestation key, the image, the
 * quota (imported) and jig.conf ([jig] timeout 5 s, reconnect_attempts 1;
 * [usb] with o's slots and transfer timeout, default VID:PID). On failure
 * everything is undone. Errors: those of th_setup, th_make_quota and the
 * key functions, TALLY_ERR_IO, TALLY_ERR_INVALID (the quota refused). */
int th_usb_setup(struct th_usb *u, const struct th_usb_opts *o);

/* Stops and removes everything th_usb_setup made. NULL-safe fields. */
void th_usb_cleanup(struct th_usb *u);

/* One run of tally-dutsim with tally-jig as its COMMAND. */
struct th_line {
	const char *prefix;             /* DUT UIDs PREFIX-0001, PREFIX-0002, ... */
	unsigned count;                 /* DUTs, 1..TH_USB_MAX */
	unsigned slots;                 /* DUTs on the bus at once; 0 = 1 */
	const char *faults[TH_USB_FAULTS_MAX + 1]; /* "UNIT:KIND[:WHERE]", NULL-ended */
	bool no_attestation_key;        /* DUTs without --attestation-key */
	bool once;                      /* tally-jig once instead of run */
	int timeout_ms;                 /* 0 = TH_USB_RUN_TIMEOUT_MS */
};

/* One DUT as tally-dutsim reported it (--json). */
struct th_dut {
	int unit;                       /* 1..count */
	char uid[65], presented[65];    /* fused UID, UID it showed the host */
	char state[24];                 /* BLANK, TOKEN_ACCEPTED, PROGRAMMED, REJECTED */
	char verdict[24];               /* last bundle verdict, "" when none */
	char dfu[24], dfu_last[24];     /* DFU status, last DFU error ("" none) */
	char fault[64], end[32];
	bool fault_fired;
	int64_t token;                  /* log index of the accepted token, -1 none */
	unsigned transfers;
};

struct th_line_res {
	struct th_proc_res proc;        /* tally-dutsim */
	int jig_exit;                   /* tally-jig's exit code, -1 when not seen */
	bool summary;                   /* "jig: programmed=..." seen */
	unsigned programmed, refused, failed;
	struct th_dut duts[TH_USB_MAX];
	size_t n_duts;
	bool sanitizer;                 /* an ASan/UBSan/LSan report of any process */
};

/* Runs the line: tally-dutsim --oem-root --product widget --uid-prefix
 * --count --slots --json --dut-timeout 20 [--attestation-key] [--fault]...
 * -- /bin/sh -c 'trap "" TERM; tally-jig ...; echo "jig-exit $?"; exit
 * with it' (the shell survives tally-dutsim's SIGTERM to report the jig's
 * exit code; tally-jig sets its own handlers). Parses the output into *res (release
 * with th_line_res_free, also on error). res->sanitizer is set for any
 * sanitizer report on stderr (tally-dutsim, tally-jig or the shell). Errors:
 * those of th_proc_run, TALLY_ERR_INVALID (l out of range, a JSON line
 * that does not parse). */
int th_usb_line(struct th_usb *u, const struct th_line *l, struct th_line_res *res);

/* Frees what res holds; safe to call again. */
void th_line_res_free(struct th_line_res *res);

/* The text after "unit UID: " of tally-jig's nth (0-based) line for uid
 * into buf (cap bytes); false when there is no such line. */
bool th_unit_line(const struct th_line_res *res, const char *uid, unsigned nth,
    char *buf, size_t cap);

/* How many tally-jig lines name uid. */
unsigned th_unit_lines(const struct th_line_res *res, const char *uid);

/* tally-dutsim's report of the DUT whose fused UID is uid, or NULL. */
const struct th_dut *th_dut_of(const struct th_line_res *res, const char *uid);

/* --- the appliance's side --- */

struct th_usb_token {
	char uid[65];                   /* device UID (printable in these tests) */
	uint64_t index;                 /* log index */
	uint8_t att_key_id[32];         /* Token.attestation_key_id */
	size_t att_key_id_len;          /* 0 when not attested */
};

struct th_usb_report {
	char uid[65];
	uint64_t token_index;
	int result;                     /* Tally__InstallResult */
	char reason[257];
	bool unit_returned;             /* LogInstallReported.unit_returned */
};

struct th_usb_attfail {
	char uid[65];
	uint8_t jig_key_id[32], quota_id[16];
	char reason[128];
};

struct th_usb_log {
	struct th_usb_token tokens[TH_USB_MAX];
	struct th_usb_report reports[TH_USB_MAX];
	struct th_usb_attfail attfails[TH_USB_MAX];
	size_t n_tokens, n_reports, n_attfails;
	uint64_t entries;
};

/* Exports the whole log (th_export into t->dir, removed afterwards) and
 * collects its tokens, install reports and attestation failures, in log
 * order. Errors: those of th_export, TALLY_ERR_INVALID (an entry or
 * payload that does not parse, an index gap), TALLY_ERR_TOO_LARGE (more
 * than TH_USB_MAX of a kind). */
int th_usb_log_read(struct th_usb *u, struct th_usb_log *out);

/* The quota's counters from `quota list`: tokens issued, units returned. */
int th_usb_quota(struct th_usb *u, uint64_t *issued, uint64_t *returned);

/* Tokens / reports of uid in log, and the first of each (NULL if none). */
unsigned th_usb_tokens_of(const struct th_usb_log *log, const char *uid);
const struct th_usb_token *th_usb_token_of(const struct th_usb_log *log, const char *uid);
unsigned th_usb_reports_of(const struct th_usb_log *log, const char *uid);
const struct th_usb_report *th_usb_report_of(const struct th_usb_log *log, const char *uid);

/* --- cmocka fixture --- */

/* A test's state; results live here so that teardown frees them after a
 * failed assertion too. */
struct th_usb_fx {
	struct th_usb u;
	struct th_line_res res[3];
	struct th_usb_log log;
};

/* *state = a new struct th_usb_fx after th_usb_setup(o); -1 on failure
 * (nothing left). Teardown: th_line_res_free of each res, th_usb_cleanup,
 * free; NULL state is fine. */
int th_usb_fx_setup(void **state, const struct th_usb_opts *o);
int th_usb_fx_teardown(void **state);

/* --- checks (true, or false with "# ..." lines on stderr saying why) --- */

/* The line ended by itself within its time (no SIGTERM from the test),
 * left no process behind, had no sanitizer report, tally-jig exited jig_exit, and tally-dutsim 0 when the
 * jig did, else 1. */
bool th_line_clean(const struct th_line_res *res, int jig_exit);

/* Both sides and the appliance agree that uid was programmed once:
 * tally-dutsim PROGRAMMED, bundle OK, DFU OK, token N, left the bus by
 * itself; exactly one of tally-jig's lines for uid "programmed, token #N"
 * (maybe followed by ", ..."); the log
 * has exactly one token for uid, at index N (naming u->att_id when
 * attested, no attestation key otherwise) and an INSTALLED report of N. */
bool th_usb_programmed(const struct th_usb *u, const struct th_line_res *res,
    const struct th_usb_log *log, const char *uid, bool attested);

#endif
