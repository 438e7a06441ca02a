/* test_devverify_wire.c - the device-side verifier (lib/devverify.h) on
 * every field of both envelopes corrupted without signing again
 * (payloadType, payload, each signature's keyid and sig, the signature
 * list), and on the protobuf wire format at every level of a bundle:
 * unknown fields of each wire type skipped, groups, reserved wire types,
 * varint overflow, lengths past the end, field number 0 and 2^29, wrong
 * wire types and fields given twice refused. The host verifier
 * tally_bundle_verify agrees wherever it checks the same thing. */
#include "tests/unit/test_devverify_fx.h"

#define NSIG 6

/* An editable shallow copy of an envelope with up to NSIG signatures,
 * each a copy of the first one. */
struct envm {
	Tally__Envelope e;
	Tally__Signature s[NSIG], *sp[NSIG];
};

enum eop {
	T_EMPTY, T_REPORT, T_OTHER, T_LONGER, T_SHORTER, T_UPPER,       /* type */
	B_EMPTY, B_SHORT, B_LONG, B_FLIP0, B_FLIPN, B_ZERO, B_HUGE,      /* bytes */
	A_NONE, A_AT4, A_AT5, A_TWICE, A_BAD_FIRST,                      /* signatures */
};

struct emut {
	const char *name;
	char field;          /* 't' type, 'p' payload, 'k' keyid, 's' sig, 'a' list */
	enum eop op;
	enum tdv_result want;
};

static const struct emut env_muts[] = {
	{ "payloadType empty", 't', T_EMPTY, TDV_BAD_TYPE },
	{ "payloadType of a report", 't', T_REPORT, TDV_BAD_TYPE },
	{ "payloadType of the other envelope", 't', T_OTHER, TDV_BAD_TYPE },
	{ "payloadType one character longer", 't', T_LONGER, TDV_BAD_TYPE },
	{ "payloadType one character shorter", 't', T_SHORTER, TDV_BAD_TYPE },
	{ "payloadType upper case", 't', T_UPPER, TDV_BAD_TYPE },
	{ "payload empty", 'p', B_EMPTY, TDV_MALFORMED },
	{ "payload one byte short", 'p', B_SHORT, TDV_BAD_SIGNATURE },
	{ "payload one byte more", 'p', B_LONG, TDV_BAD_SIGNATURE },
	{ "payload first byte flipped", 'p', B_FLIP0, TDV_BAD_SIGNATURE },
	{ "payload last byte flipped", 'p', B_FLIPN, TDV_BAD_SIGNATURE },
	{ "payload zeroed", 'p', B_ZERO, TDV_BAD_SIGNATURE },
	{ "payload over TDV_PAYLOAD_MAX", 'p', B_HUGE, TDV_TOO_LARGE },
	{ "keyid empty", 'k', B_EMPTY, TDV_BAD_SIGNATURE },
	{ "keyid 31 bytes", 'k', B_SHORT, TDV_BAD_SIGNATURE },
	{ "keyid 33 bytes", 'k', B_LONG, TDV_BAD_SIGNATURE },
	{ "keyid first byte flipped", 'k', B_FLIP0, TDV_BAD_SIGNATURE },
	{ "keyid last byte flipped", 'k', B_FLIPN, TDV_BAD_SIGNATURE },
	{ "keyid zeroed", 'k', B_ZERO, TDV_BAD_SIGNATURE },
	{ "keyid huge", 'k', B_HUGE, TDV_BAD_SIGNATURE },
	{ "sig empty", 's', B_EMPTY, TDV_BAD_SIGNATURE },
	{ "sig one byte short", 's', B_SHORT, TDV_BAD_SIGNATURE },
	{ "sig one byte more", 's', B_LONG, TDV_BAD_SIGNATURE },
	{ "sig first byte flipped", 's', B_FLIP0, TDV_BAD_SIGNATURE },
	{ "sig last byte flipped", 's', B_FLIPN, TDV_BAD_SIGNATURE },
	{ "sig zeroed", 's', B_ZERO, TDV_BAD_SIGNATURE },
	{ "sig huge", 's', B_HUGE, TDV_BAD_SIGNATURE },
	{ "no signature", 'a', A_NONE, TDV_BAD_SIGNATURE },
	{ "good signature fourth", 'a', A_AT4, TDV_OK },
	{ "good signature fifth", 'a', A_AT5, TDV_BAD_SIGNATURE },
	{ "good signature twice", 'a', A_TWICE, TDV_OK },
	{ "bad signature, then the good one", 'a', A_BAD_FIRST, TDV_OK },
};

static void
type_op(struct dfx *f, struct envm *m, enum eop op)
{
	char *s = (char *)f->scratch, *t = m->e.payload_type;

	switch (op) {
	case T_EMPTY: m->e.payload_type = ""; return;
	case T_REPORT: m->e.payload_type = TALLY_PT_REPORT; return;
	case T_OTHER:
		m->e.payload_type = strcmp(t, TALLY_PT_QUOTA) == 0 ? TALLY_PT_TOKEN : TALLY_PT_QUOTA;
		return;
	case T_LONGER: snprintf(s, 128, "%s+", t); break;
	case T_SHORTER: snprintf(s, 128, "%.*s", (int)strlen(t) - 1, t); break;
	case T_UPPER: snprintf(s, 128, "%s", t); s[0] = 'A'; break;
	default: fail();
	}
	m->e.payload_type = s;
}

static void
bytes_op(struct dfx *f, ProtobufCBinaryData *b, enum eop op)
{
	uint8_t *s = f->scratch;
	size_t n = b->len;

	if (op == B_HUGE) {
		memset(s, 0x41, TDV_PAYLOAD_MAX + 1);
		*b = (ProtobufCBinaryData){ TDV_PAYLOAD_MAX + 1, s };
		return;
	}
	memcpy(s, b->data, n);
	*b = (ProtobufCBinaryData){ n, s };
	switch (op) {
	case B_EMPTY: b->len = 0; break;
	case B_SHORT: b->len = n - 1; break;
	case B_LONG: s[n] = 0x00; b->len = n + 1; break;
	case B_FLIP0: s[0] ^= 0x01; break;
	case B_FLIPN: s[n - 1] ^= 0x80; break;
	case B_ZERO: memset(s, 0, n); break;
	default: fail();
	}
}

/* Signature lists: junk signatures carry the right keyid and a bad sig. */
static void
list_op(struct dfx *f, struct envm *m, enum eop op)
{
	size_t i, junk = op == A_AT4 ? 3 : op == A_AT5 ? 4 : op == A_BAD_FIRST ? 1 : 0;

	for (i = 0; i < junk; i++)
		bytes_op(f, &m->s[i].sig, B_FLIPN);
	m->e.n_signatures = op == A_NONE ? 0 : op == A_TWICE ? 2 : junk + 1;
}

static void
emut_apply(struct dfx *f, struct envm *m, const struct emut *x)
{
	switch (x->field) {
	case 't': type_op(f, m, x->op); break;
	case 'p': bytes_op(f, &m->e.payload, x->op); break;
	case 'k': bytes_op(f, &m->s[0].keyid, x->op); break;
	case 's': bytes_op(f, &m->s[0].sig, x->op); break;
	case 'a': list_op(f, m, x->op); break;
	default: fail();
	}
}

/* f's bundle with envelope which (0 quota, 1 token) changed by x, not
 * signed again. */
static struct blob
bundle_with(struct dfx *f, int which, const struct emut *x)
{
	struct blob qe = quota_env(f), te = token_env(f), *env = which ? &te : &qe;
	Tally__Envelope *e = tally__envelope__unpack(NULL, env->n, env->p);
	struct envm m;
	size_t i;

	assert_non_null(e);
	m.e = *e;
	m.e.signatures = m.sp;
	for (i = 0; i < NSIG; i++) {
		m.s[i] = *e->signatures[0];
		m.sp[i] = &m.s[i];
	}
	emut_apply(f, &m, x);
	free(env->p);
	*env = pack_msg(&m.e.base);
	tally__envelope__free_unpacked(e, NULL);
	return app_bundle(f, qe, te);
}

static void
test_envelope_fields(void **state)
{
	static const char *const names[] = { "quota envelope", "token envelope" };
	struct dfx *f = *state;
	char what[128];
	size_t i;
	int which;

	for (which = 0; which < 2; which++)
		for (i = 0; i < sizeof(env_muts) / sizeof(env_muts[0]); i++) {
			snprintf(what, sizeof(what), "%s: %s", names[which], env_muts[i].name);
			expect(f, bundle_with(f, which, &env_muts[i]), env_muts[i].want, 1, what);
		}
}

/* ---- wire format ---- */

enum level { L_BUNDLE, L_QENV, L_TENV, L_QSIG, L_TSIG, L_QPAY, L_TPAY, L_END };

static const char *const level_names[] = { "bundle", "quota envelope",
	"token envelope", "quota signature", "token signature", "quota payload",
	"token payload" };

struct suffix {
	const char *name;
	uint8_t b[16];
	size_t n;
	enum tdv_result want;
	int xcheck;
};

/* Appended at the end of a message; field 20 is unknown at every level. */
static const struct suffix suffixes[] = {
	{ "unknown varint", { 0xa0, 0x01, 0x05 }, 3, TDV_OK, 1 },
	{ "unknown 10-byte varint 2^64-1", { 0xa0, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x01 }, 12, TDV_OK, 1 },
	{ "unknown fixed64", { 0xa1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8 }, 10, TDV_OK, 1 },
	{ "unknown bytes", { 0xa2, 0x01, 0x02, 'h', 'i' }, 5, TDV_OK, 1 },
	{ "unknown empty bytes", { 0xa2, 0x01, 0x00 }, 3, TDV_OK, 1 },
	{ "unknown fixed32", { 0xa5, 0x01, 1, 2, 3, 4 }, 6, TDV_OK, 1 },
	/* protobuf-c drops the bits past 64; the device refuses them */
	{ "varint over 64 bits", { 0xa0, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0x02 }, 12, TDV_MALFORMED, 0 },
	{ "11-byte varint", { 0xa0, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0x01 }, 13, TDV_MALFORMED, 1 },
	{ "group start", { 0xa3, 0x01 }, 2, TDV_MALFORMED, 1 },
	{ "group start and end", { 0xa3, 0x01, 0xa4, 0x01 }, 4, TDV_MALFORMED, 1 },
	{ "group end", { 0xa4, 0x01 }, 2, TDV_MALFORMED, 1 },
	{ "wire type 6", { 0xa6, 0x01, 0x00 }, 3, TDV_MALFORMED, 1 },
	{ "wire type 7", { 0xa7, 0x01, 0x00 }, 3, TDV_MALFORMED, 1 },
	{ "field number 0", { 0x02, 0x00 }, 2, TDV_MALFORMED, 1 },
	/* over the largest field number, 2^29-1; protobuf-c takes it as unknown */
	{ "field number 2^29", { 0x80, 0x80, 0x80, 0x80, 0x10, 0x00 }, 6, TDV_MALFORMED, 0 },
	{ "bytes past the end", { 0xa2, 0x01, 0x05, 'a' }, 4, TDV_MALFORMED, 1 },
	{ "length over 2^63", { 0xa2, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0x01 }, 12, TDV_MALFORMED, 1 },
	{ "truncated tag", { 0xa0 }, 1, TDV_MALFORMED, 1 },
	{ "truncated varint", { 0xa0, 0x01, 0x80 }, 3, TDV_MALFORMED, 1 },
	{ "truncated fixed64", { 0xa1, 0x01, 1, 2, 3 }, 5, TDV_MALFORMED, 1 },
	{ "truncated fixed32", { 0xa5, 0x01, 1 }, 3, TDV_MALFORMED, 1 },
	{ "field 2 as a varint", { 0x10, 0x00 }, 2, TDV_MALFORMED, 1 },
	{ "field 2 as fixed32", { 0x15, 1, 2, 3, 4 }, 5, TDV_MALFORMED, 1 },
	/* field 1 again, empty (zero for the token's varint log_index):
	 * protobuf-c takes the last one; the device refuses any repeat */
	{ "field 1 twice", { 0x0a, 0x00 }, 2, TDV_MALFORMED, 0 },
};

static struct blob
append(struct blob b, const uint8_t *s, size_t n)
{
	assert_non_null(b.p = realloc(b.p, b.n + n));
	memcpy(b.p + b.n, s, n);
	b.n += n;
	return b;
}

/* A protobuf varint of v into o; its length. */
static size_t
varint(uint64_t v, uint8_t *o)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		o[n++] = (uint8_t)(v | 0x80);
	o[n++] = (uint8_t)v;
	return n;
}

/* env (taken over) with s appended inside its first Signature message. */
static struct blob
sig_suffixed(struct blob env, const uint8_t *s, size_t n)
{
	Tally__Envelope *e = tally__envelope__unpack(NULL, env.n, env.p);
	Tally__Envelope copy;
	struct blob out, sig;
	uint8_t hdr[11];

	assert_non_null(e);
	copy = *e;
	copy.n_signatures = 0;
	out = pack_msg(&copy.base);
	sig = append(pack_msg(&e->signatures[0]->base), s, n);
	hdr[0] = 0x1a;
	out = append(out, hdr, 1 + varint(sig.n, hdr + 1));
	out = append(out, sig.p, sig.n);
	free(sig.p);
	free(env.p);
	tally__envelope__free_unpacked(e, NULL);
	return out;
}

static struct blob
signed_suffixed(EVP_PKEY *k, const char *pt, const ProtobufCMessage *m,
    const uint8_t *s, size_t n)
{
	return sign_blob(k, pt, append(pack_msg(m), s, n));
}

/* f's bundle with s (n bytes) appended to the message at level l;
 * payloads are signed again. */
static struct blob
bundle_suffixed(struct dfx *f, enum level l, const uint8_t *s, size_t n)
{
	struct blob qe, te;

	qe = l == L_QPAY ? signed_suffixed(f->oem, TALLY_PT_QUOTA, &f->q.base, s, n) :
	    quota_env(f);
	te = l == L_TPAY ? signed_suffixed(f->app, TALLY_PT_TOKEN, &f->t.base, s, n) :
	    token_env(f);
	if (l == L_QENV)
		qe = append(qe, s, n);
	if (l == L_TENV)
		te = append(te, s, n);
	if (l == L_QSIG)
		qe = sig_suffixed(qe, s, n);
	if (l == L_TSIG)
		te = sig_suffixed(te, s, n);
	qe = app_bundle(f, qe, te);
	return l == L_BUNDLE ? append(qe, s, n) : qe;
}

static void
test_wire_format(void **state)
{
	struct dfx *f = *state;
	const struct suffix *x;
	uint8_t tb[16];
	char what[128];
	size_t i;
	int l;

	for (l = 0; l < L_END; l++)
		for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			x = &suffixes[i];
			memcpy(tb, x->b, x->n);
			if (l == L_TPAY && tb[0] == 0x0a)
				tb[0] = 0x08;	/* Token field 1 is a varint */
			snprintf(what, sizeof(what), "%s: %s", level_names[l], x->name);
			expect(f, bundle_suffixed(f, (enum level)l, tb, x->n), x->want,
			    x->xcheck, what);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DFX_BOTH(test_envelope_fields),
		DFX_BOTH(test_wire_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
