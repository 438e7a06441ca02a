/* test_dutmodel_dfu.c - the DUT model's DFU 1.1 download
 * (docs/dut-protocol.md §4): the states of a good download, every error
 * status (errVENDOR, errNOTDONE, errSTALLEDPKT, errFILE), CLRSTATUS and
 * ABORT, a refused bundle between blocks and manifestation, the corrupt
 * image fault, and the link faults (stall, NAK, short, unplug) at every
 * place they can be put. */
#include "tests/unit/test_dutmodel_fx.h"

static void
accept_bundle(struct t *t)
{
	assert_int_equal(send_bundle(t, bundle_for(t, UID)), JIG_DUT_OK);
}

static void
test_download(void **state)
{
	struct t *t = *state;
	struct dutmodel_report r;

	model(t, NULL, NULL);
	accept_bundle(t);
	download(t, t->img, sizeof(t->img), TDP_DFU_OK, TDP_DFU_IDLE);
	status(t, JIG_DUT_OK, JIG_DUT_PROGRAMMED);
	dutmodel_report(t->m, &r);
	assert_int_equal(r.dfu_state, TDP_DFU_IDLE);
	assert_int_equal(r.dfu_status, TDP_DFU_OK);
	assert_int_equal(r.token_index, 4242);
	/* The token stays: the same image again (a retry). */
	download(t, t->img, sizeof(t->img), TDP_DFU_OK, TDP_DFU_IDLE);
	status(t, JIG_DUT_OK, JIG_DUT_PROGRAMMED);
}

static void
test_no_token(void **state)
{
	struct t *t = *state;
	uint8_t b[16] = { 0 };

	model(t, NULL, NULL);
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_ERR_VENDOR, TDP_DFU_ERROR);
	status(t, JIG_DUT_NO_TOKEN, JIG_DUT_BLANK);
	/* In dfuERROR only GETSTATUS, GETSTATE and CLRSTATUS; the status stays. */
	assert_int_equal(dfu(t, TDP_DFU_ABORT, 0, NULL, 0, NULL), DM_STALL);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 0, b, 16, NULL), DM_STALL);
	dfu_status(t, TDP_DFU_ERR_VENDOR, TDP_DFU_ERROR);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	dfu_status(t, TDP_DFU_OK, TDP_DFU_IDLE);
	/* A refused bundle takes the token away before manifestation. */
	accept_bundle(t);
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	assert_int_equal(send_bundle(t, bundle_for(t, "STR-0002")), JIG_DUT_WRONG_DEVICE);
	block(t, t->img, sizeof(t->img), 1, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	block(t, t->img, sizeof(t->img), 2, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 3, NULL, 0, NULL), DM_ACK);
	dfu_status(t, TDP_DFU_ERR_VENDOR, TDP_DFU_ERROR);
	status(t, JIG_DUT_NO_TOKEN, JIG_DUT_REJECTED);
}

static void
test_protocol_errors(void **state)
{
	struct t *t = *state;
	uint8_t b[TDP_BLOCK + 1] = { 0 };

	model(t, NULL, NULL);
	accept_bundle(t);
	/* End of image before any block. */
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 0, NULL, 0, NULL), DM_STALL);
	dfu_status(t, TDP_DFU_ERR_NOTDONE, TDP_DFU_ERROR);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_STALL);
	dfu_status(t, TDP_DFU_ERR_STALLEDPKT, TDP_DFU_ERROR);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	/* First block not 0; a block over wTransferSize; skipping a block. */
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 1, b, 16, NULL), DM_STALL);
	dfu_status(t, TDP_DFU_ERR_STALLEDPKT, TDP_DFU_ERROR);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 0, b, TDP_BLOCK + 1, NULL), DM_STALL);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 2, b, 16, NULL), DM_STALL);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	/* DNLOAD without GETSTATUS (still dfuDNLOAD-SYNC). */
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 1, b, 16, NULL), DM_ACK);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 2, b, 16, NULL), DM_STALL);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	/* ABORT from dfuDNLOAD-IDLE: the next download starts at block 0. */
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	assert_int_equal(dfu(t, TDP_DFU_ABORT, 0, NULL, 0, NULL), DM_ACK);
	assert_int_equal(dfu_state(t), TDP_DFU_IDLE);
	/* Not supported in DFU mode. */
	assert_int_equal(dfu(t, TDP_DFU_UPLOAD, 0, b, 64, NULL), DM_STALL);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	assert_int_equal(dfu(t, TDP_DFU_DETACH, 1000, NULL, 0, NULL), DM_STALL);
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	/* And then a good download. */
	download(t, t->img, sizeof(t->img), TDP_DFU_OK, TDP_DFU_IDLE);
	status(t, JIG_DUT_OK, JIG_DUT_PROGRAMMED);
}

static void
test_wrong_image(void **state)
{
	struct t *t = *state;
	struct dutmodel_report r;

	model(t, NULL, NULL);
	accept_bundle(t);
	t->img[5000] ^= 0x80;
	download(t, t->img, sizeof(t->img), TDP_DFU_ERR_FILE, TDP_DFU_ERROR);
	status(t, JIG_DUT_WRONG_FIRMWARE, JIG_DUT_REJECTED);
	/* The token stays: the right image is accepted after CLRSTATUS. */
	t->img[5000] ^= 0x80;
	assert_int_equal(dfu(t, TDP_DFU_CLRSTATUS, 0, NULL, 0, NULL), DM_ACK);
	download(t, t->img, sizeof(t->img), TDP_DFU_OK, TDP_DFU_IDLE);
	dutmodel_report(t->m, &r);
	assert_int_equal(r.dfu_status, TDP_DFU_OK);
	assert_int_equal(r.dfu_last_error, TDP_DFU_ERR_FILE);   /* kept for the report */
	/* Corrupted on receipt: the host's image is right, the DUT's is not. */
	model(t, NULL, "corrupt-image:dfu:2");
	accept_bundle(t);
	download(t, t->img, sizeof(t->img), TDP_DFU_ERR_FILE, TDP_DFU_ERROR);
	status(t, JIG_DUT_WRONG_FIRMWARE, JIG_DUT_REJECTED);
	dutmodel_report(t->m, &r);
	assert_true(r.fault_fired);
	assert_int_equal(r.dfu_status, TDP_DFU_ERR_FILE);
	/* A fault on a block the image does not have never fires. */
	model(t, NULL, "corrupt-image:dfu:3");
	accept_bundle(t);
	download(t, t->img, sizeof(t->img), TDP_DFU_OK, TDP_DFU_IDLE);
	dutmodel_report(t->m, &r);
	assert_false(r.fault_fired);
}

/* stall and nak apply to every matching request, and only to those. */
static void
test_stall_nak(void **state)
{
	struct t *t = *state;
	uint8_t b[TDP_IDENTITY_MAX];
	size_t n;

	model(t, NULL, "stall:identity");
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, sizeof(b), &n), DM_STALL);
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, sizeof(b), &n), DM_STALL);
	status(t, JIG_DUT_NO_TOKEN, JIG_DUT_BLANK);
	model(t, NULL, "nak:status");
	assert_int_equal(vin(t, TDP_GET_STATUS, b, 4, &n), DM_NAK);
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, sizeof(b), &n), DM_ACK);
	model(t, t->att, "stall:challenge");
	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, b, 32), DM_STALL);
	model(t, NULL, "nak:verify");
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 10, NULL, 0), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, 10), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0), DM_NAK);
	model(t, NULL, "stall:bundle");
	assert_int_equal(vout(t, TDP_BUNDLE_BEGIN, 10, NULL, 0), DM_ACK);
	assert_int_equal(vout(t, TDP_BUNDLE_DATA, 0, b, 10), DM_STALL);
	/* DFU block 1 only. */
	model(t, NULL, "stall:dfu:1");
	accept_bundle(t);
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	memcpy(b, t->img, 16);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 1, b, 16, NULL), DM_STALL);
	assert_int_equal(dfu_state(t), TDP_DFU_DNLOAD_IDLE);   /* an injected stall changes nothing */
}

static void
test_short(void **state)
{
	struct t *t = *state;
	uint8_t b[TALLY_ATTESTATION_MAX], nonce[32] = { 1 };
	size_t n;

	model(t, NULL, "short:identity");
	assert_int_equal(vin(t, TDP_GET_IDENTITY, b, TDP_IDENTITY_MAX, &n), DM_ACK);
	assert_int_equal(n, (5 + 8 + 6) / 2);
	model(t, NULL, "short:status");
	assert_int_equal(vin(t, TDP_GET_STATUS, b, 4, &n), DM_ACK);
	assert_int_equal(n, 2);
	model(t, t->att, "short:attestation");
	assert_int_equal(vout(t, TDP_SET_CHALLENGE, 0, nonce, 32), DM_ACK);
	assert_int_equal(vin(t, TDP_GET_ATTESTATION, b, sizeof(b), &n), DM_ACK);
	assert_true(n > 50 && n < 100);
	/* The DFU_GETSTATUS after block 1. */
	model(t, NULL, "short:dfu:1");
	accept_bundle(t);
	block(t, t->img, sizeof(t->img), 0, TDP_DFU_OK, TDP_DFU_DNLOAD_IDLE);
	memcpy(b, t->img + TDP_BLOCK, 16);
	assert_int_equal(dfu(t, TDP_DFU_DNLOAD, 1, b, 16, NULL), DM_ACK);
	assert_int_equal(dfu(t, TDP_DFU_GETSTATUS, 0, b, 6, &n), DM_ACK);
	assert_int_equal(n, 3);
}

/* One unit as a host runs it, stopping at the first request not ACKed:
 * returns that request's step number (1..) and sets *o, or 0 when all
 * went through. */
static int
run_unit(struct t *t, enum dm_outcome *o)
{
	struct blob bd = bundle_for(t, UID);
	uint8_t b[TDP_BLOCK], nonce[32] = { 0 };
	size_t n, k;
	int step = 0;

#define STEP(x) do { step++; if ((*o = (x)) != DM_ACK) goto out; } while (0)
	STEP(vin(t, TDP_GET_IDENTITY, b, TDP_IDENTITY_MAX, &n));
	STEP(vout(t, TDP_SET_CHALLENGE, 0, nonce, 32));
	STEP(vin(t, TDP_GET_ATTESTATION, b, TALLY_ATTESTATION_MAX, &n));
	STEP(vout(t, TDP_BUNDLE_BEGIN, (uint16_t)bd.n, NULL, 0));
	STEP(vout(t, TDP_BUNDLE_DATA, 0, bd.p, (uint16_t)bd.n));
	STEP(vout(t, TDP_BUNDLE_VERIFY, 0, NULL, 0));
	STEP(vin(t, TDP_GET_STATUS, b, TDP_STATUS_LEN, &n));
	for (k = 0; k < 3; k++) {
		n = k < 2 ? TDP_BLOCK : sizeof(t->img) - 2 * TDP_BLOCK;
		memcpy(b, t->img + k * TDP_BLOCK, n);
		STEP(dfu(t, TDP_DFU_DNLOAD, (uint16_t)k, b, (uint16_t)n, NULL));
		STEP(dfu(t, TDP_DFU_GETSTATUS, 0, b, 6, &n));
	}
	step = 0;
#undef STEP
 out:
	free(bd.p);
	return step;
}

/* unplug: the first matching request, then every request, is DM_GONE. */
static void
test_unplug(void **state)
{
	static const struct { const char *fault; int step; } cases[] = {
		{ "unplug:identity", 1 }, { "unplug:challenge", 2 },
		{ "unplug:attestation", 3 }, { "unplug:bundle", 5 },
		{ "unplug:verify", 6 }, { "unplug:status", 7 }, { "unplug:dfu", 8 },
		{ "unplug:dfu:2", 12 },
	};
	struct t *t = *state;
	struct dutmodel_report r;
	uint8_t b[8];
	size_t i, n;
	enum dm_outcome o;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		model(t, t->att, cases[i].fault);
		assert_int_equal(run_unit(t, &o), cases[i].step);
		assert_int_equal(o, DM_GONE);
		dutmodel_report(t->m, &r);
		assert_true(r.gone && r.fault_fired);
		assert_int_equal(vin(t, TDP_GET_STATUS, b, 4, &n), DM_GONE);
		assert_int_equal(dfu(t, TDP_DFU_GETSTATUS, 0, b, 6, &n), DM_GONE);
	}
	/* Without a fault the unit goes through. */
	model(t, t->att, NULL);
	assert_int_equal(run_unit(t, &o), 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_download),
		T(test_no_token),
		T(test_protocol_errors),
		T(test_wrong_image),
		T(test_stall_nak),
		T(test_short),
		T(test_unplug),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
