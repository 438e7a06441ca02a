/*
 * hold.c - tally-bench --hold: how many concurrent jig connections tallyd
 * holds, and its memory at that count (issue 5). A fresh appliance with
 * max_connections = N + 16; N mutually-authenticated TLS 1.3 connections
 * are opened one after the other (blocking), each answers one Hello (so it
 * is authenticated and served), and all stay open; then tallyd's VmRSS is
 * read from /proc/PID/status and its own count (Status.jig_connections)
 * is checked, and the first and last connections must still answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "bench.h"
#include "err.h"
#include "frame.h"
#include "jig.pb-c.h"
#include "log.h"
#include "setup.h"

#define IO_TIMEOUT_S 30

struct held {
	int fd;
	SSL *ssl;
};

/* VmRSS of pid in KiB, 0 when unreadable. */
static unsigned long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	unsigned long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The soft open-file limit up to the hard one: this process needs one
 * descriptor per connection (tallyd raises its own, listener.c). */
static rlim_t
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0;
}

/* One Hello over c, answered OK. 0 or TALLY_ERR_IO / TALLY_ERR_INVALID. */
static int
hello(struct held *c)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__Hello h = TALLY__HELLO__INIT;
	Tally__Response *resp;
	uint8_t buf[4096];
	size_t len;
	int k, got = 0, want = TALLY_FRAME_HDR, r;

	h.jig_software = (char *)"tally-bench hold";
	rq.request_id = 1;
	rq.body_case = TALLY__REQUEST__BODY_HELLO;
	rq.hello = &h;
	len = tally__request__get_packed_size(&rq);
	tally_frame_header(buf, len);
	tally__request__pack(&rq, buf + TALLY_FRAME_HDR);
	if (SSL_write(c->ssl, buf, (int)(TALLY_FRAME_HDR + len)) <= 0)
		return TALLY_ERR_IO;
	while (got < want) {
		if ((k = SSL_read(c->ssl, buf + got, want - got)) <= 0)
			return TALLY_ERR_IO;
		got += k;
		if (got == TALLY_FRAME_HDR && want == TALLY_FRAME_HDR) {
			if (tally_frame_peek(buf, TALLY_FRAME_HDR, &len) != TALLY_ERR_AGAIN ||
			    (len = (size_t)buf[2] << 8 | buf[3]) + TALLY_FRAME_HDR > sizeof(buf))
				return TALLY_ERR_INVALID;
			want = (int)(TALLY_FRAME_HDR + len);
		}
	}
	if ((resp = tally__response__unpack(NULL, (size_t)want - TALLY_FRAME_HDR,
	    buf + TALLY_FRAME_HDR)) == NULL)
		return TALLY_ERR_INVALID;
	r = resp->error == 0 && resp->body_case == TALLY__RESPONSE__BODY_HELLO ? 0 :
	    TALLY_ERR_INVALID;
	tally__response__free_unpacked(resp, NULL);
	return r;
}

static int
open_one(const struct bench_env *env, unsigned i, struct held *c)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	c->ssl = NULL;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return TALLY_ERR_IO;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* the Finished and the Hello are two small writes: without this,
	 * Nagle and tallyd's delayed ACK cost 40 ms per connection */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (connect(c->fd, (const struct sockaddr *)&env->listen, sizeof(env->listen)) != 0)
		return TALLY_ERR_IO;
	if ((c->ssl = SSL_new(env->jigs[i % env->njigs].ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1)
		return TALLY_ERR_CLOSED;
	return hello(c);
}

static void
close_all(struct held *h, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		SSL_free(h[i].ssl);
		if (h[i].fd >= 0)
			close(h[i].fd);
	}
	ERR_clear_error();
}

/* Opens up to n connections to env, stopping at the first failure (*why
 * says what). *held receives how many answered; returns how many entries
 * of h hold something to close. */
static unsigned
hold_open(const struct bench_env *env, unsigned n, struct held *h, unsigned *held,
    const char **why)
{
	unsigned i;
	int r;

	for (i = 0; i < n && !bench_interrupted(env); i++) {
		if ((r = open_one(env, i, &h[i])) != 0) {
			*why = r == TALLY_ERR_CLOSED ? "TLS handshake failed" :
			    r == TALLY_ERR_INVALID ? "Hello not answered" : strerror(errno);
			*held = i;
			return i + 1;
		}
		if ((i + 1) % 1000 == 0)
			bench_say("hold: %u connections open, tallyd RSS %lu KiB", i + 1,
			    rss_kb(env->tallyd));
	}
	*held = i;
	return i;
}

int
bench_hold_run(const struct bench_opts *o, int sig_fd, struct bench_hold *out)
{
	struct bench_opts ho = *o;
	struct bench_env env = { .sig_fd = sig_fd };
	struct held *h;
	unsigned opened = 0, n = o->hold;
	rlim_t lim = raise_nofile();
	int r;

	memset(out, 0, sizeof(*out));
	out->wanted = n;
	out->why = "";
	if (lim != 0 && lim < (rlim_t)n + 64) {
		bench_say("hold: the open-file limit is %llu; trying %llu connections",
		    (unsigned long long)lim, (unsigned long long)(lim - 64));
		n = (unsigned)(lim - 64);
	}
	if ((h = calloc(n, sizeof(*h))) == NULL)
		return TALLY_ERR_NOMEM;
	ho.connections = n;
	if ((r = bench_setup(&ho, &env)) != 0)
		goto out;
	out->rss_idle_kb = rss_kb(env.tallyd);
	bench_say("hold: opening %u jig connections (tallyd RSS %lu KiB before)", n,
	    out->rss_idle_kb);
	opened = hold_open(&env, n, h, &out->held, &out->why);
	out->rss_kb = rss_kb(env.tallyd);
	if (out->held > 0 && (hello(&h[0]) != 0 || hello(&h[out->held - 1]) != 0)) {
		out->why = "the first or last connection no longer answers";
		out->held = 0;
	}
	r = appliance_jig_connections(&env, &out->tallyd_count);
 out:
	close_all(h, opened);
	free(h);
	bench_teardown(&env, o->keep);
	return r;
}
