/* test_usbsource.c - DUTs arriving on USB (jig-firmware/usbsource.c) through
 * the real libusb and libusb hotplug, against simulated DUTs on a umockdev
 * bus in this process (jig-firmware/usbsim/: the DUT model behind a
 * usbdevfs ioctl handler, plugged and unplugged with uevents):
 *   - a DUT plugged before the source opens is served (LIBUSB_HOTPLUG_ENUMERATE);
 *   - a DUT left plugged after its unit is not served again, and is served
 *     again once unplugged and plugged back in;
 *   - a DUT unplugged while open fails its transfers at once with
 *     TALLY_ERR_IO, well inside the transfer timeout;
 *   - with the stop flag set, next() returns TALLY_ERR_NOT_FOUND promptly,
 *     also when a DUT is waiting;
 *   - a device with another VID:PID is ignored.
 *
 * libusb only sees the testbed under libumockdev-preload: main() re-executes
 * this program under umockdev-wrapper when the preload is missing (with
 * ASAN_OPTIONS verify_asan_link_order=0 added, as tally-dutsim does), so
 * tests/run.sh runs it like any other test. Built by mk/usbtest.mk (links
 * libusbsim and umockdev/GLib). An alarm bounds the whole run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "err.h"
#include "key.h"
#include "jig-firmware/dutproto.h"
#include "jig-firmware/transport.h"
#include "jig-firmware/usbsource.h"
#include "jig-firmware/usbsim/usbsim.h"

#define REEXEC_MARK "TALLY_USBSOURCE_TEST_REEXEC"
#define RUN_LIMIT_S 120         /* the whole binary, seconds */
#define XFER_MS 2000            /* transfer timeout of the source's DUTs */
#define WAIT_MS 800             /* how long next() waits in "nothing comes" cases */
#define FAST_MS 1000            /* "at once": under half of XFER_MS */
#define PROMPT_MS (USBSOURCE_POLL_MS + 900)
#define STOP_WAIT_MS 5000       /* next() of the stop test: far longer than PROMPT_MS */
#define OTHER_PID 0x0001
#define MODELS_MAX 8

struct ufx {
	struct usbsim_bed *bed;
	EVP_PKEY *oem;
	struct dutmodel *m[MODELS_MAX];
	size_t nm;
	atomic_int stop;
	struct jig_dut_source src;
	int have_src;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
setup(void **state)
{
	struct ufx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	atomic_init(&f->stop, 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &f->oem), 0);
	assert_int_equal(usbsim_bed_new(&f->bed), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct ufx *f = *state;
	size_t i;

	if (f->have_src)
		f->src.close(f->src.ctx);
	usbsim_bed_free(f->bed);        /* handlers first: they borrow the models */
	for (i = 0; i < f->nm; i++)
		dutmodel_free(f->m[i]);
	EVP_PKEY_free(f->oem);
	free(f);
	return 0;
}

/* Plugs a DUT with UID uid and USB IDs vid:pid on hub port `port`. */
static void
plug(struct ufx *f, const char *uid, uint16_t vid, uint16_t pid, unsigned port,
    struct usbsim_port *p)
{
	struct dutmodel_config c;
	struct usbsim_ident id;
	struct dutmodel *m;

	assert_true(f->nm < MODELS_MAX);
	memset(&c, 0, sizeof(c));
	c.uid = (const uint8_t *)uid;
	c.uid_len = strlen(uid);
	c.product = "widget";
	c.oem_root = f->oem;
	assert_int_equal(dutmodel_new(&c, &m), 0);
	f->m[f->nm++] = m;
	usbsim_ident_init(&id, m, vid, pid);
	assert_int_equal(usbsim_plug(f->bed, m, &id, port, p), 0);
}

static void
plug_dut(struct ufx *f, const char *uid, unsigned port, struct usbsim_port *p)
{
	plug(f, uid, TDP_VID_DEFAULT, TDP_PID_DEFAULT, port, p);
}

/* The source for the default VID:PID; next() waits wait_ms (0: until a
 * DUT or the stop flag). */
static void
open_source(struct ufx *f, unsigned wait_ms)
{
	struct usbsource_opts o = {
		.vid = TDP_VID_DEFAULT, .pid = TDP_PID_DEFAULT,
		.timeout_ms = XFER_MS, .wait_ms = wait_ms, .stop = &f->stop,
	};
	char err[160] = "";
	int r = usbsource_open(&o, &f->src, err, sizeof(err));

	if (r != 0)
		fail_msg("usbsource_open: %s: %s", tally_strerror(r), err);
	f->have_src = 1;
}

/* next() serves a DUT whose identity says uid. */
static void
next_is(struct ufx *f, struct jig_dut *dut, const char *uid)
{
	struct jig_dut_identity id;

	assert_int_equal(f->src.next(f->src.ctx, dut), 0);
	assert_string_equal(dut->ops->name, "usb");
	assert_int_equal(dut->ops->read_identity(dut->ctx, &id), 0);
	assert_int_equal(id.uid_len, strlen(uid));
	assert_memory_equal(id.uid, uid, id.uid_len);
	assert_int_equal(id.state, JIG_DUT_BLANK);
}

/* next() serves nothing within WAIT_MS: TALLY_ERR_TIMEOUT after about
 * that long. */
static void
next_none(struct ufx *f)
{
	struct jig_dut dut = { 0 };
	uint64_t t0 = now_ms(), dt;
	int r = f->src.next(f->src.ctx, &dut);

	dt = now_ms() - t0;
	jig_dut_close(&dut);
	assert_int_equal(r, TALLY_ERR_TIMEOUT);
	if (dt + 50 < WAIT_MS || dt > WAIT_MS + 1000)
		fail_msg("next() gave up after %llu ms, not about %u",
		    (unsigned long long)dt, WAIT_MS);
}

/* Plugged before the source opens: found by the enumeration at open.
 * Served once; left plugged it is not served again; unplugged and plugged
 * back in it is a new arrival. */
static void
test_enumerate_once_replug(void **state)
{
	struct ufx *f = *state;
	struct usbsim_port p;
	struct jig_dut dut = { 0 };

	plug_dut(f, "USB-0001", 1, &p);
	open_source(f, WAIT_MS);
	next_is(f, &dut, "USB-0001");
	jig_dut_close(&dut);
	next_none(f);                   /* still plugged: done with it */
	usbsim_unplug(f->bed, &p);
	plug_dut(f, "USB-0001", 1, &p);
	next_is(f, &dut, "USB-0001");
	jig_dut_close(&dut);
	next_none(f);
	usbsim_unplug(f->bed, &p);
}

/* Arrivals after the source opens, in order; a device with another
 * VID:PID is never served. */
static void
test_arrivals_other_ids(void **state)
{
	struct ufx *f = *state;
	struct usbsim_port p1, p2, p3;
	struct jig_dut dut = { 0 };

	open_source(f, WAIT_MS);
	next_none(f);
	plug(f, "OTHER-0001", TDP_VID_DEFAULT, OTHER_PID, 3, &p3);
	next_none(f);
	plug_dut(f, "USB-0001", 1, &p1);
	plug_dut(f, "USB-0002", 2, &p2);
	next_is(f, &dut, "USB-0001");
	jig_dut_close(&dut);
	next_is(f, &dut, "USB-0002");
	jig_dut_close(&dut);
	next_none(f);
	usbsim_unplug(f->bed, &p1);
	usbsim_unplug(f->bed, &p2);
	usbsim_unplug(f->bed, &p3);
}

/* Unplugged while open: every transfer fails with TALLY_ERR_IO at once
 * (no transfer timeout), the DUT is forgotten when closed, and the part
 * plugged back in is served again. */
static void
test_unplug_while_open(void **state)
{
	struct ufx *f = *state;
	struct usbsim_port p;
	struct jig_dut dut = { 0 };
	struct jig_dut_identity id;
	enum jig_dut_state st;
	enum jig_dut_verdict v;
	uint8_t bundle[100] = { 0 }, image[TDP_BLOCK] = { 0 };
	uint64_t t0, dt;

	plug_dut(f, "USB-0001", 1, &p);
	open_source(f, WAIT_MS);
	next_is(f, &dut, "USB-0001");
	usbsim_unplug(f->bed, &p);
	t0 = now_ms();
	assert_int_equal(dut.ops->read_identity(dut.ctx, &id), TALLY_ERR_IO);
	assert_int_equal(dut.ops->write_bundle(dut.ctx, bundle, sizeof(bundle), &v),
	    TALLY_ERR_IO);
	assert_int_equal(dut.ops->download_firmware(dut.ctx, image, sizeof(image),
	    &v), TALLY_ERR_IO);
	assert_int_equal(dut.ops->read_state(dut.ctx, &st), TALLY_ERR_IO);
	dt = now_ms() - t0;
	if (dt > FAST_MS)
		fail_msg("transfers to an unplugged DUT took %llu ms (timeout %u ms)",
		    (unsigned long long)dt, XFER_MS);
	jig_dut_close(&dut);
	next_none(f);
	plug_dut(f, "USB-0001", 1, &p);
	next_is(f, &dut, "USB-0001");
	jig_dut_close(&dut);
	usbsim_unplug(f->bed, &p);
}

struct stopper {
	atomic_int *stop;
	unsigned after_ms;
};

static void *
stop_later(void *arg)
{
	struct stopper *s = arg;

	usleep(s->after_ms * 1000);
	atomic_store(s->stop, 1);
	return NULL;
}

/* A waiting next() returns TALLY_ERR_NOT_FOUND soon after the stop flag
 * is set, long before its own limit; with the flag set, a waiting DUT is
 * not served. */
static void
test_stop(void **state)
{
	struct ufx *f = *state;
	struct stopper s = { &f->stop, 300 };
	struct usbsim_port p;
	struct jig_dut dut = { 0 };
	pthread_t th;
	uint64_t t0, dt;
	int r;

	open_source(f, STOP_WAIT_MS);
	t0 = now_ms();
	assert_int_equal(pthread_create(&th, NULL, stop_later, &s), 0);
	r = f->src.next(f->src.ctx, &dut);
	dt = now_ms() - t0;
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r, TALLY_ERR_NOT_FOUND);
	assert_null(dut.ops);
	if (dt < s.after_ms || dt > s.after_ms + PROMPT_MS)
		fail_msg("next() returned %llu ms after start, stop set at %u ms",
		    (unsigned long long)dt, s.after_ms);
	plug_dut(f, "USB-0001", 1, &p);
	usleep(300 * 1000);             /* let the arrival be queued */
	t0 = now_ms();
	r = f->src.next(f->src.ctx, &dut);
	dt = now_ms() - t0;
	jig_dut_close(&dut);
	assert_int_equal(r, TALLY_ERR_NOT_FOUND);
	assert_true(dt < PROMPT_MS);
	/* Cleared again, the waiting DUT is served. */
	atomic_store(&f->stop, 0);
	next_is(f, &dut, "USB-0001");
	jig_dut_close(&dut);
	usbsim_unplug(f->bed, &p);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enumerate_once_replug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arrivals_other_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unplug_while_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};

	(void)argc;
	if (!usbsim_under_preload()) {
		usbsim_reexec_preloaded("test_usbsource", REEXEC_MARK, argv);
		return 1;
	}
	unsetenv(REEXEC_MARK);
	alarm(RUN_LIMIT_S);             /* a hang ends the run (SIGALRM) */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
