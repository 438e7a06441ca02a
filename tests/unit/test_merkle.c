/* test_merkle.c - RFC 9162 / RFC 6962 Merkle Tree Hash and the frontier
 * (merkle.h), against Certificate Transparency's published test vectors
 * (certificate-transparency-go merkle tests, transparency-dev/merkle
 * testonly). */
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

static const char *ct_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

/* Root of the first n leaves, n = 0..8. */
static const char *ct_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void
ct_leaf_hashes(uint8_t hashes[8][TALLY_HASH_LEN])
{
	uint8_t data[16];
	size_t len, i;

	for (i = 0; i < 8; i++) {
		assert_int_equal(tally_unhex_var(ct_leaves[i], data, sizeof(data), &len), 0);
		tally_merkle_leaf_hash(data, len, hashes[i]);
	}
}

static void
assert_hash_hex(const uint8_t h[TALLY_HASH_LEN], const char *want)
{
	char hex[2 * TALLY_HASH_LEN + 1];

	tally_hex(h, TALLY_HASH_LEN, hex);
	assert_string_equal(hex, want);
}

static void
test_ct_vectors(void **state)
{
	uint8_t hashes[8][TALLY_HASH_LEN], root[TALLY_HASH_LEN];
	struct tally_merkle_frontier f;
	uint64_t n;

	(void)state;
	ct_leaf_hashes(hashes);
	tally_merkle_frontier_init(&f);
	for (n = 0; n <= 8; n++) {
		tally_merkle_root(&hashes[0][0], n, root);
		assert_hash_hex(root, ct_roots[n]);
		tally_merkle_frontier_root(&f, root);
		assert_hash_hex(root, ct_roots[n]);
		assert_int_equal(f.size, n);
		if (n < 8)
			assert_int_equal(tally_merkle_frontier_append(&f, hashes[n]), 0);
	}
	/* The two-leaf root is the node hash of the two leaf hashes. */
	tally_merkle_node_hash(hashes[0], hashes[1], root);
	assert_hash_hex(root, ct_roots[2]);
}

#define NAIVE_MAX 300

static void
test_frontier_matches_naive(void **state)
{
	uint8_t (*hashes)[TALLY_HASH_LEN] = malloc(NAIVE_MAX * TALLY_HASH_LEN);
	uint8_t a[TALLY_HASH_LEN], b[TALLY_HASH_LEN], data[4];
	struct tally_merkle_frontier f;
	uint64_t n;

	(void)state;
	assert_non_null(hashes);
	tally_merkle_frontier_init(&f);
	for (n = 0; n <= NAIVE_MAX; n++) {
		tally_merkle_root(&hashes[0][0], n, a);
		tally_merkle_frontier_root(&f, b);
		assert_memory_equal(a, b, TALLY_HASH_LEN);
		assert_int_equal(f.count, __builtin_popcountll(n));
		if (n == NAIVE_MAX)
			break;
		data[0] = (uint8_t)n;
		data[1] = (uint8_t)(n >> 8);
		data[2] = 0xa5;
		data[3] = (uint8_t)(n * 7);
		tally_merkle_leaf_hash(data, sizeof(data), hashes[n]);
		assert_int_equal(tally_merkle_frontier_append(&f, hashes[n]), 0);
	}
	free(hashes);
}

static void
test_encode_decode(void **state)
{
	struct tally_merkle_frontier f, g;
	uint8_t buf[TALLY_FRONTIER_ENC_MAX + 1], leaf[TALLY_HASH_LEN], ra[32], rb[32];
	size_t len, n;

	(void)state;
	tally_merkle_frontier_init(&f);
	for (n = 0; n <= 45; n++) {
		len = tally_merkle_frontier_encode(&f, buf);
		assert_int_equal(len, 8 + 32 * (size_t)__builtin_popcountll(n));
		assert_int_equal(tally_merkle_frontier_decode(&g, buf, len), 0);
		assert_int_equal(g.size, f.size);
		assert_int_equal(g.count, f.count);
		tally_merkle_frontier_root(&f, ra);
		tally_merkle_frontier_root(&g, rb);
		assert_memory_equal(ra, rb, 32);
		/* Wrong lengths. */
		assert_int_equal(tally_merkle_frontier_decode(&g, buf, len + 1), TALLY_ERR_INVALID);
		if (len > 0)
			assert_int_equal(tally_merkle_frontier_decode(&g, buf, len - 1), TALLY_ERR_INVALID);
		memset(leaf, (int)n, sizeof(leaf));
		assert_int_equal(tally_merkle_frontier_append(&f, leaf), 0);
	}
	/* A size whose popcount does not match the nodes present. */
	len = tally_merkle_frontier_encode(&f, buf);	/* size 46: 3 nodes */
	buf[7] = 47;					/* 4 bits set */
	assert_int_equal(tally_merkle_frontier_decode(&g, buf, len), TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_frontier_decode(&g, buf, 0), TALLY_ERR_INVALID);
	assert_int_equal(tally_merkle_frontier_decode(&g, buf, 7), TALLY_ERR_INVALID);
	/* A corrupted node decodes (it is only bytes) but gives another root. */
	buf[7] = 46;
	buf[20] ^= 1;
	assert_int_equal(tally_merkle_frontier_decode(&g, buf, len), 0);
	tally_merkle_frontier_root(&f, ra);
	tally_merkle_frontier_root(&g, rb);
	assert_memory_not_equal(ra, rb, 32);
}

static void
test_frontier_full(void **state)
{
	struct tally_merkle_frontier f;
	uint8_t buf[TALLY_FRONTIER_ENC_MAX], leaf[TALLY_HASH_LEN] = { 0 };

	(void)state;
	/* 2^64-2 leaves: 63 nodes; one more fits, then the tree is full. */
	memset(buf, 0xff, 8);
	buf[7] = 0xfe;
	memset(buf + 8, 0x11, TALLY_FRONTIER_ENC_MAX - 8);
	assert_int_equal(tally_merkle_frontier_decode(&f, buf, 8 + 63 * 32), 0);
	assert_int_equal(f.count, 63);
	assert_int_equal(tally_merkle_frontier_append(&f, leaf), 0);
	assert_int_equal(f.count, 64);
	assert_int_equal(f.size, UINT64_MAX);
	assert_int_equal(tally_merkle_frontier_append(&f, leaf), TALLY_ERR_TOO_LARGE);
	assert_int_equal(f.size, UINT64_MAX);
	assert_int_equal(tally_merkle_frontier_encode(&f, buf), TALLY_FRONTIER_ENC_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct_vectors),
		cmocka_unit_test(test_frontier_matches_naive),
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_frontier_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
