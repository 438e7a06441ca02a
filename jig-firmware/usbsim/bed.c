/*
 * bed.c - the umockdev testbed of tally-dutsim: device records of
 * simulated DUTs on bus 1, plug (attach the ioctl handler, then add the
 * record: umockdev sends the "add" uevent) and unplug ("remove" uevent,
 * then the record goes). libusb reads the descriptors from the sysfs
 * "descriptors" attribute, in upper-case hex here.
 */
#include <stdio.h>
#include <string.h>
#include "err.h"
#include "log.h"
#include "usbsim.h"

struct usbsim_bed {
	UMockdevTestbed *tb;
	unsigned seq;           /* plugs so far: picks the next address */
	GPtrArray *retired;     /* struct usbsim_port *: unplugged, still attached */
};

int
usbsim_bed_new(struct usbsim_bed **out)
{
	struct usbsim_bed *b = g_new0(struct usbsim_bed, 1);

	if ((b->tb = umockdev_testbed_new()) == NULL) {
		log_err("cannot make a umockdev testbed");
		g_free(b);
		return TALLY_ERR_IO;
	}
	b->retired = g_ptr_array_new();
	*out = b;
	return 0;
}

static void
retire_free(struct usbsim_bed *b, struct usbsim_port *p)
{
	umockdev_testbed_detach_ioctl(b->tb, p->devnode, NULL);
	g_object_unref(p->handler);
	g_free(p);
}

void
usbsim_bed_free(struct usbsim_bed *b)
{
	guint i;

	if (b == NULL)
		return;
	for (i = 0; i < b->retired->len; i++)
		retire_free(b, g_ptr_array_index(b->retired, i));
	g_ptr_array_unref(b->retired);
	g_object_unref(b->tb);  /* removes the testbed folder */
	g_free(b);
}

/* Text for a record attribute: printable ASCII with backslashes escaped
 * (the record format decodes C escapes). Free with g_free. */
static char *
attr_text(const char *s)
{
	GString *g = g_string_new(NULL);

	for (; *s != '\0'; s++)
		g_string_append(g, *s == '\\' ? "\\\\" : (char[2]){ *s, '\0' });
	return g_string_free(g, FALSE);
}

/* The device record: sysfs path, node, udev properties, attributes and
 * the descriptors (umockdev-record format). */
static char *
record(const struct usbsim_port *p, const struct usbsim_ident *id)
{
	uint8_t desc[USBSIM_DESC_LEN];
	char hex[2 * USBSIM_DESC_LEN + 1], *rec;
	char *product = attr_text(id->product), *serial = attr_text(id->serial);
	size_t i;

	usbsim_descriptors(id, desc);
	for (i = 0; i < sizeof(desc); i++)
		snprintf(hex + 2 * i, 3, "%02X", desc[i]);
	rec = g_strdup_printf(
	    "P: %s\n"
	    "N: bus/usb/001/%03u\n"
	    "E: SUBSYSTEM=usb\n"
	    "E: DEVTYPE=usb_device\n"
	    "E: DRIVER=usb\n"
	    "E: DEVNAME=%s\n"
	    "E: BUSNUM=001\n"
	    "E: DEVNUM=%03u\n"
	    "E: PRODUCT=%x/%x/100\n"
	    "A: busnum=1\\n\n"
	    "A: devnum=%u\\n\n"
	    "A: speed=12\\n\n"
	    "A: bConfigurationValue=1\\n\n"
	    "A: bNumConfigurations=1\\n\n"
	    "A: idVendor=%04x\\n\n"
	    "A: idProduct=%04x\\n\n"
	    "A: manufacturer=tally\\n\n"
	    "A: product=%s\\n\n"
	    "A: serial=%s\\n\n"
	    "H: descriptors=%s\n",
	    p->syspath + strlen("/sys"), p->devnum, p->devnode, p->devnum,
	    id->vid, id->pid, p->devnum, id->vid, id->pid, product, serial, hex);
	g_free(product);
	g_free(serial);
	return rec;
}

/* A retired DUT holding the node path we are about to reuse. */
static void
reclaim_node(struct usbsim_bed *b, const char *devnode)
{
	guint i;
	struct usbsim_port *p;

	for (i = 0; i < b->retired->len; i++) {
		p = g_ptr_array_index(b->retired, i);
		if (strcmp(p->devnode, devnode) == 0) {
			g_ptr_array_remove_index(b->retired, i);
			retire_free(b, p);
			return;
		}
	}
}

int
usbsim_plug(struct usbsim_bed *b, struct dutmodel *m,
    const struct usbsim_ident *id, unsigned port, struct usbsim_port *p)
{
	GError *err = NULL;
	char *rec;
	int ok;

	memset(p, 0, sizeof(*p));
	p->port = port;
	p->devnum = 2 + b->seq++ % 126;
	snprintf(p->syspath, sizeof(p->syspath),
	    "/sys/devices/tally-dutsim/usb1/1-%u", port);
	snprintf(p->devnode, sizeof(p->devnode), "/dev/bus/usb/001/%03u", p->devnum);
	reclaim_node(b, p->devnode);
	p->handler = usbsim_handler_new(m, id);
	if (!umockdev_testbed_attach_ioctl(b->tb, p->devnode,
	    UMOCKDEV_IOCTL_BASE(p->handler), &err)) {
		log_err("umockdev: attach %s: %s", p->devnode, err->message);
		goto fail;
	}
	rec = record(p, id);
	ok = umockdev_testbed_add_from_string(b->tb, rec, &err);
	g_free(rec);
	if (!ok) {
		log_err("umockdev: add %s: %s", p->syspath, err->message);
		umockdev_testbed_detach_ioctl(b->tb, p->devnode, NULL);
		goto fail;
	}
	p->plugged_us = g_get_monotonic_time();
	return 0;
 fail:
	g_clear_error(&err);
	g_clear_object(&p->handler);
	return TALLY_ERR_IO;
}

void
usbsim_unplug(struct usbsim_bed *b, struct usbsim_port *p)
{
	struct usbsim_port *keep;

	if (p->handler == NULL)
		return;
	usbsim_handler_unplug(p->handler);
	umockdev_testbed_uevent(b->tb, p->syspath, "remove");
	umockdev_testbed_remove_device(b->tb, p->syspath);
	keep = g_memdup2(p, sizeof(*p));
	g_ptr_array_add(b->retired, keep);
	p->handler = NULL;
}

void
usbsim_bed_collect(struct usbsim_bed *b)
{
	struct usbsim_activity a;
	struct usbsim_port *p;
	guint i = 0;

	while (i < b->retired->len) {
		p = g_ptr_array_index(b->retired, i);
		usbsim_handler_activity(p->handler, &a);
		if (a.client_open) {
			i++;
			continue;
		}
		g_ptr_array_remove_index(b->retired, i);
		retire_free(b, p);
	}
}
