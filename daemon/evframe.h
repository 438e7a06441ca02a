/*
 * evframe.h - the frame format of frame.h (4-byte big-endian length, then
 * one protobuf message of 1..TALLY_FRAME_MAX bytes) on libevent evbuffers,
 * shared by the jig sessions and the control socket.
 */
#ifndef TALLYD_EVFRAME_H
#define TALLYD_EVFRAME_H

#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>
#include <protobuf-c/protobuf-c.h>

/* Looks for one whole frame at the start of in without consuming it. The
 * length is checked from the 4-byte header alone, before the body is
 * waited for. Returns 0 with *body pointing at the *len body bytes, made
 * contiguous inside in and valid until in changes; the caller then drains
 * TALLY_FRAME_HDR + *len bytes. TALLY_ERR_AGAIN: header or body not all
 * buffered yet. TALLY_ERR_TOO_LARGE: declared length > TALLY_FRAME_MAX.
 * TALLY_ERR_INVALID: declared length 0. TALLY_ERR_NOMEM. */
int evframe_peek(struct evbuffer *in, const uint8_t **body, size_t *len);

/* Packs msg and appends header + body to out. Returns 0,
 * TALLY_ERR_TOO_LARGE (packed size > TALLY_FRAME_MAX; nothing appended),
 * TALLY_ERR_INVALID (msg packs to 0 bytes, which no frame may carry) or
 * TALLY_ERR_NOMEM. */
int evframe_write(struct evbuffer *out, const ProtobufCMessage *msg);

#endif
