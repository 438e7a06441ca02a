/* descr.c - descriptors and standard requests of a simulated tally DUT
 * (docs/dut-protocol.md §2; USB 2.0 §9.4, §9.6; DFU 1.1 §4.1.3). */
#include <stdio.h>
#include <string.h>
#include "dutproto.h"
#include "dutrecord.h"
#include "usbsim.h"

enum {
	STR_LANGID = 0, STR_MANUFACTURER, STR_PRODUCT, STR_SERIAL,
	STR_VENDOR_IFACE, STR_DFU_IFACE, STR_COUNT
};

void
usbsim_ident_init(struct usbsim_ident *id, const struct dutmodel *m,
    uint16_t vid, uint16_t pid)
{
	const uint8_t *uid;
	size_t n = dutmodel_presented_uid(m, &uid), i;
	const char *product = dutmodel_product(m);

	memset(id, 0, sizeof(*id));
	id->vid = vid;
	id->pid = pid;
	snprintf(id->product, sizeof(id->product), "%s",
	    product[0] != '\0' ? product : "tally provisioning DUT");
	if (dutrec_printable(uid, n)) {
		snprintf(id->serial, sizeof(id->serial), "%.*s", (int)n,
		    (const char *)uid);
		return;
	}
	for (i = 0; i < n && 2 * i + 2 < sizeof(id->serial); i++)
		snprintf(id->serial + 2 * i, 3, "%02x", uid[i]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

void
usbsim_descriptors(const struct usbsim_ident *id, uint8_t out[USBSIM_DESC_LEN])
{
	uint8_t *d = out, *c = out + USBSIM_DEVICE_DESC_LEN;

	memset(out, 0, USBSIM_DESC_LEN);
	/* Device (USB 2.0 §9.6.1). */
	d[0] = USBSIM_DEVICE_DESC_LEN;
	d[1] = 1;
	put16(d + 2, 0x0200);           /* bcdUSB */
	d[7] = 64;                      /* bMaxPacketSize0; class/subclass/protocol 0 */
	put16(d + 8, id->vid);
	put16(d + 10, id->pid);
	put16(d + 12, 0x0100);          /* bcdDevice */
	d[14] = STR_MANUFACTURER;
	d[15] = STR_PRODUCT;
	d[16] = STR_SERIAL;
	d[17] = 1;                      /* bNumConfigurations */
	/* Configuration (§9.6.3). */
	c[0] = 9;
	c[1] = 2;
	put16(c + 2, USBSIM_CONFIG_DESC_LEN);
	c[4] = 2;                       /* bNumInterfaces */
	c[5] = TDP_CONFIGURATION;
	c[7] = 0x80;                    /* bus powered */
	c[8] = 50;                      /* 100 mA */
	/* Interface 0: vendor (§9.6.5). */
	c += 9;
	c[0] = 9;
	c[1] = 4;
	c[2] = TDP_IFACE_VENDOR;
	c[5] = TDP_VENDOR_CLASS;
	c[6] = TDP_VENDOR_SUBCLASS;
	c[7] = TDP_VENDOR_PROTOCOL;
	c[8] = STR_VENDOR_IFACE;
	/* Interface 1: DFU mode. */
	c += 9;
	c[0] = 9;
	c[1] = 4;
	c[2] = TDP_IFACE_DFU;
	c[5] = TDP_DFU_CLASS;
	c[6] = TDP_DFU_SUBCLASS;
	c[7] = TDP_DFU_PROTOCOL;
	c[8] = STR_DFU_IFACE;
	/* DFU functional descriptor (DFU 1.1 §4.1.3). */
	c += 9;
	c[0] = 9;
	c[1] = TDP_DFU_FUNC_DESC_TYPE;
	c[2] = TDP_DFU_ATTRIBUTES;
	put16(c + 3, TDP_DFU_DETACH_TIMEOUT);
	put16(c + 5, TDP_BLOCK);
	put16(c + 7, TDP_DFU_VERSION);
}

/* A string descriptor (§9.6.7): UTF-16LE of ASCII text. */
static size_t
string_desc(const struct usbsim_ident *id, unsigned index, uint8_t *out)
{
	const char *text;
	size_t i, n;

	switch (index) {
	case STR_LANGID:
		out[0] = 4;
		out[1] = 3;
		put16(out + 2, 0x0409); /* English (United States) */
		return 4;
	case STR_MANUFACTURER:	text = "tally"; break;
	case STR_PRODUCT:	text = id->product; break;
	case STR_SERIAL:	text = id->serial; break;
	case STR_VENDOR_IFACE:	text = "tally provisioning"; break;
	case STR_DFU_IFACE:	text = "tally firmware"; break;
	default:		return 0;
	}
	n = strlen(text);
	if (n > USBSIM_STRING_MAX)
		n = USBSIM_STRING_MAX;
	out[0] = (uint8_t)(2 + 2 * n);
	out[1] = 3;
	for (i = 0; i < n; i++)
		put16(out + 2 + 2 * i, (uint8_t)text[i]);
	return 2 + 2 * n;
}

static enum dm_outcome
get_descriptor(const struct usbsim_ident *id, const struct dm_setup *s,
    uint8_t *data, size_t *len)
{
	uint8_t all[USBSIM_DESC_LEN], str[2 + 2 * USBSIM_STRING_MAX];
	size_t n;

	switch (s->wValue >> 8) {
	case 1:
		usbsim_descriptors(id, all);
		return dm_reply(s, data, len, all, USBSIM_DEVICE_DESC_LEN);
	case 2:
		if ((s->wValue & 0xff) != 0)
			return DM_STALL;
		usbsim_descriptors(id, all);
		return dm_reply(s, data, len, all + USBSIM_DEVICE_DESC_LEN,
		    USBSIM_CONFIG_DESC_LEN);
	case 3:
		if ((n = string_desc(id, s->wValue & 0xff, str)) == 0)
			return DM_STALL;
		return dm_reply(s, data, len, str, n);
	default:        /* no device qualifier: a full-speed device */
		return DM_STALL;
	}
}

enum dm_outcome
usbsim_standard(const struct usbsim_ident *id, const struct dm_setup *s,
    uint8_t *data, size_t *len)
{
	static const uint8_t zero2[2] = { 0, 0 }, one = TDP_CONFIGURATION, zero = 0;
	int in = (s->bmRequestType & 0x80) != 0;

	*len = 0;
	switch (s->bRequest) {
	case 0x06:      /* GET_DESCRIPTOR */
		return in ? get_descriptor(id, s, data, len) : DM_STALL;
	case 0x00:      /* GET_STATUS: bus powered, no remote wakeup, no halt */
		return in ? dm_reply(s, data, len, zero2, 2) : DM_STALL;
	case 0x08:      /* GET_CONFIGURATION */
		return in ? dm_reply(s, data, len, &one, 1) : DM_STALL;
	case 0x0a:      /* GET_INTERFACE: alternate setting 0 */
		return in && s->wIndex <= TDP_IFACE_DFU ?
		    dm_reply(s, data, len, &zero, 1) : DM_STALL;
	case 0x09:      /* SET_CONFIGURATION */
		return !in && s->wValue == TDP_CONFIGURATION ? DM_ACK : DM_STALL;
	case 0x0b:      /* SET_INTERFACE */
		return !in && s->wValue == 0 && s->wIndex <= TDP_IFACE_DFU ?
		    DM_ACK : DM_STALL;
	default:
		return DM_STALL;
	}
}
