/*
 * transport.h - the jig's link to one DUT (DESIGN.md §7), as a table of
 * operations and a context pointer, so that the programming sequence
 * (jig.c) does not know whether the DUT is simulated in-process (simdut.c)
 * or a real part on USB (libusb: vendor control requests for identity and
 * token transfer, USB DFU 1.1 for the firmware download; issue 4).
 *
 * Every operation is blocking and bounded in time by the backend (a USB
 * backend uses libusb timeouts). Return values follow one rule:
 *   - a negative tally_err when the LINK failed (device gone, timeout, I/O
 *     error, malformed answer): the DUT's state is unknown;
 *   - 0 when the DUT answered; what it decided is in the verdict out
 *     argument. A refusal by the DUT is not a link failure.
 * The backend owns its context; ops->close releases it.
 */
#ifndef JIG_TRANSPORT_H
#define JIG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "artifact.h"

/* Provisioning state kept by the DUT. The values are the ones a USB DUT
 * reports in its vendor "state" request (one byte). */
enum jig_dut_state {
	JIG_DUT_BLANK = 0,          /* no token bundle accepted yet */
	JIG_DUT_TOKEN_ACCEPTED = 1, /* a bundle for this UID verified; waits for firmware */
	JIG_DUT_PROGRAMMED = 2,     /* firmware named by the accepted token installed */
	JIG_DUT_REJECTED = 3,       /* last bundle or image refused */
};

/* What the DUT decided about a bundle or an image (one status byte on USB). */
enum jig_dut_verdict {
	JIG_DUT_OK = 0,             /* accepted */
	JIG_DUT_MALFORMED = 1,      /* not a parsable token bundle, or too large */
	JIG_DUT_BAD_SIGNATURE = 2,  /* quota not by the OEM root, or token not by the quota's appliance */
	JIG_DUT_WRONG_DEVICE = 3,   /* token bound to another UID, product or quota */
	JIG_DUT_EXPIRED = 4,        /* token issued outside the quota's validity */
	JIG_DUT_NO_TOKEN = 5,       /* firmware offered before any bundle was accepted */
	JIG_DUT_WRONG_FIRMWARE = 6, /* image digest differs from the token's firmware digest */
	JIG_DUT_FLASH_ERROR = 7,    /* the DUT failed to write its flash */
};

#define JIG_DUT_PRODUCT_MAX TALLY_PRODUCT_MAX

/* What a DUT says about itself. */
struct jig_dut_identity {
	uint8_t uid[TALLY_UID_MAX];             /* device UID, opaque bytes */
	size_t uid_len;                         /* 1..TALLY_UID_MAX */
	char product[JIG_DUT_PRODUCT_MAX + 1];  /* NUL-terminated, printable ASCII, may be "" */
	enum jig_dut_state state;
};

struct jig_dut_ops {
	/* Backend name for messages, e.g. "simulated" or "usb". */
	const char *name;

	/* Reads the DUT's identity into *id. The backend guarantees
	 * 1 <= uid_len <= TALLY_UID_MAX and a printable, terminated product;
	 * a DUT answering otherwise is TALLY_ERR_INVALID.
	 * Errors: TALLY_ERR_IO, TALLY_ERR_TIMEOUT, TALLY_ERR_INVALID. */
	int (*read_identity)(void *ctx, struct jig_dut_identity *id);

	/* Optional (NULL when the backend never attests). Gives the DUT the
	 * appliance's challenge nonce (TALLY_NONCE_LEN bytes) and reads back
	 * its attestation record (lib/attest.h, at most TALLY_ATTESTATION_MAX
	 * bytes): writes at most cap bytes to out and sets *len. USB:
	 * TDP_SET_CHALLENGE then TDP_GET_ATTESTATION (jig-firmware/dutproto.h).
	 * Errors: TALLY_ERR_UNSUPPORTED (this DUT has no attestation key: the
	 * jig then asks for a token without attestation), TALLY_ERR_IO,
	 * TALLY_ERR_TIMEOUT, TALLY_ERR_TOO_LARGE. */
	int (*attest)(void *ctx, const uint8_t nonce[TALLY_NONCE_LEN],
	    uint8_t *out, size_t cap, size_t *len);

	/* Transfers a serialized TokenBundle (len bytes, at most
	 * TALLY_FRAME_MAX) to the DUT, which verifies it with its OEM root
	 * public key and its own UID (tally_bundle_verify) and answers with
	 * *verdict: JIG_DUT_OK (state becomes TOKEN_ACCEPTED) or a refusal
	 * (state becomes REJECTED). The bytes are not kept by the backend
	 * beyond the call. Errors: TALLY_ERR_IO, TALLY_ERR_TIMEOUT,
	 * TALLY_ERR_TOO_LARGE (larger than the transport can carry). */
	int (*write_bundle)(void *ctx, const uint8_t *bundle, size_t len,
	    enum jig_dut_verdict *verdict);

	/* Downloads a firmware image (len bytes; USB: DFU_DNLOAD blocks, then
	 * the manifestation phase). The DUT installs it only if its SHA-256
	 * equals the firmware digest of the bundle it accepted: *verdict
	 * JIG_DUT_OK (state PROGRAMMED), JIG_DUT_NO_TOKEN (state unchanged),
	 * JIG_DUT_WRONG_FIRMWARE (state REJECTED) or JIG_DUT_FLASH_ERROR.
	 * Errors: TALLY_ERR_IO, TALLY_ERR_TIMEOUT, TALLY_ERR_TOO_LARGE. */
	int (*download_firmware)(void *ctx, const uint8_t *image, size_t len,
	    enum jig_dut_verdict *verdict);

	/* Reads the DUT's current state. Errors: TALLY_ERR_IO,
	 * TALLY_ERR_TIMEOUT, TALLY_ERR_INVALID (unknown state value). */
	int (*read_state)(void *ctx, enum jig_dut_state *state);

	/* Releases the link and ctx. Never fails; NULL ctx is a no-op. */
	void (*close)(void *ctx);
};

/* One DUT as the programming sequence sees it. */
struct jig_dut {
	const struct jig_dut_ops *ops;
	void *ctx;
};

/* Where DUTs come from: a simulated batch, or USB hot-plug later.
 * next() blocks until a DUT is attached and fills *dut (the caller closes
 * it with dut->ops->close(dut->ctx)); it returns TALLY_ERR_NOT_FOUND when
 * the source has no more DUTs (end of a simulated batch), or TALLY_ERR_IO /
 * TALLY_ERR_NOMEM. close() releases the source; NULL ctx is a no-op. */
struct jig_dut_source {
	int (*next)(void *ctx, struct jig_dut *dut);
	void (*close)(void *ctx);
	void *ctx;
};

/* Closes dut if it is open and clears it. */
static inline void
jig_dut_close(struct jig_dut *dut)
{
	if (dut->ops != NULL && dut->ops->close != NULL)
		dut->ops->close(dut->ctx);
	dut->ops = NULL;
	dut->ctx = NULL;
}

#endif
