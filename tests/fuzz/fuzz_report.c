/* fuzz_report.c - install report envelopes (lib/artifact.h
 * tally_report_open), as tallyd's writer and the OEM reconcile read them.
 * Mode 0: the input is a serialized Envelope, opened with the fixed jig
 * key. Mode 1: the input is an InstallReport payload the target signs
 * with that key first, to reach the field checks. */
#include <stdint.h>
#include <stdlib.h>

#include "artifact.h"
#include "dsse.h"
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
open_report(const uint8_t *env, size_t len)
{
	Tally__InstallReport *r = NULL;

	if (tally_report_open(env, len, keys.jig.key, &r) != 0)
		return;
	if (tally_report_check(r) != 0)
		abort();    /* opened means checked */
	tally__install_report__free_unpacked(r, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *env = NULL;
	size_t len;

	if (fz_mode(&data, &size, 2) == 0) {
		open_report(data, size);
		return 0;
	}
	if (tally_dsse_sign(keys.jig.key, TALLY_PT_REPORT, data, size, &env, &len) == 0)
		open_report(env, len);
	free(env);
	return 0;
}
