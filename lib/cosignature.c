/* cosignature.c - OEM receipts as C2SP tlog-cosignature/v1 cosignatures on
 * a checkpoint note; see cosignature.h. Note parsing, key hashes, signature
 * lines and base64 are note.c's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cosignature.h"
#include "err.h"
#include "key.h"
#include "merkle.h"
#include "note.h"
#include "util.h"

#define COSIG_TYPE_ED25519 0x04	/* tlog-cosignature/v1 key ID type byte */
#define COSIG_HEADER "cosignature/v1\n"
#define TS_LEN 8
#define ED25519_SIG 64
/* "cosignature/v1\n" "time " 19 digits "\n" */
#define COSIG_PREFIX_MAX (sizeof(COSIG_HEADER) - 1 + 5 + 19 + 1)

/* Next non-empty line of text[*off..len), which ends in a newline. */
static int
body_line(const char *text, size_t len, size_t *off, const char **line, size_t *n)
{
	const char *eol;

	if (*off >= len || (eol = memchr(text + *off, '\n', len - *off)) == NULL)
		return TALLY_ERR_INVALID;
	*line = text + *off;
	*n = (size_t)(eol - *line);
	*off += *n + 1;
	return *n == 0 ? TALLY_ERR_INVALID : 0;
}

/* Is the note text a tlog-checkpoint body: origin, decimal size without
 * leading zeros, base64 of a 32-byte root, then non-empty extension lines? */
static int
checkpoint_shape(const char *text, size_t len)
{
	uint8_t root[TALLY_HASH_LEN];
	const char *line;
	size_t off = 0, n, rlen;

	if (body_line(text, len, &off, &line, &n) != 0 ||
	    body_line(text, len, &off, &line, &n) != 0 || n > 20 ||
	    strspn(line, "0123456789") < n || (n > 1 && line[0] == '0') ||
	    body_line(text, len, &off, &line, &n) != 0 ||
	    tally_b64_decode(line, n, root, sizeof(root), &rlen) != 0 ||
	    rlen != TALLY_HASH_LEN)
		return TALLY_ERR_INVALID;
	while (off < len)
		if (body_line(text, len, &off, &line, &n) != 0)
			return TALLY_ERR_INVALID;
	return 0;
}

/* The signed message "cosignature/v1\ntime <ts>\n" || text into a new
 * buffer (*msg, free()). */
static int
cosig_message(int64_t ts, const char *text, size_t tlen, uint8_t **msg, size_t *mlen)
{
	char prefix[COSIG_PREFIX_MAX + 1];
	size_t plen;

	plen = (size_t)snprintf(prefix, sizeof(prefix), COSIG_HEADER "time %" PRId64 "\n", ts);
	if ((*msg = malloc(plen + tlen)) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(*msg, prefix, plen);
	memcpy(*msg + plen, text, tlen);
	*mlen = plen + tlen;
	return 0;
}

static void
put_be(uint8_t *p, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Signature line of the OEM cosignature over text at ts (*line, free()). */
static int
cosig_line(EVP_PKEY *key, const char *text, size_t tlen, int64_t ts, char **line)
{
	uint8_t blob[4 + TS_LEN + TALLY_SIG_MAX], *msg = NULL;
	size_t mlen, siglen;
	uint32_t id;
	int r;

	if ((r = tally_note_key_id_type(key, TALLY_OEM_COSIGNER_NAME, COSIG_TYPE_ED25519,
	    &id)) != 0 || (r = cosig_message(ts, text, tlen, &msg, &mlen)) != 0)
		goto out;
	put_be(blob, id, 4);
	put_be(blob + 4, (uint64_t)ts, TS_LEN);
	if ((r = tally_sign(key, msg, mlen, blob + 4 + TS_LEN, &siglen)) != 0)
		goto out;
	r = tally_note_format_line(TALLY_OEM_COSIGNER_NAME, blob, 4 + TS_LEN + siglen, line);
 out:
	free(msg);
	return r;
}

int
tally_cosign(EVP_PKEY *oem_key, const char *note, size_t len, int64_t ts,
    char **receipt)
{
	size_t tlen, sigs, llen;
	char *line = NULL, *out;
	int r;

	if ((r = tally_note_split(note, len, &tlen, &sigs)) != 0)
		return r;
	if (ts < 0 || checkpoint_shape(note, tlen) != 0)
		return TALLY_ERR_INVALID;
	if (tally_key_type(oem_key) == 0)
		return TALLY_ERR_KEY;
	if ((r = cosig_line(oem_key, note, tlen, ts, &line)) != 0)
		return r;
	llen = strlen(line);
	if (len + llen > TALLY_NOTE_MAX) {
		free(line);
		return TALLY_ERR_TOO_LARGE;
	}
	if ((out = malloc(len + llen + 1)) == NULL) {
		free(line);
		return TALLY_ERR_NOMEM;
	}
	memcpy(out, note, len);
	memcpy(out + len, line, llen + 1);
	free(line);
	*receipt = out;
	return 0;
}

/* Verifies one cosignature blob (key ID || timestamp || signature) by pub
 * over text; sets *ts. */
static int
cosig_check(EVP_PKEY *pub, const char *text, size_t tlen, const uint8_t *blob,
    size_t blen, int64_t *ts)
{
	uint8_t *msg = NULL;
	size_t mlen;
	uint64_t t;
	int r;

	if (blen < 4 + TS_LEN + 1)
		return TALLY_ERR_SIGNATURE;
	if ((t = get_be(blob + 4, TS_LEN)) > INT64_MAX)
		return TALLY_ERR_SIGNATURE;
	if (tally_key_type(pub) == TALLY_KEY_ED25519 && blen != 4 + TS_LEN + ED25519_SIG)
		return TALLY_ERR_SIGNATURE;
	if ((r = cosig_message((int64_t)t, text, tlen, &msg, &mlen)) != 0)
		return r;
	r = tally_verify(pub, msg, mlen, blob + 4 + TS_LEN, blen - 4 - TS_LEN);
	free(msg);
	if (r != 0)
		return r == TALLY_ERR_NOMEM ? r : TALLY_ERR_SIGNATURE;
	*ts = (int64_t)t;
	return 0;
}

int
tally_cosignature_verify(const char *receipt, size_t len, EVP_PKEY *oem_pub,
    int64_t *ts, size_t *text_len)
{
	uint8_t blob[TALLY_NOTE_MAX];
	const char *name;
	size_t tlen, off, nlen, blen, lines = 0;
	size_t want = strlen(TALLY_OEM_COSIGNER_NAME);
	uint32_t id;
	int64_t t = 0;
	int r, found = 0;

	if ((r = tally_note_split(receipt, len, &tlen, &off)) != 0)
		return r;
	if (checkpoint_shape(receipt, tlen) != 0)
		return TALLY_ERR_INVALID;
	if (tally_note_key_id_type(oem_pub, TALLY_OEM_COSIGNER_NAME, COSIG_TYPE_ED25519,
	    &id) != 0)
		return TALLY_ERR_SIGNATURE;
	while (off < len) {
		if (++lines > TALLY_NOTE_MAX_SIGS)
			return TALLY_ERR_INVALID;
		if ((r = tally_note_next_sig(receipt, len, &off, &name, &nlen, blob,
		    sizeof(blob), &blen)) != 0)
			return r;
		if (nlen != want || memcmp(name, TALLY_OEM_COSIGNER_NAME, want) != 0 ||
		    (uint32_t)get_be(blob, 4) != id)
			continue;	/* another signer's line */
		/* A line by this key that does not verify rejects the receipt. */
		if ((r = cosig_check(oem_pub, receipt, tlen, blob, blen, &t)) != 0)
			return r;
		found = 1;
	}
	if (!found)
		return TALLY_ERR_SIGNATURE;
	*ts = t;
	*text_len = tlen;
	return 0;
}
