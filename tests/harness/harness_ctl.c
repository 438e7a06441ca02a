/* harness_ctl.c - control-socket client, quota import, jig enroll and
 * revoke for integration tests, see harness.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <openssl/x509.h>

#include "err.h"
#include "frame.h"
#include "harness.h"

#define IO_TIMEOUT_S 10

static void
set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
th_ctl_connect(struct th *t, int *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(t->sock_path) >= sizeof(sun.sun_path))
		return TALLY_ERR_INVALID;
	memcpy(sun.sun_path, t->sock_path, strlen(t->sock_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return TALLY_ERR_IO;
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return TALLY_ERR_IO;
	}
	*out = fd;
	return 0;
}

int
th_ctl_send(int fd, Tally__CtlRequest *req)
{
	size_t len = tally__ctl_request__get_packed_size(req);
	uint8_t *buf;
	int r;

	if (len == 0 || len > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((buf = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__ctl_request__pack(req, buf);
	r = tally_frame_write_fd(fd, buf, len);
	free(buf);
	return r;
}

int
th_ctl_recv(int fd, Tally__CtlResponse **resp)
{
	uint8_t *buf = malloc(TALLY_FRAME_MAX);
	size_t len;
	int r;

	*resp = NULL;
	if (buf == NULL)
		return TALLY_ERR_NOMEM;
	r = tally_frame_read_fd(fd, buf, TALLY_FRAME_MAX, &len);
	if (r == TALLY_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		r = TALLY_ERR_TIMEOUT;
	if (r == TALLY_ERR_IO && errno == ECONNRESET)
		r = TALLY_ERR_CLOSED;
	if (r == 0 && (*resp = tally__ctl_response__unpack(NULL, len, buf)) == NULL)
		r = TALLY_ERR_INVALID;
	free(buf);
	return r;
}

int
th_ctl(struct th *t, Tally__CtlRequest *req, Tally__CtlResponse **resp)
{
	int fd, r;

	*resp = NULL;
	if (req->request_id == 0)
		req->request_id = t->next_id++;
	if ((r = th_ctl_connect(t, &fd)) != 0)
		return r;
	if ((r = th_ctl_send(fd, req)) == 0)
		r = th_ctl_recv(fd, resp);
	close(fd);
	return r;
}

int
th_status(struct th *t, Tally__CtlResponse **resp)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__StatusRequest st = TALLY__STATUS_REQUEST__INIT;

	rq.body_case = TALLY__CTL_REQUEST__BODY_STATUS;
	rq.status = &st;
	return th_ctl(t, &rq, resp);
}

/* th_ctl, returning the response's error code (or the I/O error). */
static int
ctl_code(struct th *t, Tally__CtlRequest *rq)
{
	Tally__CtlResponse *resp = NULL;
	int r;

	if ((r = th_ctl(t, rq, &resp)) != 0)
		return r;
	r = (int)resp->error;
	tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

int
th_import_code(struct th *t, const uint8_t *env, size_t len)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaImportRequest qi = TALLY__QUOTA_IMPORT_REQUEST__INIT;

	qi.quota = (ProtobufCBinaryData){ len, (uint8_t *)env };
	rq.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT;
	rq.quota_import = &qi;
	return ctl_code(t, &rq);
}

int
th_quota_code(struct th *t, const char *product, uint64_t units, uint8_t quota_id[16])
{
	struct th_quota q = { .product = product, .units = units };
	uint8_t *env = NULL;
	size_t len;
	int r;

	if ((r = th_make_quota(t, &q, quota_id, &env, &len)) != 0)
		return r;
	r = th_import_code(t, env, len);
	free(env);
	return r;
}

int
th_enroll(struct th *t, unsigned i)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__JigEnrollRequest je = TALLY__JIG_ENROLL_REQUEST__INIT;
	char name[16];
	uint8_t *der = NULL;
	int len, r;

	if (i >= t->njigs || (len = i2d_X509(t->jig[i].cert, &der)) <= 0)
		return TALLY_ERR_INVALID;
	snprintf(name, sizeof(name), "jig%u", i);
	je.certificate = (ProtobufCBinaryData){ (size_t)len, der };
	je.name = name;
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_ENROLL;
	rq.jig_enroll = &je;
	r = ctl_code(t, &rq);
	OPENSSL_free(der);
	return r;
}

int
th_revoke(struct th *t, unsigned i)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__JigRevokeRequest jr = TALLY__JIG_REVOKE_REQUEST__INIT;

	if (i >= t->njigs)
		return TALLY_ERR_INVALID;
	jr.jig_key_id = (ProtobufCBinaryData){ 32, t->jig[i].key_id };
	rq.body_case = TALLY__CTL_REQUEST__BODY_JIG_REVOKE;
	rq.jig_revoke = &jr;
	return ctl_code(t, &rq);
}
