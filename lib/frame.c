/* frame.c - 4-byte big-endian length-prefixed frames, see frame.h. */
#include <errno.h>
#include <unistd.h>
#include "err.h"
#include "frame.h"
#include "util.h"

static int
check_len(size_t len)
{
	if (len == 0)
		return TALLY_ERR_INVALID;
	if (len > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	return 0;
}

int
tally_frame_peek(const uint8_t *buf, size_t avail, size_t *body_len)
{
	size_t len;
	int r;

	if (avail < TALLY_FRAME_HDR)
		return TALLY_ERR_AGAIN;
	len = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
	if ((r = check_len(len)) != 0)
		return r;
	if (avail - TALLY_FRAME_HDR < len)
		return TALLY_ERR_AGAIN;
	*body_len = len;
	return 0;
}

int
tally_frame_header(uint8_t hdr[TALLY_FRAME_HDR], size_t len)
{
	int r;

	if ((r = check_len(len)) != 0)
		return r;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return 0;
}

/* Reads exactly len bytes. *got counts what arrived before EOF or error. */
static int
read_full(int fd, uint8_t *buf, size_t len, size_t *got)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = read(fd, buf + *got, len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return TALLY_ERR_IO;
		if (n == 0)
			return TALLY_ERR_CLOSED;
		*got += (size_t)n;
	}
	return 0;
}

int
tally_frame_read_fd(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t hdr[TALLY_FRAME_HDR];
	size_t got, body;
	int r;

	if ((r = read_full(fd, hdr, sizeof(hdr), &got)) != 0)
		return r == TALLY_ERR_CLOSED && got > 0 ? TALLY_ERR_INVALID : r;
	body = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if ((r = check_len(body)) != 0)
		return r;
	if (body > cap)
		return TALLY_ERR_TOO_LARGE;
	if ((r = read_full(fd, buf, body, &got)) != 0)
		return r == TALLY_ERR_CLOSED ? TALLY_ERR_INVALID : r;
	*len = body;
	return 0;
}

int
tally_frame_write_fd(int fd, const uint8_t *body, size_t len)
{
	uint8_t hdr[TALLY_FRAME_HDR];
	int r;

	if ((r = tally_frame_header(hdr, len)) != 0)
		return r;
	if ((r = tally_write_all(fd, hdr, sizeof(hdr))) != 0)
		return r;
	return tally_write_all(fd, body, len);
}
