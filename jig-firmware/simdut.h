/*
 * simdut.h - a simulated DUT, in-process, behind the transport interface
 * of transport.h. It behaves like the provisioning code of a real part:
 * it holds a device UID and the OEM root public key, verifies a written
 * token bundle with tally_bundle_verify (OEM root -> quota -> appliance ->
 * token, UID match, token issued within the quota's validity) and installs
 * a firmware image only when a verified bundle names the image's SHA-256.
 *
 * States: BLANK -> TOKEN_ACCEPTED -> PROGRAMMED, or REJECTED after a bad
 * bundle or a wrong image. A new bundle may be written in any state (a
 * retry after a failed flash); it replaces what was accepted before.
 */
#ifndef JIG_SIMDUT_H
#define JIG_SIMDUT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "transport.h"

struct simdut;

/* Makes a simulated DUT with device UID uid (1..TALLY_UID_MAX bytes,
 * copied), product string product (0..TALLY_PRODUCT_MAX printable ASCII,
 * copied; NULL = "") and the OEM root public key oem_root (a reference is
 * taken with EVP_PKEY_up_ref, so the caller keeps its own). State BLANK.
 * *out: simdut_free. Errors: TALLY_ERR_INVALID (UID or product out of
 * range, oem_root NULL), TALLY_ERR_NOMEM, TALLY_ERR_CRYPTO. */
int simdut_new(const uint8_t *uid, size_t uid_len, const char *product,
    EVP_PKEY *oem_root, struct simdut **out);

/* Frees d and drops its key reference. NULL is a no-op. */
void simdut_free(struct simdut *d);

/* The transport view of d: dut->ops are the simulated operations and
 * dut->ctx is d. The DUT's close op frees d, so after this call the caller
 * frees d only through jig_dut_close(dut). */
void simdut_transport(struct simdut *d, struct jig_dut *dut);

/* Current state, and the log index of the accepted token (0 when none).
 * For tests and the demo. */
enum jig_dut_state simdut_state(const struct simdut *d);
uint64_t simdut_token_index(const struct simdut *d);

/* A batch of count simulated DUTs with UIDs "<prefix>-0001", "<prefix>-0002",
 * ... (at least four digits, ASCII bytes, no NUL), all with product and
 * oem_root as in simdut_new. prefix: 1..TALLY_UID_MAX-10 printable ASCII,
 * copied; count <= 1000000. Fills *src; src->close frees it (and drops its
 * key reference). Errors: TALLY_ERR_INVALID, TALLY_ERR_NOMEM. */
int simdut_source(const char *prefix, unsigned count, const char *product,
    EVP_PKEY *oem_root, struct jig_dut_source *src);

/* Writes the UID of the index-th DUT (1-based) of such a batch into buf
 * (cap bytes, NUL-terminated). Returns its length in bytes without the
 * NUL, or TALLY_ERR_TOO_LARGE when it does not fit. */
int simdut_uid_name(const char *prefix, unsigned index, char *buf, size_t cap);

#endif
