/*
 * listener.h - the jig TLS listener (DESIGN.md §5): accepts TCP
 * connections on cfg->listen, refuses them beyond max_connections, and
 * hands each one to a session as an OpenSSL bufferevent in accepting state.
 */
#ifndef TALLYD_LISTENER_H
#define TALLYD_LISTENER_H

struct tallyd;
struct listener;

/* Binds d->cfg->listen (port 0 = an ephemeral port) on d->base, using the
 * server context d->tls, and writes the actual address ("127.0.0.1:PORT",
 * "[::1]:PORT") into d->listen_addr. *out: listener_stop.
 * Errors: TALLY_ERR_INVALID (bad address), TALLY_ERR_IO (bind/listen,
 * errno kept), TALLY_ERR_NOMEM. */
int listener_start(struct tallyd *d, struct listener **out);

/* Stops accepting (existing sessions stay) and frees l. NULL is a no-op. */
void listener_stop(struct listener *l);

#endif
