/* test_merkle_proof.c - RFC 9162 §2.1.3/§2.1.4 inclusion and consistency
 * proofs (lib/merkle_proof.c): the published Certificate Transparency test
 * vectors, and a naive implementation (PATH/SUBPROOF written straight from
 * the RFC over an array of leaf hashes) for every tree size 1..300, every
 * leaf index and every old size m. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "err.h"
#include "merkle.h"
#include "util.h"

#define NMAX 300		/* largest tree checked against the naive proofs */
#define LEAVES (2 * NMAX)	/* leaves made, so that size 2n has a root too */
#define LEVELS 10		/* 2^9 = 512 <= LEAVES < 1024 */

/* A tree as a store of perfect-subtree hashes (what the callback reads),
 * plus memoized naive MTH(D[a:b]) for the naive proofs. */
struct tree {
	uint8_t leaf[LEAVES][TALLY_HASH_LEN];
	uint8_t node[LEVELS][LEAVES][TALLY_HASH_LEN];	/* node[l][i]: leaves [i<<l, (i+1)<<l) */
	uint8_t root[LEAVES + 1][TALLY_HASH_LEN];	/* MTH of the first n leaves */
	uint8_t (*mth)[TALLY_HASH_LEN];			/* naive memo, [a * (NMAX+1) + b] */
	uint8_t *have;
	uint64_t size;		/* tree size the generator may read from */
	unsigned bad_reads;	/* reads outside [0, size): must stay 0 */
	unsigned reads;
};

static int
tree_node(void *arg, unsigned level, uint64_t index, uint8_t out[TALLY_HASH_LEN])
{
	struct tree *t = arg;

	t->reads++;
	if (level >= LEVELS || ((index + 1) << level) > t->size) {
		t->bad_reads++;
		return TALLY_ERR_NOT_FOUND;
	}
	memcpy(out, t->node[level][index], TALLY_HASH_LEN);
	return 0;
}

static void
tree_build(struct tree *t, const uint8_t (*leaf)[TALLY_HASH_LEN], size_t nleaves)
{
	unsigned l;
	size_t i;

	memcpy(t->leaf, leaf, nleaves * TALLY_HASH_LEN);
	for (i = 0; i < nleaves; i++)
		memcpy(t->node[0][i], leaf[i], TALLY_HASH_LEN);
	for (l = 1; l < LEVELS; l++)
		for (i = 0; ((i + 1) << l) <= nleaves; i++)
			tally_merkle_node_hash(t->node[l - 1][2 * i], t->node[l - 1][2 * i + 1],
			    t->node[l][i]);
	for (i = 0; i <= nleaves; i++)
		tally_merkle_root(&t->leaf[0][0], i, t->root[i]);
	t->size = nleaves;
}

/* Naive MTH(D[a:b]) per §2.1.1 over the leaf array, memoized. */
static const uint8_t *
naive_mth(struct tree *t, uint64_t a, uint64_t b)
{
	size_t slot = (size_t)a * (NMAX + 1) + (size_t)b;

	assert_true(b <= NMAX && a < b);
	if (!t->have[slot]) {
		tally_merkle_root(&t->leaf[a][0], b - a, t->mth[slot]);
		t->have[slot] = 1;
	}
	return t->mth[slot];
}

static uint64_t
naive_k(uint64_t n)
{
	uint64_t k = 1;

	while (2 * k < n)
		k *= 2;
	return k;
}

/* PATH(m, D[a:a+n]) exactly as RFC 9162 §2.1.3.1 words it. */
static void
naive_path(struct tree *t, uint64_t m, uint64_t a, uint64_t n,
    uint8_t out[][TALLY_HASH_LEN], size_t *len)
{
	uint64_t k;

	if (n == 1)
		return;				/* PATH(0, {d(0)}) = {} */
	k = naive_k(n);
	if (m < k) {				/* PATH(m, D[0:k]) : MTH(D[k:n]) */
		naive_path(t, m, a, k, out, len);
		memcpy(out[(*len)++], naive_mth(t, a + k, a + n), TALLY_HASH_LEN);
	} else {				/* PATH(m - k, D[k:n]) : MTH(D[0:k]) */
		naive_path(t, m - k, a + k, n - k, out, len);
		memcpy(out[(*len)++], naive_mth(t, a, a + k), TALLY_HASH_LEN);
	}
}

/* SUBPROOF(m, D[a:a+n], b) exactly as RFC 9162 §2.1.4.1 words it. */
static void
naive_subproof(struct tree *t, uint64_t m, uint64_t a, uint64_t n, int b,
    uint8_t out[][TALLY_HASH_LEN], size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b)				/* SUBPROOF(m, D[m], false) = {MTH(D[m])} */
			memcpy(out[(*len)++], naive_mth(t, a, a + n), TALLY_HASH_LEN);
		return;				/* SUBPROOF(m, D[m], true) = {} */
	}
	k = naive_k(n);
	if (m <= k) {				/* SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) */
		naive_subproof(t, m, a, k, b, out, len);
		memcpy(out[(*len)++], naive_mth(t, a + k, a + n), TALLY_HASH_LEN);
	} else {				/* SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) */
		naive_subproof(t, m - k, a + k, n - k, 0, out, len);
		memcpy(out[(*len)++], naive_mth(t, a, a + k), TALLY_HASH_LEN);
	}
}

static struct tree *
tree_new(void)
{
	uint8_t (*leaf)[TALLY_HASH_LEN] = malloc(LEAVES * TALLY_HASH_LEN);
	struct tree *t = calloc(1, sizeof(*t));
	uint8_t data[6];
	size_t i;

	assert_non_null(leaf);
	assert_non_null(t);
	for (i = 0; i < LEAVES; i++) {
		memcpy(data, "leaf", 4);
		data[4] = (uint8_t)(i >> 8);
		data[5] = (uint8_t)i;
		tally_merkle_leaf_hash(data, sizeof(data), leaf[i]);
	}
	tree_build(t, (const uint8_t (*)[TALLY_HASH_LEN])leaf, LEAVES);
	free(leaf);
	t->mth = calloc((NMAX + 1) * (NMAX + 1), TALLY_HASH_LEN);
	t->have = calloc((NMAX + 1) * (NMAX + 1), 1);
	assert_non_null(t->mth);
	assert_non_null(t->have);
	return t;
}

static void
tree_free(struct tree *t)
{
	free(t->mth);
	free(t->have);
	free(t);
}

/* ---- Published vectors ---- */

/* The 8-leaf tree of RFC 6962's reference tests, as in test_merkle.c, with
 * the inclusion and consistency proofs published in
 * github.com/transparency-dev/merkle proof/verify_test.go (formerly
 * google/trillian merkle/log_verifier_test.go and
 * certificate-transparency-go merkle/log_verifier_test.go): there the
 * leaf is numbered from 1, here "index" is 0-based. */
static const char *ct_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

struct vector {
	uint64_t a, n;		/* inclusion: index, size; consistency: m, n */
	size_t len;
	const char *proof[3];
};

static const struct vector ct_inclusion[] = {
	{ 0, 1, 0, { NULL } },
	{ 0, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, 3, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, 1, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, 3, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static const struct vector ct_consistency[] = {
	{ 1, 1, 0, { NULL } },
	{ 1, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 6, 8, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 5, 2, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 6, 7, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

/* Roots of the first n leaves (the same source). */
static const char *ct_root7 = "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c";

static struct tree *
ct_tree(void)
{
	uint8_t leaf[8][TALLY_HASH_LEN], data[16];
	struct tree *t = calloc(1, sizeof(*t));
	size_t len, i;

	assert_non_null(t);
	for (i = 0; i < 8; i++) {
		assert_int_equal(tally_unhex_var(ct_leaves[i], data, sizeof(data), &len), 0);
		tally_merkle_leaf_hash(data, len, leaf[i]);
	}
	tree_build(t, (const uint8_t (*)[TALLY_HASH_LEN])leaf, 8);
	return t;
}

static void
check_vector(const struct vector *v, uint8_t got[][TALLY_HASH_LEN], size_t n)
{
	uint8_t want[TALLY_HASH_LEN];
	size_t i;

	assert_int_equal(n, v->len);
	for (i = 0; i < n; i++) {
		assert_int_equal(tally_unhex(v->proof[i], want, TALLY_HASH_LEN), 0);
		assert_memory_equal(got[i], want, TALLY_HASH_LEN);
	}
}

static void
test_ct_vectors(void **state)
{
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN], want[TALLY_HASH_LEN];
	struct tree *t = ct_tree();
	const struct vector *v;
	size_t i, n;

	(void)state;
	assert_int_equal(tally_unhex(ct_root7, want, TALLY_HASH_LEN), 0);
	assert_memory_equal(t->root[7], want, TALLY_HASH_LEN);
	for (i = 0; i < sizeof(ct_inclusion) / sizeof(ct_inclusion[0]); i++) {
		v = &ct_inclusion[i];
		t->size = v->n;
		assert_int_equal(tally_merkle_inclusion_proof(v->a, v->n, tree_node, t, proof, &n), 0);
		check_vector(v, proof, n);
		assert_int_equal(tally_merkle_verify_inclusion(t->leaf[v->a], v->a, v->n,
		    (const uint8_t (*)[TALLY_HASH_LEN])proof, n, t->root[v->n]), 0);
	}
	for (i = 0; i < sizeof(ct_consistency) / sizeof(ct_consistency[0]); i++) {
		v = &ct_consistency[i];
		t->size = v->n;
		assert_int_equal(tally_merkle_consistency_proof(v->a, v->n, tree_node, t, proof, &n), 0);
		check_vector(v, proof, n);
		assert_int_equal(tally_merkle_verify_consistency(v->a, v->n, t->root[v->a],
		    t->root[v->n], (const uint8_t (*)[TALLY_HASH_LEN])proof, n), 0);
	}
	assert_int_equal(t->bad_reads, 0);
	free(t);
}

/* ---- Every size 1..NMAX against the naive proofs ---- */

typedef const uint8_t (*cproof)[TALLY_HASH_LEN];

/* Bits of proof hash i to flip: all of them for small trees, one (moving
 * with n, index and i) otherwise, to keep the run short. */
static unsigned
flip_bits(uint64_t n, uint64_t a, size_t i, unsigned *first)
{
	if (n <= 16) {
		*first = 0;
		return 8 * TALLY_HASH_LEN;
	}
	*first = (unsigned)((n * 31 + a * 7 + i * 13) % (8 * TALLY_HASH_LEN));
	return 1;
}

static void
inclusion_flips(struct tree *t, uint64_t m, uint64_t n, uint8_t proof[][TALLY_HASH_LEN],
    size_t len)
{
	unsigned b, first, count;
	size_t i;

	for (i = 0; i < len; i++) {
		count = flip_bits(n, m, i, &first);
		for (b = first; b < first + count; b++) {
			proof[i][b / 8] ^= (uint8_t)(1u << (b % 8));
			assert_int_equal(tally_merkle_verify_inclusion(t->leaf[m], m, n,
			    (cproof)proof, len, t->root[n]), TALLY_ERR_MISMATCH);
			proof[i][b / 8] ^= (uint8_t)(1u << (b % 8));
		}
	}
}

static void
check_inclusion(struct tree *t, uint64_t m, uint64_t n)
{
	uint8_t proof[TALLY_PROOF_MAX + 1][TALLY_HASH_LEN], naive[TALLY_PROOF_MAX][TALLY_HASH_LEN];
	const uint8_t *leaf = t->leaf[m], *root = t->root[n];
	size_t len = 0, nlen = 0;

	t->size = n;
	assert_int_equal(tally_merkle_inclusion_proof(m, n, tree_node, t, proof, &len), 0);
	naive_path(t, m, 0, n, naive, &nlen);
	assert_int_equal(len, nlen);
	if (len > 0)
		assert_memory_equal(proof, naive, len * TALLY_HASH_LEN);
	assert_int_equal(tally_merkle_verify_inclusion(leaf, m, n, (cproof)proof, len, root), 0);
	inclusion_flips(t, m, n, proof, len);
	/* Another leaf, a wrong index, a wrong size (with that size's root, or
	 * twice the size: one level more), a truncated or extended proof. */
	assert_int_equal(tally_merkle_verify_inclusion(t->leaf[m + 1], m, n, (cproof)proof,
	    len, root), TALLY_ERR_MISMATCH);
	assert_int_not_equal(tally_merkle_verify_inclusion(leaf, m + 1, n, (cproof)proof,
	    len, root), 0);
	if (m > 0)
		assert_int_not_equal(tally_merkle_verify_inclusion(leaf, m - 1, n,
		    (cproof)proof, len, root), 0);
	assert_int_not_equal(tally_merkle_verify_inclusion(leaf, m, n + 1, (cproof)proof,
	    len, t->root[n + 1]), 0);
	if (m < n - 1)
		assert_int_not_equal(tally_merkle_verify_inclusion(leaf, m, n - 1,
		    (cproof)proof, len, t->root[n - 1]), 0);
	assert_int_not_equal(tally_merkle_verify_inclusion(leaf, m, 2 * n, (cproof)proof,
	    len, root), 0);
	if (len > 0)
		assert_int_equal(tally_merkle_verify_inclusion(leaf, m, n, (cproof)proof,
		    len - 1, root), TALLY_ERR_INVALID);
	memcpy(proof[len], root, TALLY_HASH_LEN);
	assert_int_equal(tally_merkle_verify_inclusion(leaf, m, n, (cproof)proof, len + 1,
	    root), TALLY_ERR_INVALID);
}

static void
consistency_bad(struct tree *t, uint64_t m, uint64_t n, uint8_t proof[][TALLY_HASH_LEN],
    size_t len)
{
	const uint8_t *rm = t->root[m], *rn = t->root[n];
	unsigned b, first, count;
	size_t i;

	for (i = 0; i < len; i++) {
		count = flip_bits(n, m, i, &first);
		for (b = first; b < first + count; b++) {
			proof[i][b / 8] ^= (uint8_t)(1u << (b % 8));
			assert_int_equal(tally_merkle_verify_consistency(m, n, rm, rn,
			    (cproof)proof, len), TALLY_ERR_MISMATCH);
			proof[i][b / 8] ^= (uint8_t)(1u << (b % 8));
		}
	}
	assert_int_not_equal(tally_merkle_verify_consistency(m, n, rm, rn, (cproof)proof,
	    len - 1), 0);
	assert_int_equal(tally_merkle_verify_consistency(m, n, rm, rn, (cproof)proof, 0),
	    TALLY_ERR_INVALID);
	memcpy(proof[len], rn, TALLY_HASH_LEN);
	assert_int_not_equal(tally_merkle_verify_consistency(m, n, rm, rn, (cproof)proof,
	    len + 1), 0);
	assert_int_not_equal(tally_merkle_verify_consistency(m, n, rn, rm, (cproof)proof,
	    len), 0);
	assert_int_not_equal(tally_merkle_verify_consistency(m, n + 1, rm, t->root[n + 1],
	    (cproof)proof, len), 0);
	if (m + 1 < n)
		assert_int_not_equal(tally_merkle_verify_consistency(m + 1, n, t->root[m + 1],
		    rn, (cproof)proof, len), 0);
	if (m > 1)
		assert_int_not_equal(tally_merkle_verify_consistency(m - 1, n, t->root[m - 1],
		    rn, (cproof)proof, len), 0);
}

static void
check_consistency(struct tree *t, uint64_t m, uint64_t n)
{
	uint8_t proof[TALLY_PROOF_MAX + 1][TALLY_HASH_LEN], naive[TALLY_PROOF_MAX][TALLY_HASH_LEN];
	size_t len = 0, nlen = 0;

	t->size = n;
	assert_int_equal(tally_merkle_consistency_proof(m, n, tree_node, t, proof, &len), 0);
	naive_subproof(t, m, 0, n, 1, naive, &nlen);	/* PROOF = SUBPROOF(m, D[n], true) */
	assert_int_equal(len, nlen);
	if (len > 0)
		assert_memory_equal(proof, naive, len * TALLY_HASH_LEN);
	assert_int_equal(tally_merkle_verify_consistency(m, n, t->root[m], t->root[n],
	    (cproof)proof, len), 0);
	if (m < n) {
		assert_true(len > 0);
		consistency_bad(t, m, n, proof, len);
		return;
	}
	/* m == n: the proof is empty, the roots must be equal. */
	assert_int_equal(len, 0);
	memcpy(proof[0], t->root[n], TALLY_HASH_LEN);
	assert_int_equal(tally_merkle_verify_consistency(m, n, t->root[m], t->root[n],
	    (cproof)proof, 1), TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_consistency(m, n, t->root[m], t->root[n + 1],
	    (cproof)proof, 0), TALLY_ERR_MISMATCH);
}

static void
test_every_size_against_naive(void **state)
{
	uint8_t root[TALLY_HASH_LEN];
	struct tree *t = tree_new();
	uint64_t n, m;

	(void)state;
	for (n = 1; n <= NMAX; n++) {
		t->size = n;
		assert_int_equal(tally_merkle_range_hash(0, n, tree_node, t, root), 0);
		assert_memory_equal(root, t->root[n], TALLY_HASH_LEN);
		for (m = 0; m < n; m++)
			check_inclusion(t, m, n);
		for (m = 1; m <= n; m++)
			check_consistency(t, m, n);
	}
	/* The generator read only subtrees inside the tree it was asked about. */
	assert_int_equal(t->bad_reads, 0);
	tree_free(t);
}

/* ---- Range hashes, frontier_set, errors, large trees ---- */

static void
test_range_hash(void **state)
{
	uint8_t h[TALLY_HASH_LEN];
	struct tree *t = tree_new();
	uint64_t a, b;

	(void)state;
	t->size = NMAX;
	for (a = 0; a < 70; a++)
		for (b = a + 1; b <= 70; b++) {
			assert_int_equal(tally_merkle_range_hash(a, b, tree_node, t, h), 0);
			assert_memory_equal(h, naive_mth(t, a, b), TALLY_HASH_LEN);
		}
	for (a = 0; a < NMAX; a += 37) {
		assert_int_equal(tally_merkle_range_hash(a, NMAX, tree_node, t, h), 0);
		assert_memory_equal(h, naive_mth(t, a, NMAX), TALLY_HASH_LEN);
	}
	assert_int_equal(tally_merkle_range_hash(5, 5, tree_node, t, h), TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_range_hash(6, 5, tree_node, t, h), TALLY_ERR_INVALID);
	assert_int_equal(t->bad_reads, 0);
	tree_free(t);
}

static void
test_frontier_set(void **state)
{
	uint8_t nodes[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN], root[TALLY_HASH_LEN];
	struct tally_merkle_frontier f, g;
	struct tree *t = tree_new();
	uint64_t n, start;
	unsigned count, l;

	(void)state;
	tally_merkle_frontier_init(&g);
	for (n = 0; n <= NMAX; n++) {
		/* The compact range [0, n): one perfect subtree per set bit, largest first. */
		count = 0;
		start = 0;
		for (l = LEVELS; l-- > 0;)
			if (n & ((uint64_t)1 << l)) {
				memcpy(nodes[count++], t->node[l][start >> l], TALLY_HASH_LEN);
				start += (uint64_t)1 << l;
			}
		assert_int_equal(tally_merkle_frontier_set(&f, n, (cproof)nodes, count), 0);
		assert_int_equal(f.size, g.size);
		assert_int_equal(f.count, g.count);
		assert_memory_equal(f.node, g.node, (size_t)count * TALLY_HASH_LEN);
		tally_merkle_frontier_root(&f, root);
		assert_memory_equal(root, t->root[n], TALLY_HASH_LEN);
		/* Appending to a set frontier continues the same tree. */
		assert_int_equal(tally_merkle_frontier_append(&f, t->leaf[n]), 0);
		tally_merkle_frontier_root(&f, root);
		assert_memory_equal(root, t->root[n + 1], TALLY_HASH_LEN);
		assert_int_equal(tally_merkle_frontier_append(&g, t->leaf[n]), 0);
		if (count > 0)
			assert_int_equal(tally_merkle_frontier_set(&f, n, (cproof)nodes, count - 1),
			    TALLY_ERR_INVALID);
		assert_int_equal(tally_merkle_frontier_set(&f, n, (cproof)nodes, count + 1),
		    TALLY_ERR_INVALID);
	}
	tree_free(t);
}

static int
failing_node(void *arg, unsigned level, uint64_t index, uint8_t out[TALLY_HASH_LEN])
{
	(void)arg;
	(void)level;
	(void)index;
	memset(out, 0, TALLY_HASH_LEN);
	return TALLY_ERR_STORAGE;
}

static void
test_errors(void **state)
{
	uint8_t proof[TALLY_PROOF_MAX + 1][TALLY_HASH_LEN] = { { 0 } }, h[TALLY_HASH_LEN] = { 0 };
	struct tree *t = ct_tree();
	size_t n = 99;

	(void)state;
	assert_int_equal(tally_merkle_inclusion_proof(8, 8, tree_node, t, proof, &n),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_inclusion_proof(0, 0, tree_node, t, proof, &n),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_consistency_proof(0, 8, tree_node, t, proof, &n),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_consistency_proof(9, 8, tree_node, t, proof, &n),
	    TALLY_ERR_INVALID);
	assert_int_equal(n, 99);
	/* The store's error comes back unchanged. */
	assert_int_equal(tally_merkle_inclusion_proof(3, 8, failing_node, NULL, proof, &n),
	    TALLY_ERR_STORAGE);
	assert_int_equal(tally_merkle_consistency_proof(3, 8, failing_node, NULL, proof, &n),
	    TALLY_ERR_STORAGE);
	assert_int_equal(tally_merkle_range_hash(0, 5, failing_node, NULL, h), TALLY_ERR_STORAGE);
	assert_int_equal(n, 99);
	/* A one-leaf tree: no proof, root == leaf hash; no access to the store. */
	assert_int_equal(tally_merkle_inclusion_proof(0, 1, failing_node, NULL, proof, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tally_merkle_verify_inclusion(t->leaf[0], 0, 1, (cproof)proof, 0,
	    t->leaf[0]), 0);
	/* Verifier argument checks. */
	assert_int_equal(tally_merkle_verify_inclusion(h, 0, 0, (cproof)proof, 0, h),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_inclusion(h, 3, 3, (cproof)proof, 2, h),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_inclusion(h, 0, UINT64_MAX, (cproof)proof,
	    TALLY_PROOF_MAX + 1, h), TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_consistency(0, 0, h, h, (cproof)proof, 0),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_consistency(0, 5, h, h, (cproof)proof, 1),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_consistency(6, 5, h, h, (cproof)proof, 1),
	    TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_verify_consistency(1, UINT64_MAX, h, h, (cproof)proof,
	    TALLY_PROOF_MAX + 1), TALLY_ERR_INVALID);
	free(t);
}

/* A store of a huge tree whose leaves are all the same, so that the hash
 * of a perfect subtree depends on its level only: h[l + 1] = node(h[l],
 * h[l]). Only the proof arithmetic for sizes up to 2^64 - 1 is under test
 * here (indices, shifts, lengths, store reads). */
struct big {
	uint8_t h[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN];
	unsigned reads;
};

static int
synthetic_node(void *arg, unsigned level, uint64_t index, uint8_t out[TALLY_HASH_LEN])
{
	struct big *b = arg;

	(void)index;
	b->reads++;
	assert_true(level < TALLY_MERKLE_MAX_HEIGHT);
	memcpy(out, b->h[level], TALLY_HASH_LEN);
	return 0;
}

static void
large_inclusion(struct big *b, uint64_t index, uint64_t size,
    const uint8_t root[TALLY_HASH_LEN])
{
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN], leaf[TALLY_HASH_LEN];
	size_t n;

	b->reads = 0;
	assert_int_equal(tally_merkle_inclusion_proof(index, size, synthetic_node, b,
	    proof, &n), 0);
	assert_true(n <= 64);
	assert_true(b->reads <= 64 * 64);	/* O(log^2 n) store reads */
	memcpy(leaf, b->h[0], TALLY_HASH_LEN);
	assert_int_equal(tally_merkle_verify_inclusion(leaf, index, size, (cproof)proof, n,
	    root), 0);
	leaf[0] ^= 1;
	assert_int_equal(tally_merkle_verify_inclusion(leaf, index, size, (cproof)proof, n,
	    root), TALLY_ERR_MISMATCH);
}

/* Length of SUBPROOF(m, D[n], b) (§2.1.4.1), counted without hashing. */
static size_t
subproof_len(uint64_t m, uint64_t n, int b)
{
	uint64_t k = 1;

	if (m == n)
		return b ? 0 : 1;
	while (k < n - k)
		k *= 2;		/* largest power of two < n, without overflow */
	return 1 + (m <= k ? subproof_len(m, k, b) : subproof_len(m - k, n - k, 0));
}

static void
large_consistency(struct big *b, uint64_t m, uint64_t size,
    const uint8_t root[TALLY_HASH_LEN])
{
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN], rm[TALLY_HASH_LEN];
	size_t n;
	int r;

	assert_int_equal(tally_merkle_range_hash(0, m, synthetic_node, b, rm), 0);
	b->reads = 0;
	r = tally_merkle_consistency_proof(m, size, synthetic_node, b, proof, &n);
	if (subproof_len(m, size, 1) > TALLY_PROOF_MAX) {
		assert_int_equal(r, TALLY_ERR_TOO_LARGE);
		return;
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, subproof_len(m, size, 1));
	assert_true(b->reads <= 64 * 64);
	assert_int_equal(tally_merkle_verify_consistency(m, size, rm, root, (cproof)proof, n), 0);
	if (n > 0) {
		proof[n - 1][31] ^= 0x80;
		assert_int_equal(tally_merkle_verify_consistency(m, size, rm, root,
		    (cproof)proof, n), TALLY_ERR_MISMATCH);
	}
}

static void
test_large_sizes(void **state)
{
	static const uint64_t sizes[] = {
		((uint64_t)1 << 32) + 3, (uint64_t)1 << 40, ((uint64_t)1 << 63) + 5,
		UINT64_MAX - 1, UINT64_MAX,
	};
	uint8_t root[TALLY_HASH_LEN];
	struct big b;
	unsigned i;
	uint64_t s;

	(void)state;
	tally_merkle_leaf_hash((const uint8_t *)"big", 3, b.h[0]);
	for (i = 1; i < TALLY_MERKLE_MAX_HEIGHT; i++)
		tally_merkle_node_hash(b.h[i - 1], b.h[i - 1], b.h[i]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		s = sizes[i];
		b.reads = 0;
		assert_int_equal(tally_merkle_range_hash(0, s, synthetic_node, &b, root), 0);
		assert_int_equal(b.reads, __builtin_popcountll(s));	/* one per set bit */
		large_inclusion(&b, 0, s, root);
		large_inclusion(&b, s / 2 + 1, s, root);
		large_inclusion(&b, s - 1, s, root);
		large_consistency(&b, 1, s, root);
		large_consistency(&b, s / 3, s, root);
		large_consistency(&b, s - 1, s, root);
		large_consistency(&b, s, s, root);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct_vectors),
		cmocka_unit_test(test_every_size_against_naive),
		cmocka_unit_test(test_range_hash),
		cmocka_unit_test(test_frontier_set),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_large_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
