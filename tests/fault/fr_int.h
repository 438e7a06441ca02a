/* fr_int.h - what the fault harness's files share (tests/fault). */
#ifndef TALLY_FR_INT_H
#define TALLY_FR_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "tests/fault/faultrun.h"
#include "tests/harness/harness.h"

#define FR_JIGS_MAX 8
#define FR_BATCH 8            /* IssueTokens pipelined per batch */
#define FR_UID_LEN 8          /* "flt", jig, 32-bit sequence */
#define FR_PRODUCT "widget"
#define FR_UNITS 100000000u
#define FR_SCRAP 1000000u     /* scrap allowance: FAILED reports return units */
#define FR_NOTES_MAX 64       /* checkpoints kept for the next check */

struct fr_tok {               /* one token a jig received */
	uint8_t uid[FR_UID_LEN];
	uint8_t *env;             /* the token Envelope (free()) */
	size_t env_len;
};

struct fr;

struct fr_jig {
	struct fr *fr;
	unsigned id;
	SSL_CTX *ctx;             /* client context, made once */
	uint32_t next;            /* next fresh UID sequence number */
	uint8_t pending[FR_BATCH][FR_UID_LEN];  /* sent, never answered */
	size_t n_pending;
	struct fr_tok *tok;       /* every token received, one per UID */
	size_t n_tok, cap_tok;
	uint64_t received;        /* answers with a token (reissues too) */
	uint64_t reports;         /* install reports tallyd acknowledged */
	uint64_t reports_sent;
	char err[400];            /* an unexpected refusal: a failure */
};

struct fr_note {              /* a checkpoint tallyd gave out */
	uint64_t size;
	uint8_t root[32];
	char *text;               /* free() */
};

struct fr {
	struct th *t;
	const struct fr_opts *o;
	struct fr_result *res;
	uint8_t qid[16];
	atomic_bool stop;         /* ends the load of a round */
	uint16_t port;            /* tallyd's port during the round */
	struct fr_jig jig[FR_JIGS_MAX];
	struct fr_note notes[FR_NOTES_MAX];  /* control thread during a round */
	size_t n_notes;
	uint64_t checkpoints, receipts;      /* acknowledged */
};

/* fr_load.c: the jig threads and the control thread of one round. */
void *fr_jig_main(void *arg);
void *fr_ctl_main(void *arg);
unsigned fr_rand(unsigned lo, unsigned hi);
void fr_sleep_ms(unsigned ms);
/* Keeps a checkpoint note (verified with t's key) in fr->notes. */
void fr_note_keep(struct fr *fr, const char *text);
void fr_notes_clear(struct fr *fr);

/* fr_check.c: every check after a restart. With reconcile, the full
 * export also goes through oem_reconcile_file (every signature, the root
 * recomputed from the entries, returned units); without, the checkpoints
 * seen are checked against tallyd's current one by consistency proofs.
 * Returns 0 or TALLY_ERR_MISMATCH with "# fault: ..." lines on stderr. */
int fr_check(struct fr *fr, bool reconcile);

#endif
