/* test_checkpoint.c - C2SP signed notes (note.h) and tlog-checkpoints
 * (checkpoint.h), including the published golang.org/x/mod/sumdb/note
 * example and a transparency-dev ECDSA verifier key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "checkpoint.h"
#include "err.h"
#include "key.h"
#include "note.h"
#include "util.h"

#define DASH "\xe2\x80\x94"

/* golang.org/x/mod/sumdb/note documentation example. */
static const char go_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char go_skey_b64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char go_text[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char go_note[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    DASH " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/* The Sigstore Rekor key as a type 0x02 (ECDSA) verifier key, from
 * transparency-dev/formats note tests. */
static const char rekor_vkey[] = "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=";

static void
test_go_example_verifies(void **state)
{
	char name[TALLY_NOTE_NAME_MAX + 1], *again = NULL, *bad;
	EVP_PKEY *pub = NULL;
	const char *text = NULL;
	size_t tlen = 0, i;

	(void)state;
	assert_int_equal(tally_note_vkey_parse(go_vkey, name, &pub), 0);
	assert_string_equal(name, "PeterNeumann");
	assert_int_equal(tally_key_type(pub), TALLY_KEY_ED25519);
	assert_int_equal(tally_note_verify(go_note, strlen(go_note), name, pub, &text, &tlen), 0);
	assert_int_equal(tlen, strlen(go_text));
	assert_memory_equal(text, go_text, tlen);
	assert_int_equal(tally_note_vkey(pub, name, &again), 0);
	assert_string_equal(again, go_vkey);
	free(again);
	/* Any changed byte of the text breaks it. */
	bad = strdup(go_note);
	assert_non_null(bad);
	for (i = 0; i < strlen(go_text); i++) {
		bad[i] ^= 0x01;
		assert_int_not_equal(tally_note_verify(bad, strlen(bad), name, pub, NULL, NULL), 0);
		bad[i] ^= 0x01;
	}
	/* Known to be signed, but under another name: not by this key. */
	assert_int_equal(tally_note_verify(go_note, strlen(go_note), "PeterNeumann2", pub, NULL, NULL),
	    TALLY_ERR_SIGNATURE);
	free(bad);
	EVP_PKEY_free(pub);
}

/* Ed25519 is deterministic: the Go signer key must give the same note. */
static void
test_go_signer_reproduces_note(void **state)
{
	uint8_t skey[33];
	size_t len = 0;
	EVP_PKEY *k;
	char *note = NULL;

	(void)state;
	assert_int_equal(tally_b64_decode(go_skey_b64, strlen(go_skey_b64), skey, sizeof(skey), &len), 0);
	assert_int_equal(len, 33);
	assert_int_equal(skey[0], TALLY_NOTE_SIG_ED25519);
	k = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, skey + 1, 32);
	assert_non_null(k);
	assert_int_equal(tally_note_sign(k, "PeterNeumann", go_text, &note), 0);
	assert_string_equal(note, go_note);
	free(note);
	OPENSSL_cleanse(skey, sizeof(skey));
	EVP_PKEY_free(k);
}

static void
test_ecdsa_vkey(void **state)
{
	char name[TALLY_NOTE_NAME_MAX + 1], *again = NULL;
	EVP_PKEY *pub = NULL, *k = NULL;
	uint8_t id[32];
	uint32_t nid;

	(void)state;
	assert_int_equal(tally_note_vkey_parse(rekor_vkey, name, &pub), 0);
	assert_string_equal(name, "rekor.sigstore.dev");
	assert_int_equal(tally_key_type(pub), TALLY_KEY_P256);
	assert_int_equal(tally_note_vkey(pub, name, &again), 0);
	assert_string_equal(again, rekor_vkey);
	free(again);
	EVP_PKEY_free(pub);
	/* Type 0x02 key ID: first 4 bytes of SHA-256(SPKI), name-independent. */
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &k), 0);
	assert_int_equal(tally_key_id(k, id), 0);
	assert_int_equal(tally_note_key_id(k, "any.name", &nid), 0);
	assert_int_equal(nid, (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | id[2] << 8 | id[3]);
	assert_int_equal(tally_note_key_id(k, "other", &nid), 0);
	assert_int_equal(nid, (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | id[2] << 8 | id[3]);
	EVP_PKEY_free(k);
}

/* Malformed verifier keys (after golang.org/x/mod/sumdb/note's tests). */
static void
test_bad_vkeys(void **state)
{
	static const char *bad[] = {
		"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3",
		"PeterNeumann+c74f20a3+!!!!",
		"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
		"",
	};
	char name[TALLY_NOTE_NAME_MAX + 1];
	EVP_PKEY *pub = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(tally_note_vkey_parse(bad[i], name, &pub), 0);
		assert_null(pub);
	}
	/* Unknown algorithm with a matching key hash (Go's 0x65 case). */
	assert_int_equal(tally_note_vkey_parse(
	    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", name, &pub),
	    TALLY_ERR_UNSUPPORTED);
	assert_null(pub);
}

static void
check_checkpoint(enum tally_key_type type)
{
	EVP_PKEY *k = NULL, *other = NULL;
	uint8_t id[32], root[32], got[32];
	char origin[TALLY_ORIGIN_MAX], want[512], b64[45], *note = NULL;
	uint64_t size = 0;
	size_t i, len;

	assert_int_equal(tally_key_generate(type, &k), 0);
	assert_int_equal(tally_key_generate(type, &other), 0);
	assert_int_equal(tally_key_id(k, id), 0);
	tally_checkpoint_origin(id, origin);
	assert_int_equal(strlen(origin), strlen("tally.appliance/") + 16);
	assert_int_equal(strncmp(origin, "tally.appliance/", 16), 0);
	for (i = 0; i < 32; i++)
		root[i] = (uint8_t)(i * 13);
	assert_int_equal(tally_checkpoint_sign(k, origin, 18446744073709551615u, root, &note), 0);
	tally_b64_encode(root, 32, b64);
	snprintf(want, sizeof(want), "%s\n18446744073709551615\n%s\n\n" DASH " %s ", origin, b64, origin);
	assert_int_equal(strncmp(note, want, strlen(want)), 0);
	len = strlen(note);
	assert_int_equal(tally_checkpoint_verify(note, len, k, origin, &size, got), 0);
	assert_true(size == UINT64_MAX);
	assert_memory_equal(got, root, 32);
	assert_int_equal(tally_checkpoint_verify(note, len, other, origin, &size, got), TALLY_ERR_SIGNATURE);
	assert_int_equal(tally_checkpoint_verify(note, len, k, "tally.appliance/x", &size, got),
	    TALLY_ERR_SIGNATURE);
	/* Any changed byte is refused. */
	for (i = 0; i < len; i++) {
		note[i] ^= 0x01;
		assert_int_not_equal(tally_checkpoint_verify(note, len, k, origin, &size, got), 0);
		note[i] ^= 0x01;
	}
	for (i = 0; i < len; i++)
		assert_int_not_equal(tally_checkpoint_verify(note, i, k, origin, &size, got), 0);
	free(note);
	assert_int_equal(tally_checkpoint_sign(k, origin, 0, root, &note), 0);
	assert_int_equal(tally_checkpoint_verify(note, strlen(note), k, origin, &size, got), 0);
	assert_true(size == 0);
	free(note);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_checkpoint_p256(void **state)
{
	(void)state;
	check_checkpoint(TALLY_KEY_P256);
}

static void
test_checkpoint_ed25519(void **state)
{
	(void)state;
	check_checkpoint(TALLY_KEY_ED25519);
}

/* Signs text as a note under name and runs checkpoint verify on it. */
static int
verify_text(EVP_PKEY *k, const char *name, const char *text, const char *origin)
{
	char *note = NULL;
	uint8_t root[32];
	uint64_t size;
	int r;

	assert_int_equal(tally_note_sign(k, name, text, &note), 0);
	r = tally_checkpoint_verify(note, strlen(note), k, origin, &size, root);
	free(note);
	return r;
}

static void
test_checkpoint_bodies(void **state)
{
	static const char R[] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
	static const struct { const char *text; int want; } cases[] = {
		{ "o.example/a\n5\n%s\n", 0 },
		{ "o.example/a\n5\n%s\next one\next two\n", 0 },
		{ "o.example/b\n5\n%s\n", TALLY_ERR_MISMATCH },
		{ "o.example/a\n05\n%s\n", TALLY_ERR_INVALID },
		{ "o.example/a\n-5\n%s\n", TALLY_ERR_INVALID },
		{ "o.example/a\n+5\n%s\n", TALLY_ERR_INVALID },
		{ "o.example/a\n 5\n%s\n", TALLY_ERR_INVALID },
		{ "o.example/a\n18446744073709551616\n%s\n", TALLY_ERR_INVALID },
		{ "o.example/a\n\n%s\n", TALLY_ERR_INVALID },
		{ "o.example/a\n5\n", TALLY_ERR_INVALID },
		{ "o.example/a\n5\n%s\n\next\n", TALLY_ERR_INVALID },
		{ "o.example/a\n5\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw==\n", TALLY_ERR_INVALID },
		{ "o.example/a\n5\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\n", TALLY_ERR_INVALID },
		{ "o.example/a\n5\n%s \n", TALLY_ERR_INVALID },
	};
	char text[256];
	EVP_PKEY *k = NULL;
	size_t i;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &k), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), cases[i].text, R);
		assert_int_equal(verify_text(k, "o.example/a", text, "o.example/a"), cases[i].want);
	}
	EVP_PKEY_free(k);
}

static void
test_sign_refuses_bad_origin(void **state)
{
	static const char *bad[] = { "", "a b", "a\nb", "a+b", "caf\xc3\xa9" };
	char longname[TALLY_ORIGIN_MAX + 1], *note = NULL;
	uint8_t root[32] = { 0 };
	EVP_PKEY *k = NULL;
	size_t i;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &k), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tally_checkpoint_sign(k, bad[i], 1, root, &note), TALLY_ERR_INVALID);
	memset(longname, 'a', TALLY_ORIGIN_MAX);
	longname[TALLY_ORIGIN_MAX] = '\0';
	assert_int_equal(tally_checkpoint_sign(k, longname, 1, root, &note), TALLY_ERR_INVALID);
	longname[TALLY_ORIGIN_MAX - 1] = '\0';
	assert_int_equal(tally_checkpoint_sign(k, longname, 1, root, &note), 0);
	free(note);
	EVP_PKEY_free(k);
}

/* A note cosigned by another key verifies for both; foreign lines are
 * skipped up to the limit. */
static void
test_cosigned_and_foreign_lines(void **state)
{
	EVP_PKEY *log = NULL, *oem = NULL;
	char *note = NULL, *line = NULL, *all, foreign[128];
	uint8_t root[32] = { 7 }, got[32];
	uint64_t size;
	size_t i, cap;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &log), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &oem), 0);
	assert_int_equal(tally_checkpoint_sign(log, "log.example/1", 3, root, &note), 0);
	assert_int_equal(tally_note_sign_line(oem, "oem.example", note,
	    strstr(note, "\n\n") + 1 - note, &line), 0);
	snprintf(foreign, sizeof(foreign), DASH " other.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
	cap = strlen(note) + strlen(line) + 100 * strlen(foreign) + 1;
	all = malloc(cap);
	assert_non_null(all);
	/* Foreign lines first, then the cosignature, then the log's own. */
	strcpy(all, note);
	*(strstr(all, "\n\n") + 2) = '\0';
	for (i = 0; i < 15; i++)
		strcat(all, foreign);
	strcat(all, line);
	strcat(all, strstr(note, "\n\n") + 2);
	assert_int_equal(tally_checkpoint_verify(all, strlen(all), log, "log.example/1", &size, got), 0);
	assert_true(size == 3);
	assert_int_equal(tally_note_verify(all, strlen(all), "oem.example", oem, NULL, NULL), 0);
	assert_int_equal(tally_note_verify(all, strlen(all), "oem.example", log, NULL, NULL),
	    TALLY_ERR_SIGNATURE);
	/* TALLY_NOTE_MAX_SIGS (100) lines are looked at, 101 are too many. */
	*(strstr(all, "\n\n") + 2) = '\0';
	for (i = 0; i < 99; i++)
		strcat(all, foreign);
	strcat(all, strstr(note, "\n\n") + 2);
	assert_int_equal(tally_checkpoint_verify(all, strlen(all), log, "log.example/1", &size, got), 0);
	*(strstr(all, "\n\n") + 2) = '\0';
	for (i = 0; i < 100; i++)
		strcat(all, foreign);
	strcat(all, strstr(note, "\n\n") + 2);
	assert_int_equal(tally_checkpoint_verify(all, strlen(all), log, "log.example/1", &size, got),
	    TALLY_ERR_INVALID);
	free(all);
	free(line);
	free(note);
	EVP_PKEY_free(log);
	EVP_PKEY_free(oem);
}

static void
test_malformed_notes(void **state)
{
	static const char *bad[] = {
		"o.example/a\n1\nR\n",					/* no signatures */
		"o.example/a\n1\nR\n\n",				/* blank line, no lines */
		"o.example/a\n1\nR\n\n" DASH " o.example/a AAAAAA==",	/* no final newline */
		"o.example/a\n1\nR\n\n- o.example/a AAAAAAA=\n",		/* not an em dash */
		"o.example/a\n1\nR\n\n" DASH "  AAAAAAA=\n",		/* empty name */
		"o.example/a\n1\nR\n\n" DASH " o.example/a\n",		/* no signature */
		"o.example/a\n1\nR\n\n" DASH " o.example/a AAAA\n",	/* under 5 bytes */
		"o.example/a\n1\nR\n\n" DASH " o.example/a AAAAAAA\n",	/* bad base64 */
		"o.example/a\n1\nR\n\n" DASH " o.example/a AAAAAAA= x\n",
		"o.example/a\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n\n",
		"o.example/a\r\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n",	/* control character */
		"o.example/a\t\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n",
		"o.example/\xff\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n",	/* bad UTF-8 */
		"o.example/\xc0\xaf\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n", /* overlong */
		"o.example/\xed\xa0\x80\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n", /* surrogate */
		"o.example/\xe2\x80\n1\nR\n\n" DASH " o.example/a AAAAAAA=\n",	/* truncated */
	};
	EVP_PKEY *k = NULL;
	uint8_t root[32];
	uint64_t size;
	char *big;
	size_t i;

	(void)state;
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &k), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tally_checkpoint_verify(bad[i], strlen(bad[i]), k, "o.example/a",
		    &size, root), TALLY_ERR_INVALID);
	/* NUL inside the note. */
	assert_int_equal(tally_note_verify("a\0\n\n" DASH " a AAAAAAA=\n", 16, "a", k, NULL, NULL),
	    TALLY_ERR_INVALID);
	big = malloc(TALLY_NOTE_MAX + 1);
	assert_non_null(big);
	memset(big, 'a', TALLY_NOTE_MAX + 1);
	assert_int_equal(tally_checkpoint_verify(big, TALLY_NOTE_MAX + 1, k, "o.example/a", &size, root),
	    TALLY_ERR_TOO_LARGE);
	free(big);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_example_verifies),
		cmocka_unit_test(test_go_signer_reproduces_note),
		cmocka_unit_test(test_ecdsa_vkey),
		cmocka_unit_test(test_bad_vkeys),
		cmocka_unit_test(test_checkpoint_p256),
		cmocka_unit_test(test_checkpoint_ed25519),
		cmocka_unit_test(test_checkpoint_bodies),
		cmocka_unit_test(test_sign_refuses_bad_origin),
		cmocka_unit_test(test_cosigned_and_foreign_lines),
		cmocka_unit_test(test_malformed_notes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
