/* fuzz_devverify.c - token bundles through the device-side verifier
 * (lib/devverify.h tdv_verify_bundle, its own protobuf wire reader), with
 * the OpenSSL back-end, the fixed OEM root SPKI, UID and product. The
 * mode byte picks how the bundle is made (fz_bundle_input): raw, or with
 * fuzzed Token and/or Quota payloads signed inside the target.
 *
 * Checked besides the sanitizers: on failure *out stays zeroed; on
 * TDV_OK the token it reports is the one protobuf-c reads from the same
 * bytes (a bundle the strict reader accepts has every field once, so both
 * readers must agree), bound to this UID, and its firmware digest is one
 * of the quota's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devverify.h"
#include "dsse.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_keys keys;
static struct tdv_crypto crypto;
static uint8_t work[TDV_WORK_MIN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (fz_keys_init(&keys) != 0)
		abort();
	tdv_crypto_openssl(&crypto);
	return 0;
}

/* The Token inside an accepted bundle, read with protobuf-c. */
static Tally__Token *
token_of(const uint8_t *b, size_t len)
{
	Tally__TokenBundle *tb = tally__token_bundle__unpack(NULL, len, b);
	Tally__Envelope *e = NULL;
	Tally__Token *t = NULL;

	if (tb != NULL && (e = tally__envelope__unpack(NULL, tb->token.len,
	    tb->token.data)) != NULL)
		t = tally__token__unpack(NULL, e->payload.len, e->payload.data);
	if (e != NULL)
		tally__envelope__free_unpacked(e, NULL);
	if (tb != NULL)
		tally__token_bundle__free_unpacked(tb, NULL);
	return t;
}

static void
check_accepted(const uint8_t *b, size_t len, const struct tdv_token *out)
{
	Tally__Token *t = token_of(b, len);

	if (t == NULL || t->log_index != out->log_index ||
	    t->serial_number != out->serial_number || t->issued_at != out->issued_at ||
	    t->quota_id.len != TDV_QUOTA_ID_LEN ||
	    memcmp(t->quota_id.data, out->quota_id, TDV_QUOTA_ID_LEN) != 0 ||
	    t->firmware_digest.len != TDV_DIGEST_LEN ||
	    memcmp(t->firmware_digest.data, out->firmware_digest, TDV_DIGEST_LEN) != 0 ||
	    t->device_uid.len != strlen(FZ_UID) ||
	    memcmp(t->device_uid.data, FZ_UID, strlen(FZ_UID)) != 0)
		abort();
	tally__token__free_unpacked(t, NULL);
}

static void
verify(const uint8_t *b, size_t len, int64_t now, const char *product)
{
	static const struct tdv_token zero;
	struct tdv_params p = {
		.crypto = &crypto,
		.oem_root_spki = keys.oem.spki,
		.oem_root_spki_len = keys.oem.spki_len,
		.uid = (const uint8_t *)FZ_UID,
		.uid_len = strlen(FZ_UID),
		.product = product,
		.now = now,
		.work = work,
		.work_len = sizeof(work),
	};
	struct tdv_token out;
	enum tdv_result r;

	memset(&out, 0xa5, sizeof(out));
	r = tdv_verify_bundle(&p, b, len, &out);
	if (tdv_result_name(r) == NULL)
		abort();
	if (r != TDV_OK) {
		if (memcmp(&out, &zero, sizeof(out)) != 0)
			abort();
		return;
	}
	check_accepted(b, len, &out);
	(void)tdv_firmware_matches(&out, fz_fw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode = fz_mode(&data, &size, FZ_BUNDLE_MODES);
	uint8_t *b = NULL;
	size_t len;

	if (fz_bundle_input(&keys, mode, data, size, &b, &len) != 0)
		return 0;
	verify(b, len, 0, NULL);
	verify(b, len, FZ_ISSUED_AT, FZ_PRODUCT);
	free(b);
	return 0;
}
