/* fuzz_export.c - appliance export files: the OEM's reader
 * (oem/reconcile.h oem_reconcile_file, on a file in a private folder,
 * with the fixed OEM root key) and tallyctl's check of the same frames as
 * they stream in (ctl/export.h export_check_record). The input is the
 * file: frames of a 4-byte big-endian length and an ExportRecord. */
#include <stdint.h>
#include <stdlib.h>

#include "ctl.pb-c.h"
#include "frame.h"
#include "ctl/export.h"
#include "oem/reconcile.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_keys keys;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (fz_keys_init(&keys) != 0)
		abort();
	return 0;
}

static void
stream_check(const uint8_t *data, size_t size)
{
	struct export_check ec;
	Tally__ExportRecord *rec;
	size_t off = 0, len;

	export_check_init(&ec);
	while (tally_frame_peek(data + off, size - off, &len) == 0) {
		rec = tally__export_record__unpack(NULL, len, data + off + TALLY_FRAME_HDR);
		off += TALLY_FRAME_HDR + len;
		if (rec == NULL)
			break;
		if (export_check_record(&ec, rec) != 0) {
			if (ec.why == NULL)
				abort();    /* every refusal says why */
			tally__export_record__free_unpacked(rec, NULL);
			break;
		}
		tally__export_record__free_unpacked(rec, NULL);
	}
	export_check_free(&ec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oem_reconcile_result res;
	char path[256];

	stream_check(data, size);
	if (fz_file("export.bin", data, size, 0600, path) != 0)
		abort();
	(void)oem_reconcile_file(path, keys.oem.key, &res);
	if (res.n_anomalies > OEM_ANOMALIES_MAX || res.n_anomalies > res.anomalies_total)
		abort();
	oem_reconcile_result_free(&res);
	return 0;
}
