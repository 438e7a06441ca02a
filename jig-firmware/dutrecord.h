/*
 * dutrecord.h - the records a tally provisioning DUT answers with, as the
 * host reads them (docs/dut-protocol.md §3 and §4, dutproto.h): the
 * identity record, the status record, the DFU 1.1 GETSTATUS answer, and
 * what the bStatus of a download that ended in dfuERROR means. One parser
 * for both host-side transports, the libusb backend (usb.c) and the
 * in-process simulated DUT (simdut.c), so both judge a DUT's answers
 * alike; plus the protocol's text rule (printable ASCII), which the DUT
 * model (dutmodel.c) and the simulated batch (simdut_source.c) apply too.
 *
 * The records come from a device: every length and value is checked and a
 * record that is not exactly what the specification says is refused with
 * TALLY_ERR_INVALID, leaving the outputs untouched. Pure functions: no
 * allocation, no I/O, no logging, no state.
 */
#ifndef JIG_DUTRECORD_H
#define JIG_DUTRECORD_H

#include <stddef.h>
#include <stdint.h>
#include "transport.h"

/* 1 when each of the n bytes at s is printable ASCII (0x20..0x7e), else 0.
 * n = 0 is printable. */
int dutrec_printable(const uint8_t *s, size_t n);

/* 1 when the NUL-terminated string s has at most max characters, all
 * printable ASCII (0x20..0x7e); else 0. "" is printable. */
int dutrec_printable_text(const char *s, size_t max);

/* Parses the identity record of TDP_GET_IDENTITY (docs/dut-protocol.md
 * §3.1): b holds the n bytes received (n <= TDP_IDENTITY_MAX for a
 * well-behaved DUT). Checked strictly: version TDP_VERSION, a known state,
 * uid_len 1..TALLY_UID_MAX, product_len 0..TALLY_PRODUCT_MAX of printable
 * ASCII, and the lengths adding up to exactly n. Fills *id (product
 * NUL-terminated) and *flags (TDP_FLAG_* bits, unknown bits kept).
 * Errors: TALLY_ERR_INVALID (outputs untouched). */
int dutrec_identity(const uint8_t *b, size_t n, struct jig_dut_identity *id,
    uint8_t *flags);

/* Checks the attestation record of TDP_GET_ATTESTATION (§3.2): n bytes at
 * b that tally_attestation_parse (lib/attest.h) accepts; the signature is
 * not verified here (the appliance does that). Copies them to out (cap
 * bytes) and sets *len. Errors: TALLY_ERR_INVALID (not a record),
 * TALLY_ERR_TOO_LARGE (more than cap bytes); out and *len untouched. */
int dutrec_attestation(const uint8_t *b, size_t n, uint8_t *out, size_t cap,
    size_t *len);

/* Parses the status record of TDP_GET_STATUS (§3.4): exactly
 * TDP_STATUS_LEN bytes, a known verdict, a known state, version
 * TDP_VERSION. Sets *v and *st; either may be NULL when not wanted.
 * Errors: TALLY_ERR_INVALID (outputs untouched). */
int dutrec_status(const uint8_t *b, size_t n, enum jig_dut_verdict *v,
    enum jig_dut_state *st);

/* The DFU GETSTATUS answer (DFU 1.1 §6.1.2). */
struct dutrec_dfu_status {
	uint8_t status;         /* bStatus, enum tdp_dfu_status */
	unsigned poll_ms;       /* bwPollTimeout, milliseconds (24 bits) */
	uint8_t state;          /* bState, enum tdp_dfu_state */
};

/* Parses a GETSTATUS answer: exactly TDP_DFU_STATUS_LEN bytes, bStatus
 * at most TDP_DFU_ERR_STALLEDPKT, bState at most TDP_DFU_ERROR,
 * bwPollTimeout little-endian. Fills *s.
 * Errors: TALLY_ERR_INVALID (*s untouched). */
int dutrec_dfu_status(const uint8_t *b, size_t n, struct dutrec_dfu_status *s);

/* What the bStatus of a download that ended in dfuERROR means
 * (docs/dut-protocol.md §4): errFILE -> *v = JIG_DUT_WRONG_FIRMWARE,
 * errVENDOR -> JIG_DUT_NO_TOKEN, errWRITE, errERASE, errCHECK_ERASED,
 * errPROG, errVERIFY -> JIG_DUT_FLASH_ERROR, and 0 is returned: the DUT
 * answered. errADDRESS (image too large) is TALLY_ERR_TOO_LARGE; any other
 * status is TALLY_ERR_IO (the link or the DUT failed); *v is then
 * untouched. */
int dutrec_dfu_error(uint8_t bstatus, enum jig_dut_verdict *v);

#endif
