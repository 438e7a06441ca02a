/*
 * usb.h - the libusb backend of the DUT transport (transport.h): one tally
 * provisioning DUT on USB, as specified by docs/dut-protocol.md and
 * dutproto.h. Vendor control requests on interface TDP_IFACE_VENDOR
 * carry identity, attestation and the token bundle; the firmware goes down
 * with USB DFU 1.1 class requests on interface TDP_IFACE_DFU (DNLOAD
 * blocks of TDP_BLOCK bytes, each followed by GETSTATUS, then a
 * zero-length DNLOAD and GETSTATUS through manifestation).
 *
 * Every transfer is a libusb synchronous control transfer with the
 * timeout given at open. libusb errors become tally errors:
 *   LIBUSB_ERROR_TIMEOUT                         -> TALLY_ERR_TIMEOUT
 *   NO_MEM                                       -> TALLY_ERR_NOMEM
 *   PIPE (stall), NO_DEVICE, IO, OVERFLOW, other  -> TALLY_ERR_IO
 *   a short or malformed answer                  -> TALLY_ERR_INVALID
 * and the libusb error is logged (warning) with the DUT's bus address.
 * A DUT marked gone (usb_dut_mark_gone on hotplug removal, or after a
 * NO_DEVICE) fails every later transfer at once with TALLY_ERR_IO.
 * A DFU download that ends in dfuERROR is answered by its bStatus
 * (docs/dut-protocol.md §4): errFILE, errVENDOR, errWRITE..errVERIFY are
 * verdicts, errADDRESS is TALLY_ERR_TOO_LARGE, any other a link error.
 *
 * The operations are blocking and used by one thread at a time; libusb
 * events must be handled by some thread of the context (usbsource.c runs
 * one), or by the synchronous calls themselves.
 */
#ifndef JIG_USB_H
#define JIG_USB_H

#include <stddef.h>
#include <stdint.h>
#include <libusb.h>
#include "transport.h"

#define JIG_USB_TIMEOUT_DEFAULT 2000   /* ms per transfer */
#define JIG_USB_TIMEOUT_MIN 10         /* ms */
#define JIG_USB_TIMEOUT_MAX 60000      /* ms */
/* A DFU phase (one block, or manifestation) may stay busy, waiting the
 * bwPollTimeout the DUT asks for each time, for at most this many
 * transfer timeouts in all before it fails with TALLY_ERR_TIMEOUT. */
#define JIG_USB_DFU_PHASE_TIMEOUTS 10

struct usb_dut;

/* Called once by the DUT's close op, before the handle is released; arg
 * is the one given with it. Lets a source forget the DUT. */
struct usb_dut_hook {
	void (*closed)(void *arg, struct usb_dut *d);
	void *arg;
};

/* Opens dev (not taken: libusb_open holds its own reference), selects
 * TDP_CONFIGURATION when another one is active, claims the interfaces
 * TDP_IFACE_VENDOR and TDP_IFACE_DFU and fills *out with the USB ops and
 * the DUT. Whether dev is a tally DUT at all (its interface descriptors)
 * is the caller's check. timeout_ms: per transfer,
 * JIG_USB_TIMEOUT_MIN..MAX. hook may be NULL (copied). Close with
 * jig_dut_close(out). Errors: TALLY_ERR_INVALID (timeout out of range),
 * TALLY_ERR_IO (open, configuration or claim failed: device gone, in use,
 * no permission; logged), TALLY_ERR_NOMEM. */
int usb_dut_open(libusb_device *dev, unsigned timeout_ms,
    const struct usb_dut_hook *hook, struct jig_dut *out);

/* Marks d's device as unplugged: every later transfer fails at once.
 * Safe from any thread while d is open. */
void usb_dut_mark_gone(struct usb_dut *d);

/* The ops of this backend (name "usb"); exposed for tests. */
extern const struct jig_dut_ops usb_dut_ops;

#endif
