/*
 * usbsource.h - DUTs arriving on USB, as a struct jig_dut_source
 * (transport.h). One libusb context per source; a libusb hotplug callback
 * filtered by VID:PID (LIBUSB_HOTPLUG_ENUMERATE also reports the DUTs
 * already plugged in when the source opens) queues each arrival, and an
 * event thread owned by the source handles libusb events (hotplug
 * callbacks, and transfers when no other thread is doing so).
 *
 * Each arrival is served once: next() hands out queued DUTs in arrival
 * order, opened with usb_dut_open (usb.h). A DUT that stays plugged after
 * its unit is done is not served again until it is unplugged and plugged
 * back in (a new arrival: the operator swapped the part). A DUT unplugged
 * while it is being programmed is marked gone, so its later transfers
 * fail at once and the unit fails.
 */
#ifndef JIG_USBSOURCE_H
#define JIG_USBSOURCE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "transport.h"

#define USBSOURCE_DEVICES_MAX 256   /* plugged DUTs tracked at once */
#define USBSOURCE_POLL_MS 100       /* how often a waiting next() checks *stop */

struct usbsource_opts {
	uint16_t vid, pid;              /* the DUTs' USB IDs (dutproto.h defaults) */
	unsigned timeout_ms;            /* per transfer, JIG_USB_TIMEOUT_MIN..MAX */
	unsigned wait_ms;               /* next(): 0 = wait until a DUT arrives or
	                                 * *stop; else give up after this long */
	atomic_int *stop;               /* non-zero: next() returns NOT_FOUND; may be NULL */
};

/* Opens a source for the DUTs described by o (copied; o->stop must
 * outlive the source). Fills *src:
 *   src->next(ctx, dut) blocks until a DUT arrives, opens and claims it
 *     and fills *dut (close with jig_dut_close, before closing the
 *     source). Thread-safe. A DUT that cannot be opened (gone, not a tally
 *     DUT, in use) is logged and skipped. Returns 0, TALLY_ERR_NOT_FOUND
 *     when *o->stop became non-zero, TALLY_ERR_TIMEOUT when o->wait_ms
 *     passed without a DUT, TALLY_ERR_NOMEM.
 *   src->close(ctx) stops the event thread and releases everything.
 * On error errmsg (cap bytes) says why.
 * Errors: TALLY_ERR_INVALID (timeout out of range), TALLY_ERR_IO (libusb
 * cannot start: no USB here), TALLY_ERR_UNSUPPORTED (this libusb has no
 * hotplug support), TALLY_ERR_NOMEM. */
int usbsource_open(const struct usbsource_opts *o, struct jig_dut_source *src,
    char *errmsg, size_t cap);

#endif
