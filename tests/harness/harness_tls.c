/* harness_tls.c - a blocking TLS jig client for integration tests, see
 * harness.h. With a jig identity and TLS 1.3 it uses the project's own
 * client context (tally_tls_client_ctx, pinning the appliance key); for
 * the odd cases (no certificate, TLS 1.2) it builds a plain context. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "frame.h"
#include "harness.h"
#include "tls.h"

#define IO_TIMEOUT_MS 10000

struct th_conn {
	struct th *t;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static void
set_rcv_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static SSL_CTX *
plain_ctx(const struct th_jig *j, int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	/* Below TLS 1.2 OpenSSL 3 needs security level 0 even to offer it. */
	if (max_version < TLS1_2_VERSION)
		SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_min_proto_version(ctx, max_version < TLS1_2_VERSION ?
	    max_version : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max_version) != 1 ||
	    (j != NULL && (SSL_CTX_use_certificate_file(ctx, j->cert_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, j->key) != 1))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

static SSL_CTX *
client_ctx(struct th *t, const struct th_tls_opts *o)
{
	const struct th_jig *j = o->as;
	int maxv = o->max_version != 0 ? o->max_version : TLS1_3_VERSION;
	SSL_CTX *ctx = NULL;

	if (j == NULL && o->jig >= 0 && (unsigned)o->jig < t->njigs)
		j = &t->jig[o->jig];
	if (j != NULL && maxv == TLS1_3_VERSION) {
		if (tally_tls_client_ctx(j->cert_path, j->key, t->appliance_key_id, &ctx) != 0)
			return NULL;
		return ctx;
	}
	return plain_ctx(j, maxv);
}

static int
tcp_connect(uint16_t port, int rcvbuf, int *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return TALLY_ERR_IO;
	set_rcv_timeout(fd, IO_TIMEOUT_MS);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return TALLY_ERR_IO;
	}
	*out = fd;
	return 0;
}

void
th_tls_close(struct th_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);   /* close_notify; errors do not matter here */
		ERR_clear_error();
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

SSL *
th_tls_ssl(struct th_conn *c)
{
	return c->ssl;
}

int
th_tls_connect(struct th *t, const struct th_tls_opts *o, struct th_conn **out)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	int r;

	*out = NULL;
	if (c == NULL)
		return TALLY_ERR_NOMEM;
	c->t = t;
	c->fd = -1;
	r = TALLY_ERR_CRYPTO;
	if ((c->ctx = client_ctx(t, o)) == NULL || (c->ssl = SSL_new(c->ctx)) == NULL)
		goto fail;
	if ((r = tcp_connect(t->port, o->rcvbuf, &c->fd)) != 0)
		goto fail;
	r = TALLY_ERR_CLOSED;
	if (SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1)
		goto fail;
	*out = c;
	return 0;
 fail:
	ERR_clear_error();
	th_tls_close(c);
	return r;
}

/* Reads exactly n bytes. 0, TALLY_ERR_CLOSED, TALLY_ERR_TIMEOUT. */
static int
read_full(struct th_conn *c, uint8_t *buf, size_t n)
{
	size_t got = 0;
	int k, e;

	while (got < n) {
		errno = 0;
		k = SSL_read(c->ssl, buf + got, (int)(n - got));
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		e = SSL_get_error(c->ssl, k);
		ERR_clear_error();
		if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TALLY_ERR_TIMEOUT;
		if (e == SSL_ERROR_WANT_READ)
			return TALLY_ERR_TIMEOUT;
		return TALLY_ERR_CLOSED;
	}
	return 0;
}

int
th_tls_write(struct th_conn *c, const void *buf, size_t len)
{
	int k;

	if (len == 0)
		return 0;
	k = SSL_write(c->ssl, buf, (int)len);
	ERR_clear_error();
	return k == (int)len ? 0 : TALLY_ERR_CLOSED;
}

int
th_tls_send(struct th_conn *c, Tally__Request *rq)
{
	size_t len;
	uint8_t *buf;
	int r;

	if (rq->request_id == 0)
		rq->request_id = c->t->next_id++;
	len = tally__request__get_packed_size(rq);
	if (len == 0 || len > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((buf = malloc(TALLY_FRAME_HDR + len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally_frame_header(buf, len);
	tally__request__pack(rq, buf + TALLY_FRAME_HDR);
	r = th_tls_write(c, buf, TALLY_FRAME_HDR + len);
	free(buf);
	return r;
}

int
th_tls_recv(struct th_conn *c, Tally__Response **resp)
{
	uint8_t hdr[TALLY_FRAME_HDR], *body = NULL;
	size_t len;
	int r;

	*resp = NULL;
	if ((r = read_full(c, hdr, sizeof(hdr))) != 0)
		return r;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > TALLY_FRAME_MAX)
		return TALLY_ERR_INVALID;
	if ((body = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = read_full(c, body, len)) == 0 &&
	    (*resp = tally__response__unpack(NULL, len, body)) == NULL)
		r = TALLY_ERR_INVALID;
	free(body);
	return r;
}

int
th_tls_call(struct th_conn *c, Tally__Request *rq, Tally__Response **resp)
{
	int r;

	*resp = NULL;
	if ((r = th_tls_send(c, rq)) != 0)
		return r;
	return th_tls_recv(c, resp);
}

bool
th_tls_wait_closed(struct th_conn *c, int timeout_ms)
{
	uint8_t buf[512];
	int r;

	set_rcv_timeout(c->fd, timeout_ms);
	while ((r = read_full(c, buf, 1)) == 0)
		;
	set_rcv_timeout(c->fd, IO_TIMEOUT_MS);
	return r == TALLY_ERR_CLOSED;
}

int
th_hello_code(struct th_conn *c, Tally__Response **out)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__Hello h = TALLY__HELLO__INIT;
	Tally__Response *resp = NULL;
	int r;

	h.jig_software = (char *)"tally test harness";
	rq.body_case = TALLY__REQUEST__BODY_HELLO;
	rq.hello = &h;
	if ((r = th_tls_call(c, &rq, &resp)) != 0)
		return r;
	r = (int)resp->error;
	if (r == 0 && resp->body_case != TALLY__RESPONSE__BODY_HELLO)
		r = TALLY_ERR_INVALID;
	if (out != NULL)
		*out = resp;
	else
		tally__response__free_unpacked(resp, NULL);
	return r;
}

bool
th_tls_refused(struct th *t, const struct th_tls_opts *o)
{
	struct th_conn *c = NULL;
	int r;

	if (th_tls_connect(t, o, &c) != 0)
		return true;
	r = th_hello_code(c, NULL);
	th_tls_close(c);
	return r != 0;
}

int
th_challenge_code(struct th_conn *c, uint8_t nonce[32])
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__ChallengeRequest ch = TALLY__CHALLENGE_REQUEST__INIT;
	Tally__Response *resp = NULL;
	int r;

	rq.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	rq.challenge = &ch;
	if ((r = th_tls_call(c, &rq, &resp)) != 0)
		return r;
	r = (int)resp->error;
	if (r == 0 && (resp->body_case != TALLY__RESPONSE__BODY_CHALLENGE ||
	    resp->challenge->nonce.len != 32))
		r = TALLY_ERR_INVALID;
	if (r == 0)
		memcpy(nonce, resp->challenge->nonce.data, 32);
	tally__response__free_unpacked(resp, NULL);
	return r;
}

int
th_issue_code(struct th_conn *c, const char *product, const uint8_t *quota_id,
    const uint8_t *uid, size_t uid_len, Tally__Response **out)
{
	Tally__Request rq = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp = NULL;
	uint8_t nonce[32];
	int r;

	if ((r = th_challenge_code(c, nonce)) != 0)
		return r;
	if (quota_id != NULL)
		it.quota_id = (ProtobufCBinaryData){ 16, (uint8_t *)quota_id };
	if (product != NULL)
		it.product = (char *)product;
	it.device_uid = (ProtobufCBinaryData){ uid_len, (uint8_t *)uid };
	it.nonce = (ProtobufCBinaryData){ sizeof(nonce), nonce };
	rq.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	rq.issue_token = &it;
	if ((r = th_tls_call(c, &rq, &resp)) != 0)
		return r;
	r = (int)resp->error;
	if (r == 0 && resp->body_case != TALLY__RESPONSE__BODY_ISSUE_TOKEN)
		r = TALLY_ERR_INVALID;
	if (out != NULL)
		*out = resp;
	else
		tally__response__free_unpacked(resp, NULL);
	return r;
}
