/* usb.c - a tally provisioning DUT over libusb, see usb.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attest.h"
#include "dutproto.h"
#include "dutrecord.h"
#include "err.h"
#include "log.h"
#include "usb.h"
#include "util.h"

struct usb_dut {
	libusb_device_handle *h;
	unsigned timeout_ms;
	int claimed;                  /* interfaces claimed: 0, 1 or 2 */
	atomic_int gone;              /* set on hotplug removal or NO_DEVICE */
	int stalled;                  /* the last transfer was STALLed */
	struct usb_dut_hook hook;
	int have_identity;
	uint8_t flags;                /* identity flags (TDP_FLAG_*) */
	char where[32];               /* "bus 1 device 7", for messages */
	uint8_t buf[TDP_BLOCK];       /* outgoing block (libusb wants it writable) */
};

static int
map_err(int lr)
{
	switch (lr) {
	case LIBUSB_ERROR_TIMEOUT:	return TALLY_ERR_TIMEOUT;
	case LIBUSB_ERROR_NO_MEM:	return TALLY_ERR_NOMEM;
	default:			return TALLY_ERR_IO;
	}
}

/* One control transfer. IN: *got = bytes received (may be short). OUT
 * (got NULL): all len bytes must go, else TALLY_ERR_IO. */
static int
ctrl(struct usb_dut *d, uint8_t rt, uint8_t req, uint16_t value,
    uint16_t index, uint8_t *buf, uint16_t len, size_t *got)
{
	int n;

	if (atomic_load(&d->gone)) {
		log_debug("DUT %s: unplugged, request 0x%02x not sent", d->where, req);
		return TALLY_ERR_IO;
	}
	n = libusb_control_transfer(d->h, rt, req, value, index, buf, len,
	    d->timeout_ms);
	d->stalled = n == LIBUSB_ERROR_PIPE;
	if (n == LIBUSB_ERROR_NO_DEVICE)
		atomic_store(&d->gone, 1);
	if (n < 0) {
		log_warn("DUT %s: request 0x%02x/0x%02x: %s", d->where, rt, req,
		    libusb_error_name(n));
		return map_err(n);
	}
	if (got != NULL) {
		*got = (size_t)n;
		return 0;
	}
	if ((size_t)n != len) {
		log_warn("DUT %s: request 0x%02x: %d of %u bytes sent", d->where,
		    req, n, (unsigned)len);
		return TALLY_ERR_IO;
	}
	return 0;
}

static int
vendor_in(struct usb_dut *d, uint8_t req, uint8_t *buf, uint16_t len, size_t *got)
{
	return ctrl(d, TDP_RT_VENDOR_IN, req, 0, TDP_IFACE_VENDOR, buf, len, got);
}

/* An OUT request with len (<= TDP_BLOCK) bytes of data: vendor
 * (TDP_RT_VENDOR_OUT, interface 0) or DFU (TDP_RT_CLASS_OUT, interface 1). */
static int
ctrl_out(struct usb_dut *d, uint8_t rt, uint8_t req, uint16_t value,
    const uint8_t *data, uint16_t len)
{
	if (len > 0)
		memcpy(d->buf, data, len);
	return ctrl(d, rt, req, value, rt == TDP_RT_CLASS_OUT ? TDP_IFACE_DFU :
	    TDP_IFACE_VENDOR, len > 0 ? d->buf : NULL, len, NULL);
}

static int
usb_read_identity(void *ctx, struct jig_dut_identity *id)
{
	struct usb_dut *d = ctx;
	uint8_t b[TDP_IDENTITY_MAX];
	size_t n = 0;
	int r;

	if ((r = vendor_in(d, TDP_GET_IDENTITY, b, sizeof(b), &n)) != 0)
		return r;
	if ((r = dutrec_identity(b, n, id, &d->flags)) != 0) {
		log_warn("DUT %s: malformed identity record (%zu bytes)", d->where, n);
		return r;
	}
	d->have_identity = 1;
	return 0;
}

/* TDP_GET_STATUS: the last verdict and the state. */
static int
read_status(struct usb_dut *d, enum jig_dut_verdict *v, enum jig_dut_state *st)
{
	uint8_t b[TDP_STATUS_LEN];
	size_t n = 0;
	int r;

	if ((r = vendor_in(d, TDP_GET_STATUS, b, sizeof(b), &n)) != 0)
		return r;
	if ((r = dutrec_status(b, n, v, st)) != 0)
		log_warn("DUT %s: malformed status record (%zu bytes)", d->where, n);
	return r;
}

static int
usb_read_state(void *ctx, enum jig_dut_state *state)
{
	return read_status(ctx, NULL, state);
}

static int
usb_attest(void *ctx, const uint8_t nonce[TALLY_NONCE_LEN], uint8_t *out,
    size_t cap, size_t *len)
{
	struct usb_dut *d = ctx;
	struct jig_dut_identity id;
	uint8_t b[TALLY_ATTESTATION_MAX];
	size_t n = 0;
	int r;

	if (!d->have_identity && (r = usb_read_identity(d, &id)) != 0)
		return r;
	if (!(d->flags & TDP_FLAG_ATTESTATION))
		return TALLY_ERR_UNSUPPORTED;
	if ((r = ctrl_out(d, TDP_RT_VENDOR_OUT, TDP_SET_CHALLENGE, 0, nonce,
	    TALLY_NONCE_LEN)) != 0 ||
	    (r = vendor_in(d, TDP_GET_ATTESTATION, b, sizeof(b), &n)) != 0)
		return r;
	if ((r = dutrec_attestation(b, n, out, cap, len)) == TALLY_ERR_INVALID)
		log_warn("DUT %s: malformed attestation record (%zu bytes)",
		    d->where, n);
	return r;
}

static int
usb_write_bundle(void *ctx, const uint8_t *bundle, size_t len,
    enum jig_dut_verdict *verdict)
{
	struct usb_dut *d = ctx;
	size_t off, n;
	uint16_t blk;
	int r;

	if (len == 0)
		return TALLY_ERR_INVALID;
	if (len > TALLY_BUNDLE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((r = ctrl_out(d, TDP_RT_VENDOR_OUT, TDP_BUNDLE_BEGIN, (uint16_t)len,
	    NULL, 0)) != 0)
		return r;
	for (off = 0, blk = 0; off < len; off += n, blk++) {
		n = len - off < TDP_BLOCK ? len - off : TDP_BLOCK;
		if ((r = ctrl_out(d, TDP_RT_VENDOR_OUT, TDP_BUNDLE_DATA, blk,
		    bundle + off, (uint16_t)n)) != 0)
			return r;
	}
	if ((r = ctrl_out(d, TDP_RT_VENDOR_OUT, TDP_BUNDLE_VERIFY, 0, NULL, 0)) != 0)
		return r;
	return read_status(d, verdict, NULL);
}

/* ---- DFU 1.1 ---- */

static int
dfu_getstatus(struct usb_dut *d, struct dutrec_dfu_status *s)
{
	uint8_t b[TDP_DFU_STATUS_LEN];
	size_t n = 0;
	int r;

	r = ctrl(d, TDP_RT_CLASS_IN, TDP_DFU_GETSTATUS, 0, TDP_IFACE_DFU, b,
	    sizeof(b), &n);
	if (r == 0 && (r = dutrec_dfu_status(b, n, s)) != 0)
		log_warn("DUT %s: malformed DFU status (%zu bytes)", d->where, n);
	return r;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int
dfu_busy(uint8_t state)
{
	return state == TDP_DFU_DNLOAD_SYNC || state == TDP_DFU_DNBUSY ||
	    state == TDP_DFU_MANIFEST_SYNC || state == TDP_DFU_MANIFEST;
}

/* GETSTATUS until the DUT is no longer busy, waiting the bwPollTimeout
 * it asks for after each answer (DFU 1.1 §6.1.2) except dfuERROR; the
 * whole phase is bounded (JIG_USB_DFU_PHASE_TIMEOUTS transfer timeouts). */
static int
dfu_wait(struct usb_dut *d, struct dutrec_dfu_status *s)
{
	uint64_t limit = (uint64_t)d->timeout_ms * JIG_USB_DFU_PHASE_TIMEOUTS;
	uint64_t deadline = tally_mono_ns() / 1000000 + limit, t;
	int r;

	for (;;) {
		if ((r = dfu_getstatus(d, s)) != 0)
			return r;
		if (s->state == TDP_DFU_ERROR)
			return 0;
		t = tally_mono_ns() / 1000000 + s->poll_ms;
		if (t > deadline && (s->poll_ms > 0 || dfu_busy(s->state))) {
			log_warn("DUT %s: DFU state %u, poll %u ms: past %u ms",
			    d->where, s->state, s->poll_ms, (unsigned)limit);
			return TALLY_ERR_TIMEOUT;
		}
		if (s->poll_ms > 0)
			sleep_ms(s->poll_ms);
		if (!dfu_busy(s->state))
			return 0;
	}
}

/* Brings the DFU interface to dfuIDLE from whatever an earlier session
 * left: CLRSTATUS after an error, ABORT from any other state. */
static int
dfu_prepare(struct usb_dut *d)
{
	struct dutrec_dfu_status s;
	int r;

	if ((r = dfu_getstatus(d, &s)) != 0)
		return r;
	if (s.state == TDP_DFU_IDLE)
		return 0;
	r = ctrl_out(d, TDP_RT_CLASS_OUT, s.state == TDP_DFU_ERROR ?
	    TDP_DFU_CLRSTATUS : TDP_DFU_ABORT, 0, NULL, 0);
	if (r != 0 || (r = dfu_getstatus(d, &s)) != 0)
		return r;
	if (s.state != TDP_DFU_IDLE) {
		log_warn("DUT %s: DFU state %u, not dfuIDLE", d->where, s.state);
		return TALLY_ERR_INVALID;
	}
	return 0;
}

/* One DNLOAD (len 0 = end of image) and the GETSTATUS that follow it.
 * A stalled DNLOAD is an answer when the DUT then reports dfuERROR. */
static int
dfu_dnload(struct usb_dut *d, uint16_t blk, const uint8_t *data, uint16_t len,
    struct dutrec_dfu_status *s)
{
	int r;

	r = ctrl_out(d, TDP_RT_CLASS_OUT, TDP_DFU_DNLOAD, blk, data, len);
	if (r == TALLY_ERR_IO && d->stalled &&
	    dfu_getstatus(d, s) == 0 && s->state == TDP_DFU_ERROR)
		return 0;
	if (r != 0)
		return r;
	return dfu_wait(d, s);
}

/* The DUT ended the download in dfuERROR: its bStatus is the answer
 * (docs/dut-protocol.md §4): a verdict, TALLY_ERR_TOO_LARGE for
 * errADDRESS, a link error for anything else. CLRSTATUS leaves it in
 * dfuIDLE for a retry. */
static int
dfu_failed(struct usb_dut *d, const struct dutrec_dfu_status *s,
    enum jig_dut_verdict *v)
{
	int r;

	log_info("DUT %s: DFU error status 0x%02x", d->where, s->status);
	if ((r = ctrl_out(d, TDP_RT_CLASS_OUT, TDP_DFU_CLRSTATUS, 0, NULL, 0)) != 0)
		return r;
	return dutrec_dfu_error(s->status, v);
}

static int
usb_download(void *ctx, const uint8_t *image, size_t len,
    enum jig_dut_verdict *v)
{
	struct usb_dut *d = ctx;
	struct dutrec_dfu_status s;
	size_t off, n;
	uint16_t blk = 0;
	int r;

	if (len == 0)
		return TALLY_ERR_INVALID;
	if (len > TDP_IMAGE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((r = dfu_prepare(d)) != 0)
		return r;
	for (off = 0; off < len; off += n, blk++) {
		n = len - off < TDP_BLOCK ? len - off : TDP_BLOCK;
		if ((r = dfu_dnload(d, blk, image + off, (uint16_t)n, &s)) != 0)
			return r;
		if (s.state == TDP_DFU_ERROR)
			return dfu_failed(d, &s, v);
		if (s.state != TDP_DFU_DNLOAD_IDLE)
			goto bad_state;
	}
	if ((r = dfu_dnload(d, blk, NULL, 0, &s)) != 0)
		return r;
	if (s.state == TDP_DFU_ERROR)
		return dfu_failed(d, &s, v);
	if (s.state != TDP_DFU_IDLE)
		goto bad_state;
	return read_status(d, v, NULL);
 bad_state:
	log_warn("DUT %s: unexpected DFU state %u after block %u", d->where,
	    s.state, (unsigned)blk);
	return TALLY_ERR_INVALID;
}

/* ---- open and close ---- */

static void
usb_close(void *ctx)
{
	struct usb_dut *d = ctx;

	if (d == NULL)
		return;
	if (d->hook.closed != NULL)
		d->hook.closed(d->hook.arg, d);
	if (d->claimed > 1)
		libusb_release_interface(d->h, TDP_IFACE_DFU);
	if (d->claimed > 0)
		libusb_release_interface(d->h, TDP_IFACE_VENDOR);
	if (d->h != NULL)
		libusb_close(d->h);
	free(d);
}

const struct jig_dut_ops usb_dut_ops = {
	.name = "usb",
	.read_identity = usb_read_identity,
	.attest = usb_attest,
	.write_bundle = usb_write_bundle,
	.download_firmware = usb_download,
	.read_state = usb_read_state,
	.close = usb_close,
};

/* Opens the handle, selects the configuration, claims both interfaces. */
static int
open_claim(struct usb_dut *d, libusb_device *dev)
{
	int lr, cur = 0;
	const char *what = "open";

	if ((lr = libusb_open(dev, &d->h)) != 0)
		goto fail;
	what = "configuration";
	if ((lr = libusb_get_configuration(d->h, &cur)) != 0)
		goto fail;
	if (cur != TDP_CONFIGURATION &&
	    (lr = libusb_set_configuration(d->h, TDP_CONFIGURATION)) != 0)
		goto fail;
	what = "claim";
	if ((lr = libusb_claim_interface(d->h, TDP_IFACE_VENDOR)) != 0)
		goto fail;
	d->claimed = 1;
	if ((lr = libusb_claim_interface(d->h, TDP_IFACE_DFU)) != 0)
		goto fail;
	d->claimed = 2;
	return 0;
 fail:
	log_warn("DUT %s: %s: %s", d->where, what, libusb_error_name(lr));
	return lr == LIBUSB_ERROR_NO_MEM ? TALLY_ERR_NOMEM : TALLY_ERR_IO;
}

int
usb_dut_open(libusb_device *dev, unsigned timeout_ms,
    const struct usb_dut_hook *hook, struct jig_dut *out)
{
	struct usb_dut *d;
	int r;

	if (dev == NULL || timeout_ms < JIG_USB_TIMEOUT_MIN ||
	    timeout_ms > JIG_USB_TIMEOUT_MAX)
		return TALLY_ERR_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return TALLY_ERR_NOMEM;
	d->timeout_ms = timeout_ms;
	atomic_init(&d->gone, 0);
	snprintf(d->where, sizeof(d->where), "bus %u device %u",
	    (unsigned)libusb_get_bus_number(dev),
	    (unsigned)libusb_get_device_address(dev));
	if ((r = open_claim(d, dev)) != 0) {
		usb_close(d);
		return r;
	}
	if (hook != NULL)
		d->hook = *hook;
	out->ops = &usb_dut_ops;
	out->ctx = d;
	return 0;
}

void
usb_dut_mark_gone(struct usb_dut *d)
{
	atomic_store(&d->gone, 1);
}
