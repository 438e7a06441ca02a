/*
 * dutproto.h - the USB interface of a tally provisioning DUT, as numbers.
 * docs/dut-protocol.md is the specification; this header is its C form,
 * shared by the jig's libusb backend (usb.c) and the simulated USB DUT
 * (usbsim/). Firmware download follows USB DFU 1.1 (USB Device Class
 * Specification for Device Firmware Upgrade, version 1.1, 2004): request,
 * state and status names below are the specification's.
 *
 * Multi-byte fields in the vendor records are big-endian; USB setup packet
 * fields (wValue, wIndex, wLength) are little-endian as USB 2.0 §9.3 says.
 */
#ifndef JIG_DUTPROTO_H
#define JIG_DUTPROTO_H

#include "artifact.h"

/* Default IDs (pid.codes test VID; configurable in the jig's [usb] section). */
#define TDP_VID_DEFAULT 0x1209
#define TDP_PID_DEFAULT 0x7a11

#define TDP_CONFIGURATION 1
#define TDP_IFACE_VENDOR 0      /* class 0xff, subclass 0x54 ('T'), protocol 0x01, no endpoints */
#define TDP_IFACE_DFU 1         /* class 0xfe, subclass 0x01, protocol 0x02 (DFU mode) */
#define TDP_VENDOR_CLASS 0xff
#define TDP_VENDOR_SUBCLASS 0x54
#define TDP_VENDOR_PROTOCOL 0x01
#define TDP_DFU_CLASS 0xfe
#define TDP_DFU_SUBCLASS 0x01
#define TDP_DFU_PROTOCOL 0x02

#define TDP_VERSION 1           /* first byte of the identity record */
#define TDP_BLOCK 4096          /* bundle block size and DFU wTransferSize, bytes */
#define TDP_IMAGE_MAX (64u * 1024 * 1024)  /* largest firmware image, bytes */

/* bmRequestType values (USB 2.0 §9.3.1): direction | type | recipient. */
#define TDP_RT_VENDOR_IN  0xc1  /* device-to-host, vendor, interface */
#define TDP_RT_VENDOR_OUT 0x41  /* host-to-device, vendor, interface */
#define TDP_RT_CLASS_IN   0xa1  /* device-to-host, class, interface (DFU) */
#define TDP_RT_CLASS_OUT  0x21  /* host-to-device, class, interface (DFU) */

/* Vendor requests on interface TDP_IFACE_VENDOR (wIndex = 0). */
enum tdp_request {
	/* IN, wValue 0, wLength TDP_IDENTITY_MAX: the identity record
	 * version(1)=TDP_VERSION | state(1, enum jig_dut_state) |
	 * flags(1, TDP_FLAG_*) | uid_len(1, 1..64) | uid |
	 * product_len(1, 0..64) | product (printable ASCII). */
	TDP_GET_IDENTITY = 0x01,
	/* OUT, wValue 0, wLength 32: the appliance's challenge nonce. The DUT
	 * signs its attestation statement over it (lib/attest.h). Replaces any
	 * earlier challenge. */
	TDP_SET_CHALLENGE = 0x02,
	/* IN, wValue 0, wLength TALLY_ATTESTATION_MAX: the attestation record
	 * of lib/attest.h for the last challenge. STALL when the DUT has no
	 * attestation key or no challenge was set. */
	TDP_GET_ATTESTATION = 0x03,
	/* OUT, wValue = total bundle length (1..TALLY_BUNDLE_MAX), no data:
	 * starts a bundle transfer, discarding any partial one. */
	TDP_BUNDLE_BEGIN = 0x04,
	/* OUT, wValue = block number (0, 1, ...), data = the block
	 * (TDP_BLOCK bytes, the last one shorter). Out of order, past the
	 * announced length, or without BEGIN: STALL. */
	TDP_BUNDLE_DATA = 0x05,
	/* OUT, no data: verify the complete bundle (lib/devverify.h). The
	 * verdict is read with TDP_GET_STATUS. STALL when incomplete. */
	TDP_BUNDLE_VERIFY = 0x06,
	/* IN, wLength 4: verdict(1, enum jig_dut_verdict of the last bundle
	 * verification or firmware manifestation) | state(1, enum
	 * jig_dut_state) | version(1)=TDP_VERSION | reserved(1)=0. */
	TDP_GET_STATUS = 0x07,
};

#define TDP_IDENTITY_MAX (5 + TALLY_UID_MAX + TALLY_PRODUCT_MAX)
#define TDP_FLAG_ATTESTATION 0x01  /* identity flags: the DUT has an attestation key */
#define TDP_STATUS_LEN 4

/* DFU 1.1 class requests on interface TDP_IFACE_DFU (§3, table 3.2). */
enum tdp_dfu_request {
	TDP_DFU_DETACH = 0,
	TDP_DFU_DNLOAD = 1,     /* OUT, wValue = block number, data <= TDP_BLOCK; wLength 0 = end */
	TDP_DFU_UPLOAD = 2,     /* not supported: STALL */
	TDP_DFU_GETSTATUS = 3,  /* IN, 6 bytes: bStatus, bwPollTimeout[3] (ms, LE), bState, iString */
	TDP_DFU_CLRSTATUS = 4,  /* OUT, no data: dfuERROR -> dfuIDLE */
	TDP_DFU_GETSTATE = 5,   /* IN, 1 byte: bState */
	TDP_DFU_ABORT = 6,      /* OUT, no data: back to dfuIDLE, image discarded */
};

#define TDP_DFU_STATUS_LEN 6

/* DFU 1.1 §6.1.2 bState. */
enum tdp_dfu_state {
	TDP_DFU_APP_IDLE = 0,
	TDP_DFU_APP_DETACH = 1,
	TDP_DFU_IDLE = 2,
	TDP_DFU_DNLOAD_SYNC = 3,
	TDP_DFU_DNBUSY = 4,
	TDP_DFU_DNLOAD_IDLE = 5,
	TDP_DFU_MANIFEST_SYNC = 6,
	TDP_DFU_MANIFEST = 7,
	TDP_DFU_MANIFEST_WAIT_RESET = 8,
	TDP_DFU_UPLOAD_IDLE = 9,
	TDP_DFU_ERROR = 10,
};

/* DFU 1.1 §6.1.2 bStatus, and what a tally DUT means by each. */
enum tdp_dfu_status {
	TDP_DFU_OK = 0x00,
	TDP_DFU_ERR_TARGET = 0x01,
	TDP_DFU_ERR_FILE = 0x02,     /* image digest is not the accepted token's (WRONG_FIRMWARE) */
	TDP_DFU_ERR_WRITE = 0x03,    /* flash write failed (FLASH_ERROR) */
	TDP_DFU_ERR_ERASE = 0x04,
	TDP_DFU_ERR_CHECK_ERASED = 0x05,
	TDP_DFU_ERR_PROG = 0x06,
	TDP_DFU_ERR_VERIFY = 0x07,
	TDP_DFU_ERR_ADDRESS = 0x08,  /* image longer than TDP_IMAGE_MAX */
	TDP_DFU_ERR_NOTDONE = 0x09,  /* zero-length DNLOAD before any block */
	TDP_DFU_ERR_FIRMWARE = 0x0a,
	TDP_DFU_ERR_VENDOR = 0x0b,   /* no token bundle accepted yet (NO_TOKEN) */
	TDP_DFU_ERR_USBR = 0x0c,
	TDP_DFU_ERR_POR = 0x0d,
	TDP_DFU_ERR_UNKNOWN = 0x0e,
	TDP_DFU_ERR_STALLEDPKT = 0x0f, /* request not valid in this state */
};

/* DFU functional descriptor (DFU 1.1 §4.1.3), after the DFU interface. */
#define TDP_DFU_FUNC_DESC_TYPE 0x21
#define TDP_DFU_ATTRIBUTES 0x05     /* bitCanDnload | bitManifestationTolerant */
#define TDP_DFU_DETACH_TIMEOUT 1000 /* ms */
#define TDP_DFU_VERSION 0x0110

#endif
