/* control.c - control UNIX socket: socket, peer check, connections and
 * framing, see control.h. The requests are handled in ctlreq.c. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "control.h"
#include "ctlreq.h"
#include "daemon.h"
#include "err.h"
#include "evframe.h"
#include "frame.h"
#include "log.h"

#define GROUPS_MAX 4096   /* supplementary groups looked at per peer */
#define CONTROL_IDLE_S 60 /* seconds a control peer may stay silent or not read */

struct control {
	struct tallyd *d;
	struct evconnlistener *evl;
	struct ctlconn *conn[CONTROL_CONNS_MAX];
	uint32_t next_seq;
};

struct tallyd *
control_daemon(struct control *c)
{
	return c->d;
}

struct ctlconn *
control_lookup(struct control *c, uint64_t conn_id)
{
	uint32_t slot = (uint32_t)(conn_id & 0xffffffffu);

	if (slot >= CONTROL_CONNS_MAX || c->conn[slot] == NULL || c->conn[slot]->id != conn_id)
		return NULL;
	return c->conn[slot];
}

static void
conn_free(struct ctlconn *cc)
{
	uint32_t slot = (uint32_t)(cc->id & 0xffffffffu);

	if (cc->c->conn[slot] == cc)
		cc->c->conn[slot] = NULL;
	bufferevent_free(cc->bev);
	free(cc->exp_note);
	free(cc);
}

static void
conn_close(struct ctlconn *cc)
{
	cc->closing = true;
	bufferevent_disable(cc->bev, EV_READ);
	bufferevent_setwatermark(cc->bev, EV_WRITE, 0, 0);
}

bool
control_settle(struct ctlconn *cc)
{
	if (!cc->closing || evbuffer_get_length(bufferevent_get_output(cc->bev)) != 0)
		return false;
	conn_free(cc);
	return true;
}

void
control_send(struct ctlconn *cc, Tally__CtlResponse *resp)
{
	int r;

	if ((r = evframe_write(bufferevent_get_output(cc->bev), &resp->base)) == 0)
		return;
	log_tally_err(r, "control uid %u: reply to request %llu", (unsigned)cc->uid,
	    (unsigned long long)resp->request_id);
	control_reply_error(cc, resp->request_id, TALLY__ERROR_CODE__INTERNAL,
	    "reply could not be encoded");
}

void
control_reply_error(struct ctlconn *cc, uint64_t request_id, int code, const char *msg)
{
	Tally__CtlResponse resp = TALLY__CTL_RESPONSE__INIT;

	resp.request_id = request_id;
	resp.error = (Tally__ErrorCode)code;
	resp.message = (char *)msg;
	resp.last = true;
	if (evframe_write(bufferevent_get_output(cc->bev), &resp.base) != 0)
		conn_close(cc);
}

static void
read_requests(struct ctlconn *cc)
{
	struct evbuffer *in = bufferevent_get_input(cc->bev);
	Tally__CtlRequest *rq;
	const uint8_t *body;
	size_t len;
	int r = TALLY_ERR_AGAIN;

	while (!cc->closing && !cc->busy && (r = evframe_peek(in, &body, &len)) == 0) {
		rq = tally__ctl_request__unpack(NULL, len, body);
		evbuffer_drain(in, TALLY_FRAME_HDR + len);
		if (rq == NULL) {
			r = TALLY_ERR_INVALID;
			break;
		}
		ctlreq_handle(cc, rq);
		tally__ctl_request__free_unpacked(rq, NULL);
	}
	if (cc->closing || cc->busy || r == TALLY_ERR_AGAIN)
		return;
	log_warn("control uid %u: bad frame (%s); closing", (unsigned)cc->uid, tally_strerror(r));
	control_reply_error(cc, 0, TALLY__ERROR_CODE__BAD_REQUEST, "bad frame");
	conn_close(cc);
}

void
control_resume(struct ctlconn *cc)
{
	cc->busy = false;
	if (cc->closing)
		return;
	bufferevent_enable(cc->bev, EV_READ);
	read_requests(cc);
}

void
control_pause(struct ctlconn *cc)
{
	cc->busy = true;
	bufferevent_disable(cc->bev, EV_READ);  /* and its idle timeout */
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct ctlconn *cc = arg;

	(void)bev;
	read_requests(cc);
	control_settle(cc);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct ctlconn *cc = arg;

	(void)bev;
	if (!cc->closing && cc->exp_note != NULL)
		ctlreq_export_pump(cc);
	control_settle(cc);
}

static void
event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct ctlconn *cc = arg;

	(void)bev;
	if (!(events & (BEV_EVENT_TIMEOUT | BEV_EVENT_ERROR))) {
		/* EOF: the peer sent all it will (it may have half-closed);
		 * the replies already queued are still delivered, then cc is
		 * freed (write_cb), or at the idle timeout if never read */
		conn_close(cc);
		control_settle(cc);
		return;
	}
	if (events & BEV_EVENT_TIMEOUT)
		log_info("control uid %u: idle for %d s; closing", (unsigned)cc->uid, CONTROL_IDLE_S);
	else if (events & BEV_EVENT_ERROR)
		log_info("control uid %u: connection error: %s", (unsigned)cc->uid, strerror(errno));
	conn_free(cc);
}

/* getgrouplist(3) of user (primary group gid) contains want? */
static bool
in_group(const char *user, gid_t gid, gid_t want)
{
	gid_t small[64], *groups = small;
	int n = 64, i;
	bool found = false;

	if (getgrouplist(user, gid, groups, &n) < 0) {
		if (n <= 0 || n > GROUPS_MAX || (groups = calloc((size_t)n, sizeof(gid_t))) == NULL)
			return false;
		if (getgrouplist(user, gid, groups, &n) < 0)
			n = 0;
	}
	for (i = 0; i < n && !found; i++)
		found = groups[i] == want;
	if (groups != small)
		free(groups);
	return found;
}

/* uid 0, our own uid, or a member (primary or supplementary) of the
 * control group. */
static bool
peer_allowed(uid_t uid, gid_t want)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (uid == 0 || uid == geteuid())
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	return pw.pw_gid == want || in_group(pw.pw_name, pw.pw_gid, want);
}

static int
conn_add(struct control *c, struct ctlconn *cc)
{
	uint32_t i;

	for (i = 0; i < CONTROL_CONNS_MAX; i++) {
		if (c->conn[i] == NULL) {
			c->conn[i] = cc;
			cc->id = (uint64_t)c->next_seq++ << 32 | i;
			return 0;
		}
	}
	return TALLY_ERR_TOO_LARGE;
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct control *c = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctlconn *cc = NULL;
	struct bufferevent *bev;
	struct timeval idle = { .tv_sec = CONTROL_IDLE_S };

	(void)evl; (void)sa; (void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_warn("control connection without peer credentials: %s", strerror(errno));
		evutil_closesocket(fd);
		return;
	}
	if ((bev = bufferevent_socket_new(c->d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL || conn_add(c, cc) != 0) {
		log_warn("control connection from uid %u refused: too many connections",
		    (unsigned)cred.uid);
		free(cc);
		bufferevent_free(bev);
		return;
	}
	cc->c = c;
	cc->bev = bev;
	cc->uid = cred.uid;
	cc->pid = cred.pid;
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, cc);
	bufferevent_setwatermark(bev, EV_READ, 0, TALLY_FRAME_HDR + TALLY_FRAME_MAX);
	bufferevent_set_timeouts(bev, &idle, &idle);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (!peer_allowed(cred.uid, c->d->control_gid)) {
		log_warn("control connection refused: uid %u (pid %d) is not in group %s",
		    (unsigned)cred.uid, (int)cred.pid, c->d->cfg->control_group);
		control_reply_error(cc, 0, TALLY__ERROR_CODE__PERMISSION_DENIED,
		    "permission denied: not a member of the control group");
		conn_close(cc);
		return;
	}
	log_debug("control connection from uid %u (pid %d)", (unsigned)cred.uid, (int)cred.pid);
}

/* Removes a stale socket at path; refuses to remove anything else. */
static int
remove_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : TALLY_ERR_IO;
	if (!S_ISSOCK(st.st_mode))
		return TALLY_ERR_EXISTS;
	return unlink(path) == 0 ? 0 : TALLY_ERR_IO;
}

static int
make_socket(const char *path, gid_t gid, int *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return TALLY_ERR_INVALID;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((r = remove_stale(path)) != 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return TALLY_ERR_IO;
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0 || chmod(path, 0660) != 0 || listen(fd, 16) != 0) {
		r = errno;
		close(fd);
		errno = r;
		return TALLY_ERR_IO;
	}
	if (chown(path, geteuid() == 0 ? 0 : (uid_t)-1, gid) != 0)
		log_warn("control socket %s: cannot give it to group %u: %s; only "
		    "uid 0 and uid %u can use it", path, (unsigned)gid, strerror(errno),
		    (unsigned)geteuid());
	*out = fd;
	return 0;
}

int
control_start(struct tallyd *d, struct control **out)
{
	struct control *c;
	int fd = -1, r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return TALLY_ERR_NOMEM;
	c->d = d;
	c->next_seq = 1;
	if ((r = make_socket(d->cfg->control_socket, d->control_gid, &fd)) != 0)
		goto out;
	c->evl = evconnlistener_new(d->base, accept_cb, c, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (c->evl == NULL) {
		close(fd);
		unlink(d->cfg->control_socket);
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
 out:
	free(c);
	return r;
}

void
control_stop(struct control *c)
{
	uint32_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CONTROL_CONNS_MAX; i++)
		if (c->conn[i] != NULL)
			conn_free(c->conn[i]);
	if (c->evl != NULL) {
		evconnlistener_free(c->evl);
		unlink(c->d->cfg->control_socket);
	}
	free(c);
}
