/*
 * usbsim.h - the DUT model (dutmodel.h) as a USB device for libusb through
 * umockdev (docs/dut-protocol.md; ../shared notes on usbdevfs emulation):
 *
 *   descr.c    descriptors and standard requests of a tally DUT
 *   handler.c  a UMockdevIoctlBase subclass answering the usbdevfs ioctls
 *              libusb 1.0 sends (control URBs, claim/release, reap, discard)
 *   bed.c      the testbed: device records, plug (add) and unplug (remove
 *              uevent) of DUTs
 *   preload.c  getting a program under libumockdev-preload
 *   main.c     tally-dutsim, the tool that runs a command against DUTs
 *
 * Built only into tally-dutsim (umockdev and GLib), never into tally-jig.
 */
#ifndef JIG_USBSIM_H
#define JIG_USBSIM_H

#include <stddef.h>
#include <stdint.h>
#include <umockdev.h>
#include "dutmodel.h"

/* ---- descr.c ---- */

#define USBSIM_DEVICE_DESC_LEN 18
#define USBSIM_CONFIG_DESC_LEN 36
#define USBSIM_DESC_LEN (USBSIM_DEVICE_DESC_LEN + USBSIM_CONFIG_DESC_LEN)
#define USBSIM_STRING_MAX 126   /* characters in a string descriptor */

/* What the descriptors of one DUT say. */
struct usbsim_ident {
	uint16_t vid, pid;
	char product[USBSIM_STRING_MAX + 1];    /* iProduct */
	char serial[USBSIM_STRING_MAX + 1];     /* iSerialNumber: the presented UID */
};

/* Fills *id from the model m (product, presented UID as text when
 * printable, else its hex) and vid/pid. */
void usbsim_ident_init(struct usbsim_ident *id, const struct dutmodel *m,
    uint16_t vid, uint16_t pid);

/* The device descriptor followed by the configuration descriptor set, as
 * sysfs "descriptors" holds them: USBSIM_DESC_LEN bytes into out. */
void usbsim_descriptors(const struct usbsim_ident *id,
    uint8_t out[USBSIM_DESC_LEN]);

/* Answers a standard request (bmRequestType type bits 0): GET_DESCRIPTOR
 * (device, configuration, string), GET_STATUS, GET_CONFIGURATION,
 * GET_INTERFACE, SET_CONFIGURATION 1, SET_INTERFACE 0; anything else
 * STALLs. data/len as in dutmodel_control. */
enum dm_outcome usbsim_standard(const struct usbsim_ident *id,
    const struct dm_setup *s, uint8_t *data, size_t *len);

/* ---- handler.c ---- */

#define USBSIM_TYPE_HANDLER (usbsim_handler_get_type())
G_DECLARE_FINAL_TYPE(UsbsimHandler, usbsim_handler, USBSIM, HANDLER,
    UMockdevIoctlBase)

/* What the host has done with a DUT so far (a snapshot). */
struct usbsim_activity {
	unsigned claimed;       /* bit i: interface i claimed now */
	int ever_claimed;       /* some interface was claimed */
	int had_client;         /* the node was opened */
	int client_open;        /* ... and is still open */
	int gone;               /* the model left the bus (unplug fault) */
	gint64 last_ioctl_us;   /* g_get_monotonic_time() of the last ioctl, 0 none */
	unsigned transfers;     /* control URBs submitted */
	gint64 busy_us;         /* sum over transfers of submit-to-reap time */
};

/* A handler for model m (borrowed: it must outlive the handler) with the
 * descriptors of id (copied). g_object_unref to free. */
UsbsimHandler *usbsim_handler_new(struct dutmodel *m, const struct usbsim_ident *id);

/* Takes the DUT off the bus: every later ioctl fails with ENODEV (pending
 * transfers are reaped with -ESHUTDOWN). Thread-safe. */
void usbsim_handler_unplug(UsbsimHandler *h);

/* Snapshot of the host's activity; thread-safe. */
void usbsim_handler_activity(UsbsimHandler *h, struct usbsim_activity *a);

/* Runs f(m, arg) on the model with the handler's lock held (the model is
 * used by the testbed thread). */
void usbsim_handler_with_model(UsbsimHandler *h,
    void (*f)(struct dutmodel *m, void *arg), void *arg);

/* ---- bed.c ---- */

struct usbsim_bed;

/* A testbed (umockdev_testbed_new: sets UMOCKDEV_DIR in this process's
 * environment, so children started afterwards see it). The process must
 * run with libumockdev-preload for uevents. *out: usbsim_bed_free.
 * Errors: TALLY_ERR_IO (logged). */
int usbsim_bed_new(struct usbsim_bed **out);

/* Detaches every handler and removes the testbed folder. NULL: no-op. */
void usbsim_bed_free(struct usbsim_bed *b);

/* A plugged DUT. */
struct usbsim_port {
	unsigned port;          /* hub port 1..127: sysfs name 1-PORT */
	unsigned devnum;        /* USB address 2..127 */
	char syspath[96];       /* /sys/devices/... */
	char devnode[32];       /* /dev/bus/usb/001/DDD */
	UsbsimHandler *handler;
	gint64 plugged_us;
};

/* Plugs model m on hub port `port` with a fresh address: attaches a
 * handler to its node, adds the device record (the "add" uevent goes to
 * libusb's hotplug monitor). Fills *p. Errors: TALLY_ERR_IO (logged),
 * TALLY_ERR_NOMEM. */
int usbsim_plug(struct usbsim_bed *b, struct dutmodel *m,
    const struct usbsim_ident *id, unsigned port, struct usbsim_port *p);

/* Unplugs: the handler fails further ioctls, a "remove" uevent is sent and
 * the record removed. The handler stays attached to its node until the
 * host closes it or the bed is freed (a host may still hold it open). */
void usbsim_unplug(struct usbsim_bed *b, struct usbsim_port *p);

/* Detaches handlers of unplugged DUTs whose node the host has closed. */
void usbsim_bed_collect(struct usbsim_bed *b);

/* ---- preload.c ---- */

/* 1 when this process runs with libumockdev-preload (LD_PRELOAD names
 * it): libusb then sees a testbed's devices, and uevents work. */
int usbsim_under_preload(void);

/* Re-executes the running program (/proc/self/exe) under
 * umockdev-wrapper with the arguments argv[1..] (argv NULL-terminated,
 * argv[0] not used), after appending verify_asan_link_order=0 to
 * ASAN_OPTIONS (AddressSanitizer builds need it next to the preload) and
 * setting the environment variable mark to "1". When mark is already set
 * (the wrapper did not help) it does not try again. Returns only on
 * failure, after a message on stderr prefixed with name; the caller
 * exits. After a successful re-execution the caller sees
 * usbsim_under_preload() and should unsetenv(mark), so that commands it
 * starts can do the same. */
void usbsim_reexec_preloaded(const char *name, const char *mark, char **argv);

#endif
