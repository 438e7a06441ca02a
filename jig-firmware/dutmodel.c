/* dutmodel.c - the DUT model: lifecycle, dispatch and the vendor requests
 * of docs/dut-protocol.md §3. DFU is in dutmodel_dfu.c, faults in
 * dutmodel_fault.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "attest.h"
#include "dutmodel_int.h"
#include "dutrecord.h"
#include "err.h"
#include "key.h"
#include "log.h"

/* The key a faulty chip signs with: its own, not one the quota trusts. */
static int
own_key(const struct dutmodel_config *c, EVP_PKEY **out)
{
	enum tally_key_type t = TALLY_KEY_P256;

	if (c->attestation_key != NULL &&
	    tally_key_type(c->attestation_key) == TALLY_KEY_ED25519)
		t = TALLY_KEY_ED25519;
	return tally_key_generate(t, out);
}

/* Which key signs attestations, and which UIDs are shown and verified. */
static int
apply_identity(struct dutmodel *m, const struct dutmodel_config *c)
{
	const struct dm_fault *f = &m->fault;

	memcpy(m->shown_uid, m->true_uid, m->true_uid_len);
	m->shown_uid_len = m->true_uid_len;
	memcpy(m->uid, m->true_uid, m->true_uid_len);
	m->uid_len = m->true_uid_len;
	if (f->kind == DM_FAULT_CLONE || f->kind == DM_FAULT_MISREPORT_UID) {
		if (f->uid_len == 0 || f->uid_len > TALLY_UID_MAX)
			return TALLY_ERR_INVALID;
		memcpy(m->shown_uid, f->uid, f->uid_len);
		m->shown_uid_len = f->uid_len;
	}
	if (f->kind == DM_FAULT_CLONE) {
		memcpy(m->uid, f->uid, f->uid_len);
		m->uid_len = f->uid_len;
	}
	if (f->kind == DM_FAULT_WRONG_ATT_KEY ||
	    (f->kind == DM_FAULT_CLONE && c->attestation_key != NULL))
		return own_key(c, &m->att_key);
	if (c->attestation_key != NULL) {
		if (EVP_PKEY_up_ref(c->attestation_key) != 1)
			return TALLY_ERR_CRYPTO;
		m->att_key = c->attestation_key;
	}
	return 0;
}

static int
check_config(const struct dutmodel_config *c)
{
	if (c == NULL || c->uid == NULL || c->uid_len == 0 ||
	    c->uid_len > TALLY_UID_MAX || c->oem_root == NULL ||
	    (c->product != NULL && !dutrec_printable_text(c->product, TALLY_PRODUCT_MAX)))
		return TALLY_ERR_INVALID;
	return 0;
}

int
dutmodel_new(const struct dutmodel_config *c, struct dutmodel **out)
{
	struct dutmodel *m;
	int r;

	if ((r = check_config(c)) != 0)
		return r;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return TALLY_ERR_NOMEM;
	memcpy(m->true_uid, c->uid, c->uid_len);
	m->true_uid_len = c->uid_len;
	snprintf(m->product, sizeof(m->product), "%s",
	    c->product != NULL ? c->product : "");
	memcpy(m->boot_key_hash, c->boot_key_hash, sizeof(m->boot_key_hash));
	m->software_version = c->software_version;
	if (c->fault != NULL)
		m->fault = *c->fault;
	m->state = JIG_DUT_BLANK;
	m->verdict = JIG_DUT_NO_TOKEN;
	m->bundle_verdict = -1;
	m->dfu.state = TDP_DFU_IDLE;
	m->dfu.status = TDP_DFU_OK;
	if ((r = tally_key_spki(c->oem_root, &m->oem_spki, &m->oem_spki_len)) != 0 ||
	    (r = apply_identity(m, c)) != 0)
		goto out;
	if ((m->dfu.md = EVP_MD_CTX_new()) == NULL) {
		r = TALLY_ERR_NOMEM;
		goto out;
	}
	*out = m;
	m = NULL;
 out:
	dutmodel_free(m);
	return r;
}

void
dutmodel_free(struct dutmodel *m)
{
	if (m == NULL)
		return;
	EVP_PKEY_free(m->att_key);
	EVP_MD_CTX_free(m->dfu.md);
	OPENSSL_free(m->oem_spki);
	OPENSSL_cleanse(m, sizeof(*m));
	free(m);
}

enum dm_outcome
dm_reply(const struct dm_setup *s, uint8_t *data, size_t *len,
    const void *rec, size_t n)
{
	*len = n < s->wLength ? n : s->wLength;
	if (*len > 0)
		memcpy(data, rec, *len);
	return DM_ACK;
}

static enum dm_outcome
get_identity(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	uint8_t rec[TDP_IDENTITY_MAX];
	size_t plen = strlen(m->product), n = 0;

	if (m->fault.kind == DM_FAULT_CLONE || m->fault.kind == DM_FAULT_MISREPORT_UID)
		m->fault_fired = 1;
	rec[n++] = TDP_VERSION;
	rec[n++] = (uint8_t)m->state;
	rec[n++] = m->att_key != NULL ? TDP_FLAG_ATTESTATION : 0;
	rec[n++] = (uint8_t)m->shown_uid_len;
	memcpy(rec + n, m->shown_uid, m->shown_uid_len);
	n += m->shown_uid_len;
	rec[n++] = (uint8_t)plen;
	memcpy(rec + n, m->product, plen);
	n += plen;
	return dm_reply(s, data, len, rec, n);
}

static enum dm_outcome
set_challenge(struct dutmodel *m, const struct dm_setup *s, const uint8_t *data)
{
	if (s->wLength != TALLY_NONCE_LEN)
		return DM_STALL;
	memcpy(m->nonce, data, TALLY_NONCE_LEN);
	m->has_nonce = 1;
	m->att_len = 0;
	return DM_ACK;
}

static enum dm_outcome
get_attestation(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	int r;

	if (m->att_key == NULL || !m->has_nonce)
		return DM_STALL;
	if (m->att_len == 0 &&
	    (r = tally_attestation_make(m->att_key, m->nonce, m->shown_uid,
	    m->shown_uid_len, m->boot_key_hash, m->software_version, m->att,
	    sizeof(m->att), &m->att_len)) != 0) {
		log_tally_err(r, "simulated DUT: attestation");
		m->att_len = 0;
		return DM_STALL;
	}
	if (m->fault.kind == DM_FAULT_WRONG_ATT_KEY || m->fault.kind == DM_FAULT_CLONE)
		m->fault_fired = 1;
	return dm_reply(s, data, len, m->att, m->att_len);
}

static enum dm_outcome
bundle_begin(struct dutmodel *m, const struct dm_setup *s)
{
	if (s->wLength != 0 || s->wValue == 0 || s->wValue > TALLY_BUNDLE_MAX)
		return DM_STALL;
	m->bundle_open = 1;
	m->bundle_len = s->wValue;
	m->bundle_got = 0;
	m->bundle_next = 0;
	return DM_ACK;
}

static enum dm_outcome
bundle_data(struct dutmodel *m, const struct dm_setup *s, const uint8_t *data)
{
	size_t want;

	if (!m->bundle_open || s->wValue != m->bundle_next ||
	    m->bundle_got >= m->bundle_len)
		return DM_STALL;
	want = m->bundle_len - m->bundle_got;
	if (want > TDP_BLOCK)
		want = TDP_BLOCK;
	if (s->wLength != want)
		return DM_STALL;
	memcpy(m->bundle + m->bundle_got, data, want);
	m->bundle_got += want;
	m->bundle_next++;
	return DM_ACK;
}

enum jig_dut_verdict
dutmodel_verdict_of(enum tdv_result r)
{
	switch (r) {
	case TDV_OK:			return JIG_DUT_OK;
	case TDV_BAD_SIGNATURE:
	case TDV_KEY_MISMATCH:
	case TDV_CRYPTO:		return JIG_DUT_BAD_SIGNATURE;
	case TDV_WRONG_QUOTA:
	case TDV_WRONG_DEVICE:		return JIG_DUT_WRONG_DEVICE;
	case TDV_EXPIRED:		return JIG_DUT_EXPIRED;
	case TDV_FIRMWARE_NOT_ALLOWED:	return JIG_DUT_WRONG_FIRMWARE;
	default:			return JIG_DUT_MALFORMED;
	}
}

static enum dm_outcome
bundle_verify(struct dutmodel *m, const struct dm_setup *s)
{
	struct tdv_crypto c;
	struct tdv_params p;
	struct tdv_token tok;
	enum tdv_result r;

	if (s->wLength != 0 || s->wValue != 0 || !m->bundle_open ||
	    m->bundle_got != m->bundle_len)
		return DM_STALL;
	tdv_crypto_openssl(&c);
	memset(&p, 0, sizeof(p));
	p.crypto = &c;
	p.oem_root_spki = m->oem_spki;
	p.oem_root_spki_len = m->oem_spki_len;
	p.uid = m->uid;
	p.uid_len = m->uid_len;
	p.product = m->product[0] != '\0' ? m->product : NULL;
	p.now = 0;      /* no trusted clock */
	p.work = m->work;
	p.work_len = sizeof(m->work);
	r = tdv_verify_bundle(&p, m->bundle, m->bundle_len, &tok);
	m->bundle_open = 0;
	m->verdict = dutmodel_verdict_of(r);
	m->bundle_verdict = (int)m->verdict;
	m->has_token = r == TDV_OK;
	if (r == TDV_OK) {
		m->token = tok;
		m->state = JIG_DUT_TOKEN_ACCEPTED;
	} else {
		log_debug("simulated DUT refused the bundle: %s", tdv_result_name(r));
		memset(&m->token, 0, sizeof(m->token));
		m->state = JIG_DUT_REJECTED;
	}
	return DM_ACK;
}

static enum dm_outcome
get_status(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	uint8_t rec[TDP_STATUS_LEN] = {
		(uint8_t)m->verdict, (uint8_t)m->state, TDP_VERSION, 0
	};

	return dm_reply(s, data, len, rec, sizeof(rec));
}

static enum dm_outcome
vendor_request(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	int in = (s->bmRequestType & 0x80) != 0;

	if (s->wIndex != TDP_IFACE_VENDOR)
		return DM_STALL;
	if (s->bRequest != TDP_BUNDLE_BEGIN && s->bRequest != TDP_BUNDLE_DATA &&
	    s->wValue != 0)
		return DM_STALL;
	switch (s->bRequest) {
	case TDP_GET_IDENTITY:
		return in ? get_identity(m, s, data, len) : DM_STALL;
	case TDP_SET_CHALLENGE:
		return !in ? set_challenge(m, s, data) : DM_STALL;
	case TDP_GET_ATTESTATION:
		return in ? get_attestation(m, s, data, len) : DM_STALL;
	case TDP_BUNDLE_BEGIN:
		return !in ? bundle_begin(m, s) : DM_STALL;
	case TDP_BUNDLE_DATA:
		return !in ? bundle_data(m, s, data) : DM_STALL;
	case TDP_BUNDLE_VERIFY:
		return !in ? bundle_verify(m, s) : DM_STALL;
	case TDP_GET_STATUS:
		return in ? get_status(m, s, data, len) : DM_STALL;
	default:
		return DM_STALL;
	}
}

enum dm_outcome
dutmodel_control(struct dutmodel *m, const struct dm_setup *s, uint8_t *data,
    size_t *len)
{
	enum dm_outcome o;
	int halve;

	*len = 0;
	m->requests++;
	if (m->gone)
		return DM_GONE;
	if ((o = dm_fault_before(m, s)) != DM_ACK)
		return o;
	halve = dm_fault_short(m, s);
	/* Interface recipient only (USB 2.0 §9.3.1 bits 4..0 = 1). */
	if ((s->bmRequestType & 0x1f) != 0x01)
		return DM_STALL;
	if ((s->bmRequestType & 0x60) == 0x40)
		o = vendor_request(m, s, data, len);
	else if ((s->bmRequestType & 0x60) == 0x20 && s->wIndex == TDP_IFACE_DFU)
		o = dm_dfu_request(m, s, data, len);
	else
		o = DM_STALL;
	if (o == DM_ACK && halve) {
		*len /= 2;
		m->fault_fired = 1;
	}
	return o;
}

void
dutmodel_report(const struct dutmodel *m, struct dutmodel_report *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->uid, m->shown_uid, m->shown_uid_len);
	r->uid_len = m->shown_uid_len;
	memcpy(r->fused_uid, m->uid, m->uid_len);
	r->fused_uid_len = m->uid_len;
	r->state = m->state;
	r->bundle_verdict = m->bundle_verdict;
	r->verdict = m->verdict;
	r->dfu_state = m->dfu.state;
	r->dfu_status = m->dfu.status;
	r->dfu_last_error = m->dfu.last_error;
	r->has_token = m->has_token;
	r->token_index = m->has_token ? m->token.log_index : 0;
	r->fault_fired = m->fault_fired;
	r->gone = m->gone;
	r->requests = m->requests;
}

size_t
dutmodel_presented_uid(const struct dutmodel *m, const uint8_t **uid)
{
	*uid = m->shown_uid;
	return m->shown_uid_len;
}

const char *
dutmodel_product(const struct dutmodel *m)
{
	return m->product;
}
