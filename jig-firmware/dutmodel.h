/*
 * dutmodel.h - the device side of the DUT protocol (docs/dut-protocol.md,
 * dutproto.h) as a model of a provisioning chip, independent of any USB
 * plumbing: one entry point takes a control request (setup packet fields
 * and its data stage) and answers it, or STALLs, or holds it (NAK), or
 * reports that the chip has left the bus.
 *
 * The model holds a UID, a product, the OEM root public key, optionally an
 * attestation private key with its boot-key hash and software version, the
 * token it accepted (lib/devverify.h tdv_verify_bundle with the OpenSSL
 * back-end), the bundle being transferred, and a DFU 1.1 download state
 * machine with a streaming SHA-256 of the image. It can inject one fault
 * (struct dm_fault).
 *
 * Two transports drive it: simdut.c in-process, and jig-firmware/usbsim/
 * through umockdev as a USB device. The model is not thread-safe: callers
 * serialise access (usbsim holds a mutex around every call).
 */
#ifndef JIG_DUTMODEL_H
#define JIG_DUTMODEL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "devverify.h"
#include "transport.h"

/* What an injected fault does. */
enum dm_fault_kind {
	DM_FAULT_NONE = 0,
	DM_FAULT_STALL,         /* every matching request STALLs */
	DM_FAULT_NAK,           /* every matching request is never completed */
	DM_FAULT_SHORT,         /* every matching IN request returns half its record */
	DM_FAULT_UNPLUG,        /* the chip leaves the bus at the first matching request */
	DM_FAULT_WRONG_ATT_KEY, /* attestations signed by a key nobody trusts */
	DM_FAULT_CLONE,         /* presents fault.uid and verifies with it; own (untrusted) key */
	DM_FAULT_MISREPORT_UID, /* presents fault.uid, verifies with its true UID */
	DM_FAULT_CORRUPT_IMAGE, /* one byte of DFU block fault.block flipped on receipt */
};

/* Where a stall, nak, short or unplug fault applies. */
enum dm_where {
	DM_AT_IDENTITY = 0,     /* TDP_GET_IDENTITY */
	DM_AT_CHALLENGE,        /* TDP_SET_CHALLENGE */
	DM_AT_ATTESTATION,      /* TDP_GET_ATTESTATION */
	DM_AT_BUNDLE,           /* TDP_BUNDLE_DATA (every block) */
	DM_AT_VERIFY,           /* TDP_BUNDLE_VERIFY */
	DM_AT_STATUS,           /* TDP_GET_STATUS */
	DM_AT_DFU,              /* DFU_DNLOAD of block fault.block (short: the
				 * DFU_GETSTATUS that follows it) */
};

#define DM_FAULT_TEXT_MAX (40 + TALLY_UID_MAX)

struct dm_fault {
	enum dm_fault_kind kind;
	enum dm_where where;
	uint32_t block;                 /* DM_AT_DFU and corrupt-image: block number */
	uint8_t uid[TALLY_UID_MAX];     /* clone and misreport-uid */
	size_t uid_len;
};

/* Parses a fault as tally-dutsim's --fault takes it after "UNIT:":
 * "stall:WHERE", "nak:WHERE", "short:WHERE", "unplug:WHERE" (WHERE one of
 * identity, challenge, attestation, bundle, verify, status, dfu, dfu:N
 * with N 0..65535; short only on identity, attestation, status, dfu),
 * "wrong-attestation-key", "clone=UID", "misreport-uid=UID" (UID 1..64
 * printable ASCII bytes, no ':'), "corrupt-image" or "corrupt-image:dfu:N".
 * Fills *out. Errors: TALLY_ERR_INVALID (with nothing written to *out). */
int dm_fault_parse(const char *text, struct dm_fault *out);

/* Writes f in the syntax dm_fault_parse reads ("none" for no fault) into
 * buf (cap bytes, NUL-terminated; DM_FAULT_TEXT_MAX always suffices). */
void dm_fault_format(const struct dm_fault *f, char *buf, size_t cap);

/* How the chip answers one control request. */
enum dm_outcome {
	DM_ACK = 0,     /* completed; IN: *len bytes of reply in data */
	DM_STALL,       /* protocol STALL (libusb: LIBUSB_ERROR_PIPE) */
	DM_NAK,         /* never completes: the host's timeout ends it */
	DM_GONE,        /* the chip is no longer on the bus */
};

/* A USB setup packet (USB 2.0 §9.3), fields in host byte order. */
struct dm_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;
	uint16_t wLength;
};

struct dutmodel_config {
	const uint8_t *uid;             /* the fused UID, 1..TALLY_UID_MAX bytes, copied */
	size_t uid_len;
	const char *product;            /* 0..TALLY_PRODUCT_MAX printable ASCII, NULL = "" */
	EVP_PKEY *oem_root;             /* OEM root public key; a reference is taken */
	EVP_PKEY *attestation_key;      /* P-256 or Ed25519 private key, or NULL; a reference is taken */
	uint8_t boot_key_hash[TALLY_DIGEST_LEN]; /* reported in attestations */
	uint32_t software_version;      /* reported in attestations */
	const struct dm_fault *fault;   /* NULL or kind NONE: behaves; copied */
};

struct dutmodel;

/* Makes a chip in state BLANK, DFU state dfuIDLE. For the wrong-attestation
 * -key and clone faults it makes its own attestation key (of the configured
 * key's type; P-256 when none is configured and the fault is
 * wrong-attestation-key). *out: dutmodel_free. Errors: TALLY_ERR_INVALID
 * (UID or product out of range, oem_root NULL, fault UID out of range),
 * TALLY_ERR_KEY (oem_root or attestation key unusable), TALLY_ERR_NOMEM,
 * TALLY_ERR_CRYPTO. */
int dutmodel_new(const struct dutmodel_config *c, struct dutmodel **out);

/* Frees m, wiping its keys' references and buffers. NULL is a no-op. */
void dutmodel_free(struct dutmodel *m);

/* Answers one control request. s: the setup packet. data: s->wLength
 * bytes; for an OUT request (bmRequestType bit 7 clear) the data stage
 * from the host, for an IN request room for the reply. On DM_ACK, *len is
 * the number of reply bytes written to data (<= s->wLength; 0 for OUT).
 * Requests, STALL rules and DFU states: docs/dut-protocol.md. After the
 * unplug fault fired, every request is DM_GONE. */
enum dm_outcome dutmodel_control(struct dutmodel *m, const struct dm_setup *s,
    uint8_t *data, size_t *len);

/* Answers an IN request with the n-byte record rec: copies at most
 * s->wLength bytes of it to data (a shorter answer than asked for is
 * normal, a longer one is cut: USB 2.0 §9.3.5) and sets *len to the count.
 * Returns DM_ACK. For the model's vendor and DFU requests and usbsim's
 * standard requests. */
enum dm_outcome dm_reply(const struct dm_setup *s, uint8_t *data, size_t *len,
    const void *rec, size_t n);

/* What happened to a chip, for tests and tally-dutsim's report. */
struct dutmodel_report {
	uint8_t uid[TALLY_UID_MAX];     /* the UID it presents (identity) */
	size_t uid_len;
	uint8_t fused_uid[TALLY_UID_MAX]; /* the UID its verifier uses */
	size_t fused_uid_len;
	enum jig_dut_state state;
	int bundle_verdict;             /* enum jig_dut_verdict of the last VERIFY, -1 none */
	enum jig_dut_verdict verdict;   /* the status record's verdict byte */
	uint8_t dfu_state;              /* enum tdp_dfu_state */
	uint8_t dfu_status;             /* enum tdp_dfu_status */
	uint8_t dfu_last_error;         /* the last error bStatus, even if cleared; 0 none */
	int has_token;                  /* a bundle is accepted */
	uint64_t token_index;           /* its log index, 0 when none */
	int fault_fired;                /* the injected fault took effect at least once */
	int gone;                       /* the unplug fault fired */
	unsigned requests;              /* control requests answered (any outcome) */
};

void dutmodel_report(const struct dutmodel *m, struct dutmodel_report *r);

/* The UID the chip presents (its identity record; usbsim's serial number
 * string). Returns the UID length; *uid points into m. */
size_t dutmodel_presented_uid(const struct dutmodel *m, const uint8_t **uid);

/* The product string (NUL-terminated, may be ""). */
const char *dutmodel_product(const struct dutmodel *m);

/* The verdict a refused or accepted bundle gets (docs/dut-protocol.md §3.3). */
enum jig_dut_verdict dutmodel_verdict_of(enum tdv_result r);

#endif
