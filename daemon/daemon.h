/*
 * daemon.h - the tallyd context: everything the loop thread's modules
 * (listener, session, control) share, held in one struct made by main.c and
 * passed to every callback. No globals.
 *
 * Threading: every field is owned by the loop thread except `writer`, whose
 * functions are thread-safe (writer.h), and `key`, which the writer thread
 * also uses read-only for signing.
 */
#ifndef TALLYD_DAEMON_H
#define TALLYD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config.h"
#include "ratelimit.h"

struct store;
struct writer;
struct listener;
struct control;
struct session;

/* Table of live jig sessions, indexed by slot. A connection ID is
 * (sequence << 32) | slot, so the writer's done() callback finds its
 * session in O(1) and a stale ID (the slot was reused) finds nothing. */
struct session_table {
	struct session **slot;  /* cfg->max_connections entries */
	uint32_t cap;
	uint32_t count;         /* live sessions */
	uint32_t next_seq;      /* sequence part of the next connection ID */
	struct ratelimit rl;    /* per-jig request buckets (cfg->rate_limit), cap entries */
	uint64_t refused;       /* connections refused at accept (max_connections) */
	uint64_t refused_logged;   /* value of refused when last logged */
	uint64_t refused_log_ns;   /* tally_mono_ns() of that log line */
};

struct tallyd {
	struct event_base *base;
	const struct tallyd_config *cfg;
	struct store *store;
	struct writer *writer;

	EVP_PKEY *key;              /* appliance key (owned by main) */
	EVP_PKEY *oem_root;         /* OEM root public key (owned by main) */
	uint8_t key_id[32];         /* SHA-256 of the appliance SPKI */
	uint8_t *spki;              /* DER SPKI of the appliance key (OPENSSL_free) */
	size_t spki_len;

	SSL_CTX *tls;               /* jig server context (tls.h) */
	struct listener *listener;  /* jig TLS listener */
	struct control *control;    /* control UNIX socket */
	struct session_table sessions;

	char listen_addr[64];       /* actual "host:port" of the jig listener */
	int64_t started_at;         /* Unix seconds */
	gid_t control_gid;          /* group of the control socket and its peers */
	const char *stop_reason;    /* set by the signal handler, e.g. "SIGTERM" */

	/* checkpoint timer (cfg->checkpoint_interval; NULL when 0) */
	struct event *ckpt_timer;
	bool ckpt_pending;          /* its WREQ_CHECKPOINT is with the writer */
	uint64_t ckpt_size;         /* tree size of the last checkpoint it saw */
};

#endif
