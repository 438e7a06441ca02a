/*
 * test_dutmodel_fx.h - the fixture test_dutmodel.c and test_dutmodel_dfu.c
 * share (each its own binary; included once per binary): real keys, an
 * image of three DFU blocks whose SHA-256 the quota and token name, real
 * bundles from test_devverify_fx.h, a DUT model, and the requests of
 * docs/dut-protocol.md as a host sends them.
 */
#ifndef TEST_DUTMODEL_FX_H
#define TEST_DUTMODEL_FX_H

#include "tests/unit/test_devverify_fx.h"
#include "attest.h"
#include "jig-firmware/dutmodel.h"
#include "jig-firmware/dutproto.h"

#define IMG_LEN (2 * TDP_BLOCK + 100)   /* three DFU blocks, the last short */

struct t {
	struct dfx *f;
	EVP_PKEY *att;                  /* trusted attestation key (P-256) */
	uint8_t img[IMG_LEN];
	struct dutmodel *m;
};

static FX_UNUSED int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	unsigned int n = 0;

	assert_non_null(t);
	t->f = dfx_new(TALLY_KEY_P256, TALLY_KEY_ED25519);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &t->att), 0);
	assert_int_equal(RAND_bytes(t->img, sizeof(t->img)), 1);
	/* The quota and the token name the image's SHA-256. */
	assert_int_equal(EVP_Digest(t->img, sizeof(t->img), t->f->fw[0], &n,
	    EVP_sha256(), NULL), 1);
	*state = t;
	return 0;
}

static FX_UNUSED int
teardown(void **state)
{
	struct t *t = *state;

	dutmodel_free(t->m);
	EVP_PKEY_free(t->att);
	dfx_free(t->f);
	free(t);
	return 0;
}

/* A model for UID with attestation key key (may be NULL) and fault text
 * (may be NULL), as t->m. */
static FX_UNUSED void
model(struct t *t, EVP_PKEY *key, const char *fault)
{
	struct dutmodel_config c;
	struct dm_fault fl;

	dutmodel_free(t->m);
	t->m = NULL;
	memset(&c, 0, sizeof(c));
	c.uid = (const uint8_t *)UID;
	c.uid_len = strlen(UID);
	c.product = PRODUCT;
	c.oem_root = t->f->oem;
	c.attestation_key = key;
	memset(c.boot_key_hash, 0xbb, sizeof(c.boot_key_hash));
	c.software_version = 7;
	if (fault != NULL) {
		assert_int_equal(dm_fault_parse(fault, &fl), 0);
		c.fault = &fl;
	}
	assert_int_equal(dutmodel_new(&c, &t->m), 0);
}

static FX_UNUSED enum dm_outcome
ctl(struct t *t, uint8_t rt, uint8_t req, uint16_t val, uint16_t idx,
    uint8_t *buf, uint16_t len, size_t *got)
{
	struct dm_setup s = { rt, req, val, idx, len };
	size_t n = 0;
	enum dm_outcome o = dutmodel_control(t->m, &s, buf, &n);

	if (got != NULL)
		*got = n;
	return o;
}

static FX_UNUSED enum dm_outcome
vin(struct t *t, uint8_t req, uint8_t *buf, uint16_t len, size_t *got)
{
	return ctl(t, TDP_RT_VENDOR_IN, req, 0, TDP_IFACE_VENDOR, buf, len, got);
}

static FX_UNUSED enum dm_outcome
vout(struct t *t, uint8_t req, uint16_t val, const uint8_t *data, uint16_t len)
{
	uint8_t b[TDP_BLOCK];

	if (len > 0)
		memcpy(b, data, len);
	return ctl(t, TDP_RT_VENDOR_OUT, req, val, TDP_IFACE_VENDOR, b, len, NULL);
}

static FX_UNUSED enum dm_outcome
dfu(struct t *t, uint8_t req, uint16_t val, uint8_t *buf, uint16_t len,
    size_t *got)
{
	uint8_t rt = req == TDP_DFU_GETSTATUS || req == TDP_DFU_GETSTATE ||
	    req == TDP_DFU_UPLOAD ? TDP_RT_CLASS_IN : TDP_RT_CLASS_OUT;

	return ctl(t, rt, req, val, TDP_IFACE_DFU, buf, len, got);
}

/* DFU_GETSTATUS: bStatus and bState. */
static FX_UNUSED void
dfu_status(struct t *t, uint8_t want_status, uint8_t want_state)
{
	uint8_t b[TDP_DFU_STATUS_LEN];
	size_t n;

	assert_int_equal(dfu(t, TDP_DFU_GETSTATUS, 0, b, sizeof(b), &n), DM_ACK);
	assert_int_equal(n, TDP_DFU_STATUS_LEN);
	assert_int_equal(b[0], want_status);
	assert_int_equal(b[1] | b[2] | b[3], 0);        /* bwPollTimeout */
	assert_int_equal(b[4], want_state);
}

static FX_UNUSED uint8_t
dfu_state(struct t *t)
{
	uint8_t b[1];
	size_t n;

	assert_int_equal(dfu(t, TDP_DFU_GETSTATE, 0, b, 1, &n), DM_ACK);
	assert_int_equal(n, 1);
	return b[0];
}

/* TDP_GET_STATUS: verdict and state. */
static FX_UNUSED void
status(struct t *t, enum jig_dut_verdict v, enum jig_dut_state st)
{
	uint8_t b[TDP_STATUS_LEN];
	size_t n;

	assert_int_equal(vin(t, TDP_GET_STATUS, b, sizeof(b), &n), DM_ACK);
	assert_int_equal(n, TDP_STATUS_LEN);
	assert_int_equal(b[0], v);
	assert_int_equal(b[1], st);
	assert_int_equal(b[2], TDP_VERSION);
	assert_int_equal(b[3], 0);
}

/* BEGIN, DATA blocks, VERIFY; returns the status verdict. */
static FX_UNUSED enum jig_dut_verdict
send_bundle(struct t *t, struct blob b)
{
	uint8_t s[TDP_STATUS_LEN];
	size_t off, n;
	uint16_t k;

	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, (uint16_t)b.n, NULL, 0), DM_ACK);
	for (off = 0, k = 0; off < b.n; off += n, k++) {
		n = b.n - off < TDP_BLOCK ? b.n - off : TDP_BLOCK;
		assert_int_equal(vout(t, TDP_BUNDLE_DATA, k, b.p + off, (uint16_t)n),
		    DM_ACK);
	}
	assert_int_equal(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0), DM_ACK);
	free(b.p);
	assert_int_equal(vin(t, TDP_GET_STATUS, s, sizeof(s), &n), DM_ACK);
	return (enum jig_dut_verdict)s[0];
}

/* A good bundle for uid. */
static FX_UNUSED struct blob
bundle_for(struct t *t, const char *uid)
{
	t->f->t.device_uid = (ProtobufCBinaryData){ strlen(uid), (uint8_t *)uid };
	return build(t->f);
}

/* DNLOAD of block k of img (len bytes) and the GETSTATUS after it. */
static FX_UNUSED void
block(struct t *t, const uint8_t *img, size_t len, uint16_t k, uint8_t st,
    uint8_t state)
{
	uint8_t b[TDP_BLOCK];
	size_t off = (size_t)k * TDP_BLOCK, n = len - off < TDP_BLOCK ? len - off : TDP_BLOCK;

	memcpy(b, img + off, n);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, k, b, (uint16_t)n, NULL), DM_ACK);
	assert_int_equal(dfu_state(t), TDP_DFU_DNLOAD_SYNC);
	dfu_status(t, st, state);
}

/* The whole download of img; the final status and state. */
static FX_UNUSED void
download(struct t *t, const uint8_t *img, size_t len, uint8_t st, uint8_t state)
{
	uint16_t k, nb = (uint16_t)((len + TDP_BLOCK - 1) / TDP_BLOCK);

	dfu_status(t, TDP_DFU_OK, TDP_DFU_IDLE);
	for (k = 0; k < nb; k++)
		block(t, img, len, k, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, nb, NULL, 0, NULL), DM_ACK);
	assert_int_equal(dfu_state(t), TDP_DFU_MANIFEST_SYNC);
	if (st != TDP_DFU_OK) {
		dfu_status(t, st, TDP_DFU_ERROR);
		return;
	}
	dfu_status(t, TDP_DFU_OK, TDP_DFU_MANIFEST);
	assert_int_equal(dfu_state(t), TDP_DFU_MANIFEST_SYNC);
	dfu_status(t, TDP_DFU_OK, state);
}

#endif
