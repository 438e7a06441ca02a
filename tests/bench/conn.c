/*
 * conn.c - one load-generating jig connection: TLS 1.3 with a jig client
 * certificate (bufferevent_openssl), 4-byte length-prefixed protobuf frames
 * (lib/frame.h), and the pipeline Challenge -> IssueToken(nonce) with up to
 * k IssueTokens in flight and a stock of k nonces fetched ahead.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include "load.h"
#include "err.h"
#include "frame.h"
#include "jig.pb-c.h"
#include "log.h"
#include "util.h"

#define REQ_MAX 1024  /* largest request this client sends, bytes */

static void conn_close(struct conn *c);

static int
take_slot(struct conn *c, enum slot_kind kind, uint64_t *id)
{
	unsigned i;

	if (c->nfree == 0)
		return TALLY_ERR_AGAIN;
	i = c->free_slots[--c->nfree];
	c->slots[i].kind = kind;
	c->slots[i].id = (++c->seq << 16) | i;
	c->slots[i].sent_ns = tally_mono_ns();
	*id = c->slots[i].id;
	return 0;
}

static int
send_request(struct conn *c, const Tally__Request *req)
{
	uint8_t buf[TALLY_FRAME_HDR + REQ_MAX];
	size_t len = tally__request__get_packed_size(req);

	if (len > REQ_MAX || tally_frame_header(buf, len) != 0)
		return TALLY_ERR_TOO_LARGE;
	tally__request__pack(req, buf + TALLY_FRAME_HDR);
	if (bufferevent_write(c->bev, buf, TALLY_FRAME_HDR + len) != 0)
		return TALLY_ERR_NOMEM;
	c->ld->in_flight++;
	return 0;
}

static int
send_challenge(struct conn *c)
{
	Tally__Request req = TALLY__REQUEST__INIT;
	Tally__ChallengeRequest ch = TALLY__CHALLENGE_REQUEST__INIT;
	int r;

	if ((r = take_slot(c, SLOT_CHALLENGE, &req.request_id)) != 0)
		return r;
	req.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	req.challenge = &ch;
	if ((r = send_request(c, &req)) == 0)
		c->challenges++;
	return r;
}

static int
send_issue(struct conn *c)
{
	struct load *ld = c->ld;
	Tally__Request req = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	uint8_t uid[BENCH_UID_LEN], nonce[32];
	uint64_t ctr = ld->uid_ctr++;
	int r;

	load_uid(ld, ctr, uid);
	memcpy(nonce, c->nonces[--c->nnonces], sizeof(nonce));
	if ((r = take_slot(c, SLOT_ISSUE, &req.request_id)) != 0)
		return r;
	c->slots[req.request_id & 0xffff].uid_ctr = ctr;
	it.quota_id.data = (uint8_t *)ld->env->quota_id;
	it.quota_id.len = sizeof(ld->env->quota_id);
	it.device_uid.data = uid;
	it.device_uid.len = sizeof(uid);
	it.nonce.data = nonce;
	it.nonce.len = sizeof(nonce);
	it.firmware_digest.data = (uint8_t *)ld->env->firmware;
	it.firmware_digest.len = sizeof(ld->env->firmware);
	req.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	req.issue_token = &it;
	if ((r = send_request(c, &req)) == 0)
		c->issues++;
	return r;
}

void
conn_pump(struct conn *c)
{
	unsigned k = c->ld->o->pipeline;

	if (c->dead || !c->up ||
	    (c->ld->phase != PHASE_WARMUP && c->ld->phase != PHASE_MEASURE))
		return;
	while (c->issues < k && c->nnonces > 0)
		if (send_issue(c) != 0)
			goto fail;
	while (c->challenges + c->nnonces < k)
		if (send_challenge(c) != 0)
			goto fail;
	return;
 fail:
	log_err("connection %u: cannot queue a request", c->idx);
	c->ld->failed = 1;
	conn_close(c);
}

static void
on_challenge(struct conn *c, const Tally__Response *rsp)
{
	c->challenges--;
	if (rsp->error != TALLY__ERROR_CODE__OK ||
	    rsp->body_case != TALLY__RESPONSE__BODY_CHALLENGE ||
	    rsp->challenge->nonce.len != 32) {
		c->ld->res->challenge_errors++;
		if (c->ld->errors_logged++ < 5)
			log_warn("connection %u: Challenge refused: code %d %s",
			    c->idx, rsp->error, rsp->message);
		return;
	}
	if (c->nnonces < c->ld->o->pipeline)
		memcpy(c->nonces[c->nnonces++], rsp->challenge->nonce.data, 32);
}

static void
on_issue(struct conn *c, const Tally__Response *rsp, const struct slot *s, uint64_t ns)
{
	uint8_t *bundle = NULL, uid[BENCH_UID_LEN];
	size_t len = 0;
	int err = rsp->error, reissued = 0;

	c->issues--;
	if (err == TALLY__ERROR_CODE__OK &&
	    (rsp->body_case != TALLY__RESPONSE__BODY_ISSUE_TOKEN ||
	    rsp->issue_token->bundle == NULL))
		err = TALLY__ERROR_CODE__BAD_REQUEST; /* counted as a bad reply */
	if (err == TALLY__ERROR_CODE__OK) {
		reissued = rsp->issue_token->reissued;
		len = tally__token_bundle__get_packed_size(rsp->issue_token->bundle);
		if ((bundle = malloc(len)) != NULL)
			tally__token_bundle__pack(rsp->issue_token->bundle, bundle);
		else
			len = 0;
	} else if (c->ld->errors_logged++ < 5) {
		log_warn("connection %u: IssueToken refused: code %d %s",
		    c->idx, rsp->error, rsp->message);
	}
	load_uid(c->ld, s->uid_ctr, uid);
	load_issue_done(c->ld, err, ns, uid, bundle, len, reissued);
	free(bundle);
}

/* Handles one Response frame body. 0, or TALLY_ERR_INVALID when the
 * reply is not one this connection is waiting for. */
static int
on_frame(struct conn *c, const uint8_t *body, size_t len, uint64_t now)
{
	Tally__Response *rsp = tally__response__unpack(NULL, len, body);
	struct slot *s;
	unsigned i;
	int r = TALLY_ERR_INVALID;

	if (rsp == NULL)
		return TALLY_ERR_INVALID;
	i = (unsigned)(rsp->request_id & 0xffff);
	if (i >= c->nslots || c->slots[i].kind == SLOT_FREE ||
	    c->slots[i].id != rsp->request_id)
		goto out;
	s = &c->slots[i];
	if (s->kind == SLOT_CHALLENGE)
		on_challenge(c, rsp);
	else
		on_issue(c, rsp, s, now - s->sent_ns);
	s->kind = SLOT_FREE;
	c->free_slots[c->nfree++] = (uint16_t)i;
	c->ld->in_flight--;
	r = 0;
 out:
	tally__response__free_unpacked(rsp, NULL);
	return r;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t now = tally_mono_ns();
	size_t avail, body;
	uint8_t *p;
	int r;

	while ((avail = evbuffer_get_length(in)) >= TALLY_FRAME_HDR) {
		p = evbuffer_pullup(in, TALLY_FRAME_HDR);
		body = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (body > TALLY_FRAME_MAX) {
			r = TALLY_ERR_TOO_LARGE;
			goto bad;
		}
		if (avail < TALLY_FRAME_HDR + body)
			break;
		p = evbuffer_pullup(in, (ssize_t)(TALLY_FRAME_HDR + body));
		if ((r = tally_frame_peek(p, TALLY_FRAME_HDR + body, &body)) != 0 ||
		    (r = on_frame(c, p + TALLY_FRAME_HDR, body, now)) != 0)
			goto bad;
		evbuffer_drain(in, TALLY_FRAME_HDR + body);
		if (c->dead)
			return;
	}
	conn_pump(c);
	return;
 bad:
	log_tally_err(r, "connection %u: bad reply from tallyd", c->idx);
	conn_close(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	unsigned long err;
	char buf[256];
	int n = 0;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->up = 1;
		load_conn_up(c->ld, c);
		return;
	}
	while ((err = bufferevent_get_openssl_error(bev)) != 0) {
		if (c->ld->errors_logged++ < 10 && n++ < 3) {
			ERR_error_string_n(err, buf, sizeof(buf));
			log_warn("connection %u: TLS: %s", c->idx, buf);
		}
	}
	if (c->ld->errors_logged++ < 10) {
		int e = EVUTIL_SOCKET_ERROR();

		log_warn("connection %u: %s", c->idx, (what & BEV_EVENT_EOF) ?
		    "closed by tallyd" : e != 0 ? strerror(e) : "TLS error");
	}
	conn_close(c);
}

static void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->ld->in_flight -= c->issues + c->challenges;
	c->issues = c->challenges = 0;
	load_conn_lost(c->ld, c);
}

int
conn_open(struct load *ld, struct conn *c, unsigned idx)
{
	unsigned k = ld->o->pipeline, i;
	SSL *ssl;

	c->ld = ld;
	c->idx = idx;
	c->jig = &ld->env->jigs[idx % ld->env->njigs];
	c->nslots = 2 * k + 1;  /* k IssueTokens + at most k Challenges */
	c->slots = calloc(c->nslots, sizeof(*c->slots));
	c->free_slots = calloc(c->nslots, sizeof(*c->free_slots));
	c->nonces = calloc(k, sizeof(*c->nonces));
	if (c->slots == NULL || c->free_slots == NULL || c->nonces == NULL)
		return TALLY_ERR_NOMEM;
	for (i = 0; i < c->nslots; i++)
		c->free_slots[i] = (uint16_t)(c->nslots - 1 - i);
	c->nfree = c->nslots;
	if ((ssl = SSL_new(c->jig->ctx)) == NULL)
		return TALLY_ERR_CRYPTO;
	c->bev = bufferevent_openssl_socket_new(ld->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		SSL_free(ssl);
		return TALLY_ERR_NOMEM;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&ld->env->listen,
	    sizeof(ld->env->listen)) != 0)
		return TALLY_ERR_IO;
	return 0;
}

void
conn_free(struct conn *c)
{
	SSL *ssl;

	if (c->bev != NULL) {
		/* A TLS close_notify, so tallyd sees a clean close, not an EOF. */
		if (c->up && (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL)
			SSL_shutdown(ssl);
		bufferevent_free(c->bev);
	}
	c->bev = NULL;
	free(c->slots);
	free(c->free_slots);
	free(c->nonces);
	c->slots = NULL;
	c->free_slots = NULL;
	c->nonces = NULL;
}
