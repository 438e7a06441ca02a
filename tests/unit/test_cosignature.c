/* test_cosignature.c - OEM receipts as C2SP tlog-cosignature/v1
 * (lib/cosignature.c): known answers computed by an independent
 * implementation, round trips with Ed25519 and P-256 OEM keys on real
 * appliance checkpoints, and every refusal (other key, a changed byte in
 * the note text, the timestamp or the signature, no OEM line, malformed
 * input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "checkpoint.h"
#include "cosignature.h"
#include "err.h"
#include "key.h"
#include "note.h"
#include "util.h"

#define DASH "\xe2\x80\x94 "

/*
 * Known answers. The checkpoint and its log signature line are the example
 * of C2SP tlog-cosignature.md (the log line is kept, not verified: the
 * example's keys are not published); the tally.oem lines were computed
 * with Python's "cryptography" package, not with tally code, from
 *   key hash  = SHA-256("tally.oem" || 0x0A || 0x04 || public key)[:4]
 *               (P-256: SHA-256(DER SPKI)[:4]),
 *   message   = "cosignature/v1\ntime 1679315147\n" || note text,
 *   signature = timestamp (8 bytes, big-endian) || Ed25519(message)
 *               (P-256: DER ECDSA over SHA-256(message)).
 * The Ed25519 key is RFC 8032 §7.1 TEST 1 (Ed25519 is deterministic, so
 * tally_cosign must produce exactly this receipt). The P-256 key is
 * private to that script; only its public key is here.
 */
#define EX_TEXT "example.com/behind-the-sofa\n20852163\n" \
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define EX_NOTE EX_TEXT "\n" DASH "example.com/behind-the-sofa " \
	"Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
#define EX_TIME 1679315147

static const char rfc8032_seed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char ed_receipt[] = EX_NOTE DASH "tally.oem "
    "cvgwIAAAAABkGFDL+TPmh4BYuAjsYRoqMJCWb/gWJaeRF/kmm5tlCr9sJ57DLErur7K0yDXc2ArN+TIuotuB/HbuL3AJsp3bv/aNCQ==\n";

static const char p256_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECAvv9tkHkwu/hVdAFXdV7yGTB0PX\n"
    "4YF+AeLKRvKpJBFMG4nB9+Ox/oNEKLQnTEDNUbqFpEJyWVIryhIzo7ISmQ==\n"
    "-----END PUBLIC KEY-----\n";
static const char p256_receipt[] = EX_NOTE DASH "tally.oem "
    "FPpcdwAAAABkGFDLMEUCIQDvfYWvOeECoLQOXZyqSviBHgD2AJbMmHF6RRUU3yMcPAIgYwRWAmBC8WuEAxCXE0oJR+7yTYel6X5nmSPkEq6svEI=\n";

static EVP_PKEY *
rfc8032_key(void)
{
	uint8_t seed[32];
	EVP_PKEY *k;

	assert_int_equal(tally_unhex(rfc8032_seed, seed, sizeof(seed)), 0);
	k = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, sizeof(seed));
	assert_non_null(k);
	return k;
}

static EVP_PKEY *
pem_pub(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k;

	assert_non_null(b);
	k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(k);
	return k;
}

static void
test_known_answers(void **state)
{
	EVP_PKEY *ed = rfc8032_key(), *p256 = pem_pub(p256_pub_pem);
	char *receipt = NULL;
	size_t tlen = 0;
	int64_t ts = 0;

	(void)state;
	assert_int_equal(tally_cosign(ed, EX_NOTE, strlen(EX_NOTE), EX_TIME, &receipt), 0);
	assert_string_equal(receipt, ed_receipt);
	assert_int_equal(tally_cosignature_verify(ed_receipt, strlen(ed_receipt), ed, &ts,
	    &tlen), 0);
	assert_int_equal(ts, EX_TIME);
	assert_int_equal(tlen, strlen(EX_TEXT));
	ts = 0;
	assert_int_equal(tally_cosignature_verify(p256_receipt, strlen(p256_receipt), p256,
	    &ts, &tlen), 0);
	assert_int_equal(ts, EX_TIME);
	assert_int_equal(tlen, strlen(EX_TEXT));
	/* Neither key verifies the other's receipt. */
	assert_int_equal(tally_cosignature_verify(ed_receipt, strlen(ed_receipt), p256, &ts,
	    &tlen), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_cosignature_verify(p256_receipt, strlen(p256_receipt), ed, &ts,
	    &tlen), TALLY_ERR_SIGNATURE);
	free(receipt);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(p256);
}

/* Key hash of a published tlog-cosignature/v1 verifier key,
 * "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
 * (transparency-dev/formats note/note_cosigv1_test.go): type byte 0x04. */
static void
test_published_key_hash(void **state)
{
	uint8_t blob[33];
	size_t len;
	uint32_t id;
	EVP_PKEY *k;

	(void)state;
	assert_int_equal(tally_b64_decode("BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", 44,
	    blob, sizeof(blob), &len), 0);
	assert_int_equal(len, 33);
	assert_int_equal(blob[0], 0x04);
	k = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, blob + 1, 32);
	assert_non_null(k);
	assert_int_equal(tally_note_key_id_type(k, "remora.n621.de", 0x04, &id), 0);
	assert_int_equal(id, 0xda77ade7);
	/* The plain note key hash (type 0x01) differs. */
	assert_int_equal(tally_note_key_id(k, "remora.n621.de", &id), 0);
	assert_int_not_equal(id, 0xda77ade7);
	EVP_PKEY_free(k);
}

/* ---- Round trips and refusals on real appliance checkpoints ---- */

struct fx {
	EVP_PKEY *app, *oem, *other;
	char origin[TALLY_ORIGIN_MAX];
	char *note, *receipt;
	size_t nlen, rlen;
	int64_t ts;
};

static struct fx *
fx_new(enum tally_key_type oem_type, enum tally_key_type other_type)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t root[TALLY_HASH_LEN], id[TALLY_KEY_ID_LEN];

	assert_non_null(f);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &f->app), 0);
	assert_int_equal(tally_key_generate(oem_type, &f->oem), 0);
	assert_int_equal(tally_key_generate(other_type, &f->other), 0);
	assert_int_equal(tally_key_id(f->app, id), 0);
	tally_checkpoint_origin(id, f->origin);
	memset(root, 0x5a, sizeof(root));
	assert_int_equal(tally_checkpoint_sign(f->app, f->origin, 1234, root, &f->note), 0);
	f->nlen = strlen(f->note);
	f->ts = tally_now();
	assert_int_equal(tally_cosign(f->oem, f->note, f->nlen, f->ts, &f->receipt), 0);
	f->rlen = strlen(f->receipt);
	return f;
}

static void
fx_free(struct fx *f)
{
	EVP_PKEY_free(f->app);
	EVP_PKEY_free(f->oem);
	EVP_PKEY_free(f->other);
	free(f->note);
	free(f->receipt);
	free(f);
}

/* Length of a note's text: up to and including the newline before the
 * blank line. */
static size_t
text_len(const char *note)
{
	const char *blank = strstr(note, "\n\n");

	assert_non_null(blank);
	return (size_t)(blank - note) + 1;
}

static int
verify(const char *r, size_t len, EVP_PKEY *key)
{
	size_t tlen;
	int64_t ts;

	return tally_cosignature_verify(r, len, key, &ts, &tlen);
}

static void
round_trip(enum tally_key_type oem_type)
{
	struct fx *f = fx_new(oem_type, oem_type);
	uint8_t root[TALLY_HASH_LEN];
	uint64_t size;
	size_t tlen = 0;
	int64_t ts = 0;

	assert_int_equal(tally_cosignature_verify(f->receipt, f->rlen, f->oem, &ts, &tlen), 0);
	assert_int_equal(ts, f->ts);
	assert_int_equal(tlen, text_len(f->note));
	assert_memory_equal(f->receipt, f->note, tlen);
	/* The appliance's note is kept byte for byte, its signature still
	 * verifies, and the new line is the OEM's. */
	assert_memory_equal(f->receipt, f->note, f->nlen);
	assert_memory_equal(f->receipt + f->nlen, DASH TALLY_OEM_COSIGNER_NAME " ",
	    strlen(DASH TALLY_OEM_COSIGNER_NAME " "));
	assert_int_equal(tally_checkpoint_verify(f->receipt, f->rlen, f->app, f->origin, &size,
	    root), 0);
	assert_int_equal(size, 1234);
	/* Another key of either type is refused. */
	assert_int_equal(verify(f->receipt, f->rlen, f->other), TALLY_ERR_SIGNATURE);
	assert_int_equal(verify(f->receipt, f->rlen, f->app), TALLY_ERR_SIGNATURE);
	/* The note without the OEM line is no receipt. */
	assert_int_equal(verify(f->note, f->nlen, f->oem), TALLY_ERR_SIGNATURE);
	fx_free(f);
}

static void
test_round_trip_ed25519(void **state)
{
	(void)state;
	round_trip(TALLY_KEY_ED25519);
}

static void
test_round_trip_p256(void **state)
{
	(void)state;
	round_trip(TALLY_KEY_P256);
}

#define OEM_PREFIX DASH TALLY_OEM_COSIGNER_NAME " "

/* Decodes the OEM line's blob (key hash || timestamp || signature). */
static size_t
oem_blob(const struct fx *f, uint8_t blob[4 + 8 + TALLY_SIG_MAX])
{
	const char *b64 = f->receipt + f->nlen + strlen(OEM_PREFIX);
	size_t blen;

	assert_int_equal(tally_b64_decode(b64, strlen(b64) - 1, blob, 4 + 8 + TALLY_SIG_MAX,
	    &blen), 0);
	return blen;
}

/* The receipt with byte off of the OEM line's blob XORed with x, re-encoded,
 * into out (room for f->rlen + 1). */
static size_t
edit_blob(const struct fx *f, size_t off, uint8_t x, char *out)
{
	uint8_t blob[4 + 8 + TALLY_SIG_MAX];
	size_t blen = oem_blob(f, blob), head = f->nlen + strlen(OEM_PREFIX), len;

	assert_true(off < blen);
	blob[off] ^= x;
	memcpy(out, f->receipt, head);
	len = head + tally_b64_encode(blob, blen, out + head);
	out[len++] = '\n';
	out[len] = '\0';
	return len;
}

static void
refusals(enum tally_key_type oem_type)
{
	struct fx *f = fx_new(oem_type, oem_type == TALLY_KEY_P256 ? TALLY_KEY_ED25519 :
	    TALLY_KEY_P256);
	uint8_t blob[4 + 8 + TALLY_SIG_MAX];
	size_t i, len, blen = oem_blob(f, blob), tlen = text_len(f->note);
	char *r = malloc(f->rlen + 1);

	assert_non_null(r);
	if (oem_type == TALLY_KEY_ED25519)
		assert_int_equal(blen, 4 + 8 + 64);
	/* Every byte of the checkpoint text changed (to another digit, letter
	 * or base64 character; a newline made a space). */
	for (i = 0; i < tlen; i++) {
		memcpy(r, f->receipt, f->rlen + 1);
		r[i] = r[i] == '\n' ? ' ' : r[i] == 'A' ? 'B' : r[i] == '1' ? '2' : 'A';
		assert_int_not_equal(verify(r, f->rlen, f->oem), 0);
	}
	/* Every bit of the key hash (then no line is by the key), of the
	 * timestamp and of the signature. */
	for (i = 0; i < 8 * blen; i++) {
		len = edit_blob(f, i / 8, (uint8_t)(1u << (i % 8)), r);
		assert_int_equal(verify(r, len, f->oem), TALLY_ERR_SIGNATURE);
	}
	/* The line under another key name. */
	memcpy(r, f->receipt, f->rlen + 1);
	r[f->nlen + strlen(DASH)] = 'T';
	assert_int_equal(verify(r, f->rlen, f->oem), TALLY_ERR_SIGNATURE);
	free(r);
	fx_free(f);
}

static void
test_refusals_ed25519(void **state)
{
	(void)state;
	refusals(TALLY_KEY_ED25519);
}

static void
test_refusals_p256(void **state)
{
	(void)state;
	refusals(TALLY_KEY_P256);
}

/* ---- Malformed input, limits, several cosignatures ---- */

/* Notes (with a signature line) whose text is no checkpoint: one line, a
 * size with a leading zero, a root of 3 bytes, an empty extension line. */
#define SIG_LINE "\n" DASH "x AAAAAAAA\n"
#define NOT_CP1 "hello\n" SIG_LINE
#define NOT_CP2 "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n" SIG_LINE
#define NOT_CP3 "o\n1\nAAAA\n" SIG_LINE
#define NOT_CP4 "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\next\n" SIG_LINE

static void
test_malformed(void **state)
{
	struct fx *f = fx_new(TALLY_KEY_ED25519, TALLY_KEY_P256);
	char *big, *r = NULL, *x;
	size_t len, tlen = 0;
	int64_t ts = 0;
	EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");

	(void)state;
	assert_non_null(x25519);
	/* Not a note, not a checkpoint, a negative time, an unsupported key. */
	assert_int_equal(tally_cosign(f->oem, EX_TEXT, strlen(EX_TEXT), 1, &r), TALLY_ERR_INVALID);
	assert_int_equal(tally_cosign(f->oem, NOT_CP1, strlen(NOT_CP1), 1, &r), TALLY_ERR_INVALID);
	assert_int_equal(tally_cosign(f->oem, NOT_CP2, strlen(NOT_CP2), 1, &r), TALLY_ERR_INVALID);
	assert_int_equal(tally_cosign(f->oem, NOT_CP3, strlen(NOT_CP3), 1, &r), TALLY_ERR_INVALID);
	assert_int_equal(tally_cosign(f->oem, NOT_CP4, strlen(NOT_CP4), 1, &r), TALLY_ERR_INVALID);
	assert_int_equal(tally_cosignature_verify(NOT_CP1, strlen(NOT_CP1), f->oem, &ts, &tlen),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_cosign(f->oem, f->note, f->nlen, -1, &r), TALLY_ERR_INVALID);
	assert_int_equal(tally_cosign(x25519, f->note, f->nlen, 1, &r), TALLY_ERR_KEY);
	assert_null(r);
	assert_int_equal(tally_cosignature_verify(f->receipt, f->rlen, x25519, &ts, &tlen),
	    TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_cosignature_verify(EX_TEXT, strlen(EX_TEXT), f->oem, &ts, &tlen),
	    TALLY_ERR_INVALID);
	/* A signature line that is not one (bad base64, no name) rejects it. */
	x = malloc(f->rlen + 32);
	assert_non_null(x);
	len = (size_t)snprintf(x, f->rlen + 32, "%s" DASH "tally.oem @@@@\n", f->receipt);
	assert_int_equal(tally_cosignature_verify(x, len, f->oem, &ts, &tlen), TALLY_ERR_INVALID);
	len = (size_t)snprintf(x, f->rlen + 32, "%s-- tally.oem AAAAAAAA\n", f->receipt);
	assert_int_equal(tally_cosignature_verify(x, len, f->oem, &ts, &tlen), TALLY_ERR_INVALID);
	/* A receipt missing its last newline. */
	assert_int_equal(tally_cosignature_verify(f->receipt, f->rlen - 1, f->oem, &ts, &tlen),
	    TALLY_ERR_INVALID);
	free(x);
	/* Too large: the note, and a receipt that would pass TALLY_NOTE_MAX. */
	big = malloc(TALLY_NOTE_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', TALLY_NOTE_MAX + 1);
	big[TALLY_NOTE_MAX + 1] = '\0';
	assert_int_equal(tally_cosign(f->oem, big, TALLY_NOTE_MAX + 1, 1, &r), TALLY_ERR_TOO_LARGE);
	assert_int_equal(tally_cosignature_verify(big, TALLY_NOTE_MAX + 1, f->oem, &ts, &tlen),
	    TALLY_ERR_TOO_LARGE);
	/* A checkpoint with extension lines that fills the note almost up. */
	len = (size_t)snprintf(big, TALLY_NOTE_MAX, "%s", EX_TEXT);
	memset(big + len, 'e', TALLY_NOTE_MAX - 40 - len);
	len = TALLY_NOTE_MAX - 40;
	memcpy(big + len, "\n" SIG_LINE, strlen("\n" SIG_LINE) + 1);
	len += strlen("\n" SIG_LINE);
	assert_true(len < TALLY_NOTE_MAX);
	assert_int_equal(tally_cosign(f->oem, big, len, 1, &r), TALLY_ERR_TOO_LARGE);
	assert_null(r);
	free(big);
	EVP_PKEY_free(x25519);
	fx_free(f);
}

static void
test_several_cosignatures(void **state)
{
	struct fx *f = fx_new(TALLY_KEY_P256, TALLY_KEY_ED25519);
	char *twice = NULL, *other = NULL, *bad;
	size_t tlen = 0, len;
	int64_t ts = 0;

	(void)state;
	/* Cosigning a receipt again (later) and by another key: both verify,
	 * the last timestamp is reported. */
	assert_int_equal(tally_cosign(f->other, f->receipt, f->rlen, f->ts + 5, &other), 0);
	assert_int_equal(tally_cosign(f->oem, other, strlen(other), f->ts + 10, &twice), 0);
	assert_int_equal(tally_cosignature_verify(twice, strlen(twice), f->oem, &ts, &tlen), 0);
	assert_int_equal(ts, f->ts + 10);
	assert_int_equal(tally_cosignature_verify(twice, strlen(twice), f->other, &ts, &tlen), 0);
	assert_int_equal(ts, f->ts + 5);
	assert_int_equal(tlen, text_len(f->note));
	/* One good line does not excuse a bad one by the same key. */
	len = strlen(twice);
	bad = strdup(twice);
	assert_non_null(bad);
	bad[len - 3] = bad[len - 3] == 'A' ? 'B' : 'A';
	assert_int_not_equal(tally_cosignature_verify(bad, len, f->oem, &ts, &tlen), 0);
	free(bad);
	free(twice);
	free(other);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_published_key_hash),
		cmocka_unit_test(test_round_trip_ed25519),
		cmocka_unit_test(test_round_trip_p256),
		cmocka_unit_test(test_refusals_ed25519),
		cmocka_unit_test(test_refusals_p256),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_several_cosignatures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
