/*
 * dutmodel_int.h - the DUT model's state, shared by dutmodel.c (lifecycle,
 * vendor requests), dutmodel_dfu.c (DFU 1.1 download) and dutmodel_fault.c
 * (fault parsing and matching). Not for other files: use dutmodel.h.
 */
#ifndef JIG_DUTMODEL_INT_H
#define JIG_DUTMODEL_INT_H

#include "attest.h"
#include "dutmodel.h"
#include "dutproto.h"

struct dm_dfu {
	uint8_t state;          /* enum tdp_dfu_state */
	uint8_t status;         /* enum tdp_dfu_status */
	uint8_t pending;        /* error found in the last block, reported by GETSTATUS */
	uint8_t last_error;     /* the last error status entered, kept after CLRSTATUS */
	int manifested;         /* manifestation done: next GETSTATUS -> dfuIDLE */
	uint32_t next_block;    /* block number the next DNLOAD must carry */
	uint32_t cur_block;     /* block number of the last DNLOAD */
	uint64_t size;          /* image bytes received */
	EVP_MD_CTX *md;         /* SHA-256 of the image so far */
};

struct dutmodel {
	uint8_t uid[TALLY_UID_MAX];             /* what the verifier checks against */
	size_t uid_len;
	uint8_t shown_uid[TALLY_UID_MAX];       /* what identity and attestation say */
	size_t shown_uid_len;
	uint8_t true_uid[TALLY_UID_MAX];        /* the configured (fused) UID */
	size_t true_uid_len;
	char product[TALLY_PRODUCT_MAX + 1];
	uint8_t *oem_spki;                      /* DER SPKI (OPENSSL_free) */
	size_t oem_spki_len;
	EVP_PKEY *att_key;                      /* the key it signs with, or NULL */
	uint8_t boot_key_hash[TALLY_DIGEST_LEN];
	uint32_t software_version;

	struct dm_fault fault;
	int fault_fired;
	int gone;
	unsigned requests;

	enum jig_dut_state state;
	enum jig_dut_verdict verdict;
	int bundle_verdict;                     /* -1: no VERIFY yet */
	int has_token;
	struct tdv_token token;

	int has_nonce;
	uint8_t nonce[TALLY_NONCE_LEN];
	uint8_t att[TALLY_ATTESTATION_MAX];
	size_t att_len;                         /* 0: not signed for this nonce yet */

	int bundle_open;                        /* BEGIN seen */
	size_t bundle_len, bundle_got;
	uint32_t bundle_next;
	uint8_t bundle[TALLY_BUNDLE_MAX];
	uint8_t work[TDV_WORK_MIN];

	struct dm_dfu dfu;
};

/* DFU class requests on interface TDP_IFACE_DFU (dutmodel_dfu.c). */
enum dm_outcome dm_dfu_request(struct dutmodel *m, const struct dm_setup *s,
    uint8_t *data, size_t *len);

/* Fault points (dutmodel_fault.c). Called before a request is handled:
 * DM_ACK when no fault applies, else the outcome to answer with (and the
 * unplug fault marks m gone). */
enum dm_outcome dm_fault_before(struct dutmodel *m, const struct dm_setup *s);

/* Called before a request is handled: 1 when the short fault applies to
 * it (the caller halves the reply of an ACKed IN request). */
int dm_fault_short(const struct dutmodel *m, const struct dm_setup *s);

/* 1 when the corrupt-image fault applies to DFU block `block`. */
int dm_fault_corrupts(struct dutmodel *m, uint32_t block);

#endif
