/* simdut.c - a simulated DUT behind the transport interface, see simdut.h.
 * The operations are a USB host's side of docs/dut-protocol.md, sending
 * control requests to the DUT model (dutmodel.h) instead of the bus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "attest.h"
#include "dutproto.h"
#include "dutrecord.h"
#include "err.h"
#include "log.h"
#include "simdut.h"

#define DFU_MANIFEST_POLLS 50   /* GETSTATUS polls before giving up */

struct simdut {
	struct dutmodel *m;
};

int
simdut_new_ex(const uint8_t *uid, size_t uid_len, const char *product,
    EVP_PKEY *oem_root, const struct simdut_options *o, struct simdut **out)
{
	struct dutmodel_config c;
	struct simdut *d;
	int r;

	memset(&c, 0, sizeof(c));
	c.uid = uid;
	c.uid_len = uid_len;
	c.product = product;
	c.oem_root = oem_root;
	if (o != NULL) {
		c.attestation_key = o->attestation_key;
		memcpy(c.boot_key_hash, o->boot_key_hash, sizeof(c.boot_key_hash));
		c.software_version = o->software_version;
		c.fault = &o->fault;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = dutmodel_new(&c, &d->m)) != 0) {
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

int
simdut_new(const uint8_t *uid, size_t uid_len, const char *product,
    EVP_PKEY *oem_root, struct simdut **out)
{
	return simdut_new_ex(uid, uid_len, product, oem_root, NULL, out);
}

void
simdut_free(struct simdut *d)
{
	if (d == NULL)
		return;
	dutmodel_free(d->m);
	free(d);
}

void
simdut_report(const struct simdut *d, struct dutmodel_report *r)
{
	dutmodel_report(d->m, r);
}

enum jig_dut_state
simdut_state(const struct simdut *d)
{
	struct dutmodel_report r;

	dutmodel_report(d->m, &r);
	return r.state;
}

uint64_t
simdut_token_index(const struct simdut *d)
{
	struct dutmodel_report r;

	dutmodel_report(d->m, &r);
	return r.token_index;
}

/* One control transfer. buf holds wlen bytes (OUT: sent; IN: room). */
static enum dm_outcome
xfer(struct simdut *d, uint8_t rt, uint8_t req, uint16_t value,
    uint16_t index, uint8_t *buf, uint16_t wlen, size_t *got)
{
	struct dm_setup s = { rt, req, value, index, wlen };
	size_t n = 0;
	enum dm_outcome o;

	o = dutmodel_control(d->m, &s, buf, &n);
	if (got != NULL)
		*got = n;
	if (o != DM_ACK)
		log_debug("simulated DUT: request 0x%02x/0x%02x: %s", rt, req,
		    o == DM_STALL ? "stall" : o == DM_NAK ? "timeout" : "gone");
	return o;
}

static int
err_of(enum dm_outcome o)
{
	switch (o) {
	case DM_ACK:	return 0;
	case DM_NAK:	return TALLY_ERR_TIMEOUT;
	default:	return TALLY_ERR_IO;
	}
}

static int
vendor_in(struct simdut *d, uint8_t req, uint8_t *buf, uint16_t cap, size_t *got)
{
	return err_of(xfer(d, TDP_RT_VENDOR_IN, req, 0, TDP_IFACE_VENDOR, buf,
	    cap, got));
}

static int
vendor_out(struct simdut *d, uint8_t req, uint16_t value, const uint8_t *data,
    uint16_t len)
{
	uint8_t block[TDP_BLOCK];

	if (len > 0)
		memcpy(block, data, len);
	return err_of(xfer(d, TDP_RT_VENDOR_OUT, req, value, TDP_IFACE_VENDOR,
	    block, len, NULL));
}

static int
identity(struct simdut *d, struct jig_dut_identity *id, uint8_t *flags)
{
	uint8_t b[TDP_IDENTITY_MAX];
	size_t n;
	int r;

	if ((r = vendor_in(d, TDP_GET_IDENTITY, b, sizeof(b), &n)) != 0)
		return r;
	return dutrec_identity(b, n, id, flags);
}

static int
sim_read_identity(void *ctx, struct jig_dut_identity *id)
{
	uint8_t flags;

	return identity(ctx, id, &flags);
}

static int
sim_attest(void *ctx, const uint8_t nonce[TALLY_NONCE_LEN], uint8_t *out,
    size_t cap, size_t *len)
{
	struct simdut *d = ctx;
	struct jig_dut_identity id;
	uint8_t b[TALLY_ATTESTATION_MAX], flags = 0;
	size_t n;
	enum dm_outcome o;
	int r;

	if ((r = vendor_out(d, TDP_SET_CHALLENGE, 0, nonce, TALLY_NONCE_LEN)) != 0)
		return r;
	o = xfer(d, TDP_RT_VENDOR_IN, TDP_GET_ATTESTATION, 0, TDP_IFACE_VENDOR,
	    b, sizeof(b), &n);
	if (o == DM_STALL) {
		/* No key, or a broken one: the identity flags say which. */
		if ((r = identity(d, &id, &flags)) != 0)
			return r;
		return (flags & TDP_FLAG_ATTESTATION) ? TALLY_ERR_IO :
		    TALLY_ERR_UNSUPPORTED;
	}
	if ((r = err_of(o)) != 0)
		return r;
	return dutrec_attestation(b, n, out, cap, len);
}

/* TDP_GET_STATUS: verdict and state, strictly. */
static int
status(struct simdut *d, enum jig_dut_verdict *v, enum jig_dut_state *st)
{
	uint8_t b[TDP_STATUS_LEN];
	size_t n;
	int r;

	if ((r = vendor_in(d, TDP_GET_STATUS, b, sizeof(b), &n)) != 0)
		return r;
	return dutrec_status(b, n, v, st);
}

static int
sim_write_bundle(void *ctx, const uint8_t *bundle, size_t len,
    enum jig_dut_verdict *verdict)
{
	struct simdut *d = ctx;
	enum jig_dut_state st;
	size_t off, n;
	uint16_t k;
	int r;

	if (len > TALLY_BUNDLE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (len == 0)
		return TALLY_ERR_INVALID;
	if ((r = vendor_out(d, TDP_BUNDLE_BEGIN, (uint16_t)len, NULL, 0)) != 0)
		return r;
	for (off = 0, k = 0; off < len; off += n, k++) {
		n = len - off < TDP_BLOCK ? len - off : TDP_BLOCK;
		if ((r = vendor_out(d, TDP_BUNDLE_DATA, k, bundle + off,
		    (uint16_t)n)) != 0)
			return r;
	}
	if ((r = vendor_out(d, TDP_BUNDLE_VERIFY, 0, NULL, 0)) != 0)
		return r;
	return status(d, verdict, &st);
}

static int
sim_read_state(void *ctx, enum jig_dut_state *state)
{
	return status(ctx, NULL, state);
}

static void
sim_close(void *ctx)
{
	simdut_free(ctx);
}

/* One DFU class request on interface TDP_IFACE_DFU. */
static enum dm_outcome
dfu(struct simdut *d, uint8_t req, uint16_t value, uint8_t *buf, uint16_t len,
    size_t *got)
{
	uint8_t rt = req == TDP_DFU_GETSTATUS || req == TDP_DFU_GETSTATE ||
	    req == TDP_DFU_UPLOAD ? TDP_RT_CLASS_IN : TDP_RT_CLASS_OUT;

	return xfer(d, rt, req, value, TDP_IFACE_DFU, buf, len, got);
}

/* DFU_GETSTATUS: bStatus, bState; waits bwPollTimeout (DFU 1.1 §6.1.2). */
static int
dfu_status(struct simdut *d, uint8_t *bstatus, uint8_t *bstate)
{
	uint8_t b[TDP_DFU_STATUS_LEN];
	struct dutrec_dfu_status s;
	size_t n;
	int r;

	if ((r = err_of(dfu(d, TDP_DFU_GETSTATUS, 0, b, sizeof(b), &n))) != 0 ||
	    (r = dutrec_dfu_status(b, n, &s)) != 0)
		return r;
	*bstatus = s.status;
	*bstate = s.state;
	if (s.poll_ms > 0) {
		struct timespec ts = { s.poll_ms / 1000, (long)(s.poll_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	return 0;
}

/* A download ended in dfuERROR: clear it, and say what bStatus means
 * (docs/dut-protocol.md §4). */
static int
dfu_refused(struct simdut *d, uint8_t bstatus, enum jig_dut_verdict *verdict)
{
	int r;

	if ((r = err_of(dfu(d, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL))) != 0)
		return r;
	return dutrec_dfu_error(bstatus, verdict);
}

/* Brings the DFU interface to dfuIDLE before a download. */
static int
dfu_idle(struct simdut *d)
{
	uint8_t bstatus, bstate;
	int r;

	if ((r = dfu_status(d, &bstatus, &bstate)) != 0)
		return r;
	if (bstate == TDP_DFU_ERROR)
		return err_of(dfu(d, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL));
	if (bstate == TDP_DFU_DNLOAD_IDLE)
		return err_of(dfu(d, TDP_DFU_ABORT, 0, NULL, 0, NULL));
	return bstate == TDP_DFU_IDLE ? 0 : TALLY_ERR_INVALID;
}

/* The manifestation phase: poll until dfuIDLE or dfuERROR. */
static int
dfu_manifest(struct simdut *d, enum jig_dut_verdict *verdict)
{
	uint8_t bstatus, bstate;
	int i, r;

	for (i = 0; i < DFU_MANIFEST_POLLS; i++) {
		if ((r = dfu_status(d, &bstatus, &bstate)) != 0)
			return r;
		if (bstate == TDP_DFU_ERROR)
			return dfu_refused(d, bstatus, verdict);
		if (bstate == TDP_DFU_IDLE && bstatus == TDP_DFU_OK) {
			*verdict = JIG_DUT_OK;
			return 0;
		}
		if (bstate != TDP_DFU_MANIFEST && bstate != TDP_DFU_MANIFEST_SYNC)
			return TALLY_ERR_INVALID;
	}
	return TALLY_ERR_TIMEOUT;
}

static int
sim_download_firmware(void *ctx, const uint8_t *image, size_t len,
    enum jig_dut_verdict *verdict)
{
	struct simdut *d = ctx;
	uint8_t block[TDP_BLOCK], bstatus, bstate;
	size_t off, n;
	uint16_t k;
	int r;

	if (len > TDP_IMAGE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (len == 0)
		return TALLY_ERR_INVALID;
	if ((r = dfu_idle(d)) != 0)
		return r;
	for (off = 0, k = 0; off < len; off += n, k++) {
		n = len - off < TDP_BLOCK ? len - off : TDP_BLOCK;
		memcpy(block, image + off, n);
		if ((r = err_of(dfu(d, TDP_DFU_DNLOAD, k, block, (uint16_t)n,
		    NULL))) != 0 || (r = dfu_status(d, &bstatus, &bstate)) != 0)
			return r;
		if (bstate == TDP_DFU_ERROR)
			return dfu_refused(d, bstatus, verdict);
		if (bstate != TDP_DFU_DNLOAD_IDLE)
			return TALLY_ERR_INVALID;
	}
	if ((r = err_of(dfu(d, TDP_DFU_DNLOAD, k, NULL, 0, NULL))) != 0)
		return r;
	return dfu_manifest(d, verdict);
}

static const struct jig_dut_ops sim_ops = {
	.name = "simulated",
	.read_identity = sim_read_identity,
	.attest = sim_attest,
	.write_bundle = sim_write_bundle,
	.download_firmware = sim_download_firmware,
	.read_state = sim_read_state,
	.close = sim_close,
};

void
simdut_transport(struct simdut *d, struct jig_dut *dut)
{
	dut->ops = &sim_ops;
	dut->ctx = d;
}
