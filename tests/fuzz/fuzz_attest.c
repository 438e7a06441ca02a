/* fuzz_attest.c - DUT attestation records (lib/attest.h), which tallyd
 * receives verbatim in IssueTokenRequest.attestation and tally-jig reads
 * from the DUT, checked as the writer does against a quota trusting the
 * fixed attestation key.
 * Mode 0: the input is a record: parse, then verify against the record's
 *   own UID and nonce, so the key lookup and the signature are reached.
 * Mode 1: the input is a statement (everything a record holds before
 *   sig_len) that the target signs with the attestation key and
 *   completes; the record is parsed and verified.
 * Mode 2: the input is [nonce 32][uid_len 1][uid][version 4]; the record
 *   tally_attestation_make builds must parse and verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "key.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_keys keys;
static ProtobufCBinaryData trusted[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (fz_keys_init(&keys) != 0)
		abort();
	/* the quota trusts the jig key's SPKI (a key never used here) and
	 * the attestation key's */
	trusted[0].data = keys.jig.spki;
	trusted[0].len = keys.jig.spki_len;
	trusted[1].data = keys.att.spki;
	trusted[1].len = keys.att.spki_len;
	return 0;
}

/* Parses and verifies; returns the verify result or 1 when unparsable. */
static int
check(const uint8_t *rec, size_t len)
{
	struct tally_attestation a;
	size_t which = 99;
	int r;

	if (tally_attestation_parse(rec, len, &a) != 0)
		return 1;
	if (a.uid_len < 1 || a.uid_len > TALLY_UID_MAX || a.sig_len < 1 ||
	    a.sig_len > TALLY_ATTESTATION_SIG_MAX || a.statement != rec ||
	    a.statement_len + 1 + a.sig_len != len)
		abort();
	r = tally_attestation_verify(&a, a.nonce, a.uid, a.uid_len, trusted, 2, &which);
	if (r == 0 && which != 1)
		abort();
	return r;
}

static void
sign_statement(const uint8_t *data, size_t size)
{
	uint8_t rec[TALLY_ATTESTATION_MAX + TALLY_SIG_MAX], sig[TALLY_SIG_MAX];
	size_t sig_len;

	if (size > TALLY_ATTESTATION_MAX ||
	    tally_sign(keys.att.key, data, size, sig, &sig_len) != 0)
		return;
	memcpy(rec, data, size);
	rec[size] = (uint8_t)sig_len;
	memcpy(rec + size + 1, sig, sig_len);
	(void)check(rec, size + 1 + sig_len);
}

static void
make(const uint8_t *data, size_t size)
{
	uint8_t rec[TALLY_ATTESTATION_MAX];
	size_t uid_len, len;
	uint32_t version;

	if (size < 33 || (uid_len = data[32]) > size - 33 || size - 33 - uid_len < 4)
		return;
	version = (uint32_t)data[33 + uid_len] << 24 | (uint32_t)data[34 + uid_len] << 16 |
	    (uint32_t)data[35 + uid_len] << 8 | data[36 + uid_len];
	if (tally_attestation_make(keys.att.key, data, data + 33, uid_len,
	    fz_boot_key_hash, version, rec, sizeof(rec), &len) != 0)
		return;
	if (check(rec, len) != 0)
		abort();    /* what tally makes, tally accepts */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	switch (fz_mode(&data, &size, 3)) {
	case 0:
		(void)check(data, size);
		break;
	case 1:
		sign_statement(data, size);
		break;
	default:
		make(data, size);
		break;
	}
	return 0;
}
