/*
 * session.h - one jig connection on the loop thread (DESIGN.md §5, jig
 * protocol in proto/jig.proto): TLS handshake result, enrolment check,
 * framing, per-connection challenge nonces, request dispatch, replies
 * from the writer, timeouts and backpressure.
 *
 * Timeouts (one timer per session): the TLS handshake must finish within
 * handshake_timeout seconds of accept; afterwards a connection that
 * completes no request frame for idle_timeout seconds is closed, and a
 * frame whose first byte arrived must be complete within frame_timeout
 * seconds. Only whole frames count as progress, so bytes trickled one at a
 * time (slowloris) cannot keep a connection open.
 */
#ifndef TALLYD_SESSION_H
#define TALLYD_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "jig.pb-c.h"

struct tallyd;
struct session_table;
struct ratelimit_entry;

#define SESSION_NONCES_MAX 64   /* outstanding challenges per connection */

/* A challenge nonce handed out on this connection (single use). */
struct session_nonce {
	uint8_t nonce[32];
	uint64_t expires_ns;    /* tally_mono_ns() deadline */
};

struct session {
	struct tallyd *d;
	struct bufferevent *bev;      /* owns the socket and the SSL */
	uint64_t id;                  /* connection ID, see struct session_table */
	char peer[64];                /* remote address, for logs */
	char name[17];                /* hex of the first 8 bytes of jig_id, for logs */
	uint8_t jig_id[32];           /* key ID of the client certificate */
	bool handshake_done;
	bool authed;                  /* enrolled, not revoked: requests are served */
	bool closing;                 /* flushing the output, then freed */
	bool read_paused;             /* backpressure: output above its high mark */
	uint32_t in_flight;           /* requests queued to the writer */
	struct event *timer;          /* handshake, idle and frame deadlines */
	uint64_t wake_ns;             /* when timer fires (tally_mono_ns), 0 = not armed */
	uint64_t progress_ns;         /* accept, handshake done, or last whole frame */
	uint64_t frame_ns;            /* first byte of the partial frame buffered, 0 = none */
	struct ratelimit_entry *rl;   /* this jig's request bucket once authed, or NULL */
	unsigned n_nonces;
	struct session_nonce nonces[SESSION_NONCES_MAX];
};

/* Allocates the table for cap sessions (1..65536). Returns 0 or
 * TALLY_ERR_NOMEM. */
int session_table_init(struct session_table *t, uint32_t cap);

/* Closes every session at once (no flush) and frees the table. */
void session_table_free(struct tallyd *d);

/* Is there room for one more session? */
int session_table_full(const struct tallyd *d);

/* Takes over bev, an OpenSSL bufferevent made with BUFFEREVENT_SSL_ACCEPTING
 * and BEV_OPT_CLOSE_ON_FREE (it owns the socket and the SSL), registers the
 * session and waits for the handshake. peer is the remote address for logs
 * (copied). Returns 0, or TALLY_ERR_NOMEM / TALLY_ERR_TOO_LARGE (table
 * full), in which case bev has been freed. */
int session_start(struct tallyd *d, struct bufferevent *bev, const char *peer);

/* Closes every session authenticated as the jig with key ID id (32 bytes),
 * after telling it JIG_REVOKED. Returns how many were closed. */
unsigned session_close_jig(struct tallyd *d, const uint8_t id[32]);

/* --- for the request handlers (jigreq.c) --- */

/* The live session with connection ID conn_id, or NULL (closed). */
struct session *session_lookup(struct tallyd *d, uint64_t conn_id);

/* Frames and queues resp; on an encoding failure sends INTERNAL instead. */
void session_send(struct session *s, Tally__Response *resp);

/* Sends a Response with only request_id, error code (Tally__ErrorCode) and
 * message (NUL-terminated, copied). */
void session_reply_error(struct session *s, uint64_t request_id, int code, const char *msg);

/* Stops reading and marks s for freeing once its output is flushed. Never
 * frees s itself, so s stays valid until the callback returns. */
void session_close(struct session *s);

/* At the end of a callback: frees s if it is closing and its output is
 * empty. Returns true when s was freed. */
bool session_settle(struct session *s);

#endif
