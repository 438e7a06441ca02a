/* test_devverify_sweep.c - the device-side verifier (lib/devverify.h) on
 * every corruption of a good bundle's bytes: each byte XORed with 0x01,
 * 0x80 and 0xff, and every truncation. None is accepted; where a byte
 * belongs to a signed or hashed part (payload type, payload, keyid,
 * signature, appliance key) the result is the one that part names; the
 * host verifier tally_bundle_verify refuses each one too. */
#include "tests/unit/test_devverify_fx.h"

struct region {
	size_t off, len;
	enum tdv_result want;
	const char *name;
};

#define NREGIONS 9

static size_t
find(struct blob hay, size_t from, const void *needle, size_t n)
{
	const uint8_t *p = memmem(hay.p + from, hay.n - from, needle, n);

	assert_non_null(p);
	return (size_t)(p - hay.p);
}

/* The type, payload, keyid and signature of envelope env inside b. */
static void
env_regions(struct blob b, struct blob env, const char *pt, const char *name,
    struct region *r)
{
	Tally__Envelope *e = tally__envelope__unpack(NULL, env.n, env.p);
	size_t at = find(b, 0, env.p, env.n), end;

	assert_non_null(e);
	assert_int_equal(e->n_signatures, 1);
	r[0] = (struct region){ find(b, at, pt, strlen(pt)), strlen(pt), TDV_BAD_TYPE, name };
	r[1] = (struct region){ find(b, at, e->payload.data, e->payload.len),
	    e->payload.len, TDV_BAD_SIGNATURE, name };
	end = r[1].off + r[1].len;
	r[2] = (struct region){ find(b, end, e->signatures[0]->keyid.data, 32), 32,
	    TDV_BAD_SIGNATURE, name };
	r[3] = (struct region){ find(b, end, e->signatures[0]->sig.data,
	    e->signatures[0]->sig.len), e->signatures[0]->sig.len, TDV_BAD_SIGNATURE, name };
	tally__envelope__free_unpacked(e, NULL);
}

/* A good bundle and the regions of it whose result is known. */
static struct blob
mapped_bundle(struct dfx *f, struct region *r)
{
	struct blob qe = quota_env(f), te = token_env(f), b;
	struct blob qc = { malloc(qe.n), qe.n }, tc = { malloc(te.n), te.n };

	assert_non_null(qc.p);
	assert_non_null(tc.p);
	memcpy(qc.p, qe.p, qe.n);
	memcpy(tc.p, te.p, te.n);
	b = app_bundle(f, qe, te);
	env_regions(b, qc, TALLY_PT_QUOTA, "quota envelope", r);
	env_regions(b, tc, TALLY_PT_TOKEN, "token envelope", r + 4);
	r[8] = (struct region){ find(b, find(b, 0, tc.p, tc.n) + tc.n, f->app_spki,
	    f->app_spki_len), f->app_spki_len, TDV_KEY_MISMATCH, "appliance key" };
	free(qc.p);
	free(tc.p);
	return b;
}

static const struct region *
region_of(const struct region *r, size_t i)
{
	size_t k;

	for (k = 0; k < NREGIONS; k++)
		if (i >= r[k].off && i < r[k].off + r[k].len)
			return &r[k];
	return NULL;
}

static void
test_flip_sweep(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct dfx *f = *state;
	struct region r[NREGIONS];
	struct blob b = mapped_bundle(f, r), c = { malloc(b.n), b.n };
	const struct region *in;
	enum tdv_result res;
	size_t i, m, known = 0;

	assert_non_null(c.p);
	assert_int_equal(tdv_verify_bundle(&f->p, b.p, b.n, NULL), TDV_OK);
	for (i = 0; i < b.n; i++)
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(c.p, b.p, b.n);
			c.p[i] ^= masks[m];
			res = tdv_verify_bundle(&f->p, c.p, c.n, NULL);
			if (res == TDV_OK)
				fail_msg("byte %zu ^ 0x%02x accepted", i, masks[m]);
			if ((in = region_of(r, i)) != NULL && res != in->want)
				fail_msg("byte %zu ^ 0x%02x (%s): got \"%s\", want \"%s\"", i,
				    masks[m], in->name, tdv_result_name(res),
				    tdv_result_name(in->want));
			known += in != NULL;
			if (host(f, c) == 0)
				fail_msg("byte %zu ^ 0x%02x: host verifier accepts", i, masks[m]);
		}
	assert_true(known > b.n);	/* most bytes are in a known region */
	free(c.p);
	free(b.p);
}

static void
test_truncation_sweep(void **state)
{
	struct dfx *f = *state;
	struct blob b = build(f);
	enum tdv_result res;
	size_t n;

	for (n = 0; n < b.n; n++) {
		if ((res = tdv_verify_bundle(&f->p, b.p, n, NULL)) != TDV_MALFORMED)
			fail_msg("truncated to %zu of %zu: \"%s\"", n, b.n, tdv_result_name(res));
		if (host(f, (struct blob){ b.p, n }) == 0)
			fail_msg("truncated to %zu: host verifier accepts", n);
	}
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DFX_BOTH(test_flip_sweep),
		DFX_BOTH(test_truncation_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
