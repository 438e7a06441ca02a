/* evframe.c - length-prefixed frames on evbuffers, see evframe.h. */
#include <event2/buffer.h>

#include "err.h"
#include "evframe.h"
#include "frame.h"

int
evframe_peek(struct evbuffer *in, const uint8_t **body, size_t *len)
{
	size_t have = evbuffer_get_length(in), want;
	const uint8_t *p;
	int r;

	if (have < TALLY_FRAME_HDR)
		return TALLY_ERR_AGAIN;
	if ((p = evbuffer_pullup(in, TALLY_FRAME_HDR)) == NULL)
		return TALLY_ERR_NOMEM;
	r = tally_frame_peek(p, TALLY_FRAME_HDR, len);
	if (r != TALLY_ERR_AGAIN)
		return r == 0 ? TALLY_ERR_INVALID : r;  /* a header alone is never a frame */
	/* The header passed the range check; the body length it declares: */
	want = TALLY_FRAME_HDR + ((size_t)p[0] << 24 | (size_t)p[1] << 16 |
	    (size_t)p[2] << 8 | (size_t)p[3]);
	if (have < want)
		return TALLY_ERR_AGAIN;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)want)) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = tally_frame_peek(p, want, len)) != 0)
		return r;
	*body = p + TALLY_FRAME_HDR;
	return 0;
}

int
evframe_write(struct evbuffer *out, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct evbuffer_iovec v;
	uint8_t *p;

	if (len > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (len == 0)
		return TALLY_ERR_INVALID;
	if (evbuffer_reserve_space(out, (ev_ssize_t)(TALLY_FRAME_HDR + len), &v, 1) != 1)
		return TALLY_ERR_NOMEM;
	p = v.iov_base;
	tally_frame_header(p, len);
	protobuf_c_message_pack(msg, p + TALLY_FRAME_HDR);
	v.iov_len = TALLY_FRAME_HDR + len;
	return evbuffer_commit_space(out, &v, 1) == 0 ? 0 : TALLY_ERR_NOMEM;
}
