/* attest.c - DUT attestation records: strict parse, make (as a DUT signs)
 * and verify (as the appliance checks, against the quota's trusted keys);
 * see attest.h for the layout. Signatures go through key.h (OpenSSL EVP). */
#include <string.h>
#include <openssl/crypto.h>
#include "attest.h"
#include "err.h"
#include "key.h"

#define OFF_KEY_ID   16
#define OFF_NONCE    48
#define OFF_BOOT     80
#define OFF_VERSION  112
#define OFF_UID_LEN  116
#define OFF_UID      117
#define FIXED_LEN    OFF_UID     /* statement bytes before the UID */

static uint32_t
be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
tally_attestation_parse(const uint8_t *buf, size_t len, struct tally_attestation *out)
{
	size_t uid_len, sig_len;

	if (len > TALLY_ATTESTATION_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (buf == NULL || len < FIXED_LEN + 1 ||
	    memcmp(buf, TALLY_ATTESTATION_MAGIC, TALLY_ATTESTATION_MAGIC_LEN) != 0)
		return TALLY_ERR_INVALID;
	uid_len = buf[OFF_UID_LEN];
	if (uid_len < 1 || uid_len > TALLY_UID_MAX || len < FIXED_LEN + uid_len + 1)
		return TALLY_ERR_INVALID;
	sig_len = buf[FIXED_LEN + uid_len];
	if (sig_len < 1 || sig_len > TALLY_ATTESTATION_SIG_MAX ||
	    len != FIXED_LEN + uid_len + 1 + sig_len)
		return TALLY_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	memcpy(out->key_id, buf + OFF_KEY_ID, TALLY_DIGEST_LEN);
	memcpy(out->nonce, buf + OFF_NONCE, TALLY_NONCE_LEN);
	memcpy(out->boot_key_hash, buf + OFF_BOOT, TALLY_DIGEST_LEN);
	out->software_version = be32_get(buf + OFF_VERSION);
	out->uid = buf + OFF_UID;
	out->uid_len = uid_len;
	out->statement = buf;
	out->statement_len = FIXED_LEN + uid_len;
	out->sig = buf + FIXED_LEN + uid_len + 1;
	out->sig_len = sig_len;
	return 0;
}

int
tally_attestation_make(EVP_PKEY *key, const uint8_t *nonce,
    const uint8_t *uid, size_t uid_len, const uint8_t *boot_key_hash,
    uint32_t software_version, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t st[FIXED_LEN + TALLY_UID_MAX], sig[TALLY_SIG_MAX];
	size_t st_len = FIXED_LEN + uid_len, sig_len = 0;
	int r;

	if (nonce == NULL || uid == NULL || boot_key_hash == NULL || out == NULL ||
	    len == NULL || uid_len < 1 || uid_len > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	if (tally_key_type(key) == 0)
		return TALLY_ERR_KEY;
	memcpy(st, TALLY_ATTESTATION_MAGIC, TALLY_ATTESTATION_MAGIC_LEN);
	if ((r = tally_key_id(key, st + OFF_KEY_ID)) != 0)
		return r;
	memcpy(st + OFF_NONCE, nonce, TALLY_NONCE_LEN);
	memcpy(st + OFF_BOOT, boot_key_hash, TALLY_DIGEST_LEN);
	be32_put(st + OFF_VERSION, software_version);
	st[OFF_UID_LEN] = (uint8_t)uid_len;
	memcpy(st + OFF_UID, uid, uid_len);
	if ((r = tally_sign(key, st, st_len, sig, &sig_len)) != 0)
		return r;
	if (sig_len < 1 || sig_len > TALLY_ATTESTATION_SIG_MAX)
		return TALLY_ERR_CRYPTO;
	if (cap < st_len + 1 + sig_len)
		return TALLY_ERR_TOO_LARGE;
	memcpy(out, st, st_len);
	out[st_len] = (uint8_t)sig_len;
	memcpy(out + st_len + 1, sig, sig_len);
	*len = st_len + 1 + sig_len;
	return 0;
}

/* Do the parsed fields say what the signed statement bytes say? A record
 * from tally_attestation_parse always does; this keeps verify sound for a
 * struct filled any other way. */
static int
statement_matches(const struct tally_attestation *a)
{
	const uint8_t *s = a->statement;

	if (s == NULL || a->uid == NULL || a->sig == NULL ||
	    a->uid_len < 1 || a->uid_len > TALLY_UID_MAX ||
	    a->statement_len != FIXED_LEN + a->uid_len ||
	    a->sig_len < 1 || a->sig_len > TALLY_ATTESTATION_SIG_MAX)
		return 0;
	return memcmp(s, TALLY_ATTESTATION_MAGIC, TALLY_ATTESTATION_MAGIC_LEN) == 0 &&
	    memcmp(s + OFF_KEY_ID, a->key_id, TALLY_DIGEST_LEN) == 0 &&
	    memcmp(s + OFF_NONCE, a->nonce, TALLY_NONCE_LEN) == 0 &&
	    memcmp(s + OFF_BOOT, a->boot_key_hash, TALLY_DIGEST_LEN) == 0 &&
	    be32_get(s + OFF_VERSION) == a->software_version &&
	    s[OFF_UID_LEN] == a->uid_len &&
	    memcmp(s + OFF_UID, a->uid, a->uid_len) == 0;
}

/* Index of the trusted key whose key ID is id, or n_keys when none. */
static size_t
find_key(const uint8_t id[TALLY_DIGEST_LEN], const ProtobufCBinaryData *keys,
    size_t n_keys)
{
	uint8_t kid[TALLY_KEY_ID_LEN];
	size_t i, found = n_keys;

	for (i = 0; i < n_keys; i++) {
		tally_key_id_spki(keys[i].data, keys[i].len, kid);
		if (CRYPTO_memcmp(kid, id, TALLY_KEY_ID_LEN) == 0 && found == n_keys)
			found = i;
	}
	return found;
}

int
tally_attestation_verify(const struct tally_attestation *a,
    const uint8_t *nonce, const uint8_t *uid, size_t uid_len,
    const ProtobufCBinaryData *keys, size_t n_keys, size_t *which)
{
	EVP_PKEY *pub = NULL;
	size_t i;
	int r;

	if (a == NULL || nonce == NULL || uid == NULL || (keys == NULL && n_keys > 0))
		return TALLY_ERR_MISMATCH;
	if (n_keys > TALLY_ATT_KEYS_MAX)
		return TALLY_ERR_KEY;
	if (CRYPTO_memcmp(a->nonce, nonce, TALLY_NONCE_LEN) != 0 ||
	    a->uid_len != uid_len || a->uid == NULL ||
	    CRYPTO_memcmp(a->uid, uid, uid_len) != 0)
		return TALLY_ERR_MISMATCH;
	if ((i = find_key(a->key_id, keys, n_keys)) == n_keys)
		return TALLY_ERR_NOT_FOUND;
	if (!statement_matches(a))
		return TALLY_ERR_SIGNATURE;
	if ((r = tally_key_from_spki(keys[i].data, keys[i].len, &pub)) != 0)
		return TALLY_ERR_KEY;
	r = tally_verify(pub, a->statement, a->statement_len, a->sig, a->sig_len);
	EVP_PKEY_free(pub);
	if (r == TALLY_ERR_NOMEM)
		return TALLY_ERR_CRYPTO;
	if (r == 0 && which != NULL)
		*which = i;
	return r;
}
