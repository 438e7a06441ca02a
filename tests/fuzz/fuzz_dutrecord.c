/* fuzz_dutrecord.c - what a DUT answers tally-jig on USB
 * (jig-firmware/dutrecord.h, the one parser of usb.c and simdut.c): the
 * mode byte picks the record: 0 identity, 1 attestation, 2 status,
 * 3 DFU GETSTATUS answer, 4 the bStatus of a failed download (first
 * byte). Checked besides the sanitizers: a refused record leaves the
 * outputs untouched; an accepted identity has a UID of 1..64 bytes and a
 * NUL-terminated printable product. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jig-firmware/dutrecord.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
identity(const uint8_t *b, size_t n)
{
	struct jig_dut_identity id, before;
	uint8_t flags = 0xa5;

	memset(&id, 0xa5, sizeof(id));
	before = id;
	if (dutrec_identity(b, n, &id, &flags) != 0) {
		if (memcmp(&id, &before, sizeof(id)) != 0 || flags != 0xa5)
			abort();
		return;
	}
	if (id.uid_len < 1 || id.uid_len > sizeof(id.uid) ||
	    memchr(id.product, '\0', sizeof(id.product)) == NULL ||
	    !dutrec_printable_text(id.product, JIG_DUT_PRODUCT_MAX))
		abort();
}

static void
attestation(const uint8_t *b, size_t n)
{
	uint8_t out[300];
	size_t len = 12345, cap = b[0] % 2 ? sizeof(out) : 128;

	if (dutrec_attestation(b, n, out, cap, &len) != 0) {
		if (len != 12345)
			abort();
		return;
	}
	if (len != n || len > cap || memcmp(out, b, n) != 0)
		abort();
}

static void
status(const uint8_t *b, size_t n)
{
	enum jig_dut_verdict v = (enum jig_dut_verdict)77;
	enum jig_dut_state st = (enum jig_dut_state)77;
	struct dutrec_dfu_status ds, before;

	if (dutrec_status(b, n, &v, &st) != 0 && (v != 77 || st != 77))
		abort();
	(void)dutrec_status(b, n, NULL, NULL);
	memset(&ds, 0xa5, sizeof(ds));
	before = ds;
	if (dutrec_dfu_status(b, n, &ds) != 0 && memcmp(&ds, &before, sizeof(ds)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum jig_dut_verdict v = (enum jig_dut_verdict)77;
	int r;

	switch (fz_mode(&data, &size, 5)) {
	case 0:
		identity(data, size);
		break;
	case 1:
		if (size > 0)
			attestation(data, size);
		break;
	case 2:
	case 3:
		status(data, size);
		break;
	default:
		if (size > 0 && (r = dutrec_dfu_error(data[0], &v)) != 0 && v != 77)
			abort();
		break;
	}
	return 0;
}
