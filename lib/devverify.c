/*
 * devverify.c - the device-side token bundle verifier, see devverify.h and
 * docs/verifier.md.
 *
 * Portable C11 for a bootloader: no heap, no global or static mutable
 * state (the tables below are const), no libc beyond memcmp/memcpy/memset,
 * no protobuf library and no crypto library: a strict reader of the
 * protobuf wire format (protobuf.dev/programming-guides/encoding) walks
 * the caller's bytes in place, and every hash and signature goes through
 * struct tdv_crypto.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "devverify.h"

#define PT_QUOTA "application/vnd.tally.quota+pb"
#define PT_TOKEN "application/vnd.tally.token+pb"
#define SPKI_MAX 1024       /* = TALLY_SPKI_MAX, bytes */
#define FIRMWARE_MAX 16     /* digests per quota, = TALLY_FIRMWARE_MAX */
#define SIGS_MAX 4          /* signatures looked at, = TALLY_DSSE_MAX_SIGS */
#define NONCE_LEN 32
#define PAE_FIXED 50        /* "DSSEv1" + 4 spaces + two 20-digit lengths */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct span {
	const uint8_t *p;
	size_t len;
};

/* A bounded reader over [p, end). */
struct rd {
	const uint8_t *p, *end;
};

/* One field as read: number, wire type, varint value or bytes. */
struct fld {
	uint32_t num, wt;
	uint64_t v;
	struct span s;
};

/* Field kinds a message descriptor knows. */
enum kind {
	K_BYTES,    /* length-delimited, at most once: struct span */
	K_VARINT,   /* varint, at most once: uint64_t */
	K_REPEATED  /* length-delimited, repeated: size_t count */
};

struct fdesc {
	uint8_t num, kind;
	uint16_t off;   /* offsetof the target in the message struct */
};

struct bundle {
	struct span quota, token, app_spki;
};

struct envelope {
	struct span type, payload, body;
	size_t nsig;
};

struct signature {
	struct span keyid, sig;
};

struct quota {
	struct span id, app_id, product, body, ignored_s;
	size_t nfw;
	uint64_t not_before, not_after, ignored_v;
};

struct token {
	struct span quota_id, app_id, product, uid, fw, jig_id, nonce;
	uint64_t log_index, serial, issued_at;
};

#define F(n, k, type, member) { (n), (k), (uint16_t)offsetof(type, member) }

static const struct fdesc bundle_fields[] = {
	F(1, K_BYTES, struct bundle, quota),
	F(2, K_BYTES, struct bundle, token),
	F(3, K_BYTES, struct bundle, app_spki),
};

static const struct fdesc envelope_fields[] = {
	F(1, K_BYTES, struct envelope, type),
	F(2, K_BYTES, struct envelope, payload),
	F(3, K_REPEATED, struct envelope, nsig),
};

static const struct fdesc signature_fields[] = {
	F(1, K_BYTES, struct signature, keyid),
	F(2, K_BYTES, struct signature, sig),
};

/* Fields 13 and 14 (attestation policy and keys) are the appliance's
 * business: skipped like unknown fields. The rest are checked for wire
 * type and at most one occurrence even when unused here. */
static const struct fdesc quota_fields[] = {
	F(1, K_BYTES, struct quota, id),
	F(2, K_BYTES, struct quota, app_id),
	F(3, K_BYTES, struct quota, ignored_s),
	F(4, K_BYTES, struct quota, product),
	F(5, K_REPEATED, struct quota, nfw),
	F(6, K_VARINT, struct quota, ignored_v),
	F(7, K_VARINT, struct quota, ignored_v),
	F(8, K_VARINT, struct quota, ignored_v),
	F(9, K_VARINT, struct quota, not_before),
	F(10, K_VARINT, struct quota, not_after),
	F(11, K_VARINT, struct quota, ignored_v),
	F(12, K_VARINT, struct quota, ignored_v),
	F(15, K_VARINT, struct quota, ignored_v),
};

/* Fields 11-13 (what the DUT's attestation said) are skipped. */
static const struct fdesc token_fields[] = {
	F(1, K_VARINT, struct token, log_index),
	F(2, K_BYTES, struct token, quota_id),
	F(3, K_BYTES, struct token, app_id),
	F(4, K_BYTES, struct token, product),
	F(5, K_BYTES, struct token, uid),
	F(6, K_VARINT, struct token, serial),
	F(7, K_BYTES, struct token, fw),
	F(8, K_BYTES, struct token, jig_id),
	F(9, K_VARINT, struct token, issued_at),
	F(10, K_BYTES, struct token, nonce),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- protobuf wire format ---- */

/* A base-128 varint of at most 10 bytes whose value fits 64 bits. */
static int
rd_varint(struct rd *r, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;
	uint8_t b;

	for (shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		b = *r->p++;
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int
rd_take(struct rd *r, uint64_t n, struct span *s)
{
	if (n > (uint64_t)(r->end - r->p))
		return -1;
	s->p = r->p;
	s->len = (size_t)n;
	r->p += s->len;
	return 0;
}

/* The next field: its tag, then a varint (f->v), bytes (f->s), or a fixed
 * 32/64-bit value skipped. Groups (wire types 3, 4) and 6, 7 are refused. */
static int
rd_field(struct rd *r, struct fld *f)
{
	uint64_t tag;

	memset(f, 0, sizeof(*f));
	if (rd_varint(r, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wt = (uint32_t)(tag & 7);
	switch (f->wt) {
	case WT_VARINT:
		return rd_varint(r, &f->v);
	case WT_I64:
		return rd_take(r, 8, &f->s);
	case WT_I32:
		return rd_take(r, 4, &f->s);
	case WT_LEN:
		if (rd_varint(r, &f->v) != 0)
			return -1;
		return rd_take(r, f->v, &f->s);
	default:
		return -1;
	}
}

static const struct fdesc *
find_field(const struct fdesc *d, size_t nd, uint32_t num, size_t *idx)
{
	size_t i;

	for (i = 0; i < nd; i++)
		if (d[i].num == num) {
			*idx = i;
			return &d[i];
		}
	return NULL;
}

/* Stores one known field into out, refusing a wrong wire type and a second
 * occurrence of a non-repeated field (seen: one bit per descriptor). */
static int
store_field(const struct fdesc *x, size_t idx, const struct fld *f,
    uint32_t *seen, uint8_t *out)
{
	if (f->wt != (x->kind == K_VARINT ? (uint32_t)WT_VARINT : (uint32_t)WT_LEN))
		return -1;
	if (x->kind == K_REPEATED) {
		(*(size_t *)(void *)(out + x->off))++;
		return 0;
	}
	if (*seen & (UINT32_C(1) << idx))
		return -1;
	*seen |= UINT32_C(1) << idx;
	if (x->kind == K_VARINT)
		*(uint64_t *)(void *)(out + x->off) = f->v;
	else
		*(struct span *)(void *)(out + x->off) = f->s;
	return 0;
}

/* Parses message m by descriptor d into out (zeroed first; caller's
 * struct). Unknown fields of wire types 0, 1, 2, 5 are skipped. */
static int
parse_msg(struct span m, const struct fdesc *d, size_t nd, void *out,
    size_t out_size)
{
	struct rd r = { m.p, m.p + m.len };
	const struct fdesc *x;
	struct fld f;
	uint32_t seen = 0;
	size_t idx = 0;

	memset(out, 0, out_size);
	while (r.p < r.end) {
		if (rd_field(&r, &f) != 0)
			return -1;
		if ((x = find_field(d, nd, f.num, &idx)) != NULL &&
		    store_field(x, idx, &f, &seen, out) != 0)
			return -1;
	}
	return 0;
}

/* The next occurrence of length-delimited field num in a message that
 * parse_msg accepted. 1 found (*s), 0 no more. */
static int
next_repeated(struct rd *r, uint32_t num, struct span *s)
{
	struct fld f;

	while (r->p < r->end) {
		if (rd_field(r, &f) != 0)
			return 0;
		if (f.num == num) {
			*s = f.s;
			return 1;
		}
	}
	return 0;
}

/* ---- small helpers ---- */

static size_t
str_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

static int
span_eq(struct span a, const void *b, size_t len)
{
	return a.len == len && (len == 0 || memcmp(a.p, b, len) == 0);
}

/* 1..TDV_PRODUCT_MAX printable ASCII characters. */
static int
product_ok(struct span s)
{
	size_t i;

	if (s.len == 0 || s.len > TDV_PRODUCT_MAX)
		return 0;
	for (i = 0; i < s.len; i++)
		if (s.p[i] < 0x20 || s.p[i] > 0x7e)
			return 0;
	return 1;
}

/* protobuf int64: two's complement in a uint64 varint. */
static int64_t
as_i64(uint64_t v)
{
	if (v <= (uint64_t)INT64_MAX)
		return (int64_t)v;
	return -(int64_t)(UINT64_MAX - v) - 1;
}

static size_t
put_dec(uint8_t *o, size_t n)
{
	uint8_t tmp[20];
	size_t k = 0, i;

	do {
		tmp[k++] = (uint8_t)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	for (i = 0; i < k; i++)
		o[i] = tmp[k - 1 - i];
	return k;
}

/* DSSE v1 PAE: "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload,
 * LEN in ASCII decimal, into w (wlen bytes). 0 or -1 (w too small). */
static int
build_pae(uint8_t *w, size_t wlen, struct span type, struct span payload,
    size_t *out_len)
{
	size_t n;

	if (type.len > wlen || payload.len > wlen - type.len ||
	    wlen - type.len - payload.len < PAE_FIXED)
		return -1;
	memcpy(w, "DSSEv1 ", 7);
	n = 7 + put_dec(w + 7, type.len);
	w[n++] = ' ';
	memcpy(w + n, type.p, type.len);
	n += type.len;
	w[n++] = ' ';
	n += put_dec(w + n, payload.len);
	w[n++] = ' ';
	memcpy(w + n, payload.p, payload.len);
	*out_len = n + payload.len;
	return 0;
}

/* ---- step 1: structure ---- */

static enum tdv_result
check_params(const struct tdv_params *p, const uint8_t *bundle)
{
	if (p == NULL || bundle == NULL || p->crypto == NULL ||
	    p->crypto->sha256 == NULL || p->crypto->verify == NULL ||
	    p->oem_root_spki == NULL || p->oem_root_spki_len == 0 ||
	    p->oem_root_spki_len > SPKI_MAX || p->uid == NULL ||
	    p->uid_len == 0 || p->uid_len > TDV_UID_MAX ||
	    p->work == NULL || p->work_len < TDV_WORK_MIN)
		return TDV_BAD_PARAMS;
	if (p->product != NULL) {
		size_t n = str_len(p->product, TDV_PRODUCT_MAX);

		if (n == 0 || n > TDV_PRODUCT_MAX)
			return TDV_BAD_PARAMS;
	}
	return TDV_OK;
}

static enum tdv_result
parse_bundle(const uint8_t *bundle, size_t len, struct bundle *b)
{
	struct span m = { bundle, len };

	if (parse_msg(m, bundle_fields, NFIELDS(bundle_fields), b, sizeof(*b)) != 0 ||
	    b->quota.len == 0 || b->token.len == 0 ||
	    b->app_spki.len == 0 || b->app_spki.len > SPKI_MAX)
		return TDV_MALFORMED;
	return TDV_OK;
}

/* An Envelope and each of its Signatures, well-formed. */
static enum tdv_result
parse_envelope(struct span m, struct envelope *e)
{
	struct rd r = { m.p, m.p + m.len };
	struct signature s;
	struct span sm;

	if (parse_msg(m, envelope_fields, NFIELDS(envelope_fields), e, sizeof(*e)) != 0)
		return TDV_MALFORMED;
	if (e->payload.len > TDV_PAYLOAD_MAX)
		return TDV_TOO_LARGE;
	if (e->payload.len == 0)
		return TDV_MALFORMED;
	e->body = m;
	while (next_repeated(&r, 3, &sm))
		if (parse_msg(sm, signature_fields, NFIELDS(signature_fields),
		    &s, sizeof(s)) != 0)
			return TDV_MALFORMED;
	return TDV_OK;
}

/* ---- steps 2 and 4: envelope signatures ---- */

/* Envelope e has type pt and one of its first SIGS_MAX signatures has
 * keyid and verifies by spki over PAE (built in p->work). */
static enum tdv_result
verify_envelope(const struct tdv_params *p, const struct envelope *e,
    const char *pt, struct span spki, const uint8_t keyid[TDV_DIGEST_LEN])
{
	const struct tdv_crypto *c = p->crypto;
	struct rd r = { e->body.p, e->body.p + e->body.len };
	struct span type = { (const uint8_t *)pt, str_len(pt, 64) }, sm;
	struct signature s;
	enum tdv_result res = TDV_BAD_SIGNATURE;
	size_t i, pae_len;
	int v;

	if (!span_eq(e->type, type.p, type.len))
		return TDV_BAD_TYPE;
	if (build_pae(p->work, p->work_len, type, e->payload, &pae_len) != 0)
		return TDV_BAD_PARAMS;
	for (i = 0; i < SIGS_MAX && next_repeated(&r, 3, &sm); i++) {
		if (parse_msg(sm, signature_fields, NFIELDS(signature_fields), &s,
		    sizeof(s)) != 0 || !span_eq(s.keyid, keyid, TDV_DIGEST_LEN))
			continue;
		v = c->verify(c->ctx, spki.p, spki.len, p->work, pae_len, s.sig.p,
		    s.sig.len);
		if (v == 1)
			return TDV_OK;
		if (v < 0)
			res = TDV_CRYPTO;
	}
	return res;
}

/* ---- payloads ---- */

static enum tdv_result
parse_quota(struct span m, struct quota *q)
{
	struct rd r = { m.p, m.p + m.len };
	struct span d;

	if (parse_msg(m, quota_fields, NFIELDS(quota_fields), q, sizeof(*q)) != 0 ||
	    q->id.len != TDV_QUOTA_ID_LEN || q->app_id.len != TDV_DIGEST_LEN ||
	    !product_ok(q->product) || q->nfw == 0 || q->nfw > FIRMWARE_MAX)
		return TDV_MALFORMED;
	q->body = m;
	while (next_repeated(&r, 5, &d))
		if (d.len != TDV_DIGEST_LEN)
			return TDV_MALFORMED;
	return TDV_OK;
}

static enum tdv_result
parse_token(struct span m, struct token *t)
{
	if (parse_msg(m, token_fields, NFIELDS(token_fields), t, sizeof(*t)) != 0 ||
	    t->quota_id.len != TDV_QUOTA_ID_LEN || t->app_id.len != TDV_DIGEST_LEN ||
	    !product_ok(t->product) || t->uid.len == 0 || t->uid.len > TDV_UID_MAX ||
	    t->fw.len != TDV_DIGEST_LEN || t->jig_id.len != TDV_DIGEST_LEN ||
	    t->nonce.len != NONCE_LEN)
		return TDV_MALFORMED;
	return TDV_OK;
}

/* Step 2: the quota envelope by the OEM root; then its payload. */
static enum tdv_result
open_quota(const struct tdv_params *p, const struct envelope *e, struct quota *q)
{
	struct span root = { p->oem_root_spki, p->oem_root_spki_len };
	uint8_t keyid[TDV_DIGEST_LEN];
	enum tdv_result r;

	if (p->crypto->sha256(p->crypto->ctx, root.p, root.len, keyid) != 0)
		return TDV_CRYPTO;
	if ((r = verify_envelope(p, e, PT_QUOTA, root, keyid)) != TDV_OK)
		return r;
	return parse_quota(e->payload, q);
}

/* Steps 3 and 4: the bundle's appliance key is the quota's, and signed
 * the token envelope; then the token payload. */
static enum tdv_result
open_token(const struct tdv_params *p, const struct bundle *b,
    const struct quota *q, const struct envelope *e, struct token *t)
{
	uint8_t app_id[TDV_DIGEST_LEN];
	enum tdv_result r;

	if (p->crypto->sha256(p->crypto->ctx, b->app_spki.p, b->app_spki.len,
	    app_id) != 0)
		return TDV_CRYPTO;
	if (!span_eq(q->app_id, app_id, TDV_DIGEST_LEN))
		return TDV_KEY_MISMATCH;
	if ((r = verify_envelope(p, e, PT_TOKEN, b->app_spki, app_id)) != TDV_OK)
		return r;
	return parse_token(e->payload, t);
}

/* ---- steps 5 to 7: binding, firmware, validity ---- */

static enum tdv_result
check_binding(const struct tdv_params *p, const struct quota *q,
    const struct token *t)
{
	if (!span_eq(t->quota_id, q->id.p, q->id.len) ||
	    !span_eq(t->app_id, q->app_id.p, q->app_id.len) ||
	    !span_eq(t->product, q->product.p, q->product.len))
		return TDV_WRONG_QUOTA;
	if (p->product != NULL &&
	    !span_eq(t->product, p->product, str_len(p->product, TDV_PRODUCT_MAX)))
		return TDV_WRONG_DEVICE;
	if (!span_eq(t->uid, p->uid, p->uid_len))
		return TDV_WRONG_DEVICE;
	return TDV_OK;
}

static enum tdv_result
check_firmware(const struct quota *q, const struct token *t)
{
	struct rd r = { q->body.p, q->body.p + q->body.len };
	struct span d;

	while (next_repeated(&r, 5, &d))
		if (span_eq(d, t->fw.p, TDV_DIGEST_LEN))
			return TDV_OK;
	return TDV_FIRMWARE_NOT_ALLOWED;
}

static enum tdv_result
check_validity(const struct tdv_params *p, const struct quota *q,
    const struct token *t)
{
	int64_t nb = as_i64(q->not_before), na = as_i64(q->not_after);
	int64_t at = as_i64(t->issued_at);

	if (at < nb || at >= na)
		return TDV_EXPIRED;
	if (p->now != 0 && (p->now < nb || p->now >= na))
		return TDV_EXPIRED;
	return TDV_OK;
}

static void
fill_token(const struct token *t, struct tdv_token *out)
{
	out->log_index = t->log_index;
	memcpy(out->quota_id, t->quota_id.p, TDV_QUOTA_ID_LEN);
	memcpy(out->appliance_key_id, t->app_id.p, TDV_DIGEST_LEN);
	memcpy(out->firmware_digest, t->fw.p, TDV_DIGEST_LEN);
	out->serial_number = t->serial;
	out->issued_at = as_i64(t->issued_at);
}

/* ---- the API ---- */

enum tdv_result
tdv_verify_bundle(const struct tdv_params *p, const uint8_t *bundle,
    size_t len, struct tdv_token *out)
{
	struct bundle b;
	struct envelope qe, te;
	struct quota q;
	struct token t;
	enum tdv_result r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((r = check_params(p, bundle)) != TDV_OK)
		return r;
	if (len > TDV_BUNDLE_MAX)
		return TDV_TOO_LARGE;
	if ((r = parse_bundle(bundle, len, &b)) != TDV_OK ||
	    (r = parse_envelope(b.quota, &qe)) != TDV_OK ||
	    (r = parse_envelope(b.token, &te)) != TDV_OK ||
	    (r = open_quota(p, &qe, &q)) != TDV_OK ||
	    (r = open_token(p, &b, &q, &te, &t)) != TDV_OK ||
	    (r = check_binding(p, &q, &t)) != TDV_OK ||
	    (r = check_firmware(&q, &t)) != TDV_OK ||
	    (r = check_validity(p, &q, &t)) != TDV_OK)
		return r;
	if (out != NULL)
		fill_token(&t, out);
	return TDV_OK;
}

int
tdv_firmware_matches(const struct tdv_token *t, const uint8_t *digest)
{
	uint8_t diff = 0;
	size_t i;

	if (t == NULL || digest == NULL)
		return 0;
	for (i = 0; i < TDV_DIGEST_LEN; i++)
		diff |= (uint8_t)(t->firmware_digest[i] ^ digest[i]);
	return diff == 0;
}

const char *
tdv_result_name(enum tdv_result r)
{
	switch (r) {
	case TDV_OK: return "ok";
	case TDV_TOO_LARGE: return "too large";
	case TDV_MALFORMED: return "malformed";
	case TDV_BAD_TYPE: return "wrong payload type";
	case TDV_BAD_SIGNATURE: return "bad signature";
	case TDV_KEY_MISMATCH: return "appliance key mismatch";
	case TDV_WRONG_QUOTA: return "token not of this quota";
	case TDV_WRONG_DEVICE: return "wrong device";
	case TDV_FIRMWARE_NOT_ALLOWED: return "firmware not allowed";
	case TDV_EXPIRED: return "expired";
	case TDV_BAD_PARAMS: return "bad parameters";
	case TDV_CRYPTO: return "crypto back-end failed";
	}
	return "unknown result";
}
