/* test_usb.c - tally-jig programs simulated DUTs over USB: the real
 * libusb backend and hotplug against DUTs that the real tally-dutsim puts
 * on a umockdev bus, a real tallyd with a quota that requires the DUTs'
 * attestation, and what every side says afterwards (tally-jig's lines and
 * summary, the DUTs' own reports, the appliance's log export and quota
 * counters): a full line of several DUTs at once; a DUT unplugged in the
 * middle of its firmware download (reported, unit returned within the
 * scrap allowance, the line goes on); stalled and NAKed control requests
 * (failed, bounded in time, the others programmed); `tally-jig once`.
 * Refusals and the DUT's verifier are in test_usb_trust.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "artifacts.pb-c.h"
#include "tests/harness/th_issue.h"
#include "tests/harness/th_usb.h"
#include "test_usb_fx.h"

/* A line of 6 DUTs, 3 on the bus at a time, 3 jig slots. */
static int
setup_full(void **state)
{
	return th_usb_fx_setup(state, &(struct th_usb_opts){ .units = 10, .attest = true,
	    .slots = 3 });
}

/* scrap_allowance 2: a failed install gives its unit back. */
static int
setup_scrap(void **state)
{
	return th_usb_fx_setup(state, &(struct th_usb_opts){ .units = 10,
	    .scrap_allowance = 2, .attest = true, .slots = 2 });
}

/* No scrap allowance, 300 ms per USB transfer. */
static int
setup_noscrap(void **state)
{
	return th_usb_fx_setup(state, &(struct th_usb_opts){ .units = 10, .attest = true,
	    .slots = 2, .transfer_timeout_ms = 300 });
}

/* (a) Six DUTs arrive by hotplug, three at a time: every one programmed,
 * and tally-jig, the DUTs and the appliance agree token by token. */
static void
test_full_line(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "A", .count = 6, .slots = 3 };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	char uid[16];
	unsigned i;

	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->summary);
	assert_int_equal(res->programmed, 6);
	assert_int_equal(res->refused, 0);
	assert_int_equal(res->failed, 0);
	assert_int_equal(res->n_duts, 6);
	assert_int_equal(th_usb_log_read(u, log), 0);
	for (i = 1; i <= 6; i++) {
		snprintf(uid, sizeof(uid), "A-%04u", i);
		assert_int_equal(th_unit_lines(res, uid), 1);
		assert_true(th_usb_programmed(u, res, log, uid, true));
		assert_string_equal(th_dut_of(res, uid)->fault, "none");
	}
	/* exactly those tokens and reports, nothing refused */
	assert_int_equal(log->n_tokens, 6);
	assert_int_equal(log->n_reports, 6);
	assert_int_equal(log->n_attfails, 0);
	counters(u, 6, 0);
	assert_int_equal(th_stop_clean(u->t), 0);
}

/* (b) DUT B-0002 leaves the bus at its second DFU block. The jig reports
 * it FAILED with its token, the unit goes back to the quota (scrap
 * allowance 2), and the DUTs after it are programmed. */
static void
test_unplug_mid_dfu(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "B", .count = 5, .slots = 1,
	    .faults = { "2:unplug:dfu:1" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	const struct th_dut *d;
	const struct th_usb_report *rep;
	char line[512], want[128], uid[16];
	unsigned i;

	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->summary);
	assert_int_equal(res->programmed, 4);
	assert_int_equal(res->failed, 1);
	assert_int_equal(res->refused, 0);
	/* the DUT: token accepted, firmware never finished, gone */
	assert_non_null(d = th_dut_of(res, "B-0002"));
	assert_string_equal(d->state, "TOKEN_ACCEPTED");
	assert_string_equal(d->end, "unplugged");
	assert_true(d->fault_fired);
	assert_true(d->token >= 0);
	/* the jig */
	only_line(res, "B-0002", line, sizeof(line));
	snprintf(want, sizeof(want), "token #%lld, unit returned to the quota",
	    (long long)d->token);
	assert_true(starts(line, "failed: DUT link during firmware download"));
	assert_non_null(strstr(line, want));
	/* the appliance: one token, a FAILED report of it, unit returned */
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_int_equal(th_usb_tokens_of(log, "B-0002"), 1);
	assert_int_equal(th_usb_token_of(log, "B-0002")->index, (uint64_t)d->token);
	assert_int_equal(th_usb_reports_of(log, "B-0002"), 1);
	assert_non_null(rep = th_usb_report_of(log, "B-0002"));
	assert_int_equal(rep->result, TALLY__INSTALL_RESULT__FAILED);
	assert_int_equal(rep->token_index, (uint64_t)d->token);
	assert_true(rep->unit_returned);
	assert_non_null(strstr(rep->reason, "firmware download"));
	/* the line went on: the DUTs before and after it are programmed */
	for (i = 1; i <= 5; i++) {
		if (i == 2)
			continue;
		snprintf(uid, sizeof(uid), "B-%04u", i);
		assert_true(th_usb_programmed(u, res, log, uid, true));
	}
	assert_int_equal(log->n_tokens, 5);
	counters(u, 5, 1);
	assert_int_equal(th_stop_clean(u->t), 0);
}

/* (c) C-0001 STALLs its identity request, C-0003 the third DFU block,
 * C-0004 never answers the attestation request (NAK until the jig's
 * 300 ms transfer timeout). Each fails without a hang; only C-0003 had a
 * token, reported FAILED and not returned (no scrap allowance); C-0002
 * and C-0005 are programmed. */
static void
test_stall_and_nak(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "C", .count = 5, .slots = 2,
	    .faults = { "1:stall:identity", "3:stall:dfu:2", "4:nak:attestation" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	const struct th_dut *d3;
	const struct th_usb_report *rep;
	char line[512], want[64];

	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->proc.ms < 30000);
	assert_true(res->summary);
	assert_int_equal(res->programmed, 2);
	assert_int_equal(res->failed, 3);
	assert_int_equal(res->refused, 0);
	/* identity stalled: the jig never learnt the UID */
	only_line(res, "(unknown)", line, sizeof(line));
	assert_string_equal(line, "failed: cannot read the DUT's identity: input/output error");
	assert_string_equal(th_dut_of(res, "C-0001")->state, "BLANK");
	assert_true(th_dut_of(res, "C-0001")->fault_fired);
	assert_int_equal(th_unit_lines(res, "C-0001"), 0);
	/* attestation NAKed: timed out, before any token */
	only_line(res, "C-0004", line, sizeof(line));
	assert_string_equal(line, "failed: DUT attestation: timed out");
	assert_string_equal(th_dut_of(res, "C-0004")->state, "BLANK");
	/* DFU stalled after the token */
	assert_non_null(d3 = th_dut_of(res, "C-0003"));
	assert_string_equal(d3->state, "TOKEN_ACCEPTED");
	assert_true(d3->fault_fired);
	only_line(res, "C-0003", line, sizeof(line));
	snprintf(want, sizeof(want), "token #%lld", (long long)d3->token);
	assert_true(starts(line, "failed: DUT link during firmware download: input/output error"));
	assert_non_null(strstr(line, want));
	assert_null(strstr(line, "returned"));
	/* the appliance */
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_int_equal(th_usb_tokens_of(log, "C-0001"), 0);
	assert_int_equal(th_usb_tokens_of(log, "C-0004"), 0);
	assert_int_equal(th_usb_reports_of(log, "C-0001") + th_usb_reports_of(log, "C-0004"), 0);
	assert_non_null(rep = th_usb_report_of(log, "C-0003"));
	assert_int_equal(rep->result, TALLY__INSTALL_RESULT__FAILED);
	assert_int_equal(rep->token_index, (uint64_t)d3->token);
	assert_false(rep->unit_returned);
	assert_true(th_usb_programmed(u, res, log, "C-0002", true));
	assert_true(th_usb_programmed(u, res, log, "C-0005", true));
	assert_int_equal(log->n_tokens, 3);
	assert_int_equal(log->n_reports, 3);
	counters(u, 3, 0);
	assert_int_equal(th_stop_clean(u->t), 0);
}

/* (h) `tally-jig once` with one DUT: exit 0 and one line when it was
 * programmed; exit 1 when the DUT stalls the bundle write (FAILED report)
 * and when the appliance refuses it (wrong attestation key). */
static void
test_once(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line ok = { .prefix = "H1", .count = 1, .once = true };
	struct th_line bad = { .prefix = "H2", .count = 1, .once = true,
	    .faults = { "1:stall:bundle" } };
	struct th_line refused = { .prefix = "H3", .count = 1, .once = true,
	    .faults = { "1:wrong-attestation-key" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	const struct th_usb_report *rep;
	char line[512];

	assert_int_equal(th_usb_line(u, &ok, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_false(res->summary);
	assert_int_equal(th_unit_lines(res, "H1-0001"), 1);
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_true(th_usb_programmed(u, res, log, "H1-0001", true));
	th_line_res_free(res);

	assert_int_equal(th_usb_line(u, &bad, res), 0);
	assert_true(th_line_clean(res, 1));
	assert_false(res->summary);
	only_line(res, "H2-0001", line, sizeof(line));
	assert_true(starts(line, "failed: DUT link while writing the token: input/output error, token #"));
	assert_string_equal(th_dut_of(res, "H2-0001")->state, "BLANK");
	th_line_res_free(res);

	assert_int_equal(th_usb_line(u, &refused, res), 0);
	assert_true(th_line_clean(res, 1));
	only_line(res, "H3-0001", line, sizeof(line));
	assert_true(starts(line, "refused: ATTESTATION_FAILED"));
	th_line_res_free(res);

	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_int_equal(th_usb_tokens_of(log, "H2-0001"), 1);
	assert_non_null(rep = th_usb_report_of(log, "H2-0001"));
	assert_int_equal(rep->result, TALLY__INSTALL_RESULT__FAILED);
	assert_int_equal(rep->token_index, th_usb_token_of(log, "H2-0001")->index);
	assert_int_equal(th_usb_tokens_of(log, "H3-0001"), 0);
	assert_int_equal(log->n_attfails, 1);
	counters(u, 2, 0);
	assert_int_equal(th_stop_clean(u->t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_line, setup_full, th_usb_fx_teardown),
		cmocka_unit_test_setup_teardown(test_unplug_mid_dfu, setup_scrap, th_usb_fx_teardown),
		cmocka_unit_test_setup_teardown(test_stall_and_nak, setup_noscrap, th_usb_fx_teardown),
		cmocka_unit_test_setup_teardown(test_once, setup_noscrap, th_usb_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
