/*
 * handler.c - the usbdevfs side of a simulated DUT: a UMockdevIoctlBase
 * subclass answering the ioctls libusb 1.0 sends on a device node
 * (GET_CAPABILITIES, CLAIM/RELEASEINTERFACE, SETCONFIGURATION,
 * SETINTERFACE, SUBMITURB, REAPURBNDELAY, DISCARDURB, ...).
 *
 * Every control transfer is a CONTROL URB whose buffer is the 8-byte setup
 * packet and the data stage. SUBMITURB answers it at once through the
 * model (or descr.c for standard requests) and queues it; REAPURBNDELAY
 * hands back the oldest answered URB; a NAKed URB is held until libusb's
 * timeout DISCARDs it, and is then reaped with -ENOENT. A stall is status
 * -EPIPE. After an unplug, URBs are reaped with -ESHUTDOWN and every other
 * ioctl fails with ENODEV, as the kernel does.
 *
 * Runs on the testbed's thread; the lock guards what the main thread reads.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include "usbsim.h"

struct pending {
	UMockdevIoctlData *urb;         /* the client's struct usbdevfs_urb */
	int status;                     /* 0, -EPIPE, -ENOENT, -ESHUTDOWN */
	int actual;                     /* data-stage bytes */
	gint64 t0;                      /* submitted, monotonic us */
};

struct _UsbsimHandler {
	UMockdevIoctlBase parent_instance;
	GMutex lock;
	struct dutmodel *model;
	struct usbsim_ident ident;
	GQueue ready;                   /* struct pending *: answered, reapable */
	GQueue held;                    /* struct pending *: NAKed */
	GPtrArray *clients;             /* UMockdevIoctlClient refs */
	struct usbsim_activity act;
	int unplugged;
};

G_DEFINE_TYPE(UsbsimHandler, usbsim_handler, UMOCKDEV_TYPE_IOCTL_BASE)

static void
pending_free(gpointer data)
{
	struct pending *p = data;

	umockdev_ioctl_data_unref(p->urb);
	g_free(p);
}

/* Answers one setup packet: standard requests here, the rest by the model. */
static enum dm_outcome
control(UsbsimHandler *h, const struct dm_setup *s, uint8_t *data, size_t *len)
{
	enum dm_outcome o;

	if ((s->bmRequestType & 0x60) == 0)
		return usbsim_standard(&h->ident, s, data, len);
	o = dutmodel_control(h->model, s, data, len);
	/* This runs on umockdev's ioctl worker thread, which is never joined:
	 * release OpenSSL's per-thread state (DRBG, signing objects of an
	 * attestation) now rather than leave it for process exit. */
	OPENSSL_thread_stop();
	if (o == DM_GONE)
		h->unplugged = 1;
	return o;
}

static int
submit(UsbsimHandler *h, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *ud, *bd;
	struct usbdevfs_urb *urb;
	struct pending *p;
	struct dm_setup s;
	size_t n = 0;
	enum dm_outcome o;

	if ((ud = umockdev_ioctl_data_resolve(arg, 0, sizeof(*urb), NULL)) == NULL)
		return -EFAULT;
	urb = (struct usbdevfs_urb *)ud->data;
	if (urb->type != USBDEVFS_URB_TYPE_CONTROL || (urb->endpoint & 0x7f) != 0 ||
	    urb->buffer_length < 8 || urb->buffer_length > 8 + 0xffff) {
		umockdev_ioctl_data_unref(ud);
		return -EINVAL;
	}
	bd = umockdev_ioctl_data_resolve(ud, G_STRUCT_OFFSET(struct usbdevfs_urb,
	    buffer), (gsize)urb->buffer_length, NULL);
	if (bd == NULL) {
		umockdev_ioctl_data_unref(ud);
		return -EFAULT;
	}
	s.bmRequestType = bd->data[0];
	s.bRequest = bd->data[1];
	s.wValue = (uint16_t)(bd->data[2] | bd->data[3] << 8);
	s.wIndex = (uint16_t)(bd->data[4] | bd->data[5] << 8);
	s.wLength = (uint16_t)(bd->data[6] | bd->data[7] << 8);
	if (8 + (int)s.wLength > urb->buffer_length) {
		umockdev_ioctl_data_unref(bd);
		umockdev_ioctl_data_unref(ud);
		return -EINVAL;
	}
	o = control(h, &s, bd->data + 8, &n);
	umockdev_ioctl_data_unref(bd);
	p = g_new0(struct pending, 1);
	p->urb = ud;
	p->t0 = g_get_monotonic_time();
	p->status = o == DM_STALL ? -EPIPE : o == DM_GONE ? -ESHUTDOWN : 0;
	p->actual = o != DM_ACK ? 0 : (s.bmRequestType & 0x80) ? (int)n : s.wLength;
	urb->status = p->status;
	urb->actual_length = p->actual;
	g_queue_push_tail(o == DM_NAK ? &h->held : &h->ready, p);
	h->act.transfers++;
	return 0;
}

static int
reap(UsbsimHandler *h, UMockdevIoctlData *arg)
{
	UMockdevIoctlData *ptr;
	struct pending *p;
	int v;

	if ((p = g_queue_peek_head(&h->ready)) == NULL)
		return h->unplugged ? -ENODEV : -EAGAIN;
	if ((ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL)) == NULL)
		return -EFAULT;
	g_queue_pop_head(&h->ready);
	/* Written again at reap: a discard or unplug came after the submit. */
	v = p->status;
	umockdev_ioctl_data_update(p->urb, G_STRUCT_OFFSET(struct usbdevfs_urb,
	    status), (guint8 *)&v, sizeof(v));
	v = p->actual;
	umockdev_ioctl_data_update(p->urb, G_STRUCT_OFFSET(struct usbdevfs_urb,
	    actual_length), (guint8 *)&v, sizeof(v));
	umockdev_ioctl_data_set_ptr(ptr, 0, p->urb);
	umockdev_ioctl_data_unref(ptr);
	h->act.busy_us += g_get_monotonic_time() - p->t0;
	pending_free(p);
	return 0;
}

/* DISCARDURB: the argument is the client's URB address, as a value. */
static int
discard(UsbsimHandler *h, UMockdevIoctlData *arg)
{
	gulong addr;
	GList *l;
	struct pending *p;

	if (arg->data_len < (gint)sizeof(addr))
		return -EINVAL;
	memcpy(&addr, arg->data, sizeof(addr));
	for (l = h->held.head; l != NULL; l = l->next) {
		p = l->data;
		if (p->urb->client_addr != addr)
			continue;
		g_queue_delete_link(&h->held, l);
		p->status = -ENOENT;
		p->actual = 0;
		g_queue_push_tail(&h->ready, p);
		return 0;
	}
	return -EINVAL;     /* unknown, or already answered */
}

/* An ioctl whose argument points to one unsigned int (an interface or a
 * configuration number). */
static int
uint_arg(UMockdevIoctlData *arg, unsigned *v)
{
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(*v), NULL);

	if (d == NULL)
		return -EFAULT;
	memcpy(v, d->data, sizeof(*v));
	umockdev_ioctl_data_unref(d);
	return 0;
}

static int
claim(UsbsimHandler *h, UMockdevIoctlData *arg, int on)
{
	unsigned iface;
	int r;

	if ((r = uint_arg(arg, &iface)) != 0)
		return r;
	if (iface > 1)
		return -ENOENT;
	if (on) {
		h->act.claimed |= 1u << iface;
		h->act.ever_claimed = 1;
	} else {
		h->act.claimed &= ~(1u << iface);
	}
	return 0;
}

static int
capabilities(UMockdevIoctlData *arg)
{
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
	guint32 caps = USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
	    USBDEVFS_CAP_REAP_AFTER_DISCONNECT;

	if (d == NULL)
		return -EFAULT;
	memcpy(d->data, &caps, sizeof(caps));
	umockdev_ioctl_data_unref(d);
	return 0;
}

static int
dispatch(UsbsimHandler *h, gulong req, UMockdevIoctlData *arg)
{
	unsigned v;
	int r;

	if (h->unplugged && req != USBDEVFS_REAPURBNDELAY && req != USBDEVFS_DISCARDURB)
		return -ENODEV;
	switch (req) {
	case USBDEVFS_SUBMITURB:	return submit(h, arg);
	case USBDEVFS_REAPURBNDELAY:	return reap(h, arg);
	case USBDEVFS_DISCARDURB:	return discard(h, arg);
	case USBDEVFS_GET_CAPABILITIES:	return capabilities(arg);
	case USBDEVFS_CLAIMINTERFACE:	return claim(h, arg, 1);
	case USBDEVFS_RELEASEINTERFACE:	return claim(h, arg, 0);
	case USBDEVFS_SETCONFIGURATION:
		if ((r = uint_arg(arg, &v)) != 0)
			return r;
		return v == 1 || v == (unsigned)-1 ? 0 : -EINVAL;
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
	case USBDEVFS_RESET:
		return 0;
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:
		return -ENODATA;        /* no kernel driver bound */
	default:
		return -ENOTTY;
	}
}

static void
note_client(UsbsimHandler *h, UMockdevIoctlClient *client)
{
	guint i;

	for (i = 0; i < h->clients->len; i++)
		if (g_ptr_array_index(h->clients, i) == client)
			return;
	g_ptr_array_add(h->clients, g_object_ref(client));
	h->act.had_client = 1;
}

static gboolean
handle_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client)
{
	UsbsimHandler *h = USBSIM_HANDLER(base);
	gulong req = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	int r;

	g_mutex_lock(&h->lock);
	note_client(h, client);
	h->act.last_ioctl_us = g_get_monotonic_time();
	r = dispatch(h, req, arg);
	g_mutex_unlock(&h->lock);
	umockdev_ioctl_client_complete(client, r < 0 ? -1 : r, r < 0 ? -r : 0);
	return TRUE;
}

static void
client_connected(UMockdevIoctlBase *base, UMockdevIoctlClient *client)
{
	UsbsimHandler *h = USBSIM_HANDLER(base);

	g_mutex_lock(&h->lock);
	note_client(h, client);
	g_mutex_unlock(&h->lock);
}

static void
usbsim_handler_finalize(GObject *obj)
{
	UsbsimHandler *h = USBSIM_HANDLER(obj);

	g_queue_clear_full(&h->ready, pending_free);
	g_queue_clear_full(&h->held, pending_free);
	g_ptr_array_unref(h->clients);
	g_mutex_clear(&h->lock);
	G_OBJECT_CLASS(usbsim_handler_parent_class)->finalize(obj);
}

static void
usbsim_handler_class_init(UsbsimHandlerClass *klass)
{
	UMockdevIoctlBaseClass *base = UMOCKDEV_IOCTL_BASE_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = usbsim_handler_finalize;
	base->handle_ioctl = handle_ioctl;
	base->client_connected = client_connected;
}

static void
usbsim_handler_init(UsbsimHandler *h)
{
	g_mutex_init(&h->lock);
	g_queue_init(&h->ready);
	g_queue_init(&h->held);
	h->clients = g_ptr_array_new_with_free_func(g_object_unref);
}

UsbsimHandler *
usbsim_handler_new(struct dutmodel *m, const struct usbsim_ident *id)
{
	UsbsimHandler *h = g_object_new(USBSIM_TYPE_HANDLER, NULL);

	h->model = m;
	h->ident = *id;
	return h;
}

void
usbsim_handler_unplug(UsbsimHandler *h)
{
	GList *l;

	g_mutex_lock(&h->lock);
	h->unplugged = 1;
	/* Transfers in flight end with -ESHUTDOWN, as the kernel does. */
	for (l = h->held.head; l != NULL; l = l->next)
		((struct pending *)l->data)->status = -ESHUTDOWN;
	while (!g_queue_is_empty(&h->held))
		g_queue_push_tail(&h->ready, g_queue_pop_head(&h->held));
	g_mutex_unlock(&h->lock);
}

void
usbsim_handler_activity(UsbsimHandler *h, struct usbsim_activity *a)
{
	guint i;

	g_mutex_lock(&h->lock);
	*a = h->act;
	a->gone = h->unplugged;
	a->client_open = 0;
	for (i = 0; i < h->clients->len; i++)
		if (umockdev_ioctl_client_get_connected(g_ptr_array_index(h->clients, i)))
			a->client_open = 1;
	g_mutex_unlock(&h->lock);
}

void
usbsim_handler_with_model(UsbsimHandler *h,
    void (*f)(struct dutmodel *m, void *arg), void *arg)
{
	g_mutex_lock(&h->lock);
	f(h->model, arg);
	g_mutex_unlock(&h->lock);
}
