/* fuzz_bundle.c - token bundles through the host verifier
 * (lib/artifact.h tally_bundle_verify), with the fixed OEM root key and
 * the fixed device UID and firmware digest. The mode byte picks how the
 * bundle is made (fz_bundle_input): raw, or with fuzzed Token and/or
 * Quota payloads signed inside the target so that the checks behind the
 * signatures are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode = fz_mode(&data, &size, FZ_BUNDLE_MODES);
	Tally__Token *tok = NULL;
	uint8_t *b = NULL;
	size_t len;

	if (fz_bundle_input(&keys, mode, data, size, &b, &len) != 0)
		return 0;
	if (tally_bundle_verify(b, len, keys.oem.key, (const uint8_t *)FZ_UID,
	    strlen(FZ_UID), fz_fw, FZ_ISSUED_AT, &tok) == 0) {
		/* what it accepted is a token for this device */
		if (tok->device_uid.len != strlen(FZ_UID) ||
		    memcmp(tok->device_uid.data, FZ_UID, strlen(FZ_UID)) != 0)
			abort();
		tally__token__free_unpacked(tok, NULL);
	}
	(void)tally_bundle_verify(b, len, keys.oem.key, (const uint8_t *)FZ_UID,
	    strlen(FZ_UID), NULL, 0, NULL);
	free(b);
	return 0;
}
