/*
 * merkle.h - RFC 9162 §2.1 Merkle Tree Hash over SHA-256.
 *
 *   MTH({})      = SHA-256()
 *   leaf hash    = SHA-256(0x00 || d)                       (§2.1.1)
 *   node hash    = SHA-256(0x01 || left || right)           (§2.1.1)
 *   MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of 2 < n
 *
 * The frontier (a compact range [0, size)) holds one subtree root per set
 * bit of size, largest first, so appending a leaf and computing the root
 * cost O(log size) without rereading the log.
 */
#ifndef TALLY_MERKLE_H
#define TALLY_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define TALLY_HASH_LEN 32
#define TALLY_MERKLE_MAX_HEIGHT 64

struct tally_merkle_frontier {
	uint64_t size;                                   /* leaves appended */
	uint8_t node[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN]; /* node[0] is the largest subtree */
	unsigned count;                                  /* == popcount(size) */
};

/* Leaf hash of len bytes of data (RFC 9162 §2.1.1). */
void tally_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TALLY_HASH_LEN]);

/* Interior node hash of two child hashes (RFC 9162 §2.1.1). */
void tally_merkle_node_hash(const uint8_t left[TALLY_HASH_LEN],
    const uint8_t right[TALLY_HASH_LEN], uint8_t out[TALLY_HASH_LEN]);

/* MTH of n leaves given by their leaf hashes (array of n*32 bytes); n == 0
 * gives SHA-256 of the empty string. Recursive per §2.1.1, O(n) time,
 * O(log n) stack. */
void tally_merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t out[TALLY_HASH_LEN]);

/* Empty frontier (size 0). */
void tally_merkle_frontier_init(struct tally_merkle_frontier *f);

/* Appends one leaf hash. Returns 0, or TALLY_ERR_TOO_LARGE at 2^64-1 leaves. */
int tally_merkle_frontier_append(struct tally_merkle_frontier *f,
    const uint8_t leaf_hash[TALLY_HASH_LEN]);

/* MTH of the leaves appended so far (equals tally_merkle_root over them). */
void tally_merkle_frontier_root(const struct tally_merkle_frontier *f,
    uint8_t out[TALLY_HASH_LEN]);

/* Storage form: 8-byte big-endian size then count*32 bytes of nodes.
 * encode needs 8 + 64*32 bytes at most in buf (TALLY_FRONTIER_ENC_MAX);
 * returns bytes written. decode returns 0 or TALLY_ERR_INVALID when the
 * length does not match popcount(size). */
#define TALLY_FRONTIER_ENC_MAX (8 + TALLY_MERKLE_MAX_HEIGHT * TALLY_HASH_LEN)
size_t tally_merkle_frontier_encode(const struct tally_merkle_frontier *f, uint8_t *buf);
int tally_merkle_frontier_decode(struct tally_merkle_frontier *f, const uint8_t *buf, size_t len);

#endif
