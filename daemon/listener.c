/* listener.c - jig TLS listener, see listener.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "daemon.h"
#include "err.h"
#include "listener.h"
#include "log.h"
#include "session.h"

struct listener {
	struct tallyd *d;
	struct evconnlistener *evl;
};

/* "a.b.c.d:port" or "[v6]:port" of sa into out (len bytes). */
static void
format_addr(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		snprintf(out, len, "?");
	}
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *l = arg;
	struct tallyd *d = l->d;
	struct bufferevent *bev;
	char peer[64];
	SSL *ssl;

	(void)evl;
	(void)salen;
	format_addr(sa, peer, sizeof(peer));
	if (session_table_full(d)) {
		log_warn("jig connection from %s refused: %u connections already "
		    "(max_connections)", peer, (unsigned)d->sessions.count);
		evutil_closesocket(fd);
		return;
	}
	/* Replies are small frames: without TCP_NODELAY, Nagle plus the jig's
	 * delayed ACK holds each one back ~40 ms. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)) != 0)
		log_warn("jig connection from %s: TCP_NODELAY: %s", peer, strerror(errno));
	if ((ssl = SSL_new(d->tls)) == NULL) {
		log_err("jig connection from %s: SSL_new failed", peer);
		evutil_closesocket(fd);
		return;
	}
	bev = bufferevent_openssl_socket_new(d->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		/* libevent 2.1 frees ssl on this path (BEV_OPT_CLOSE_ON_FREE);
		 * the socket is still ours. */
		log_err("jig connection from %s: no bufferevent", peer);
		evutil_closesocket(fd);
		return;
	}
	/* From here the bufferevent owns ssl and fd. */
	if (session_start(d, bev, peer) != 0)
		log_err("jig connection from %s: cannot start a session", peer);
}

static void
error_cb(struct evconnlistener *evl, void *arg)
{
	(void)evl;
	(void)arg;
	/* EMFILE and the like: libevent keeps listening; log and go on. */
	log_warn("accepting a jig connection failed: %s", strerror(errno));
}

static int
bind_listener(struct listener *l, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	if (config_parse_listen(addr, &ss, &sslen) != 0)
		return TALLY_ERR_INVALID;
	l->evl = evconnlistener_new_bind(l->d->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&ss, (int)sslen);
	if (l->evl == NULL)
		return TALLY_ERR_IO;
	evconnlistener_set_error_cb(l->evl, error_cb);
	return 0;
}

int
listener_start(struct tallyd *d, struct listener **out)
{
	struct listener *l;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int r;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return TALLY_ERR_NOMEM;
	l->d = d;
	if ((r = bind_listener(l, d->cfg->listen)) != 0)
		goto out;
	if (getsockname(evconnlistener_get_fd(l->evl), (struct sockaddr *)&ss, &sslen) != 0) {
		r = TALLY_ERR_IO;
		goto out;
	}
	format_addr((struct sockaddr *)&ss, d->listen_addr, sizeof(d->listen_addr));
	*out = l;
	l = NULL;
	r = 0;
 out:
	listener_stop(l);
	return r;
}

void
listener_stop(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->evl != NULL)
		evconnlistener_free(l->evl);
	free(l);
}
