/* session.c - jig connection lifecycle, table and framing, see session.h.
 * The requests themselves are handled in jigreq.c. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "daemon.h"
#include "err.h"
#include "evframe.h"
#include "frame.h"
#include "jigreq.h"
#include "log.h"
#include "ratelimit.h"
#include "session.h"
#include "tls.h"
#include "util.h"
#include "writer.h"

/* Output above OUT_HIGH bytes stops reading requests until the jig has
 * read its replies down to OUT_LOW (backpressure on a slow reader). */
#define OUT_HIGH (256u * 1024)
#define OUT_LOW  (64u * 1024)

#define NS_PER_S 1000000000ull

enum deadline_kind { DL_HANDSHAKE, DL_IDLE, DL_FRAME };

int
session_table_init(struct session_table *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	if ((t->slot = calloc(cap, sizeof(*t->slot))) == NULL)
		return TALLY_ERR_NOMEM;
	if (ratelimit_init(&t->rl, cap) != 0) {
		free(t->slot);
		t->slot = NULL;
		return TALLY_ERR_NOMEM;
	}
	t->cap = cap;
	t->next_seq = 1;
	return 0;
}

int
session_table_full(const struct tallyd *d)
{
	return d->sessions.count >= d->sessions.cap;
}

struct session *
session_lookup(struct tallyd *d, uint64_t conn_id)
{
	uint32_t slot = (uint32_t)(conn_id & 0xffffffffu);
	struct session *s;

	if (slot >= d->sessions.cap || (s = d->sessions.slot[slot]) == NULL)
		return NULL;
	return s->id == conn_id ? s : NULL;
}

static void
session_free(struct session *s)
{
	struct session_table *t = &s->d->sessions;
	uint32_t slot = (uint32_t)(s->id & 0xffffffffu);
	SSL *ssl;

	if (t->slot[slot] == s) {
		t->slot[slot] = NULL;
		t->count--;
	}
	/* A close_notify when the handshake completed; the bufferevent frees
	 * the SSL and closes the socket (BEV_OPT_CLOSE_ON_FREE). */
	if (s->handshake_done && (ssl = bufferevent_openssl_get_ssl(s->bev)) != NULL)
		SSL_shutdown(ssl);
	bufferevent_free(s->bev);
	if (s->timer != NULL)
		event_free(s->timer);
	ratelimit_release(s->rl);
	OPENSSL_cleanse(s->nonces, sizeof(s->nonces));
	free(s);
}

void
session_table_free(struct tallyd *d)
{
	uint32_t i;

	for (i = 0; i < d->sessions.cap && d->sessions.slot != NULL; i++)
		if (d->sessions.slot[i] != NULL)
			session_free(d->sessions.slot[i]);
	free(d->sessions.slot);
	ratelimit_free(&d->sessions.rl);
	memset(&d->sessions, 0, sizeof(d->sessions));
}

void
session_close(struct session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	/* freed by session_settle or, once the output is flushed, write_cb */
}

bool
session_settle(struct session *s)
{
	if (!s->closing || evbuffer_get_length(bufferevent_get_output(s->bev)) != 0)
		return false;
	session_free(s);
	return true;
}

void
session_send(struct session *s, Tally__Response *resp)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	int r;

	if ((r = evframe_write(out, &resp->base)) == 0)
		return;
	log_tally_err(r, "jig %s: reply to request %llu", s->name,
	    (unsigned long long)resp->request_id);
	session_reply_error(s, resp->request_id, TALLY__ERROR_CODE__INTERNAL,
	    "reply could not be encoded");
}

void
session_reply_error(struct session *s, uint64_t request_id, int code, const char *msg)
{
	Tally__Response resp = TALLY__RESPONSE__INIT;

	resp.request_id = request_id;
	resp.error = (Tally__ErrorCode)code;
	resp.message = (char *)msg;
	if (evframe_write(bufferevent_get_output(s->bev), &resp.base) != 0)
		session_close(s);
}

/* The deadline the connection must make next: the handshake, or the
 * earlier of the idle deadline (a whole frame within idle_timeout of the
 * last) and the frame deadline (a frame begun must end within
 * frame_timeout). */
static uint64_t
deadline(const struct session *s, enum deadline_kind *kind)
{
	const struct tallyd_config *cfg = s->d->cfg;
	uint64_t idle, frame;

	if (!s->handshake_done) {
		*kind = DL_HANDSHAKE;
		return s->progress_ns + (uint64_t)cfg->handshake_timeout * NS_PER_S;
	}
	*kind = DL_IDLE;
	idle = s->progress_ns + (uint64_t)cfg->idle_timeout * NS_PER_S;
	if (s->frame_ns == 0)
		return idle;
	frame = s->frame_ns + (uint64_t)cfg->frame_timeout * NS_PER_S;
	if (frame >= idle)
		return idle;
	*kind = DL_FRAME;
	return frame;
}

/* Arms the timer for the current deadline when that is earlier than the
 * wake-up already set; a later one is found when the timer fires. */
static void
timer_arm(struct session *s, uint64_t now)
{
	enum deadline_kind kind;
	uint64_t dl = deadline(s, &kind), rel;
	struct timeval tv;

	if (s->wake_ns != 0 && s->wake_ns <= dl)
		return;
	rel = dl > now ? dl - now : 0;
	tv.tv_sec = (time_t)(rel / NS_PER_S);
	tv.tv_usec = (suseconds_t)(rel % NS_PER_S / 1000);
	s->wake_ns = dl;
	evtimer_add(s->timer, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	const struct tallyd_config *cfg = s->d->cfg;
	uint64_t now = tally_mono_ns(), dl;
	enum deadline_kind kind;

	(void)fd;
	(void)what;
	s->wake_ns = 0;
	if (s->closing)
		return;   /* flushing: write_cb or the write timeout frees it */
	if ((dl = deadline(s, &kind)) > now) {
		timer_arm(s, now);
		return;
	}
	if (kind == DL_HANDSHAKE)
		log_info("jig connection from %s: TLS handshake not done within %u s "
		    "(handshake_timeout); closing", s->peer, (unsigned)cfg->handshake_timeout);
	else if (kind == DL_FRAME)
		log_warn("jig %s (%s): frame not complete within %u s (frame_timeout, "
		    "%zu bytes of it came); closing", s->name, s->peer,
		    (unsigned)cfg->frame_timeout,
		    evbuffer_get_length(bufferevent_get_input(s->bev)));
	else
		log_info("jig %s (%s): idle for %u s; closing", s->name, s->peer,
		    (unsigned)cfg->idle_timeout);
	s->closing = true;
	session_free(s);
}

/* A framing violation: tell the jig why, log it, and close only this
 * connection. */
static void
protocol_error(struct session *s, const char *what)
{
	log_warn("jig %s (%s): %s; closing the connection", s->name, s->peer, what);
	session_reply_error(s, 0, TALLY__ERROR_CODE__BAD_REQUEST, what);
	session_close(s);
}

static void
read_frames(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	Tally__Request *rq;
	const uint8_t *body;
	size_t len;
	uint64_t now = tally_mono_ns();
	int r = TALLY_ERR_AGAIN;

	while (!s->closing && !s->read_paused && (r = evframe_peek(in, &body, &len)) == 0) {
		rq = tally__request__unpack(NULL, len, body);
		evbuffer_drain(in, TALLY_FRAME_HDR + len);
		s->progress_ns = now;   /* a whole frame: the idle clock restarts */
		s->frame_ns = 0;
		if (rq == NULL) {
			protocol_error(s, "frame is not a Request message");
			return;
		}
		jigreq_handle(s, rq);
		tally__request__free_unpacked(rq, NULL);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > OUT_HIGH) {
			/* the jig does not read its replies: stop reading its
			 * requests until write_cb sees the output drained */
			s->read_paused = true;
			bufferevent_disable(s->bev, EV_READ);
			log_debug("jig %s: replies not read; pausing its requests", s->name);
		}
	}
	if (s->closing)
		return;
	if (s->read_paused) {
		s->frame_ns = 0;   /* what waits is whole frames, not a slow one */
		return;
	}
	if (r == TALLY_ERR_AGAIN) {
		/* the rest, if any, is the start of a frame: its clock runs */
		if (evbuffer_get_length(in) == 0)
			s->frame_ns = 0;
		else if (s->frame_ns == 0)
			s->frame_ns = now;
		timer_arm(s, now);
		return;
	}
	if (r == TALLY_ERR_TOO_LARGE)
		protocol_error(s, "frame longer than 65536 bytes");
	else if (r == TALLY_ERR_INVALID)
		protocol_error(s, "frame of length 0");
	else
		protocol_error(s, "out of memory reading a frame");
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			session_free(s);
		return;
	}
	if (s->read_paused) {
		/* output below OUT_LOW again: serve the frames already buffered */
		s->read_paused = false;
		log_debug("jig %s: replies read; resuming its requests", s->name);
		bufferevent_enable(bev, EV_READ);
		read_frames(s);
		session_settle(s);
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (s->closing) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (!s->authed)
		return;   /* frames wait until the enrolment check passed */
	read_frames(s);
	session_settle(s);
}

/* Handshake done: the client certificate chained to the jig CA (OpenSSL
 * checked it); now it must be enrolled and not revoked. */
static void
on_handshake(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	int st;

	s->handshake_done = true;
	s->progress_ns = tally_mono_ns();
	if (ssl == NULL || tally_tls_peer_key_id(ssl, s->jig_id) != 0) {
		log_warn("jig connection from %s: no client certificate; closing", s->peer);
		session_close(s);
		return;
	}
	tally_hex(s->jig_id, 8, s->name);
	st = writer_jig_status(s->d->writer, s->jig_id);
	if (st != 0) {
		log_warn("jig %s (%s): %s; closing", s->name, s->peer,
		    st == TALLY__ERROR_CODE__JIG_REVOKED ? "revoked" : "not enrolled");
		session_reply_error(s, 0, st, st == TALLY__ERROR_CODE__JIG_REVOKED ?
		    "this jig has been revoked" : "this jig is not enrolled");
		session_close(s);
		return;
	}
	if ((s->rl = ratelimit_acquire(&s->d->sessions.rl, s->jig_id)) == NULL) {
		log_err("jig %s (%s): no rate limit entry free; closing", s->name, s->peer);
		session_close(s);
		return;
	}
	s->authed = true;
	log_info("jig %s connected from %s", s->name, s->peer);
	read_frames(s);
}

static void
log_tls_errors(struct session *s)
{
	unsigned long e;
	char buf[256];

	while ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_info("jig %s (%s): TLS: %s", s->name, s->peer, buf);
	}
}

/* Why the handshake failed: the certificate check's verdict when there
 * was one (expired, not yet valid, unknown CA, ...). */
static void
log_handshake_failure(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (v != X509_V_OK)
		log_info("jig connection from %s: TLS handshake failed: client "
		    "certificate: %s", s->peer, X509_verify_cert_error_string(v));
	else
		log_info("jig connection from %s: TLS handshake failed", s->peer);
}

static void
event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct session *s = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_input(bev));

	if (events & BEV_EVENT_CONNECTED) {
		on_handshake(s);
		session_settle(s);
		return;
	}
	log_tls_errors(s);
	if (events & BEV_EVENT_TIMEOUT)
		log_info("jig %s (%s): replies not read for %u s (idle_timeout); closing",
		    s->name, s->peer, (unsigned)s->d->cfg->idle_timeout);
	else if (!s->handshake_done)
		log_handshake_failure(s);
	else if (pending > 0 && !s->closing)
		log_warn("jig %s (%s): connection closed inside a frame (%zu bytes "
		    "of a truncated frame)", s->name, s->peer, pending);
	else
		log_info("jig %s (%s) disconnected", s->name, s->peer);
	s->closing = true;
	session_free(s);
}

static int
table_add(struct tallyd *d, struct session *s)
{
	struct session_table *t = &d->sessions;
	uint32_t i;

	for (i = 0; i < t->cap; i++) {
		if (t->slot[i] == NULL) {
			t->slot[i] = s;
			t->count++;
			s->id = (uint64_t)t->next_seq++ << 32 | i;
			if (t->next_seq == 0)
				t->next_seq = 1;
			return 0;
		}
	}
	return TALLY_ERR_TOO_LARGE;
}

int
session_start(struct tallyd *d, struct bufferevent *bev, const char *peer)
{
	struct timeval idle = { .tv_sec = d->cfg->idle_timeout };
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		bufferevent_free(bev);
		return TALLY_ERR_NOMEM;
	}
	s->d = d;
	s->bev = bev;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	snprintf(s->name, sizeof(s->name), "?");
	if ((s->timer = evtimer_new(d->base, timer_cb, s)) == NULL) {
		bufferevent_free(bev);
		free(s);
		return TALLY_ERR_NOMEM;
	}
	if (table_add(d, s) != 0) {
		bufferevent_free(bev);
		event_free(s->timer);
		free(s);
		return TALLY_ERR_TOO_LARGE;
	}
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, TALLY_FRAME_HDR + TALLY_FRAME_MAX);
	bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
	/* Reading is timed by s->timer (whole frames only); the write timeout
	 * closes a jig that does not read its replies. */
	bufferevent_set_timeouts(bev, NULL, &idle);
	s->progress_ns = tally_mono_ns();
	timer_arm(s, s->progress_ns);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return 0;
}

unsigned
session_close_jig(struct tallyd *d, const uint8_t id[32])
{
	struct session *s;
	unsigned n = 0;
	uint32_t i;

	for (i = 0; i < d->sessions.cap; i++) {
		s = d->sessions.slot[i];
		if (s == NULL || !s->authed || s->closing || memcmp(s->jig_id, id, 32) != 0)
			continue;
		log_info("jig %s (%s): revoked; closing its connection", s->name, s->peer);
		session_reply_error(s, 0, TALLY__ERROR_CODE__JIG_REVOKED, "this jig has been revoked");
		session_close(s);
		session_settle(s);
		n++;
	}
	return n;
}
