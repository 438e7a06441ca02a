/* test_usb_trust.c - refusals over USB: the real tally-jig (libusb
 * backend) against DUTs that the real tally-dutsim puts on a umockdev bus,
 * a real tallyd whose quota requires the DUTs' attestation key. A DUT that
 * signs with another key is refused ATTESTATION_FAILED and spends nothing;
 * a clone presenting another DUT's UID with its own key is refused while
 * the genuine DUT gets its token; a DUT that reports another UID gets that
 * UID's token and its own verifier rejects it (WRONG_DEVICE); a firmware
 * image changed in transit is rejected by the DUT (errFILE). Every side is
 * checked: tally-jig's lines, the DUTs' reports, the appliance's log
 * (tokens, install reports, attestation_failed entries) and counters. */
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

static int
setup_attested(void **state)
{
	return th_usb_fx_setup(state, &(struct th_usb_opts){ .units = 10,
	    .attest = true, .slots = 2 });
}

static int
setup_scrap(void **state)
{
	return th_usb_fx_setup(state, &(struct th_usb_opts){ .units = 10,
	    .scrap_allowance = 1, .attest = true, .slots = 2 });
}

/* The attestation_failed entries of the log name uid n times, each with
 * this jig, this quota and the untrusted-key reason. */
static void
attfails(const struct th_usb *u, const struct th_usb_log *log, const char *uid,
    unsigned n)
{
	unsigned seen = 0;
	size_t i;

	for (i = 0; i < log->n_attfails; i++) {
		const struct th_usb_attfail *a = &log->attfails[i];

		if (strcmp(a->uid, uid) != 0)
			continue;
		seen++;
		assert_memory_equal(a->jig_key_id, u->t->jig[0].key_id, 32);
		assert_memory_equal(a->quota_id, u->qid, 16);
		assert_non_null(strstr(a->reason, "not trusted"));
	}
	assert_int_equal(seen, n);
}

/* A DUT the appliance refused: nothing written to it. */
static void
untouched(const struct th_dut *d)
{
	assert_non_null(d);
	assert_string_equal(d->state, "BLANK");
	assert_string_equal(d->verdict, "");
	assert_int_equal(d->token, -1);
	assert_true(d->fault_fired);
}

/* (d) D-0002 signs its attestation with a key the quota does not trust:
 * refused ATTESTATION_FAILED, logged with this jig and its UID, no token,
 * no unit spent; D-0001 and D-0003 are programmed. */
static void
test_wrong_attestation_key(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "D", .count = 3, .slots = 2,
	    .faults = { "2:wrong-attestation-key" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	char line[512];

	counters(u, 0, 0);
	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->summary);
	assert_int_equal(res->programmed, 2);
	assert_int_equal(res->refused, 1);
	assert_int_equal(res->failed, 0);
	only_line(res, "D-0002", line, sizeof(line));
	assert_string_equal(line, "refused: ATTESTATION_FAILED (attestation refused: "
	    "attestation key not trusted by the quota)");
	untouched(th_dut_of(res, "D-0002"));
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_int_equal(th_usb_tokens_of(log, "D-0002"), 0);
	assert_int_equal(th_usb_reports_of(log, "D-0002"), 0);
	assert_int_equal(log->n_attfails, 1);
	attfails(u, log, "D-0002", 1);
	assert_true(th_usb_programmed(u, res, log, "D-0001", true));
	assert_true(th_usb_programmed(u, res, log, "D-0003", true));
	/* only the two genuine DUTs spent units */
	assert_int_equal(log->n_tokens, 2);
	counters(u, 2, 0);
	assert_int_equal(th_stop_clean(u->t), 0);
}

/* (e) DUT 1 and DUT 4 are clones presenting E-0002's UID, each signing
 * with its own key; one comes before the genuine E-0002, one after. Both
 * are refused; the genuine E-0002 gets its token (not a reissue), once. */
static void
test_clone(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "E", .count = 4, .slots = 1,
	    .faults = { "1:clone=E-0002", "4:clone=E-0002" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	const struct th_dut *clone1, *clone4;
	char line[512];

	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->summary);
	assert_int_equal(res->programmed, 2);
	assert_int_equal(res->refused, 2);
	assert_int_equal(res->failed, 0);
	/* the clones showed E-0002 and got nothing */
	assert_non_null(clone1 = th_dut_of(res, "E-0001"));
	assert_non_null(clone4 = th_dut_of(res, "E-0004"));
	assert_string_equal(clone1->presented, "E-0002");
	assert_string_equal(clone4->presented, "E-0002");
	untouched(clone1);
	untouched(clone4);
	assert_int_equal(th_unit_lines(res, "E-0001") + th_unit_lines(res, "E-0004"), 0);
	/* slots 1: clone, genuine, E-0003, clone, in that order */
	assert_int_equal(th_unit_lines(res, "E-0002"), 3);
	assert_true(th_unit_line(res, "E-0002", 0, line, sizeof(line)));
	assert_true(starts(line, "refused: ATTESTATION_FAILED"));
	assert_true(th_unit_line(res, "E-0002", 1, line, sizeof(line)));
	assert_true(starts(line, "programmed, token #"));
	assert_null(strstr(line, "reissued"));
	assert_true(th_unit_line(res, "E-0002", 2, line, sizeof(line)));
	assert_true(starts(line, "refused: ATTESTATION_FAILED"));
	/* the appliance: one token for E-0002, two refusals of its UID */
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_true(th_usb_programmed(u, res, log, "E-0002", true));
	assert_true(th_usb_programmed(u, res, log, "E-0003", true));
	assert_int_equal(th_usb_tokens_of(log, "E-0001") + th_usb_tokens_of(log, "E-0004"), 0);
	assert_int_equal(log->n_attfails, 2);
	attfails(u, log, "E-0002", 2);
	assert_int_equal(log->n_tokens, 2);
	counters(u, 2, 0);
	assert_int_equal(th_stop_clean(u->t), 0);
}

/* (f) DUT 1 (really F-0001) tells the host it is F-0002: the appliance
 * issues F-0002's token, the DUT's own verifier rejects the bundle
 * (WRONG_DEVICE) and the jig reports FAILED. The genuine F-0002 later gets
 * the same token again (reissued, no unit spent) and is programmed. */
static void
test_bundle_for_another_uid(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "F", .count = 3, .slots = 1,
	    .faults = { "1:misreport-uid=F-0002" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	const struct th_dut *liar, *real;
	const struct th_usb_report *rep;
	char line[512], want[128];

	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->summary);
	assert_int_equal(res->programmed, 2);
	assert_int_equal(res->failed, 1);
	assert_int_equal(res->refused, 0);
	assert_non_null(liar = th_dut_of(res, "F-0001"));
	assert_non_null(real = th_dut_of(res, "F-0002"));
	assert_string_equal(liar->presented, "F-0002");
	assert_string_equal(liar->state, "REJECTED");
	assert_string_equal(liar->verdict, "WRONG_DEVICE");
	assert_int_equal(liar->token, -1);
	assert_true(liar->fault_fired);
	/* tally-jig: F-0002 failed with the token the real one then gets */
	assert_int_equal(th_unit_lines(res, "F-0002"), 2);
	assert_true(th_unit_line(res, "F-0002", 0, line, sizeof(line)));
	snprintf(want, sizeof(want), "failed: DUT refused the token bundle: token for "
	    "another device, token #%lld", (long long)real->token);
	assert_string_equal(line, want);
	assert_true(th_unit_line(res, "F-0002", 1, line, sizeof(line)));
	snprintf(want, sizeof(want), "programmed, token #%lld, reissued",
	    (long long)real->token);
	assert_string_equal(line, want);
	/* the appliance: one token for F-0002, a FAILED and an INSTALLED report */
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_true(th_usb_programmed(u, res, log, "F-0002", true));
	assert_true(th_usb_programmed(u, res, log, "F-0003", true));
	assert_int_equal(th_usb_tokens_of(log, "F-0001"), 0);
	assert_int_equal(th_usb_reports_of(log, "F-0002"), 2);
	assert_non_null(rep = th_usb_report_of(log, "F-0002"));
	assert_int_equal(rep->result, TALLY__INSTALL_RESULT__FAILED);
	assert_int_equal(rep->token_index, (uint64_t)real->token);
	assert_non_null(strstr(rep->reason, "another device"));
	assert_false(rep->unit_returned);
	assert_int_equal(log->n_tokens, 2);
	counters(u, 2, 0);
	assert_int_equal(th_stop_clean(u->t), 0);
}

/* (g) G-0002 receives the firmware with a byte of block 1 flipped: its
 * digest is not the token's, the DUT answers errFILE and stays REJECTED,
 * the jig reports FAILED and the unit comes back (scrap allowance 1). */
static void
test_corrupt_image(void **state)
{
	struct th_usb_fx *f = *state;
	struct th_usb *u = &f->u;
	struct th_line l = { .prefix = "G", .count = 3, .slots = 2,
	    .faults = { "2:corrupt-image:dfu:1" } };
	struct th_line_res *res = &f->res[0];
	struct th_usb_log *log = &f->log;
	const struct th_dut *d;
	const struct th_usb_report *rep;
	char line[512], want[160];

	assert_int_equal(th_usb_line(u, &l, res), 0);
	assert_true(th_line_clean(res, 0));
	assert_true(res->summary);
	assert_int_equal(res->programmed, 2);
	assert_int_equal(res->failed, 1);
	assert_non_null(d = th_dut_of(res, "G-0002"));
	assert_string_equal(d->state, "REJECTED");
	assert_string_equal(d->verdict, "OK");
	assert_string_equal(d->dfu_last, "errFILE");
	assert_true(d->fault_fired);
	assert_true(d->token >= 0);
	only_line(res, "G-0002", line, sizeof(line));
	snprintf(want, sizeof(want), "failed: DUT refused the firmware: firmware digest "
	    "not the token's, token #%lld, unit returned to the quota", (long long)d->token);
	assert_string_equal(line, want);
	assert_int_equal(th_usb_log_read(u, log), 0);
	assert_int_equal(th_usb_tokens_of(log, "G-0002"), 1);
	assert_int_equal(th_usb_reports_of(log, "G-0002"), 1);
	assert_non_null(rep = th_usb_report_of(log, "G-0002"));
	assert_int_equal(rep->result, TALLY__INSTALL_RESULT__FAILED);
	assert_int_equal(rep->token_index, (uint64_t)d->token);
	assert_true(rep->unit_returned);
	assert_true(th_usb_programmed(u, res, log, "G-0001", true));
	assert_true(th_usb_programmed(u, res, log, "G-0003", true));
	counters(u, 3, 1);
	assert_int_equal(th_stop_clean(u->t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wrong_attestation_key, setup_attested,
		    th_usb_fx_teardown),
		cmocka_unit_test_setup_teardown(test_clone, setup_attested, th_usb_fx_teardown),
		cmocka_unit_test_setup_teardown(test_bundle_for_another_uid, setup_attested,
		    th_usb_fx_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_image, setup_scrap,
		    th_usb_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
