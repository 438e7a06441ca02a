/* fuzz_note.c - C2SP signed notes and checkpoints (lib/note.h,
 * lib/checkpoint.h), as tallyctl, tally-oem and tallyd read them, with
 * the fixed appliance key under its origin.
 * Mode 0: the input is a note: tally_note_verify, tally_checkpoint_verify
 *   and the signature-line walk (tally_note_split, tally_note_next_sig).
 * Mode 1: the input is a verifier key string (tally_note_vkey_parse).
 * Mode 2: the input is a note text the target signs first (tally_note_sign
 *   with the appliance key): the signed note must verify, and the
 *   checkpoint body parser runs behind a good signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
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

static void
walk(const char *note, size_t len)
{
	uint8_t blob[128];
	const char *name;
	size_t text_len, off, nlen, blen;

	if (tally_note_split(note, len, &text_len, &off) != 0)
		return;
	if (text_len > len || off > len)
		abort();
	while (off < len)
		if (tally_note_next_sig(note, len, &off, &name, &nlen, blob, sizeof(blob),
		    &blen) != 0)
			break;
}

static void
read_note(const char *note, size_t len)
{
	const char *text;
	size_t text_len;
	uint64_t size;
	uint8_t root[TALLY_HASH_LEN];

	if (tally_note_verify(note, len, origin, keys.app.key, &text, &text_len) == 0 &&
	    (text != note || text_len > len))
		abort();
	(void)tally_checkpoint_verify(note, len, keys.app.key, origin, &size, root);
	walk(note, len);
}

/* A NUL-terminated copy of the input (free()). */
static char *
str_of(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode = fz_mode(&data, &size, 3);
	char name[TALLY_NOTE_NAME_MAX + 1], *s, *note = NULL;
	EVP_PKEY *pub = NULL;

	if (mode == 0) {
		read_note((const char *)data, size);
		return 0;
	}
	if ((s = str_of(data, size)) == NULL)
		return 0;
	if (mode == 1) {
		if (tally_note_vkey_parse(s, name, &pub) == 0)
			EVP_PKEY_free(pub);
	} else if (tally_note_sign(keys.app.key, origin, s, &note) == 0) {
		if (tally_note_verify(note, strlen(note), origin, keys.app.key, NULL, NULL) != 0)
			abort();    /* what tally signs, tally verifies */
		read_note(note, strlen(note));
		free(note);
	}
	free(s);
	return 0;
}
