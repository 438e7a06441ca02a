/* fuzz_quota.c - quota envelopes (lib/artifact.h tally_quota_open, DSSE
 * of lib/dsse.h), as tallyd's quota import and tally-oem read them.
 * Mode byte 0: the input is a serialized Envelope, opened with the fixed
 * OEM root key. Mode 1: the input is a Quota payload that the target
 * signs with that key first, so the fuzzer reaches the field checks and
 * the policy functions behind the signature. */
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
open_quota(const uint8_t *env, size_t len)
{
	Tally__Envelope *e = NULL;
	Tally__Quota *q = NULL;

	if (tally_dsse_parse(env, len, TALLY_PT_QUOTA, &e) == 0)
		tally__envelope__free_unpacked(e, NULL);
	if (tally_quota_open(env, len, keys.oem.key, &q) != 0)
		return;
	(void)tally_quota_usable(q, keys.app.id, FZ_ISSUED_AT);
	(void)tally_quota_allows_firmware(q, fz_fw);
	tally__quota__free_unpacked(q, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *env = NULL;
	size_t len;

	if (fz_mode(&data, &size, 2) == 0) {
		open_quota(data, size);
		return 0;
	}
	if (tally_dsse_sign(keys.oem.key, TALLY_PT_QUOTA, data, size, &env, &len) == 0)
		open_quota(env, len);
	free(env);
	return 0;
}
