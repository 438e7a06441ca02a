/* merkle_proof.c - RFC 9162 §2.1.3 inclusion and §2.1.4 consistency
 * proofs: generation from perfect-subtree hashes, and verification; see
 * merkle.h. The RFC's names are kept: D[n] is a tree of n leaves, k the
 * largest power of two smaller than n, m the leaf index (PATH) or the old
 * tree size (PROOF), PATH and SUBPROOF the recursive definitions. */
#include <string.h>
#include "err.h"
#include "merkle.h"

/* Largest power of two strictly smaller than n (n > 1). */
static uint64_t
split_k(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static int
is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

int
tally_merkle_range_hash(uint64_t start, uint64_t end, tally_merkle_node_fn fn,
    void *arg, uint8_t out[TALLY_HASH_LEN])
{
	uint8_t left[TALLY_HASH_LEN], right[TALLY_HASH_LEN];
	uint64_t n, k;
	int r;

	if (end <= start)
		return TALLY_ERR_INVALID;
	n = end - start;
	/* A perfect subtree aligned on its own size is stored as such. */
	if (is_pow2(n) && start % n == 0)
		return fn(arg, (unsigned)__builtin_ctzll(n), start / n, out);
	/* MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])), §2.1.1. */
	k = split_k(n);
	if ((r = tally_merkle_range_hash(start, start + k, fn, arg, left)) != 0 ||
	    (r = tally_merkle_range_hash(start + k, end, fn, arg, right)) != 0)
		return r;
	tally_merkle_node_hash(left, right, out);
	return 0;
}

/* Appends hash MTH(D[start:end]) to proof, bounded by TALLY_PROOF_MAX. */
static int
proof_push(uint64_t start, uint64_t end, tally_merkle_node_fn fn, void *arg,
    uint8_t proof[][TALLY_HASH_LEN], size_t *len)
{
	if (*len >= TALLY_PROOF_MAX)
		return TALLY_ERR_TOO_LARGE;
	return tally_merkle_range_hash(start, end, fn, arg, proof[(*len)++]);
}

/* PATH(m, D[start:start+n]) of §2.1.3.1, appended to proof:
 *   PATH(0, {d0}) = {}
 *   m < k:  PATH(m, D[0:k]) : MTH(D[k:n])
 *   m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k]) */
static int
path(uint64_t m, uint64_t start, uint64_t n, tally_merkle_node_fn fn, void *arg,
    uint8_t proof[][TALLY_HASH_LEN], size_t *len)
{
	uint64_t k;
	int r;

	if (n == 1)
		return 0;
	k = split_k(n);
	if (m < k) {
		if ((r = path(m, start, k, fn, arg, proof, len)) != 0)
			return r;
		return proof_push(start + k, start + n, fn, arg, proof, len);
	}
	if ((r = path(m - k, start + k, n - k, fn, arg, proof, len)) != 0)
		return r;
	return proof_push(start, start + k, fn, arg, proof, len);
}

int
tally_merkle_inclusion_proof(uint64_t index, uint64_t size, tally_merkle_node_fn fn,
    void *arg, uint8_t proof[][TALLY_HASH_LEN], size_t *n)
{
	size_t len = 0;
	int r;

	if (index >= size)
		return TALLY_ERR_INVALID;
	if ((r = path(index, 0, size, fn, arg, proof, &len)) != 0)
		return r;
	*n = len;
	return 0;
}

/* SUBPROOF(m, D[start:start+n], b) of §2.1.4.1, appended to proof:
 *   SUBPROOF(m, D[m], true)  = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
 *   m > k:  SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) */
static int
subproof(uint64_t m, uint64_t start, uint64_t n, int b, tally_merkle_node_fn fn,
    void *arg, uint8_t proof[][TALLY_HASH_LEN], size_t *len)
{
	uint64_t k;
	int r;

	if (m == n)
		return b ? 0 : proof_push(start, start + n, fn, arg, proof, len);
	k = split_k(n);
	if (m <= k) {
		if ((r = subproof(m, start, k, b, fn, arg, proof, len)) != 0)
			return r;
		return proof_push(start + k, start + n, fn, arg, proof, len);
	}
	if ((r = subproof(m - k, start + k, n - k, 0, fn, arg, proof, len)) != 0)
		return r;
	return proof_push(start, start + k, fn, arg, proof, len);
}

int
tally_merkle_consistency_proof(uint64_t m, uint64_t n, tally_merkle_node_fn fn,
    void *arg, uint8_t proof[][TALLY_HASH_LEN], size_t *len)
{
	size_t count = 0;
	int r;

	if (m == 0 || m > n)
		return TALLY_ERR_INVALID;
	/* PROOF(m, D[n]) = SUBPROOF(m, D[n], true) */
	if ((r = subproof(m, 0, n, 1, fn, arg, proof, &count)) != 0)
		return r;
	*len = count;
	return 0;
}

/* Right-shifts fn and sn together until LSB(fn) is set or fn is 0. */
static void
shift_to_set(uint64_t *fn, uint64_t *sn)
{
	while (*fn != 0 && (*fn & 1) == 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int
tally_merkle_verify_inclusion(const uint8_t leaf_hash[TALLY_HASH_LEN], uint64_t index,
    uint64_t size, const uint8_t proof[][TALLY_HASH_LEN], size_t n,
    const uint8_t root[TALLY_HASH_LEN])
{
	uint8_t r[TALLY_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (index >= size || n > TALLY_PROOF_MAX)
		return TALLY_ERR_INVALID;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, TALLY_HASH_LEN);
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return TALLY_ERR_INVALID;	/* proof too long */
		if ((fn & 1) || fn == sn) {
			tally_merkle_node_hash(proof[i], r, r);
			if ((fn & 1) == 0)
				shift_to_set(&fn, &sn);
		} else {
			tally_merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return TALLY_ERR_INVALID;		/* proof too short */
	return memcmp(r, root, TALLY_HASH_LEN) == 0 ? 0 : TALLY_ERR_MISMATCH;
}

int
tally_merkle_verify_consistency(uint64_t m, uint64_t n,
    const uint8_t root_m[TALLY_HASH_LEN], const uint8_t root_n[TALLY_HASH_LEN],
    const uint8_t proof[][TALLY_HASH_LEN], size_t len)
{
	uint8_t fr[TALLY_HASH_LEN], sr[TALLY_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (m == 0 || m > n || len > TALLY_PROOF_MAX)
		return TALLY_ERR_INVALID;
	if (m == n) {
		if (len != 0)
			return TALLY_ERR_INVALID;
		return memcmp(root_m, root_n, TALLY_HASH_LEN) == 0 ? 0 : TALLY_ERR_MISMATCH;
	}
	if (len == 0)
		return TALLY_ERR_INVALID;
	/* If m is a power of 2, first_hash is prepended to the path. */
	i = is_pow2(m) ? 0 : 1;
	memcpy(fr, is_pow2(m) ? root_m : proof[0], TALLY_HASH_LEN);
	memcpy(sr, fr, TALLY_HASH_LEN);
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < len; i++) {
		if (sn == 0)
			return TALLY_ERR_INVALID;	/* proof too long */
		if ((fn & 1) || fn == sn) {
			tally_merkle_node_hash(proof[i], fr, fr);
			tally_merkle_node_hash(proof[i], sr, sr);
			if ((fn & 1) == 0)
				shift_to_set(&fn, &sn);
		} else {
			tally_merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return TALLY_ERR_INVALID;		/* proof too short */
	if (memcmp(fr, root_m, TALLY_HASH_LEN) != 0 || memcmp(sr, root_n, TALLY_HASH_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	return 0;
}

int
tally_merkle_frontier_set(struct tally_merkle_frontier *f, uint64_t size,
    const uint8_t nodes[][TALLY_HASH_LEN], unsigned count)
{
	if (count != (unsigned)__builtin_popcountll(size))
		return TALLY_ERR_INVALID;
	memset(f, 0, sizeof(*f));
	f->size = size;
	f->count = count;
	if (count > 0)
		memcpy(f->node, nodes, (size_t)count * TALLY_HASH_LEN);
	return 0;
}
