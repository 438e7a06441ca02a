/* dutmodel_dfu.c - the DUT model's firmware download: the DFU 1.1 state
 * machine of docs/dut-protocol.md §4 (download only, manifestation
 * tolerant, never busy) with a streaming SHA-256 of the image. */
#include <string.h>
#include <openssl/evp.h>
#include "dutmodel_int.h"

/* A request not valid in this state: STALL, dfuERROR, image discarded
 * (DFU 1.1 §6.1.2). */
static enum dm_outcome
dfu_fail(struct dutmodel *m, uint8_t status)
{
	if (m->dfu.state != TDP_DFU_ERROR) { /* keep the first error's status */
		m->dfu.status = status;
		m->dfu.last_error = status;
	}
	m->dfu.state = TDP_DFU_ERROR;
	m->dfu.pending = 0;
	m->dfu.manifested = 0;
	return DM_STALL;
}

/* Hashes one block, flipping one byte when the corrupt-image fault
 * applies (the host's buffer is not touched). */
static int
hash_block(struct dutmodel *m, uint32_t block, const uint8_t *data, size_t n)
{
	size_t i = n / 2;
	uint8_t flipped;

	if (!dm_fault_corrupts(m, block))
		return EVP_DigestUpdate(m->dfu.md, data, n) == 1 ? 0 : -1;
	flipped = data[i] ^ 0x01;
	if (EVP_DigestUpdate(m->dfu.md, data, i) != 1 ||
	    EVP_DigestUpdate(m->dfu.md, &flipped, 1) != 1 ||
	    EVP_DigestUpdate(m->dfu.md, data + i + 1, n - i - 1) != 1)
		return -1;
	return 0;
}

/* A DNLOAD block in dfuIDLE (block 0) or dfuDNLOAD-IDLE (the next one). */
static enum dm_outcome
take_block(struct dutmodel *m, const struct dm_setup *s, const uint8_t *data)
{
	struct dm_dfu *d = &m->dfu;

	if (s->wLength > TDP_BLOCK || s->wValue != d->next_block)
		return dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
	d->cur_block = s->wValue;
	d->next_block = (uint32_t)s->wValue + 1;
	d->state = TDP_DFU_DNLOAD_SYNC;
	if (d->pending != 0)
		return DM_ACK;
	if (d->size + s->wLength > TDP_IMAGE_MAX) {
		d->pending = TDP_DFU_ERR_ADDRESS;
		return DM_ACK;
	}
	if (hash_block(m, s->wValue, data, s->wLength) != 0)
		d->pending = TDP_DFU_ERR_UNKNOWN;
	d->size += s->wLength;
	return DM_ACK;
}

static enum dm_outcome
dnload(struct dutmodel *m, const struct dm_setup *s, const uint8_t *data)
{
	struct dm_dfu *d = &m->dfu;

	if (d->state == TDP_DFU_IDLE) {
		if (s->wLength == 0)
			return dfu_fail(m, TDP_DFU_ERR_NOTDONE);
		d->next_block = 0;
		d->size = 0;
		d->pending = m->has_token ? 0 : TDP_DFU_ERR_VENDOR;
		if (EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
			d->pending = TDP_DFU_ERR_UNKNOWN;
		return take_block(m, s, data);
	}
	if (d->state != TDP_DFU_DNLOAD_IDLE)
		return dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
	if (s->wLength == 0) {
		d->state = TDP_DFU_MANIFEST_SYNC;
		d->manifested = 0;
		return DM_ACK;
	}
	return take_block(m, s, data);
}

/* The manifestation phase: digest check, then "flash written". Returns the
 * bState to report. */
static uint8_t
manifest(struct dutmodel *m)
{
	struct dm_dfu *d = &m->dfu;
	uint8_t md[TDV_DIGEST_LEN];
	unsigned int mdlen = 0;

	if (d->manifested) {
		d->manifested = 0;
		d->state = TDP_DFU_IDLE;
		d->status = TDP_DFU_OK;
		m->state = JIG_DUT_PROGRAMMED;
		m->verdict = JIG_DUT_OK;
		return d->state;
	}
	d->state = TDP_DFU_ERROR;
	if (!m->has_token) {            /* a refused bundle came in between */
		d->status = TDP_DFU_ERR_VENDOR;
		m->verdict = JIG_DUT_NO_TOKEN;
	} else if (EVP_DigestFinal_ex(d->md, md, &mdlen) != 1 ||
	    mdlen != sizeof(md)) {
		d->status = TDP_DFU_ERR_UNKNOWN;
	} else if (!tdv_firmware_matches(&m->token, md)) {
		d->status = TDP_DFU_ERR_FILE;
		m->verdict = JIG_DUT_WRONG_FIRMWARE;
		m->state = JIG_DUT_REJECTED;
	} else {
		d->state = TDP_DFU_MANIFEST_SYNC;
		d->status = TDP_DFU_OK;
		d->manifested = 1;
		return TDP_DFU_MANIFEST;
	}
	d->last_error = d->status;
	return d->state;
}

/* DFU_GETSTATUS: 6 bytes, and the transitions it drives. */
static enum dm_outcome
getstatus(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	struct dm_dfu *d = &m->dfu;
	uint8_t rec[TDP_DFU_STATUS_LEN] = { 0 }, shown = d->state;

	if (d->state == TDP_DFU_DNLOAD_SYNC) {
		if (d->pending != 0) {
			d->state = TDP_DFU_ERROR;
			d->status = d->pending;
			d->last_error = d->pending;
			if (d->pending == TDP_DFU_ERR_VENDOR)
				m->verdict = JIG_DUT_NO_TOKEN;
			d->pending = 0;
		} else {
			d->state = TDP_DFU_DNLOAD_IDLE;
			d->status = TDP_DFU_OK;
		}
		shown = d->state;
	} else if (d->state == TDP_DFU_MANIFEST_SYNC) {
		shown = manifest(m);
	}
	rec[0] = d->status;
	/* rec[1..3]: bwPollTimeout 0 ms: the model is never busy. */
	rec[4] = shown;
	rec[5] = 0;
	return dm_reply(s, data, len, rec, sizeof(rec));
}

enum dm_outcome
dm_dfu_request(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	struct dm_dfu *d = &m->dfu;
	int in = (s->bmRequestType & 0x80) != 0;

	switch (s->bRequest) {
	case TDP_DFU_GETSTATUS:
		return in && s->wValue == 0 ? getstatus(m, s, data, len) :
		    dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
	case TDP_DFU_GETSTATE:
		if (!in || s->wValue != 0 || s->wLength < 1)
			return dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
		data[0] = d->state;
		*len = 1;
		return DM_ACK;
	case TDP_DFU_DNLOAD:
		return !in ? dnload(m, s, data) : dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
	case TDP_DFU_CLRSTATUS:
		if (in || d->state != TDP_DFU_ERROR)
			return dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
		d->state = TDP_DFU_IDLE;
		d->status = TDP_DFU_OK;
		return DM_ACK;
	case TDP_DFU_ABORT:
		if (in || (d->state != TDP_DFU_IDLE && d->state != TDP_DFU_DNLOAD_IDLE))
			return dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
		d->state = TDP_DFU_IDLE;
		return DM_ACK;
	default:        /* DETACH, UPLOAD and unknown requests */
		return dfu_fail(m, TDP_DFU_ERR_STALLEDPKT);
	}
}
