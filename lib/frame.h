/*
 * frame.h - length-prefixed protobuf framing (docs/protocol.md):
 * a 4-byte big-endian length N (1..TALLY_FRAME_MAX), then N bytes.
 */
#ifndef TALLY_FRAME_H
#define TALLY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define TALLY_FRAME_MAX 65536u  /* largest frame body, bytes */
#define TALLY_FRAME_HDR 4u

/* Looks at avail bytes of buf. If a whole frame is there, returns 0 and
 * sets *body_len (the frame occupies TALLY_FRAME_HDR + *body_len bytes).
 * TALLY_ERR_AGAIN: fewer bytes than the header or the body need.
 * TALLY_ERR_TOO_LARGE: declared length > TALLY_FRAME_MAX.
 * TALLY_ERR_INVALID: declared length 0. Nothing is consumed. */
int tally_frame_peek(const uint8_t *buf, size_t avail, size_t *body_len);

/* Writes the 4-byte header for a body of len bytes.
 * Returns 0 or TALLY_ERR_TOO_LARGE / TALLY_ERR_INVALID as above. */
int tally_frame_header(uint8_t hdr[TALLY_FRAME_HDR], size_t len);

/* Blocking read of one frame from fd into buf (capacity cap >= body).
 * Returns 0 and *len; TALLY_ERR_CLOSED on EOF before the first byte;
 * TALLY_ERR_INVALID on EOF inside a frame; TALLY_ERR_TOO_LARGE; TALLY_ERR_IO. */
int tally_frame_read_fd(int fd, uint8_t *buf, size_t cap, size_t *len);

/* Blocking write of one frame (header + body) to fd, retrying on EINTR and
 * short writes. Returns 0, TALLY_ERR_TOO_LARGE, TALLY_ERR_IO. */
int tally_frame_write_fd(int fd, const uint8_t *body, size_t len);

#endif
