/* fuzz_ctlreq.c - what a local operator's client sends tallyd's control
 * socket: the input is written to a real connection to the real control
 * socket (daemon/control.c: SO_PEERCRED, evframe_peek, CtlRequest unpack,
 * daemon/ctlreq.c dispatch, ctl_write.c field checks, the writer thread,
 * ctl_export.c's stream) of a tallyd context with a real store and writer
 * (fz_daemon.h), then the client shuts down its sending side and reads
 * until tallyd closes the connection.
 *
 * Checked besides the sanitizers: every reply is a whole frame holding a
 * CtlResponse, and tallyd closes the connection within 10 seconds of the
 * end of the input (so a request that leaves a connection stuck, or a
 * busy connection never resumed, is a finding). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ctl.pb-c.h"
#include "daemon/control.h"
#include "tests/fuzz/fz_daemon.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_daemon z;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (fz_daemon_init(&z) != 0 || control_start(&z.d, &z.d.control) != 0)
		abort();
	return 0;
}

struct client {
	struct bufferevent *bev;
	struct evbuffer *got;     /* everything tallyd sent */
	bool sent, closed, late;
};

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	evbuffer_add_buffer(c->got, bufferevent_get_input(bev));
}

static void
client_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (!c->sent && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		c->sent = true;
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		client_read(bev, arg);
		c->closed = true;
		event_base_loopbreak(z.d.base);
	}
}

static void
too_late(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd; (void)what;
	c->late = true;
	event_base_loopbreak(z.d.base);
}

static int
connect_ctl(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", z.cfg.control_socket);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0)
		abort();
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client c = { 0 };
	struct timeval limit = { 10, 0 };
	struct event *timer;

	if ((c.got = evbuffer_new()) == NULL ||
	    (c.bev = bufferevent_socket_new(z.d.base, connect_ctl(), BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (timer = evtimer_new(z.d.base, too_late, &c)) == NULL)
		abort();
	bufferevent_setcb(c.bev, client_read, client_write, client_event, &c);
	bufferevent_write(c.bev, data, size);
	bufferevent_enable(c.bev, EV_READ | EV_WRITE);
	if (size == 0)
		client_write(c.bev, &c);
	evtimer_add(timer, &limit);
	while (!c.closed && !c.late)
		event_base_loop(z.d.base, EVLOOP_ONCE);
	if (c.late) {
		fprintf(stderr, "fuzz: tallyd kept the control connection open 10 s after the input\n");
		abort();
	}
	fz_replies(c.got, &tally__ctl_response__descriptor);
	if (evbuffer_get_length(c.got) != 0)
		abort();    /* a partial reply frame */
	event_free(timer);
	bufferevent_free(c.bev);
	evbuffer_free(c.got);
	return 0;
}
