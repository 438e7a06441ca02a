/*
 * jig.h - programming one DUT (DESIGN.md §5-§7):
 *   read the DUT's identity -> Challenge -> the DUT's attestation over
 *   the challenge (ops->attest; a DUT without an attestation key,
 *   TALLY_ERR_UNSUPPORTED, is asked for none) -> IssueToken -> write the
 *   token bundle to the DUT -> download the firmware -> read the DUT's
 *   state -> ReportInstall (an InstallReport signed by the jig key, DSSE
 *   payload type TALLY_PT_REPORT: INSTALLED, or FAILED with a reason).
 *
 * A DUT failure before the token (identity, attestation) ends the unit
 * with nothing to report (nothing was spent). Once the token is issued,
 * any DUT refusal or link failure (stall, timeout, unplug) is reported as
 * FAILED with its reason; the appliance applies its scrap rules.
 *
 * The sequence is resumable: a struct jig_unit records how far it got, so
 * when the link to the appliance drops the caller reconnects and calls
 * jig_program again with the same unit and DUT. Before the DUT has the
 * token it starts again at Challenge (the appliance returns the same token
 * for the same device, spending no second unit); after, only the report
 * (the same signed envelope) is sent again.
 */
#ifndef JIG_JIG_H
#define JIG_JIG_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "client.h"
#include "key.h"
#include "transport.h"

/* What every unit is programmed with; nothing here is owned. */
struct jig_params {
	EVP_PKEY *jig_key;               /* signs install reports */
	const uint8_t *appliance_key_id; /* 32 bytes: tokens must be signed by this key */
	const uint8_t *quota_id;         /* 16 bytes, or NULL to ask by product */
	const char *product;             /* 1..64 printable ASCII */
	const uint8_t *firmware;         /* the image */
	size_t firmware_len;             /* bytes */
	const uint8_t *fw_digest;        /* 32 bytes: SHA-256 of the image */
};

enum jig_outcome {
	JIG_UNIT_PENDING = 0,            /* not finished */
	JIG_UNIT_PROGRAMMED,             /* DUT accepted token and firmware */
	JIG_UNIT_REFUSED,                /* the appliance refused a token (typed code) */
	JIG_UNIT_FAILED,                 /* the DUT or its link failed, or a bad token */
};

enum jig_stage {
	JIG_STAGE_IDENTITY = 0,          /* next: read the DUT's identity */
	JIG_STAGE_ISSUE,                 /* next: Challenge + IssueToken */
	JIG_STAGE_DUT,                   /* next: bundle and firmware to the DUT */
	JIG_STAGE_REPORT,                /* next: send the signed report */
	JIG_STAGE_DONE,
};

#define JIG_UNIT_NAME_MAX (2 * TALLY_UID_MAX + 1)

/* One DUT's progress and outcome. Zero it with jig_unit_init; release
 * with jig_unit_clear. */
struct jig_unit {
	enum jig_stage stage;
	struct jig_dut_identity id;
	char name[JIG_UNIT_NAME_MAX + 1];  /* the UID as text: itself when printable ASCII, else hex */
	uint8_t *bundle;                   /* serialized TokenBundle (owned) */
	size_t bundle_len;
	uint64_t token_index;              /* the token's log index */
	uint64_t serial;                   /* the token's serial number, 0 = none */
	int reissued;                      /* the appliance had issued it before */
	uint8_t *report;                   /* signed InstallReport envelope (owned) */
	size_t report_len;
	enum jig_outcome outcome;
	struct jig_refusal refusal;        /* REFUSED: the appliance's code and message */
	char reason[TALLY_REASON_MAX + 1]; /* FAILED: why, in words */
	int reported;                      /* the appliance logged the report */
	uint64_t report_index;             /* its log index */
	int unit_returned;                 /* the quota got the unit back */
	int report_refused;                /* the appliance refused the report */
	struct jig_refusal report_refusal;
};

void jig_unit_init(struct jig_unit *u);

/* Frees what u holds and zeroes it. */
void jig_unit_clear(struct jig_unit *u);

/* Runs (or resumes) the sequence for the DUT dut over client c.
 * Returns 0 when u->outcome is final (PROGRAMMED, REFUSED or FAILED;
 * whether the report was logged is in u->reported / u->report_refused).
 * RATE_LIMITED, TOO_MANY_IN_FLIGHT and NONCE_INVALID refusals are tried
 * 3 times in all (waiting 1 s, then 2 s; NONCE_INVALID without waiting)
 * before they count as the unit's refusal.
 * A negative tally_err means the link to the appliance failed (c is
 * unusable): reconnect and call again with the same u and dut. Also
 * TALLY_ERR_NOMEM, TALLY_ERR_CRYPTO (report signing failed). */
int jig_program(struct jig_client *c, const struct jig_params *p,
    struct jig_dut *dut, struct jig_unit *u);

/* Makes the signed report envelope (*env, free()) for a token:
 * InstallReport{token_index, uid, INSTALLED when reason is NULL else
 * FAILED with reason (at most TALLY_REASON_MAX bytes, cut), time = now}.
 * Errors: TALLY_ERR_INVALID (uid length), those of tally_dsse_sign. */
int jig_report_sign(EVP_PKEY *jig_key, uint64_t token_index,
    const uint8_t *uid, size_t uid_len, const char *reason,
    uint8_t **env, size_t *env_len);

#endif
