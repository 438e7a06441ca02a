/* test_usb_fx.h - assertions shared by the USB integration tests
 * (test_usb.c, test_usb_trust.c); include after cmocka.h and th_usb.h. */
#ifndef TALLY_TEST_USB_FX_H
#define TALLY_TEST_USB_FX_H

#include <stdbool.h>
#include <string.h>

/* The quota's counters are exactly issued and returned. */
static inline void
counters(struct th_usb *u, uint64_t issued, uint64_t returned)
{
	uint64_t i = 99, r = 99;

	assert_int_equal(th_usb_quota(u, &i, &r), 0);
	assert_int_equal(i, issued);
	assert_int_equal(r, returned);
}

static inline bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* tally-jig's only line for uid. */
static inline void
only_line(const struct th_line_res *res, const char *uid, char *buf, size_t cap)
{
	assert_int_equal(th_unit_lines(res, uid), 1);
	assert_true(th_unit_line(res, uid, 0, buf, cap));
}

#endif
