/* merkle.c - RFC 9162 §2.1 Merkle Tree Hash and a compact-range frontier,
 * see merkle.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "err.h"
#include "log.h"
#include "merkle.h"

/* SHA-256(prefix || a || b). SHA-256 cannot fail short of running out of
 * memory for the context; that is treated as fatal (the functions are void). */
static void
hash3(uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[TALLY_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &prefix, 1) != 1 ||
	    (alen > 0 && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
		log_err("SHA-256 failed");
		abort();
	}
	EVP_MD_CTX_free(ctx);
}

void
tally_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TALLY_HASH_LEN])
{
	hash3(0x00, data, len, NULL, 0, out);
}

void
tally_merkle_node_hash(const uint8_t left[TALLY_HASH_LEN],
    const uint8_t right[TALLY_HASH_LEN], uint8_t out[TALLY_HASH_LEN])
{
	hash3(0x01, left, TALLY_HASH_LEN, right, TALLY_HASH_LEN, out);
}

void
tally_merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t out[TALLY_HASH_LEN])
{
	uint8_t left[TALLY_HASH_LEN], right[TALLY_HASH_LEN];
	uint64_t k = 1;

	if (n == 0) {
		unsigned int olen;
		EVP_Digest("", 0, out, &olen, EVP_sha256(), NULL);
		return;
	}
	if (n == 1) {
		memcpy(out, leaf_hashes, TALLY_HASH_LEN);
		return;
	}
	while (k << 1 < n)
		k <<= 1;
	tally_merkle_root(leaf_hashes, k, left);
	tally_merkle_root(leaf_hashes + k * TALLY_HASH_LEN, n - k, right);
	tally_merkle_node_hash(left, right, out);
}

void
tally_merkle_frontier_init(struct tally_merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int
tally_merkle_frontier_append(struct tally_merkle_frontier *f,
    const uint8_t leaf_hash[TALLY_HASH_LEN])
{
	uint64_t s;

	if (f->size == UINT64_MAX)
		return TALLY_ERR_TOO_LARGE;
	memcpy(f->node[f->count], leaf_hash, TALLY_HASH_LEN);
	f->count++;
	/* Each trailing 1 bit of the old size is a subtree of the same height
	 * as the one just completed: merge them. */
	for (s = f->size; s & 1; s >>= 1) {
		tally_merkle_node_hash(f->node[f->count - 2], f->node[f->count - 1],
		    f->node[f->count - 2]);
		f->count--;
	}
	f->size++;
	return 0;
}

void
tally_merkle_frontier_root(const struct tally_merkle_frontier *f,
    uint8_t out[TALLY_HASH_LEN])
{
	uint8_t acc[TALLY_HASH_LEN];
	unsigned i;

	if (f->count == 0) {
		tally_merkle_root(NULL, 0, out);
		return;
	}
	memcpy(acc, f->node[f->count - 1], TALLY_HASH_LEN);
	for (i = f->count - 1; i > 0; i--)
		tally_merkle_node_hash(f->node[i - 1], acc, acc);
	memcpy(out, acc, TALLY_HASH_LEN);
}

size_t
tally_merkle_frontier_encode(const struct tally_merkle_frontier *f, uint8_t *buf)
{
	unsigned i;

	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t)(f->size >> (56 - 8 * i));
	memcpy(buf + 8, f->node, (size_t)f->count * TALLY_HASH_LEN);
	return 8 + (size_t)f->count * TALLY_HASH_LEN;
}

int
tally_merkle_frontier_decode(struct tally_merkle_frontier *f, const uint8_t *buf, size_t len)
{
	uint64_t size = 0;
	unsigned i, count;

	if (len < 8)
		return TALLY_ERR_INVALID;
	for (i = 0; i < 8; i++)
		size = size << 8 | buf[i];
	count = (unsigned)__builtin_popcountll(size);
	if (len != 8 + (size_t)count * TALLY_HASH_LEN)
		return TALLY_ERR_INVALID;
	memset(f, 0, sizeof(*f));
	f->size = size;
	f->count = count;
	memcpy(f->node, buf + 8, (size_t)count * TALLY_HASH_LEN);
	return 0;
}
