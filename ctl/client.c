/* client.c - control-socket client, see client.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "client.h"
#include "err.h"
#include "frame.h"
#include "jig.pb-c.h"

struct ctl_client {
	int fd;
	uint64_t next_id;
	uint8_t buf[TALLY_FRAME_MAX];
};

static int
connect_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ECONNREFUSED:
		return TALLY_ERR_NOT_FOUND;
	case ENOTSOCK:
		return TALLY_ERR_INVALID;
	case EACCES:
	case EPERM:
		return TALLY_ERR_PERM;
	default:
		return TALLY_ERR_IO;
	}
}

static int
set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv;

	if (timeout_ms <= 0)
		timeout_ms = CTL_TIMEOUT_MS_DEFAULT;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return TALLY_ERR_IO;
	return 0;
}

/* A path that exists but is no socket is reported before connect(), which
 * would only say ECONNREFUSED or ENOTSOCK-ish things depending on type. */
static int
check_path(const char *path, struct sockaddr_un *sun)
{
	struct stat st;

	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return TALLY_ERR_INVALID;
	}
	if (stat(path, &st) != 0)
		return connect_errno(errno);
	if (!S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return TALLY_ERR_INVALID;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

int
ctl_client_connect(const char *path, int timeout_ms, struct ctl_client **out)
{
	struct sockaddr_un sun;
	struct ctl_client *c = NULL;
	int r, fd = -1;

	*out = NULL;
	if ((r = check_path(path, &sun)) != 0)
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = TALLY_ERR_IO;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		r = connect_errno(errno);
		goto out;
	}
	if ((r = set_timeouts(fd, timeout_ms)) != 0)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	c->fd = fd;
	c->next_id = 1;
	fd = -1;
	*out = c;
	r = 0;
 out:
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return r;
}

void
ctl_client_close(struct ctl_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

static int
io_error(int r)
{
	if (r == TALLY_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		return TALLY_ERR_TIMEOUT;
	if (r == TALLY_ERR_IO && (errno == EPIPE || errno == ECONNRESET))
		return TALLY_ERR_CLOSED;
	return r;
}

static int
send_request(struct ctl_client *c, Tally__CtlRequest *req)
{
	size_t len;

	req->request_id = c->next_id++;
	len = tally__ctl_request__get_packed_size(req);
	if (len > sizeof(c->buf))
		return TALLY_ERR_TOO_LARGE;
	tally__ctl_request__pack(req, c->buf);
	return io_error(tally_frame_write_fd(c->fd, c->buf, len));
}

/* Reads one response and checks it answers request id (or refuses the
 * connection). */
static int
read_response(struct ctl_client *c, uint64_t id, Tally__CtlResponse **resp)
{
	Tally__CtlResponse *m;
	size_t len;
	int r;

	*resp = NULL;
	if ((r = tally_frame_read_fd(c->fd, c->buf, sizeof(c->buf), &len)) != 0)
		return io_error(r);
	if ((m = tally__ctl_response__unpack(NULL, len, c->buf)) == NULL)
		return TALLY_ERR_INVALID;
	/* request_id 0 with an error: tallyd refuses the whole connection
	 * (e.g. PERMISSION_DENIED) before reading any request. */
	if (m->request_id != id &&
	    !(m->request_id == 0 && m->error != TALLY__ERROR_CODE__OK)) {
		tally__ctl_response__free_unpacked(m, NULL);
		return TALLY_ERR_INVALID;
	}
	*resp = m;
	return 0;
}

int
ctl_client_call(struct ctl_client *c, Tally__CtlRequest *req,
    Tally__CtlResponse **resp)
{
	int r;

	*resp = NULL;
	if ((r = send_request(c, req)) != 0)
		return r;
	return read_response(c, req->request_id, resp);
}

int
ctl_client_stream(struct ctl_client *c, Tally__CtlRequest *req,
    ctl_stream_cb cb, void *arg, Tally__CtlResponse **end)
{
	Tally__CtlResponse *m = NULL;
	int r;

	*end = NULL;
	if ((r = send_request(c, req)) != 0)
		return r;
	for (;;) {
		if ((r = read_response(c, req->request_id, &m)) != 0)
			return r;
		if (m->error != TALLY__ERROR_CODE__OK)
			break;
		if ((r = cb(arg, m)) != 0) {
			tally__ctl_response__free_unpacked(m, NULL);
			return r;
		}
		if (m->last)
			break;
		tally__ctl_response__free_unpacked(m, NULL);
	}
	*end = m;
	return 0;
}

const char *
ctl_error_name(Tally__ErrorCode code)
{
	const ProtobufCEnumValue *v;

	v = protobuf_c_enum_descriptor_get_value(&tally__error_code__descriptor, code);
	return v != NULL ? v->name : "UNKNOWN_ERROR";
}
