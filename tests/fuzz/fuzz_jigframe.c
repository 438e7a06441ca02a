/* fuzz_jigframe.c - what a jig sends tallyd after the TLS handshake:
 * length-prefixed frames (daemon/evframe.c evframe_peek on a libevent
 * buffer), each unpacked as a Request (proto/jig.proto) and handed to
 * daemon/jigreq.c jigreq_handle exactly as session.c's read loop does,
 * on a session of an enrolled jig against a real store.
 *
 * The input is fed to the buffer in pieces (the mode byte picks their
 * size: 1 byte, 7 bytes or all at once) so the partial-frame paths run.
 * Hello reads the store; Challenge hands out nonces; IssueToken and
 * ReportInstall run all their field checks and then stop, because the
 * session is given max_in_flight requests in flight already (the writer's
 * side, tokens and reports, is fuzzed through fuzz_bundle, fuzz_report
 * and fuzz_attest). Every reply must be a whole frame holding a Response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "err.h"
#include "daemon/evframe.h"
#include "frame.h"
#include "jig.pb-c.h"
#include "daemon/jigreq.h"
#include "daemon/session.h"
#include "tests/fuzz/fz.h"
#include "tests/fuzz/fz_daemon.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_daemon z;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (fz_daemon_init(&z) != 0)
		abort();
	return 0;
}

static struct session *
session_new(void)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->bev = bufferevent_socket_new(z.d.base, -1, 0)) == NULL)
		abort();
	/* no socket: replies stay in the output buffer for fz_replies (a
	 * socket bufferevent keeps the front of its output frozen until it
	 * has a connection) */
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	evbuffer_unfreeze(bufferevent_get_output(s->bev), 1);
	s->d = &z.d;
	s->id = 1;
	strcpy(s->peer, "fuzz");
	strcpy(s->name, "f0220000deadbeef");
	memset(s->jig_id, 0xf0, sizeof(s->jig_id));
	s->handshake_done = true;
	s->authed = true;
	s->in_flight = z.cfg.max_in_flight;
	return s;
}

/* session.c read_frames, on in; returns false once the session closes. */
static bool
read_frames(struct session *s, struct evbuffer *in)
{
	Tally__Request *rq;
	const uint8_t *body;
	size_t len;
	int r = TALLY_ERR_AGAIN;

	while (!s->closing && (r = evframe_peek(in, &body, &len)) == 0) {
		rq = tally__request__unpack(NULL, len, body);
		evbuffer_drain(in, TALLY_FRAME_HDR + len);
		if (rq == NULL) {
			session_reply_error(s, 0, TALLY__ERROR_CODE__BAD_REQUEST, "not a Request");
			session_close(s);
			break;
		}
		jigreq_handle(s, rq);
		tally__request__free_unpacked(rq, NULL);
		fz_replies(bufferevent_get_output(s->bev), &tally__response__descriptor);
	}
	if (!s->closing && r != TALLY_ERR_AGAIN) {
		session_reply_error(s, 0, TALLY__ERROR_CODE__BAD_REQUEST, "bad frame");
		session_close(s);
	}
	fz_replies(bufferevent_get_output(s->bev), &tally__response__descriptor);
	return !s->closing;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t piece[3] = { 1, 7, SIZE_MAX };
	size_t step = piece[fz_mode(&data, &size, 3)], off = 0, n;
	struct evbuffer *in = evbuffer_new();
	struct session *s = session_new();

	if (in == NULL)
		abort();
	while (off < size) {
		n = size - off < step ? size - off : step;
		evbuffer_add(in, data + off, n);
		off += n;
		if (!read_frames(s, in))
			break;
	}
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) != 0)
		abort();    /* a partial reply frame */
	bufferevent_free(s->bev);
	free(s);
	evbuffer_free(in);
	return 0;
}
