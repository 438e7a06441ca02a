/* checkpoint.c - C2SP tlog-checkpoint notes, see checkpoint.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "err.h"
#include "note.h"
#include "util.h"

#define ORIGIN_PREFIX "tally.appliance/"
#define ORIGIN_ID_BYTES 8

void
tally_checkpoint_origin(const uint8_t key_id[32], char out[TALLY_ORIGIN_MAX])
{
	char hex[2 * ORIGIN_ID_BYTES + 1];

	tally_hex(key_id, ORIGIN_ID_BYTES, hex);
	snprintf(out, TALLY_ORIGIN_MAX, ORIGIN_PREFIX "%s", hex);
}

/* The origin doubles as the key name: printable ASCII, no space or '+'. */
static int
origin_ok(const char *origin)
{
	return strnlen(origin, TALLY_ORIGIN_MAX) < TALLY_ORIGIN_MAX &&
	    tally_note_name_ok(origin);
}

int
tally_checkpoint_sign(EVP_PKEY *key, const char *origin, uint64_t size,
    const uint8_t root[TALLY_HASH_LEN], char **note)
{
	char text[TALLY_ORIGIN_MAX + 24 + TALLY_B64_LEN(TALLY_HASH_LEN) + 4];
	char b64[TALLY_B64_LEN(TALLY_HASH_LEN) + 1];

	if (!origin_ok(origin))
		return TALLY_ERR_INVALID;
	tally_b64_encode(root, TALLY_HASH_LEN, b64);
	snprintf(text, sizeof(text), "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
	return tally_note_sign(key, origin, text, note);
}

/* Decimal without leading zeros (but "0"), at most UINT64_MAX. */
static int
parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return TALLY_ERR_INVALID;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return TALLY_ERR_INVALID;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return TALLY_ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Next line of text[*off..len) (without newline); every line ends in one. */
static int
next_line(const char *text, size_t len, size_t *off, const char **line, size_t *n)
{
	const char *eol;

	if (*off >= len || (eol = memchr(text + *off, '\n', len - *off)) == NULL)
		return TALLY_ERR_INVALID;
	*line = text + *off;
	*n = (size_t)(eol - *line);
	*off += *n + 1;
	return *n == 0 ? TALLY_ERR_INVALID : 0;
}

/* Parses the checkpoint body: origin, size, root, then non-empty
 * extension lines, which are ignored. */
static int
parse_body(const char *text, size_t len, const char *origin, uint64_t *size,
    uint8_t root[TALLY_HASH_LEN])
{
	const char *line;
	size_t off = 0, n, rlen;
	uint64_t sz;
	uint8_t r32[TALLY_HASH_LEN];

	if (next_line(text, len, &off, &line, &n) != 0)
		return TALLY_ERR_INVALID;
	if (n != strlen(origin) || memcmp(line, origin, n) != 0)
		return TALLY_ERR_MISMATCH;
	if (next_line(text, len, &off, &line, &n) != 0 || parse_size(line, n, &sz) != 0 ||
	    next_line(text, len, &off, &line, &n) != 0 ||
	    tally_b64_decode(line, n, r32, sizeof(r32), &rlen) != 0 || rlen != TALLY_HASH_LEN)
		return TALLY_ERR_INVALID;
	while (off < len)
		if (next_line(text, len, &off, &line, &n) != 0)
			return TALLY_ERR_INVALID;
	*size = sz;
	memcpy(root, r32, TALLY_HASH_LEN);
	return 0;
}

int
tally_checkpoint_verify(const char *note, size_t len, EVP_PKEY *pub,
    const char *origin, uint64_t *size, uint8_t root[TALLY_HASH_LEN])
{
	const char *text;
	size_t tlen;
	int r;

	if (len > TALLY_NOTE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (!origin_ok(origin))
		return TALLY_ERR_INVALID;
	if ((r = tally_note_verify(note, len, origin, pub, &text, &tlen)) != 0)
		return r == TALLY_ERR_KEY ? TALLY_ERR_SIGNATURE : r;
	return parse_body(text, tlen, origin, size, root);
}
