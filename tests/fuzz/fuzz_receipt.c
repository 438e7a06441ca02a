/* fuzz_receipt.c - OEM receipts: cosigned checkpoints (lib/cosignature.h),
 * as tallyd's receipt import checks them (tally_cosignature_verify with
 * the OEM root, then tally_checkpoint_verify with the appliance key), with
 * the fixed keys.
 * Mode 0: the input is a receipt.
 * Mode 1: the input is a checkpoint note text that the target signs with
 *   the appliance key and cosigns with the OEM key at a fixed time; a
 *   receipt tally_cosign made must verify with that time and text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cosignature.h"
#include "note.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_keys keys;
static char origin[TALLY_ORIGIN_MAX];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (fz_keys_init(&keys) != 0)
		abort();
	tally_checkpoint_origin(keys.app.id, origin);
	return 0;
}

/* Returns 0 when the receipt verified, with its time in *ts. */
static int
read_receipt(const char *r, size_t len, int64_t *ts)
{
	uint8_t root[TALLY_HASH_LEN];
	size_t text_len;
	uint64_t size;
	int rc;

	if ((rc = tally_cosignature_verify(r, len, keys.oem.key, ts, &text_len)) != 0)
		return rc;
	if (text_len > len)
		abort();
	(void)tally_checkpoint_verify(r, len, keys.app.key, origin, &size, root);
	return 0;
}

static void
cosign(const char *text)
{
	char *note = NULL, *receipt = NULL;
	int64_t ts = -1;

	if (tally_note_sign(keys.app.key, origin, text, &note) != 0)
		return;
	if (tally_cosign(keys.oem.key, note, strlen(note), FZ_ISSUED_AT, &receipt) == 0) {
		if (strncmp(receipt, note, strlen(note)) != 0 ||
		    read_receipt(receipt, strlen(receipt), &ts) != 0 || ts != FZ_ISSUED_AT)
			abort();    /* what tally cosigns, tally verifies */
		free(receipt);
	}
	free(note);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t ts;
	char *s;

	if (fz_mode(&data, &size, 2) == 0) {
		(void)read_receipt((const char *)data, size, &ts);
		return 0;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	cosign(s);
	free(s);
	return 0;
}
