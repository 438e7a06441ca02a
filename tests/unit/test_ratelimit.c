/* test_ratelimit.c - daemon/ratelimit.c: the per-jig GCRA bucket and its
 * table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/ratelimit.h"
#include "err.h"

#define S 1000000000ull
#define T0 (1000 * S)    /* an arbitrary monotonic start */

static void
test_burst_then_rate(void **state)
{
	struct ratelimit_entry e = { .used = true };
	unsigned i;

	(void)state;
	/* 5 at once, the 6th refused */
	for (i = 0; i < 5; i++)
		assert_true(ratelimit_take(&e, 10, 5, T0));
	assert_false(ratelimit_take(&e, 10, 5, T0));
	assert_false(ratelimit_take(&e, 10, 5, T0 + S / 20));   /* 50 ms: not yet */
	assert_int_equal(e.refused, 2);
	/* one more every 100 ms */
	assert_true(ratelimit_take(&e, 10, 5, T0 + S / 10));
	assert_false(ratelimit_take(&e, 10, 5, T0 + S / 10));
	assert_true(ratelimit_take(&e, 10, 5, T0 + 2 * S / 10));
	/* a jig that slowed down has its whole burst again */
	for (i = 0; i < 5; i++)
		assert_true(ratelimit_take(&e, 10, 5, T0 + 10 * S));
	assert_false(ratelimit_take(&e, 10, 5, T0 + 10 * S));
}

/* Over a long flood the allowed count is burst + rate * time, whatever the
 * flooder sends; refused requests do not push the recovery further out. */
static void
test_flood_bound(void **state)
{
	struct ratelimit_entry e = { .used = true };
	uint64_t ok = 0, t;

	(void)state;
	for (t = T0; t < T0 + 3 * S; t += S / 1000)   /* 1000 requests/s for 3 s */
		ok += ratelimit_take(&e, 20, 10, t);
	assert_true(ok >= 10 + 60 - 1 && ok <= 10 + 60 + 1);
	assert_true(ratelimit_take(&e, 20, 10, T0 + 3 * S + S / 20));
}

static void
test_no_limit(void **state)
{
	struct ratelimit_entry e = { .used = true };
	unsigned i;

	(void)state;
	for (i = 0; i < 100000; i++)
		assert_true(ratelimit_take(&e, 0, 1, T0));
	assert_int_equal(e.refused, 0);
}

static void
test_table(void **state)
{
	struct ratelimit rl;
	struct ratelimit_entry *a, *a2, *b, *c;
	uint8_t ida[32] = { 1 }, idb[32] = { 2 }, idc[32] = { 3 };

	(void)state;
	assert_int_equal(ratelimit_init(&rl, 2), 0);
	assert_non_null(a = ratelimit_acquire(&rl, ida));
	assert_non_null(a2 = ratelimit_acquire(&rl, ida));   /* same jig, same bucket */
	assert_ptr_equal(a, a2);
	assert_int_equal(a->refs, 2);
	assert_true(ratelimit_take(a, 1, 1, T0));
	assert_false(ratelimit_take(a2, 1, 1, T0));          /* shared */
	assert_non_null(b = ratelimit_acquire(&rl, idb));
	assert_ptr_not_equal(a, b);
	/* every entry held: no room for a third jig */
	assert_null(ratelimit_acquire(&rl, idc));
	/* a's sessions go away: its bucket stays for a reconnect ... */
	ratelimit_release(a);
	ratelimit_release(a2);
	assert_ptr_equal(ratelimit_acquire(&rl, ida), a);
	assert_false(ratelimit_take(a, 1, 1, T0));
	ratelimit_release(a);
	/* ... until a new jig needs the entry */
	assert_non_null(c = ratelimit_acquire(&rl, idc));
	assert_ptr_equal(c, a);
	assert_memory_equal(c->jig_id, idc, 32);
	assert_true(ratelimit_take(c, 1, 1, T0));
	ratelimit_release(NULL);
	ratelimit_free(&rl);
	ratelimit_free(&rl);
	assert_int_equal(ratelimit_init(&rl, 0), TALLY_ERR_INVALID);
	assert_int_equal(ratelimit_init(&rl, 65537), TALLY_ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_flood_bound),
		cmocka_unit_test(test_no_limit),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
