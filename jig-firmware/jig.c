/* jig.c - programming one DUT, see jig.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "artifact.h"
#include "attest.h"
#include "dsse.h"
#include "err.h"
#include "jig.h"
#include "log.h"
#include "util.h"

#define TRANSIENT_TRIES 3

void
jig_unit_init(struct jig_unit *u)
{
	memset(u, 0, sizeof(*u));
}

void
jig_unit_clear(struct jig_unit *u)
{
	free(u->bundle);
	free(u->report);
	jig_unit_init(u);
}

static void unit_fail(struct jig_unit *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
unit_fail(struct jig_unit *u, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
	va_end(ap);
	u->outcome = JIG_UNIT_FAILED;
}

static void
unit_name(struct jig_unit *u)
{
	size_t i;

	for (i = 0; i < u->id.uid_len; i++)
		if (u->id.uid[i] < 0x21 || u->id.uid[i] > 0x7e)
			break;
	if (i == u->id.uid_len) {
		memcpy(u->name, u->id.uid, u->id.uid_len);
		u->name[u->id.uid_len] = '\0';
	} else {
		tally_hex(u->id.uid, u->id.uid_len, u->name);
	}
}

static const char *
verdict_text(enum jig_dut_verdict v)
{
	switch (v) {
	case JIG_DUT_OK:		return "accepted";
	case JIG_DUT_MALFORMED:		return "malformed bundle";
	case JIG_DUT_BAD_SIGNATURE:	return "bad signature";
	case JIG_DUT_WRONG_DEVICE:	return "token for another device";
	case JIG_DUT_EXPIRED:		return "token outside the quota's validity";
	case JIG_DUT_NO_TOKEN:		return "no token accepted";
	case JIG_DUT_WRONG_FIRMWARE:	return "firmware digest not the token's";
	case JIG_DUT_FLASH_ERROR:	return "flash write failed";
	default:			return "unknown verdict";
	}
}

int
jig_report_sign(EVP_PKEY *jig_key, uint64_t token_index, const uint8_t *uid,
    size_t uid_len, const char *reason, uint8_t **env, size_t *env_len)
{
	Tally__InstallReport rep = TALLY__INSTALL_REPORT__INIT;
	char why[TALLY_REASON_MAX + 1];
	uint8_t *buf = NULL;
	size_t len;
	int r;

	if (uid == NULL || uid_len < 1 || uid_len > TALLY_UID_MAX)
		return TALLY_ERR_INVALID;
	rep.token_log_index = token_index;
	rep.device_uid = (ProtobufCBinaryData){ uid_len, (uint8_t *)uid };
	rep.result = reason == NULL ? TALLY__INSTALL_RESULT__INSTALLED :
	    TALLY__INSTALL_RESULT__FAILED;
	if (reason != NULL) {
		snprintf(why, sizeof(why), "%s", reason);
		rep.reason = why;
	}
	rep.time = tally_now();
	len = tally__install_report__get_packed_size(&rep);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__install_report__pack(&rep, buf);
	r = tally_dsse_sign(jig_key, TALLY_PT_REPORT, buf, len, env, env_len);
	free(buf);
	return r;
}

/* Reads the token out of the bundle the appliance sent, checking that the
 * pinned appliance signed it and that it names this DUT. */
static int
bundle_token(const struct jig_params *p, struct jig_unit *u)
{
	Tally__TokenBundle *b;
	Tally__Token *tok = NULL;
	EVP_PKEY *pub = NULL;
	uint8_t id[TALLY_KEY_ID_LEN];
	int r;

	if ((b = tally__token_bundle__unpack(NULL, u->bundle_len, u->bundle)) == NULL)
		return TALLY_ERR_INVALID;
	tally_key_id_spki(b->appliance_public_key.data,
	    b->appliance_public_key.len, id);
	if (CRYPTO_memcmp(id, p->appliance_key_id, sizeof(id)) != 0) {
		r = TALLY_ERR_MISMATCH;
		goto out;
	}
	if ((r = tally_key_from_spki(b->appliance_public_key.data,
	    b->appliance_public_key.len, &pub)) != 0 ||
	    (r = tally_token_open(b->token.data, b->token.len, pub, &tok)) != 0)
		goto out;
	if (tok->device_uid.len != u->id.uid_len ||
	    memcmp(tok->device_uid.data, u->id.uid, u->id.uid_len) != 0) {
		r = TALLY_ERR_MISMATCH;
		goto out;
	}
	u->token_index = tok->log_index;
	u->serial = tok->serial_number;
 out:
	if (tok != NULL)
		tally__token__free_unpacked(tok, NULL);
	EVP_PKEY_free(pub);
	tally__token_bundle__free_unpacked(b, NULL);
	return r;
}

static int
transient(Tally__ErrorCode code)
{
	return code == TALLY__ERROR_CODE__RATE_LIMITED ||
	    code == TALLY__ERROR_CODE__TOO_MANY_IN_FLIGHT ||
	    code == TALLY__ERROR_CODE__NONCE_INVALID;
}

static void
sleep_s(unsigned s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = 0 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* One Challenge + IssueToken. 0, JIG_CLIENT_REFUSED or a link error. */
static int
issue_once(struct jig_client *c, const struct jig_params *p, struct jig_dut *dut,
    struct jig_unit *u)
{
	struct jig_issue_args a = { 0 };
	uint8_t nonce[TALLY_NONCE_LEN], att[TALLY_ATTESTATION_MAX];
	size_t att_len = 0;
	int64_t expires;
	int r;

	if ((r = jig_client_challenge(c, nonce, &expires, &u->refusal)) != 0)
		return r;
	/* A DUT without an attestation key (UNSUPPORTED) asks without one;
	 * the appliance refuses it if the quota requires attestation. */
	r = dut->ops->attest != NULL ?
	    dut->ops->attest(dut->ctx, nonce, att, sizeof(att), &att_len) :
	    TALLY_ERR_UNSUPPORTED;
	if (r == TALLY_ERR_UNSUPPORTED)
		att_len = 0;
	else if (r != 0) {
		unit_fail(u, "DUT attestation: %s", tally_strerror(r));
		return 0;
	}
	a.quota_id = p->quota_id;
	a.product = p->product;
	a.uid = u->id.uid;
	a.uid_len = u->id.uid_len;
	a.nonce = nonce;
	a.fw_digest = p->fw_digest;
	a.attestation = att_len > 0 ? att : NULL;
	a.attestation_len = att_len;
	return jig_client_issue(c, &a, &u->bundle, &u->bundle_len, &u->reissued,
	    &u->refusal);
}

/* Stage ISSUE: a token bundle for this DUT, retrying transient refusals. */
static int
stage_issue(struct jig_client *c, const struct jig_params *p, struct jig_dut *dut,
    struct jig_unit *u)
{
	int r, try;

	for (try = 1; ; try++) {
		r = issue_once(c, p, dut, u);
		if (r < 0 || u->outcome != JIG_UNIT_PENDING)
			return r;
		if (r == 0)
			break;
		if (!transient(u->refusal.code) || try >= TRANSIENT_TRIES) {
			u->outcome = JIG_UNIT_REFUSED;
			return 0;
		}
		if (u->refusal.code != TALLY__ERROR_CODE__NONCE_INVALID)
			sleep_s(1u << (try - 1));
	}
	if ((r = bundle_token(p, u)) != 0) {
		unit_fail(u, "the appliance sent an unusable token: %s",
		    tally_strerror(r));
		return 0;
	}
	u->stage = JIG_STAGE_DUT;
	return 0;
}

/* Stage DUT: bundle, firmware, state. Sets the reason on failure and
 * leaves the signed report in u. */
static int
stage_dut(const struct jig_params *p, struct jig_dut *dut, struct jig_unit *u)
{
	const struct jig_dut_ops *ops = dut->ops;
	enum jig_dut_verdict v = JIG_DUT_OK;
	enum jig_dut_state st = JIG_DUT_BLANK;
	int r;

	if ((r = ops->write_bundle(dut->ctx, u->bundle, u->bundle_len, &v)) != 0)
		unit_fail(u, "DUT link while writing the token: %s", tally_strerror(r));
	else if (v != JIG_DUT_OK)
		unit_fail(u, "DUT refused the token bundle: %s", verdict_text(v));
	else if ((r = ops->download_firmware(dut->ctx, p->firmware,
	    p->firmware_len, &v)) != 0)
		unit_fail(u, "DUT link during firmware download: %s", tally_strerror(r));
	else if (v != JIG_DUT_OK)
		unit_fail(u, "DUT refused the firmware: %s", verdict_text(v));
	else if ((r = ops->read_state(dut->ctx, &st)) != 0)
		unit_fail(u, "DUT link while reading its state: %s", tally_strerror(r));
	else if (st != JIG_DUT_PROGRAMMED)
		unit_fail(u, "DUT not programmed after download (state %d)", (int)st);
	r = jig_report_sign(p->jig_key, u->token_index, u->id.uid, u->id.uid_len,
	    u->outcome == JIG_UNIT_FAILED ? u->reason : NULL, &u->report,
	    &u->report_len);
	if (r != 0)
		return r;
	u->stage = JIG_STAGE_REPORT;
	return 0;
}

static int
stage_report(struct jig_client *c, struct jig_unit *u)
{
	int r;

	r = jig_client_report(c, u->report, u->report_len, &u->report_index,
	    &u->unit_returned, &u->report_refusal);
	if (r < 0)
		return r;
	u->reported = r == 0;
	u->report_refused = r == JIG_CLIENT_REFUSED;
	if (u->outcome == JIG_UNIT_PENDING)
		u->outcome = JIG_UNIT_PROGRAMMED;
	u->stage = JIG_STAGE_DONE;
	return 0;
}

static int
stage_identity(const struct jig_params *p, struct jig_dut *dut, struct jig_unit *u)
{
	int r;

	if ((r = dut->ops->read_identity(dut->ctx, &u->id)) != 0 ||
	    u->id.uid_len < 1 || u->id.uid_len > TALLY_UID_MAX) {
		snprintf(u->name, sizeof(u->name), "(unknown)");
		unit_fail(u, "cannot read the DUT's identity: %s",
		    tally_strerror(r != 0 ? r : TALLY_ERR_INVALID));
		return 0;
	}
	unit_name(u);
	if (u->id.product[0] != '\0' && strcmp(u->id.product, p->product) != 0) {
		unit_fail(u, "DUT is a %s, this jig programs %s", u->id.product,
		    p->product);
		return 0;
	}
	u->stage = JIG_STAGE_ISSUE;
	return 0;
}

int
jig_program(struct jig_client *c, const struct jig_params *p,
    struct jig_dut *dut, struct jig_unit *u)
{
	int r = 0;

	while (r == 0 && u->stage != JIG_STAGE_DONE) {
		switch (u->stage) {
		case JIG_STAGE_IDENTITY:
			r = stage_identity(p, dut, u);
			break;
		case JIG_STAGE_ISSUE:
			r = stage_issue(c, p, dut, u);
			break;
		case JIG_STAGE_DUT:
			r = stage_dut(p, dut, u);
			break;
		case JIG_STAGE_REPORT:
			r = stage_report(c, u);
			break;
		default:
			return TALLY_ERR_INVALID;
		}
		/* A refusal or a failure before the DUT has a token ends the
		 * unit here: there is no token to report on. */
		if (r == 0 && u->stage < JIG_STAGE_DUT &&
		    u->outcome != JIG_UNIT_PENDING)
			u->stage = JIG_STAGE_DONE;
	}
	return r;
}
