/* note.c - C2SP signed notes (c2sp.org/signed-note), see note.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "err.h"
#include "key.h"
#include "note.h"
#include "util.h"

#define EM_DASH_SP "\xe2\x80\x94 "	/* U+2014 then a space */
#define EM_DASH_SP_LEN 4
#define ED25519_RAW 32

/* Valid UTF-8 (shortest form, no surrogates) without control characters
 * other than newline? 1 yes, 0 no. */
static int
text_ok(const uint8_t *s, size_t len)
{
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, k, n;
	uint32_t cp;

	while (i < len) {
		if (s[i] < 0x80) {
			if (s[i] < 0x20 && s[i] != '\n')
				return 0;
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			n = 1, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			n = 2, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			n = 3, cp = s[i] & 0x07;
		else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
tally_note_name_ok(const char *name)
{
	size_t i, len = strnlen(name, TALLY_NOTE_NAME_MAX + 1);

	if (len == 0 || len > TALLY_NOTE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f ||
		    name[i] == '+')
			return 0;
	return 1;
}

/* Signature type and public-key encoding of pub (new buffer, OPENSSL_free). */
static int
key_encoding(EVP_PKEY *pub, uint8_t *type, uint8_t **enc, size_t *len)
{
	size_t n = ED25519_RAW;

	switch (tally_key_type(pub)) {
	case TALLY_KEY_ED25519:
		*type = TALLY_NOTE_SIG_ED25519;
		if ((*enc = OPENSSL_malloc(ED25519_RAW)) == NULL)
			return TALLY_ERR_NOMEM;
		if (EVP_PKEY_get_raw_public_key(pub, *enc, &n) != 1 || n != ED25519_RAW) {
			OPENSSL_free(*enc);
			return TALLY_ERR_CRYPTO;
		}
		*len = n;
		return 0;
	case TALLY_KEY_P256:
		*type = TALLY_NOTE_SIG_ECDSA;
		return tally_key_spki(pub, enc, len);
	default:
		return TALLY_ERR_KEY;
	}
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Key ID from name, type and public-key encoding (see note.h). */
static int
key_id_of(const char *name, uint8_t type, const uint8_t *enc, size_t len, uint32_t *id)
{
	uint8_t md[SHA256_DIGEST_LENGTH], *buf;
	size_t nlen = strlen(name);

	if (type == TALLY_NOTE_SIG_ECDSA) {
		SHA256(enc, len, md);
		*id = be32(md);
		return 0;
	}
	if ((buf = malloc(nlen + 2 + len)) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(buf, name, nlen);
	buf[nlen] = '\n';
	buf[nlen + 1] = type;
	memcpy(buf + nlen + 2, enc, len);
	SHA256(buf, nlen + 2 + len, md);
	free(buf);
	*id = be32(md);
	return 0;
}

int
tally_note_key_id(EVP_PKEY *pub, const char *name, uint32_t *id)
{
	uint8_t type, *enc = NULL;
	size_t len;
	int r;

	if ((r = key_encoding(pub, &type, &enc, &len)) != 0)
		return r;
	r = key_id_of(name, type, enc, len, id);
	OPENSSL_free(enc);
	return r;
}

int
tally_note_key_id_type(EVP_PKEY *pub, const char *name, uint8_t type, uint32_t *id)
{
	uint8_t t, *enc = NULL;
	size_t len;
	int r;

	if ((r = key_encoding(pub, &t, &enc, &len)) != 0)
		return r;
	r = key_id_of(name, t == TALLY_NOTE_SIG_ED25519 ? type : t, enc, len, id);
	OPENSSL_free(enc);
	return r;
}

int
tally_note_vkey(EVP_PKEY *pub, const char *name, char **vkey)
{
	uint8_t type, *enc = NULL, *blob = NULL;
	size_t len, cap;
	uint32_t id;
	char *out = NULL;
	int r;

	if (!tally_note_name_ok(name))
		return TALLY_ERR_INVALID;
	if ((r = key_encoding(pub, &type, &enc, &len)) != 0 ||
	    (r = key_id_of(name, type, enc, len, &id)) != 0)
		goto out;
	cap = strlen(name) + 10 + TALLY_B64_LEN(len + 1) + 1;
	if ((blob = malloc(len + 1)) == NULL || (out = malloc(cap)) == NULL) {
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	blob[0] = type;
	memcpy(blob + 1, enc, len);
	snprintf(out, cap, "%s+%08x+", name, id);
	tally_b64_encode(blob, len + 1, out + strlen(out));
	*vkey = out;
	out = NULL;
 out:
	OPENSSL_free(enc);
	free(blob);
	free(out);
	return r;
}

/* Public key from a vkey's decoded "type || key" blob. */
static int
vkey_key(const uint8_t *blob, size_t len, EVP_PKEY **pub)
{
	if (len < 2)
		return TALLY_ERR_INVALID;
	if (blob[0] == TALLY_NOTE_SIG_ED25519) {
		if (len != 1 + ED25519_RAW)
			return TALLY_ERR_KEY;
		*pub = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, blob + 1,
		    ED25519_RAW);
		return *pub != NULL ? 0 : TALLY_ERR_KEY;
	}
	if (blob[0] == TALLY_NOTE_SIG_ECDSA)
		return tally_key_from_spki(blob + 1, len - 1, pub) == 0 ? 0 : TALLY_ERR_KEY;
	return TALLY_ERR_UNSUPPORTED;
}

int
tally_note_vkey_parse(const char *vkey, char name[TALLY_NOTE_NAME_MAX + 1],
    EVP_PKEY **pub)
{
	const char *p1 = strchr(vkey, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
	uint8_t blob[1 + TALLY_SPKI_MAX], idb[4];
	char hex[9];
	size_t blen;
	uint32_t id;
	EVP_PKEY *k = NULL;
	int r;

	if (p2 == NULL || p1 - vkey > TALLY_NOTE_NAME_MAX || p2 - p1 != 9)
		return TALLY_ERR_INVALID;
	memcpy(name, vkey, (size_t)(p1 - vkey));
	name[p1 - vkey] = '\0';
	memcpy(hex, p1 + 1, 8);
	hex[8] = '\0';
	/* Lower-case hex only, as golang.org/x/mod/sumdb/note requires. */
	if (!tally_note_name_ok(name) || strspn(hex, "0123456789abcdef") != 8 ||
	    tally_unhex(hex, idb, 4) != 0)
		return TALLY_ERR_INVALID;
	if ((r = tally_b64_decode(p2 + 1, strlen(p2 + 1), blob, sizeof(blob), &blen)) != 0)
		return r == TALLY_ERR_TOO_LARGE ? TALLY_ERR_KEY : r;
	if ((r = vkey_key(blob, blen, &k)) != 0 ||
	    (r = tally_note_key_id(k, name, &id)) != 0)
		goto out;
	if (id != be32(idb)) {
		r = TALLY_ERR_INVALID;
		goto out;
	}
	*pub = k;
	k = NULL;
 out:
	EVP_PKEY_free(k);
	return r;
}

int
tally_note_format_line(const char *name, const uint8_t *blob, size_t blen, char **line)
{
	size_t cap, off;
	char *out;

	if (!tally_note_name_ok(name))
		return TALLY_ERR_INVALID;
	cap = EM_DASH_SP_LEN + strlen(name) + 1 + TALLY_B64_LEN(blen) + 2;
	if ((out = malloc(cap)) == NULL)
		return TALLY_ERR_NOMEM;
	off = (size_t)snprintf(out, cap, EM_DASH_SP "%s ", name);
	off += tally_b64_encode(blob, blen, out + off);
	out[off++] = '\n';
	out[off] = '\0';
	*line = out;
	return 0;
}

int
tally_note_sign_line(EVP_PKEY *key, const char *name, const char *text,
    size_t len, char **line)
{
	uint8_t blob[4 + TALLY_SIG_MAX];
	size_t siglen;
	uint32_t id;
	int r;

	if (!tally_note_name_ok(name))
		return TALLY_ERR_INVALID;
	if ((r = tally_note_key_id(key, name, &id)) != 0 ||
	    (r = tally_sign(key, (const uint8_t *)text, len, blob + 4, &siglen)) != 0)
		return r;
	blob[0] = (uint8_t)(id >> 24);
	blob[1] = (uint8_t)(id >> 16);
	blob[2] = (uint8_t)(id >> 8);
	blob[3] = (uint8_t)id;
	return tally_note_format_line(name, blob, 4 + siglen, line);
}

int
tally_note_sign(EVP_PKEY *key, const char *name, const char *text, char **note)
{
	size_t tlen = strnlen(text, TALLY_NOTE_MAX / 2 + 1), llen;
	char *line = NULL, *out;
	int r;

	if (tlen > TALLY_NOTE_MAX / 2)
		return TALLY_ERR_TOO_LARGE;
	if (tlen == 0 || text[tlen - 1] != '\n' || !text_ok((const uint8_t *)text, tlen))
		return TALLY_ERR_INVALID;
	if ((r = tally_note_sign_line(key, name, text, tlen, &line)) != 0)
		return r;
	llen = strlen(line);
	if ((out = malloc(tlen + 1 + llen + 1)) == NULL) {
		free(line);
		return TALLY_ERR_NOMEM;
	}
	memcpy(out, text, tlen);
	out[tlen] = '\n';
	memcpy(out + tlen + 1, line, llen + 1);
	free(line);
	*note = out;
	return 0;
}

/* Splits one signature line "— name base64" (without its newline). */
static int
parse_sig_line(const char *line, size_t len, const char **name, size_t *nlen,
    const char **b64, size_t *blen)
{
	const char *sp;

	if (len < EM_DASH_SP_LEN || memcmp(line, EM_DASH_SP, EM_DASH_SP_LEN) != 0)
		return TALLY_ERR_INVALID;
	line += EM_DASH_SP_LEN;
	len -= EM_DASH_SP_LEN;
	if ((sp = memchr(line, ' ', len)) == NULL || sp == line)
		return TALLY_ERR_INVALID;
	*name = line;
	*nlen = (size_t)(sp - line);
	*b64 = sp + 1;
	*blen = len - *nlen - 1;
	if (*blen == 0 || memchr(*b64, ' ', *blen) != NULL)
		return TALLY_ERR_INVALID;
	return 0;
}

/* Checks one signature line; *found is set when it is by the key (name, id)
 * and verifies. A line by the key that does not verify is an error. */
static int
check_sig_line(const char *line, size_t len, const char *text, size_t tlen,
    const char *name, uint32_t id, EVP_PKEY *pub, int *found)
{
	uint8_t sig[TALLY_NOTE_MAX];
	const char *lname, *b64;
	size_t lnlen, blen, slen;
	int r;

	if ((r = parse_sig_line(line, len, &lname, &lnlen, &b64, &blen)) != 0 ||
	    (r = tally_b64_decode(b64, blen, sig, sizeof(sig), &slen)) != 0)
		return TALLY_ERR_INVALID;
	if (slen < 5)
		return TALLY_ERR_INVALID;
	if (lnlen != strlen(name) || memcmp(lname, name, lnlen) != 0 || be32(sig) != id)
		return 0;
	if (tally_verify(pub, (const uint8_t *)text, tlen, sig + 4, slen - 4) != 0)
		return TALLY_ERR_SIGNATURE;
	*found = 1;
	return 0;
}

/* Offset of the note text's end (just after its last newline before the
 * blank line), or 0 when there is no blank line. */
static size_t
text_end(const char *note, size_t len)
{
	size_t i;

	for (i = len - 1; i > 0; i--)
		if (note[i] == '\n' && note[i - 1] == '\n')
			return i;
	return 0;
}

int
tally_note_verify(const char *note, size_t len, const char *name,
    EVP_PKEY *pub, const char **text, size_t *text_len)
{
	size_t tlen, off, nl, lines = 0;
	const char *eol;
	uint32_t id;
	int r, found = 0;

	if (len > TALLY_NOTE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (len < 2 || note[len - 1] != '\n' || !text_ok((const uint8_t *)note, len) ||
	    !tally_note_name_ok(name) || (tlen = text_end(note, len - 1)) == 0)
		return TALLY_ERR_INVALID;
	if ((r = tally_note_key_id(pub, name, &id)) != 0)
		return r;
	for (off = tlen + 1; off < len; off += nl + 1) {
		eol = memchr(note + off, '\n', len - off);
		nl = (size_t)(eol - (note + off));
		if (++lines > TALLY_NOTE_MAX_SIGS)
			return TALLY_ERR_INVALID;
		if ((r = check_sig_line(note + off, nl, note, tlen, name, id, pub, &found)) != 0)
			return r;
	}
	if (!found)
		return TALLY_ERR_SIGNATURE;
	if (text != NULL)
		*text = note;
	if (text_len != NULL)
		*text_len = tlen;
	return 0;
}

int
tally_note_split(const char *note, size_t len, size_t *text_len, size_t *sigs)
{
	size_t tlen;

	if (len > TALLY_NOTE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (len < 2 || note[len - 1] != '\n' || !text_ok((const uint8_t *)note, len) ||
	    (tlen = text_end(note, len - 1)) == 0)
		return TALLY_ERR_INVALID;
	*text_len = tlen;
	*sigs = tlen + 1;
	return 0;
}

int
tally_note_next_sig(const char *note, size_t len, size_t *off, const char **name,
    size_t *nlen, uint8_t *blob, size_t max, size_t *blen)
{
	const char *eol, *b64;
	size_t nl, b64len;

	if (*off >= len || (eol = memchr(note + *off, '\n', len - *off)) == NULL)
		return TALLY_ERR_INVALID;
	nl = (size_t)(eol - (note + *off));
	if (parse_sig_line(note + *off, nl, name, nlen, &b64, &b64len) != 0 ||
	    tally_b64_decode(b64, b64len, blob, max, blen) != 0 || *blen < 5)
		return TALLY_ERR_INVALID;
	*off += nl + 1;
	return 0;
}
