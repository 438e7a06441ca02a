/*
 * simdut.h - a simulated DUT, in-process, behind the transport interface
 * of transport.h. The chip is the DUT model of dutmodel.h (the device side
 * of docs/dut-protocol.md); the transport operations drive it with the same
 * control requests a USB host sends (vendor requests for identity,
 * attestation and the bundle, DFU 1.1 for the firmware), so that fast
 * tests exercise the protocol logic the USB DUT runs.
 *
 * The chip holds a device UID and the OEM root public key, verifies a
 * written token bundle with the device-side verifier (lib/devverify.h:
 * OEM root -> quota -> appliance -> token, UID match, firmware digest
 * allowed, token issued within the quota's validity) and installs a
 * firmware image only when a verified bundle names the image's SHA-256.
 *
 * States: BLANK -> TOKEN_ACCEPTED -> PROGRAMMED, or REJECTED after a bad
 * bundle or a wrong image. A new bundle may be written in any state (a
 * retry after a failed flash); it replaces what was accepted before.
 *
 * Link errors of the operations: a STALL or a chip that left the bus is
 * TALLY_ERR_IO, a request never completed (NAK fault) TALLY_ERR_TIMEOUT, a
 * short or malformed record TALLY_ERR_INVALID.
 */
#ifndef JIG_SIMDUT_H
#define JIG_SIMDUT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "dutmodel.h"
#include "transport.h"

struct simdut;

/* What a simulated chip has beyond its UID and product. Zeroed: no
 * attestation key, no fault. */
struct simdut_options {
	EVP_PKEY *attestation_key;      /* P-256 or Ed25519 private key, or NULL; a reference is taken */
	uint8_t boot_key_hash[TALLY_DIGEST_LEN]; /* reported in attestations */
	uint32_t software_version;      /* reported in attestations */
	struct dm_fault fault;          /* kind DM_FAULT_NONE: behaves */
};

/* Makes a simulated DUT with device UID uid (1..TALLY_UID_MAX bytes,
 * copied), product string product (0..TALLY_PRODUCT_MAX printable ASCII,
 * copied; NULL = "") and the OEM root public key oem_root (a reference is
 * taken with EVP_PKEY_up_ref, so the caller keeps its own). State BLANK.
 * *out: simdut_free. Errors: TALLY_ERR_INVALID (UID or product out of
 * range, oem_root NULL), TALLY_ERR_NOMEM, TALLY_ERR_CRYPTO. */
int simdut_new(const uint8_t *uid, size_t uid_len, const char *product,
    EVP_PKEY *oem_root, struct simdut **out);

/* The same with options o (NULL: as simdut_new). Errors: those of
 * simdut_new, TALLY_ERR_KEY (attestation key unusable), TALLY_ERR_INVALID
 * (fault UID out of range). */
int simdut_new_ex(const uint8_t *uid, size_t uid_len, const char *product,
    EVP_PKEY *oem_root, const struct simdut_options *o, struct simdut **out);

/* Frees d and drops its key references. NULL is a no-op. */
void simdut_free(struct simdut *d);

/* The transport view of d: dut->ops are the simulated operations and
 * dut->ctx is d. The DUT's close op frees d, so after this call the caller
 * frees d only through jig_dut_close(dut). */
void simdut_transport(struct simdut *d, struct jig_dut *dut);

/* Current state, and the log index of the accepted token (0 when none).
 * For tests and the demo. */
enum jig_dut_state simdut_state(const struct simdut *d);
uint64_t simdut_token_index(const struct simdut *d);

/* What happened to the chip (dutmodel_report), for tests. */
void simdut_report(const struct simdut *d, struct dutmodel_report *r);

/* A batch of count simulated DUTs with UIDs "<prefix>-0001", "<prefix>-0002",
 * ... (at least four digits, ASCII bytes, no NUL), all with product and
 * oem_root as in simdut_new. prefix: 1..TALLY_UID_MAX-10 printable ASCII,
 * copied; count <= 1000000. Fills *src; src->close frees it (and drops its
 * key reference). Errors: TALLY_ERR_INVALID, TALLY_ERR_NOMEM. */
int simdut_source(const char *prefix, unsigned count, const char *product,
    EVP_PKEY *oem_root, struct jig_dut_source *src);

/* The same with options o for every DUT of the batch (NULL: as
 * simdut_source); a reference to o->attestation_key is taken. Errors:
 * those of simdut_source. */
int simdut_source_ex(const char *prefix, unsigned count, const char *product,
    EVP_PKEY *oem_root, const struct simdut_options *o,
    struct jig_dut_source *src);

/* Writes the UID of the index-th DUT (1-based) of such a batch into buf
 * (cap bytes, NUL-terminated). Returns its length in bytes without the
 * NUL, or TALLY_ERR_TOO_LARGE when it does not fit. */
int simdut_uid_name(const char *prefix, unsigned index, char *buf, size_t cap);

#endif
