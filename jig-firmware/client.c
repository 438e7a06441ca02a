/* client.c - the jig's TLS connection and framing, see client.h.
 * Validation of responses and the one-shot requests are in rpc.c. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "client.h"
#include "client_int.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "tls.h"

struct jig_client {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	int broken;          /* a link or protocol error happened */
	uint64_t next_id;
	uint8_t buf[TALLY_FRAME_HDR + TALLY_FRAME_MAX];
};

static int
set_timeouts(int fd, unsigned seconds)
{
	struct timeval tv = { .tv_sec = (time_t)seconds, .tv_usec = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return TALLY_ERR_IO;
	return 0;
}

static int
errno_err(int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS || e == ETIMEDOUT)
		return TALLY_ERR_TIMEOUT;
	return TALLY_ERR_IO;
}

/* One connected TCP socket to host:port, or an error. */
static int
tcp_connect(const char *host, uint16_t port, int *fdp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	char serv[8];
	int fd = -1, one = 1, r = TALLY_ERR_IO, saved = ECONNREFUSED;

	snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	if (getaddrinfo(host, serv, &hints, &res) != 0)
		return TALLY_ERR_NOT_FOUND;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (set_timeouts(fd, JIG_CLIENT_TIMEOUT_DEFAULT) == 0 &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
		    connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		r = errno_err(saved);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;  /* for the caller's message */
		return r;
	}
	*fdp = fd;
	return 0;
}

/* Maps a failed SSL_* call to a tally error; logs TLS-level failures. */
static int
ssl_err(struct jig_client *c, int ret, const char *what)
{
	int e = SSL_get_error(c->ssl, ret), saved = errno;
	unsigned long lib = ERR_peek_error();

	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return TALLY_ERR_CLOSED;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (saved == 0 || saved == EPIPE || saved == ECONNRESET)
			return TALLY_ERR_CLOSED;
		return errno_err(saved);
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return TALLY_ERR_TIMEOUT;
	default:
		if (ERR_GET_REASON(lib) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return TALLY_ERR_CLOSED;
		}
		tally_log_openssl(__func__, what);
		return TALLY_ERR_CRYPTO;
	}
}

/* A read or write cut short by a signal (errno EINTR) is retried: tally-jig
 * finishes the unit in progress on SIGTERM. errno is cleared before each
 * call so that an old EINTR is not taken for a new one. */
static int
interrupted(struct jig_client *c, int ret)
{
	int saved = errno, e = SSL_get_error(c->ssl, ret);

	if (saved == EINTR && (e == SSL_ERROR_WANT_READ ||
	    e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_SYSCALL)) {
		ERR_clear_error();
		return 1;
	}
	errno = saved;
	return 0;
}

static int
tls_start(struct jig_client *c, const uint8_t pin[TALLY_KEY_ID_LEN])
{
	uint8_t peer[TALLY_KEY_ID_LEN];
	int ret;

	if ((c->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		tally_log_openssl(__func__, "TLS setup");
		return TALLY_ERR_CRYPTO;
	}
	if ((ret = SSL_connect(c->ssl)) != 1) {
		if (SSL_get_verify_result(c->ssl) == X509_V_ERR_APPLICATION_VERIFICATION) {
			ERR_clear_error();
			return TALLY_ERR_MISMATCH;
		}
		return ssl_err(c, ret, "TLS handshake with the appliance");
	}
	if (tally_tls_peer_key_id(c->ssl, peer) != 0 ||
	    CRYPTO_memcmp(peer, pin, TALLY_KEY_ID_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	return 0;
}

int
jig_client_connect_ctx(const char *host, uint16_t port, SSL_CTX *ctx,
    const uint8_t pin[TALLY_KEY_ID_LEN], struct jig_client **out)
{
	struct jig_client *c;
	int r;

	if (host == NULL || host[0] == '\0' || port == 0 || ctx == NULL)
		return TALLY_ERR_INVALID;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return TALLY_ERR_NOMEM;
	c->fd = -1;
	c->next_id = 1;
	if (SSL_CTX_up_ref(ctx) != 1) {
		free(c);
		return TALLY_ERR_CRYPTO;
	}
	c->ctx = ctx;
	if ((r = tcp_connect(host, port, &c->fd)) != 0)
		goto out;
	if ((r = tls_start(c, pin)) != 0)
		goto out;
	*out = c;
	c = NULL;
 out:
	if (c != NULL) {
		c->broken = 1;
		jig_client_close(c);
	}
	return r;
}

int
jig_client_connect(const char *host, uint16_t port, const char *cert_file,
    EVP_PKEY *key, const uint8_t pin[TALLY_KEY_ID_LEN], struct jig_client **out)
{
	SSL_CTX *ctx = NULL;
	int r;

	if (host == NULL || host[0] == '\0' || port == 0)
		return TALLY_ERR_INVALID;
	if ((r = tally_tls_client_ctx(cert_file, key, pin, &ctx)) != 0)
		return r;
	r = jig_client_connect_ctx(host, port, ctx, pin, out);
	SSL_CTX_free(ctx);
	return r;
}

void
jig_client_mark_broken(struct jig_client *c)
{
	c->broken = 1;
}

int
jig_client_set_timeout(struct jig_client *c, unsigned seconds)
{
	if (seconds < 1 || seconds > 3600)
		return TALLY_ERR_INVALID;
	return set_timeouts(c->fd, seconds);
}

void
jig_client_close(struct jig_client *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		if (!c->broken)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	SSL_CTX_free(c->ctx);
	OPENSSL_cleanse(c->buf, sizeof(c->buf));
	free(c);
}

int
jig_client_write_raw(struct jig_client *c, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	int ret, r;

	if (c->broken)
		return TALLY_ERR_CLOSED;
	do {
		ERR_clear_error();
		errno = 0;
		ret = SSL_write_ex(c->ssl, buf, len, &done);
	} while (ret != 1 && interrupted(c, ret));
	if (ret != 1) {
		r = ssl_err(c, ret, "TLS write");
		c->broken = 1;
		return r;
	}
	return 0;
}

int
jig_client_send(struct jig_client *c, Tally__Request *req)
{
	size_t len;

	if (c->broken)
		return TALLY_ERR_CLOSED;
	if (req->request_id == 0)
		req->request_id = c->next_id++;
	len = tally__request__get_packed_size(req);
	if (len > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (tally_frame_header(c->buf, len) != 0)
		return TALLY_ERR_INVALID;
	tally__request__pack(req, c->buf + TALLY_FRAME_HDR);
	return jig_client_write_raw(c, c->buf, TALLY_FRAME_HDR + len);
}

/* Reads exactly len bytes. EOF before any byte of a frame (first != 0) is
 * TALLY_ERR_CLOSED, EOF inside one is TALLY_ERR_INVALID. */
static int
read_full(struct jig_client *c, uint8_t *p, size_t len, int first)
{
	size_t got = 0, n;
	int ret, r;

	while (got < len) {
		ERR_clear_error();
		errno = 0;
		ret = SSL_read_ex(c->ssl, p + got, len - got, &n);
		if (ret != 1 && interrupted(c, ret))
			continue;
		if (ret != 1) {
			r = ssl_err(c, ret, "TLS read");
			if (r == TALLY_ERR_CLOSED && !(first && got == 0))
				r = TALLY_ERR_INVALID;
			return r;
		}
		got += n;
	}
	return 0;
}

int
jig_client_recv(struct jig_client *c, Tally__Response **out)
{
	Tally__Response *resp = NULL;
	size_t len;
	int r;

	if (c->broken)
		return TALLY_ERR_CLOSED;
	if ((r = read_full(c, c->buf, TALLY_FRAME_HDR, 1)) != 0)
		goto out;
	/* Check the declared length before reading the body: peek looks at
	 * the header only and compares the length with the room in buf,
	 * which holds the largest frame allowed. */
	if ((r = tally_frame_peek(c->buf, sizeof(c->buf), &len)) != 0)
		goto out;
	if ((r = read_full(c, c->buf + TALLY_FRAME_HDR, len, 0)) != 0)
		goto out;
	resp = tally__response__unpack(NULL, len, c->buf + TALLY_FRAME_HDR);
	if (resp == NULL) {
		r = TALLY_ERR_INVALID;
		goto out;
	}
	if ((r = jig_response_check(resp)) != 0)
		goto out;
	*out = resp;
	resp = NULL;
 out:
	if (r != 0)
		c->broken = 1;
	if (resp != NULL)
		tally__response__free_unpacked(resp, NULL);
	return r;
}
