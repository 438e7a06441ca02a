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

/*
 * Proofs, RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency).
 *
 * Generation reads hashes of perfect subtrees through a callback: node
 * (level, index) is MTH of leaves [index << level, (index + 1) << level);
 * level 0 is a leaf hash. Hashes of the other (right-edge) subtrees the
 * algorithms need are combined from perfect ones, so a store that keeps
 * every perfect subtree's hash answers any proof in O(log^2 n) lookups
 * without rereading the log.
 */
#define TALLY_PROOF_MAX 64   /* hashes in a proof, at most */

/* Writes the hash of perfect subtree (level, index) into out. Returns 0 or
 * a negative tally_err, which the generator returns unchanged. */
typedef int (*tally_merkle_node_fn)(void *arg, unsigned level, uint64_t index,
    uint8_t out[TALLY_HASH_LEN]);

/* MTH of leaves [start, end) from perfect subtree hashes (end > start).
 * Errors: TALLY_ERR_INVALID (empty range), those of fn. */
int tally_merkle_range_hash(uint64_t start, uint64_t end, tally_merkle_node_fn fn,
    void *arg, uint8_t out[TALLY_HASH_LEN]);

/* PATH(index, D[size]) of RFC 9162 §2.1.3.1 into proof (room for
 * TALLY_PROOF_MAX hashes of 32 bytes); *n receives the count. Hashes are
 * in the RFC's order: the leaf's sibling first, the root's child last.
 * Errors: TALLY_ERR_INVALID (index >= size), those of fn. */
int tally_merkle_inclusion_proof(uint64_t index, uint64_t size, tally_merkle_node_fn fn,
    void *arg, uint8_t proof[][TALLY_HASH_LEN], size_t *n);

/* PROOF(m, D[n]) of RFC 9162 §2.1.4.1 (0 < m <= n; m == n gives an empty
 * proof). Same buffer rules. Errors: TALLY_ERR_INVALID (m == 0, m > n),
 * TALLY_ERR_TOO_LARGE (more than TALLY_PROOF_MAX hashes: only possible for
 * n near 2^64), those of fn. */
int tally_merkle_consistency_proof(uint64_t m, uint64_t n, tally_merkle_node_fn fn,
    void *arg, uint8_t proof[][TALLY_HASH_LEN], size_t *len);

/* Verifies an inclusion proof (RFC 9162 §2.1.3.2) of leaf_hash at index in
 * a tree of size leaves with root. Returns 0, TALLY_ERR_INVALID (index >=
 * size, wrong proof length), TALLY_ERR_MISMATCH (root differs). */
int tally_merkle_verify_inclusion(const uint8_t leaf_hash[TALLY_HASH_LEN], uint64_t index,
    uint64_t size, const uint8_t proof[][TALLY_HASH_LEN], size_t n,
    const uint8_t root[TALLY_HASH_LEN]);

/* Verifies a consistency proof (RFC 9162 §2.1.4.2) between the tree of m
 * leaves with root_m and the tree of n leaves with root_n (0 < m <= n;
 * m == n needs an empty proof and equal roots). Returns 0,
 * TALLY_ERR_INVALID (sizes, proof length), TALLY_ERR_MISMATCH. */
int tally_merkle_verify_consistency(uint64_t m, uint64_t n,
    const uint8_t root_m[TALLY_HASH_LEN], const uint8_t root_n[TALLY_HASH_LEN],
    const uint8_t proof[][TALLY_HASH_LEN], size_t len);

/* Root of the tree whose compact range is f after appending more leaves
 * is tally_merkle_frontier_root; this sets f from an explicit list of
 * count subtree hashes (largest first) for a tree of size leaves, as
 * carried in an export header. Returns 0 or TALLY_ERR_INVALID when count
 * != popcount(size). */
int tally_merkle_frontier_set(struct tally_merkle_frontier *f, uint64_t size,
    const uint8_t nodes[][TALLY_HASH_LEN], unsigned count);

#endif
