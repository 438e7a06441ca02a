/* test_frame.c - length-prefixed framing (frame.h). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "err.h"
#include "frame.h"

static void
put_len(uint8_t *b, uint32_t n)
{
	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
}

static void
test_peek_header(void **state)
{
	uint8_t b[8] = { 0 };
	size_t len = 99;

	(void)state;
	assert_int_equal(tally_frame_peek(b, 0, &len), TALLY_ERR_AGAIN);
	assert_int_equal(tally_frame_peek(b, 1, &len), TALLY_ERR_AGAIN);
	assert_int_equal(tally_frame_peek(b, 3, &len), TALLY_ERR_AGAIN);
	assert_int_equal(tally_frame_peek(b, 4, &len), TALLY_ERR_INVALID);	/* length 0 */
	put_len(b, 3);
	assert_int_equal(tally_frame_peek(b, 4, &len), TALLY_ERR_AGAIN);
	assert_int_equal(tally_frame_peek(b, 6, &len), TALLY_ERR_AGAIN);
	assert_int_equal(len, 99);	/* untouched until a whole frame is there */
	assert_int_equal(tally_frame_peek(b, 7, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(tally_frame_peek(b, 8, &len), 0);	/* more buffered: still 3 */
	assert_int_equal(len, 3);
	put_len(b, 65537);
	assert_int_equal(tally_frame_peek(b, 4, &len), TALLY_ERR_TOO_LARGE);
	put_len(b, 0xffffffffu);
	assert_int_equal(tally_frame_peek(b, 4, &len), TALLY_ERR_TOO_LARGE);
	put_len(b, 0x80000000u);
	assert_int_equal(tally_frame_peek(b, 8, &len), TALLY_ERR_TOO_LARGE);
}

static void
test_peek_max(void **state)
{
	uint8_t *b = calloc(1, TALLY_FRAME_HDR + TALLY_FRAME_MAX);
	size_t len = 0;

	(void)state;
	assert_non_null(b);
	put_len(b, 65536);
	assert_int_equal(tally_frame_peek(b, 4, &len), TALLY_ERR_AGAIN);
	assert_int_equal(tally_frame_peek(b, 4 + 65535, &len), TALLY_ERR_AGAIN);
	assert_int_equal(tally_frame_peek(b, 4 + 65536, &len), 0);
	assert_int_equal(len, 65536);
	free(b);
}

static void
test_header(void **state)
{
	uint8_t h[4];

	(void)state;
	assert_int_equal(tally_frame_header(h, 0), TALLY_ERR_INVALID);
	assert_int_equal(tally_frame_header(h, 65537), TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_frame_header(h, 1), 0);
	assert_memory_equal(h, "\0\0\0\1", 4);
	assert_int_equal(tally_frame_header(h, 65536), 0);
	assert_memory_equal(h, "\0\1\0\0", 4);
	assert_int_equal(tally_frame_header(h, 0x1234), 0);
	assert_memory_equal(h, "\0\0\x12\x34", 4);
}

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
	int r;
};

static void *
write_thread(void *arg)
{
	struct writer *w = arg;

	w->r = tally_frame_write_fd(w->fd, w->buf, w->len);
	return NULL;
}

static void
test_fd_round_trip(void **state)
{
	int sv[2];
	uint8_t *out = malloc(TALLY_FRAME_MAX), *in = malloc(TALLY_FRAME_MAX);
	struct writer w;
	pthread_t th;
	size_t len = 0, i;

	(void)state;
	assert_non_null(out);
	assert_non_null(in);
	for (i = 0; i < TALLY_FRAME_MAX; i++)
		out[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w = (struct writer){ sv[0], out, TALLY_FRAME_MAX, -1 };
	assert_int_equal(pthread_create(&th, NULL, write_thread, &w), 0);
	assert_int_equal(tally_frame_read_fd(sv[1], in, TALLY_FRAME_MAX, &len), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.r, 0);
	assert_int_equal(len, TALLY_FRAME_MAX);
	assert_memory_equal(in, out, len);
	/* A small frame, then EOF: CLOSED. */
	assert_int_equal(tally_frame_write_fd(sv[0], out, 5), 0);
	assert_int_equal(tally_frame_write_fd(sv[0], out, 0), TALLY_ERR_INVALID);
	assert_int_equal(tally_frame_write_fd(sv[0], out, TALLY_FRAME_MAX + 1), TALLY_ERR_TOO_LARGE);
	close(sv[0]);
	assert_int_equal(tally_frame_read_fd(sv[1], in, TALLY_FRAME_MAX, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(tally_frame_read_fd(sv[1], in, TALLY_FRAME_MAX, &len), TALLY_ERR_CLOSED);
	close(sv[1]);
	free(out);
	free(in);
}

/* Writes raw bytes, closes the writing side, reads one frame. */
static int
read_after(const uint8_t *raw, size_t n, size_t cap)
{
	uint8_t in[64];
	size_t len;
	int sv[2], r;

	assert_true(cap <= sizeof(in));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], raw, n), (ssize_t)n);
	close(sv[0]);
	r = tally_frame_read_fd(sv[1], in, cap, &len);
	close(sv[1]);
	return r;
}

static void
test_fd_bad_input(void **state)
{
	uint8_t raw[16] = { 0, 0, 0, 8, 'a', 'b', 'c' };

	(void)state;
	assert_int_equal(read_after(raw, 0, 64), TALLY_ERR_CLOSED);
	assert_int_equal(read_after(raw, 2, 64), TALLY_ERR_INVALID);	/* partial header */
	assert_int_equal(read_after(raw, 7, 64), TALLY_ERR_INVALID);	/* partial body */
	assert_int_equal(read_after(raw, 12, 64), 0);
	assert_int_equal(read_after(raw, 12, 7), TALLY_ERR_TOO_LARGE);	/* over capacity */
	put_len(raw, 0);
	assert_int_equal(read_after(raw, 4, 64), TALLY_ERR_INVALID);
	put_len(raw, 65537);
	assert_int_equal(read_after(raw, 4, 64), TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_frame_read_fd(-1, raw, 16, &(size_t){ 0 }), TALLY_ERR_IO);
	assert_int_equal(tally_frame_write_fd(-1, raw, 3), TALLY_ERR_IO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peek_header),
		cmocka_unit_test(test_peek_max),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_fd_round_trip),
		cmocka_unit_test(test_fd_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
