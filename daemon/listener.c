/* listener.c - jig TLS listener, see listener.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
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
#include "util.h"

#define NS_PER_S 1000000000ull

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

/* A connection over max_connections: closed at once, before any TLS (the
 * client sees EOF or a reset during its handshake; nothing is allocated).
 * Counted; logged at most once a second so that a flood of connections
 * is not a flood of log lines. */
static void
refuse(struct tallyd *d, evutil_socket_t fd, const char *peer)
{
	struct session_table *t = &d->sessions;
	uint64_t now = tally_mono_ns();

	evutil_closesocket(fd);
	t->refused++;
	if (t->refused_log_ns != 0 && now - t->refused_log_ns < NS_PER_S)
		return;
	log_warn("jig connection from %s refused: %u connections already "
	    "(max_connections); %llu refused since the last such line, %llu in all",
	    peer, (unsigned)t->count, (unsigned long long)(t->refused - t->refused_logged),
	    (unsigned long long)t->refused);
	t->refused_logged = t->refused;
	t->refused_log_ns = now;
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
		refuse(d, fd, peer);
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

/* max_connections sockets need as many descriptors, plus the store's, the
 * control socket's and a margin: raise the soft RLIMIT_NOFILE towards the
 * hard one when it is lower (never fails; logs what it could not do). */
static void
raise_nofile(uint32_t max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		log_warn("max_connections %u: the open-file limit is %llu; connections "
		    "beyond it fail at accept", (unsigned)max_connections,
		    (unsigned long long)rl.rlim_max);
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("raising the open-file limit to %llu: %s",
		    (unsigned long long)rl.rlim_cur, strerror(errno));
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
	raise_nofile(d->cfg->max_connections);
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
