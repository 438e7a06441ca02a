/*
 * ctl.h - tallyctl: the operator's command line for tallyd. It talks only to
 * the control socket (client.h) and never opens the database.
 *
 * main.c is a table of commands; each command lives in a cmd_*.c file as a
 * `const struct ctl_cmd` with its words, usage and exec function. Exit
 * status (DESIGN.md §6): CTL_EXIT_OK, CTL_EXIT_REFUSED (tallyd refused or
 * an anomaly was found), CTL_EXIT_USAGE (usage or setup error, including
 * tallyd not running).
 */
#ifndef TALLYCTL_CTL_H
#define TALLYCTL_CTL_H

#include <stdint.h>
#include <stdio.h>
#include "cmdtab.h"
#include <jansson.h>
#include <openssl/evp.h>
#include "client.h"

enum { CTL_EXIT_OK = 0, CTL_EXIT_REFUSED = 1, CTL_EXIT_USAGE = 2 };

/* What every command gets from the global options. */
struct ctl_ctx {
	const char *socket_path;  /* -s/--socket, $TALLY_SOCKET or the default */
	int timeout_ms;           /* per socket read/write */
};

struct ctl_cmd {
	struct tally_cmd_words words;  /* first: see lib/cmdtab.h */
	int (*exec)(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
	    int argc, char **argv);  /* argv[0] is the last command word */
};

extern const struct ctl_cmd ctl_cmd_status;
extern const struct ctl_cmd ctl_cmd_identity;
extern const struct ctl_cmd ctl_cmd_quota_import;
extern const struct ctl_cmd ctl_cmd_quota_list;
extern const struct ctl_cmd ctl_cmd_jig_enroll;
extern const struct ctl_cmd ctl_cmd_jig_list;
extern const struct ctl_cmd ctl_cmd_jig_revoke;
extern const struct ctl_cmd ctl_cmd_log_export;
extern const struct ctl_cmd ctl_cmd_checkpoint;
extern const struct ctl_cmd ctl_cmd_token_show;
extern const struct ctl_cmd ctl_cmd_log_proof;
extern const struct ctl_cmd ctl_cmd_log_consistency;
extern const struct ctl_cmd ctl_cmd_receipt_import;

/* Prints "usage: tallyctl [-s PATH] GROUP SUB ARGS" and the help text to f. */
void ctl_usage(const struct ctl_cmd *cmd, FILE *f);

/* Prints "tallyctl: <group> [<sub>]: <fmt...>" and a newline to stderr. */
void ctl_errx(const struct ctl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses the options every data command takes (--help, --json) and checks
 * that exactly nargs positional arguments follow; *first is the index of
 * the first one in argv. Returns -1 to go on, or the exit status to
 * return now (CTL_EXIT_OK after --help, CTL_EXIT_USAGE on a bad option). */
int ctl_std_opts(const struct ctl_cmd *cmd, int argc, char **argv,
    int nargs, int *json, int *first);

/* Connects to tallyd, sends req, reads the response and checks it is not
 * refused and carries body `want`. On success returns CTL_EXIT_OK and
 * *resp (tally__ctl_response__free_unpacked(.., NULL)). Otherwise prints
 * one line and returns CTL_EXIT_REFUSED (tallyd answered error != OK:
 * "ERROR_NAME: message") or CTL_EXIT_USAGE (not running, socket error,
 * malformed answer). */
int ctl_rpc(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd,
    Tally__CtlRequest *req, Tally__CtlResponse__BodyCase want,
    Tally__CtlResponse **resp);

/* One request on an open client c, checked as ctl_rpc checks it: on
 * success CTL_EXIT_OK and *resp (free it as ctl_rpc's, also after a
 * refusal, when it is not NULL); otherwise the line is printed and the
 * exit status returned. */
int ctl_call(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd, struct ctl_client *c,
    Tally__CtlRequest *req, Tally__CtlResponse__BodyCase want, Tally__CtlResponse **resp);

/* Connects, printing the one-line reason on failure (e.g. "tallyd is not
 * running (no socket at PATH)"). Returns CTL_EXIT_OK or CTL_EXIT_USAGE. */
int ctl_connect(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd,
    struct ctl_client **c);

/* Prints a refused response ("ERROR_NAME: message"); returns CTL_EXIT_REFUSED. */
int ctl_refused(const struct ctl_cmd *cmd, const Tally__CtlResponse *resp);

/* Prints a transport or protocol error r from client.h; returns CTL_EXIT_USAGE. */
int ctl_io_failed(const struct ctl_cmd *cmd, const struct ctl_ctx *ctx, int r);

/* --- verification against the appliance key (verify.c) --- */

#define CTL_ORIGIN_MAX 128   /* == TALLY_ORIGIN_MAX (lib/checkpoint.h) */

/* The appliance public key proofs are verified against: the PEM public
 * key in keyfile when not NULL (e.g. the appliance.pub the OEM holds),
 * else tallyd's `identity` on c, whose key ID must match its SPKI.
 * *pub (EVP_PKEY_free) and origin (the checkpoint origin of that key,
 * CTL_ORIGIN_MAX bytes). Returns CTL_EXIT_OK or prints why and returns
 * CTL_EXIT_USAGE (file, socket) or CTL_EXIT_REFUSED (tallyd refused, or
 * sent a key whose ID does not match). */
int ctl_appliance_key(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd,
    struct ctl_client *c, const char *keyfile, EVP_PKEY **pub, char *origin);

/* Checks that note is a checkpoint signed by pub for origin, of tree size
 * size and root hash root (root_len must be 32). what names the note in
 * the message ("checkpoint", ...). CTL_EXIT_OK, or prints why and returns
 * CTL_EXIT_REFUSED. */
int ctl_check_note(const struct ctl_cmd *cmd, const char *what, const char *note,
    EVP_PKEY *pub, const char *origin, uint64_t size, const uint8_t *root, size_t root_len);

/* Copies n hashes of a proof into out (room for TALLY_PROOF_MAX); each
 * must be 32 bytes. 0, or TALLY_ERR_INVALID. */
int ctl_proof_hashes(const ProtobufCBinaryData *h, size_t n, uint8_t (*out)[32]);

/* Lower-case hex of len bytes (at most 64) as a JSON string, or NULL. */
json_t *ctl_json_hex(const uint8_t *buf, size_t len);

/* Writes obj (reference stolen) to stdout, indented, with a newline.
 * Returns CTL_EXIT_OK, or CTL_EXIT_USAGE if obj is NULL or stdout fails. */
int ctl_json_print(const struct ctl_cmd *cmd, json_t *obj);

/* Lower-case hex of len bytes into out (at least 2*len+1 chars); returns out. */
char *ctl_hex(const uint8_t *buf, size_t len, char *out);

/* "YYYY-MM-DDTHH:MM:SSZ" for Unix seconds t into out (at least 21 chars),
 * "-" for 0; returns out. */
char *ctl_time(int64_t t, char out[32]);

#endif
