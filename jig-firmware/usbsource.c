/* usbsource.c - DUTs arriving on USB (libusb hotplug), see usbsource.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <libusb.h>
#include "config.h"
#include "dutproto.h"
#include "err.h"
#include "log.h"
#include "usb.h"
#include "usbsource.h"

_Static_assert(JIG_TRANSFER_TIMEOUT_MIN == JIG_USB_TIMEOUT_MIN &&
    JIG_TRANSFER_TIMEOUT_MAX == JIG_USB_TIMEOUT_MAX &&
    JIG_TRANSFER_TIMEOUT_DEFAULT == JIG_USB_TIMEOUT_DEFAULT,
    "config and USB backend agree on transfer timeouts");

enum entry_state {
	ENTRY_QUEUED,    /* arrived, waiting for next() */
	ENTRY_ACTIVE,    /* handed out (or being opened) */
	ENTRY_DONE,      /* served or skipped; kept until unplugged */
};

/* One plugged DUT, from its arrival to its removal. */
struct entry {
	libusb_device *dev;       /* our reference */
	enum entry_state state;
	int left;                 /* unplugged while ACTIVE */
	struct usb_dut *dut;      /* ACTIVE and open */
	struct usbsource *src;
	struct entry *next;
};

struct usbsource {
	struct usbsource_opts o;
	libusb_context *usb;
	libusb_hotplug_callback_handle cb;
	int have_cb;
	pthread_t thread;
	int have_thread;
	atomic_int quit;          /* the event thread ends */
	pthread_mutex_t mu;       /* the entries */
	pthread_cond_t cv;        /* signalled on each arrival */
	struct entry *head;       /* in arrival order */
	size_t n;
};

static struct entry *
find(struct usbsource *s, libusb_device *dev)
{
	struct entry *e;

	for (e = s->head; e != NULL; e = e->next)
		if (e->dev == dev)
			return e;
	return NULL;
}

/* Unlinks and frees e. Called with mu held. */
static void
drop(struct usbsource *s, struct entry *e)
{
	struct entry **pp;

	for (pp = &s->head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	libusb_unref_device(e->dev);
	free(e);
	s->n--;
}

static void
arrived(struct usbsource *s, libusb_device *dev)
{
	struct entry *e, **pp;

	/* libusb may report one arrival twice (ENUMERATE and an event). */
	if (find(s, dev) != NULL)
		return;
	if (s->n >= USBSOURCE_DEVICES_MAX || (e = calloc(1, sizeof(*e))) == NULL) {
		log_warn("USB bus %u device %u: ignored (%zu DUTs tracked)",
		    (unsigned)libusb_get_bus_number(dev),
		    (unsigned)libusb_get_device_address(dev), s->n);
		return;
	}
	e->dev = libusb_ref_device(dev);
	e->state = ENTRY_QUEUED;
	e->src = s;
	for (pp = &s->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = e;
	s->n++;
	log_debug("USB bus %u device %u: arrived",
	    (unsigned)libusb_get_bus_number(dev),
	    (unsigned)libusb_get_device_address(dev));
	pthread_cond_broadcast(&s->cv);
}

static void
left(struct usbsource *s, libusb_device *dev)
{
	struct entry *e;

	if ((e = find(s, dev)) == NULL)
		return;
	log_debug("USB bus %u device %u: left",
	    (unsigned)libusb_get_bus_number(dev),
	    (unsigned)libusb_get_device_address(dev));
	if (e->state != ENTRY_ACTIVE) {
		drop(s, e);
		return;
	}
	e->left = 1;
	if (e->dut != NULL)
		usb_dut_mark_gone(e->dut);
}

/* Runs on the thread handling libusb events, or in
 * libusb_hotplug_register_callback for DUTs already plugged. Only
 * bookkeeping here: libusb forbids synchronous I/O in this callback. */
static int LIBUSB_CALL
on_hotplug(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev,
    void *arg)
{
	struct usbsource *s = arg;

	(void)ctx;
	pthread_mutex_lock(&s->mu);
	if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED)
		arrived(s, dev);
	else if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT)
		left(s, dev);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* The usb_dut_hook of a served DUT: it is closed, so forget it. */
static void
dut_closed(void *arg, struct usb_dut *d)
{
	struct entry *e = arg;
	struct usbsource *s = e->src;

	(void)d;
	pthread_mutex_lock(&s->mu);
	if (e->left) {
		drop(s, e);
	} else {
		e->state = ENTRY_DONE;
		e->dut = NULL;
	}
	pthread_mutex_unlock(&s->mu);
}

static void *
event_main(void *arg)
{
	struct usbsource *s = arg;
	struct timeval tv;
	int lr;

	while (!atomic_load(&s->quit)) {
		tv.tv_sec = 0;
		tv.tv_usec = USBSOURCE_POLL_MS * 1000;
		lr = libusb_handle_events_timeout_completed(s->usb, &tv, NULL);
		if (lr != 0 && lr != LIBUSB_ERROR_INTERRUPTED) {
			log_warn("libusb events: %s", libusb_error_name(lr));
			tv.tv_usec = USBSOURCE_POLL_MS * 1000;
			select(0, NULL, NULL, NULL, &tv);
		}
	}
	return NULL;
}

static struct entry *
first_queued(struct usbsource *s)
{
	struct entry *e;

	for (e = s->head; e != NULL; e = e->next)
		if (e->state == ENTRY_QUEUED)
			return e;
	return NULL;
}

static int
stopped(const struct usbsource *s)
{
	return s->o.stop != NULL && atomic_load(s->o.stop) != 0;
}

static void
add_ms(struct timespec *t, unsigned ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static int
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Waits for an arrival at most USBSOURCE_POLL_MS, and not past *deadline
 * (NULL: none). TALLY_ERR_TIMEOUT when the deadline has passed. mu held. */
static int
wait_slice(struct usbsource *s, const struct timespec *deadline)
{
	struct timespec now, t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (deadline != NULL && !before(&now, deadline))
		return TALLY_ERR_TIMEOUT;
	t = now;
	add_ms(&t, USBSOURCE_POLL_MS);
	if (deadline != NULL && before(deadline, &t))
		t = *deadline;
	pthread_cond_timedwait(&s->cv, &s->mu, &t);
	return 0;
}

static int
iface_is(const struct libusb_config_descriptor *cfg, uint8_t num, uint8_t cls,
    uint8_t sub, uint8_t proto)
{
	const struct libusb_interface_descriptor *a;

	if (num >= cfg->bNumInterfaces || cfg->interface[num].num_altsetting < 1)
		return 0;
	a = &cfg->interface[num].altsetting[0];
	return a->bInterfaceNumber == num && a->bInterfaceClass == cls &&
	    a->bInterfaceSubClass == sub && a->bInterfaceProtocol == proto;
}

/* The configuration descriptor (read from sysfs, no transfer) must offer
 * the vendor and the DFU interface of dutproto.h: TALLY_ERR_MISMATCH if
 * not, a device with our VID:PID that is no tally DUT. */
static int
check_interfaces(libusb_device *dev)
{
	struct libusb_config_descriptor *cfg = NULL;
	int lr, ok;

	lr = libusb_get_config_descriptor_by_value(dev, TDP_CONFIGURATION, &cfg);
	if (lr != 0)
		return lr == LIBUSB_ERROR_NO_MEM ? TALLY_ERR_NOMEM : TALLY_ERR_MISMATCH;
	ok = iface_is(cfg, TDP_IFACE_VENDOR, TDP_VENDOR_CLASS,
	    TDP_VENDOR_SUBCLASS, TDP_VENDOR_PROTOCOL) &&
	    iface_is(cfg, TDP_IFACE_DFU, TDP_DFU_CLASS, TDP_DFU_SUBCLASS,
	    TDP_DFU_PROTOCOL);
	libusb_free_config_descriptor(cfg);
	return ok ? 0 : TALLY_ERR_MISMATCH;
}

/* Opens the DUT of e (ACTIVE, mu not held) and records the outcome;
 * returns with mu held. */
static int
serve(struct usbsource *s, struct entry *e, struct jig_dut *dut)
{
	struct usb_dut_hook hook = { dut_closed, e };
	int r;

	if ((r = check_interfaces(e->dev)) == 0)
		r = usb_dut_open(e->dev, s->o.timeout_ms, &hook, dut);
	pthread_mutex_lock(&s->mu);
	if (r == 0) {
		e->dut = dut->ctx;
		if (e->left)
			usb_dut_mark_gone(e->dut);
	} else {
		log_warn("USB bus %u device %u: skipped: %s",
		    (unsigned)libusb_get_bus_number(e->dev),
		    (unsigned)libusb_get_device_address(e->dev), tally_strerror(r));
		if (e->left)
			drop(s, e);
		else
			e->state = ENTRY_DONE;
	}
	return r;
}

static int
source_next(void *ctx, struct jig_dut *dut)
{
	struct usbsource *s = ctx;
	struct timespec deadline;
	struct entry *e;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	add_ms(&deadline, s->o.wait_ms);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (stopped(s)) {
			r = TALLY_ERR_NOT_FOUND;
			break;
		}
		if ((e = first_queued(s)) != NULL) {
			e->state = ENTRY_ACTIVE;
			pthread_mutex_unlock(&s->mu);
			r = serve(s, e, dut);
			if (r == 0 || r == TALLY_ERR_NOMEM)
				break;
			continue;
		}
		if ((r = wait_slice(s, s->o.wait_ms > 0 ? &deadline : NULL)) != 0)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void
source_close(void *ctx)
{
	struct usbsource *s = ctx;

	if (s == NULL)
		return;
	atomic_store(&s->quit, 1);
	if (s->have_cb)
		libusb_hotplug_deregister_callback(s->usb, s->cb);
	if (s->have_thread) {
		libusb_interrupt_event_handler(s->usb);
		pthread_join(s->thread, NULL);
	}
	while (s->head != NULL) {
		if (s->head->state == ENTRY_ACTIVE)
			log_warn("USB source closed with a DUT still open");
		drop(s, s->head);
	}
	if (s->usb != NULL)
		libusb_exit(s->usb);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int
init_sync(struct usbsource *s)
{
	pthread_condattr_t ca;
	int ok;

	if (pthread_condattr_init(&ca) != 0)
		return TALLY_ERR_NOMEM;
	ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&s->cv, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!ok)
		return TALLY_ERR_NOMEM;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_cond_destroy(&s->cv);
		return TALLY_ERR_NOMEM;
	}
	return 0;
}

/* libusb, the hotplug callback (reporting plugged DUTs at once), the
 * event thread. */
static int
start(struct usbsource *s, char *errmsg, size_t cap)
{
	int lr;

	if ((lr = libusb_init(&s->usb)) != 0) {
		s->usb = NULL;
		snprintf(errmsg, cap, "USB: cannot start libusb: %s",
		    libusb_error_name(lr));
		return lr == LIBUSB_ERROR_NO_MEM ? TALLY_ERR_NOMEM : TALLY_ERR_IO;
	}
	if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
		snprintf(errmsg, cap, "USB: this libusb has no hotplug support");
		return TALLY_ERR_UNSUPPORTED;
	}
	lr = libusb_hotplug_register_callback(s->usb,
	    LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
	    LIBUSB_HOTPLUG_ENUMERATE, s->o.vid, s->o.pid,
	    LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, s, &s->cb);
	if (lr != 0) {
		snprintf(errmsg, cap, "USB: hotplug: %s", libusb_error_name(lr));
		return TALLY_ERR_IO;
	}
	s->have_cb = 1;
	if (pthread_create(&s->thread, NULL, event_main, s) != 0) {
		snprintf(errmsg, cap, "USB: cannot start the event thread");
		return TALLY_ERR_NOMEM;
	}
	s->have_thread = 1;
	return 0;
}

int
usbsource_open(const struct usbsource_opts *o, struct jig_dut_source *src,
    char *errmsg, size_t cap)
{
	struct usbsource *s;
	int r;

	if (o->timeout_ms < JIG_USB_TIMEOUT_MIN || o->timeout_ms > JIG_USB_TIMEOUT_MAX) {
		snprintf(errmsg, cap, "USB: transfer timeout out of range");
		return TALLY_ERR_INVALID;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (r = init_sync(s)) != 0) {
		free(s);
		snprintf(errmsg, cap, "USB: out of memory");
		return TALLY_ERR_NOMEM;
	}
	s->o = *o;
	atomic_init(&s->quit, 0);
	if ((r = start(s, errmsg, cap)) != 0) {
		source_close(s);
		return r;
	}
	src->next = source_next;
	src->close = source_close;
	src->ctx = s;
	return 0;
}
