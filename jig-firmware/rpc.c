/* rpc.c - response validation and the one-shot requests of client.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "artifact.h"
#include "client.h"
#include "client_int.h"
#include "dsse.h"
#include "err.h"
#include "frame.h"
#include "key.h"

static int
check_product(const Tally__ProductStatus *p)
{
	size_t i, n;

	if (p == NULL || p->product == NULL)
		return TALLY_ERR_INVALID;
	n = strlen(p->product);
	if (n < 1 || n > TALLY_PRODUCT_MAX ||
	    p->quota_id.len != TALLY_QUOTA_ID_LEN ||
	    p->units_remaining > p->units ||
	    p->n_firmware_digests > TALLY_FIRMWARE_MAX)
		return TALLY_ERR_INVALID;
	for (i = 0; i < p->n_firmware_digests; i++)
		if (p->firmware_digests[i].len != TALLY_DIGEST_LEN)
			return TALLY_ERR_INVALID;
	return 0;
}

static int
check_hello(const Tally__HelloResponse *h)
{
	size_t i;

	if (h == NULL || h->appliance_key_id.len != TALLY_KEY_ID_LEN ||
	    h->appliance_public_key.len < 1 ||
	    h->appliance_public_key.len > TALLY_SPKI_MAX ||
	    h->n_products > JIG_HELLO_PRODUCTS_MAX)
		return TALLY_ERR_INVALID;
	for (i = 0; i < h->n_products; i++)
		if (check_product(h->products[i]) != 0)
			return TALLY_ERR_INVALID;
	return 0;
}

static int
check_issue(const Tally__IssueTokenResponse *it)
{
	const Tally__TokenBundle *b;

	if (it == NULL || (b = it->bundle) == NULL)
		return TALLY_ERR_INVALID;
	if (b->quota.len < 1 || b->quota.len > TALLY_ENVELOPE_MAX ||
	    b->token.len < 1 || b->token.len > TALLY_ENVELOPE_MAX ||
	    b->appliance_public_key.len < 1 ||
	    b->appliance_public_key.len > TALLY_SPKI_MAX)
		return TALLY_ERR_INVALID;
	return 0;
}

int
jig_response_check(const Tally__Response *r)
{
	/* request_id 0 only on a connection-level refusal (e.g. JIG_REVOKED
	 * right after the handshake), which has no body. */
	if ((r->request_id == 0 && (r->error == TALLY__ERROR_CODE__OK ||
	    r->body_case != TALLY__RESPONSE__BODY__NOT_SET)) ||
	    (r->message != NULL && strlen(r->message) > JIG_RESPONSE_MESSAGE_MAX))
		return TALLY_ERR_INVALID;
	if (r->error != TALLY__ERROR_CODE__OK)
		return 0;
	switch (r->body_case) {
	case TALLY__RESPONSE__BODY_HELLO:
		return check_hello(r->hello);
	case TALLY__RESPONSE__BODY_CHALLENGE:
		if (r->challenge == NULL || r->challenge->nonce.len != TALLY_NONCE_LEN)
			return TALLY_ERR_INVALID;
		return 0;
	case TALLY__RESPONSE__BODY_ISSUE_TOKEN:
		return check_issue(r->issue_token);
	case TALLY__RESPONSE__BODY_REPORT_INSTALL:
		return r->report_install != NULL ? 0 : TALLY_ERR_INVALID;
	default:
		return TALLY_ERR_INVALID;
	}
}

const char *
jig_error_name(int code, char *buf, size_t cap)
{
	const ProtobufCEnumValue *v;

	v = protobuf_c_enum_descriptor_get_value(&tally__error_code__descriptor, code);
	if (v != NULL)
		snprintf(buf, cap, "%s", v->name);
	else
		snprintf(buf, cap, "ERROR_%d", code);
	return buf;
}

static void
set_refusal(struct jig_refusal *ref, const Tally__Response *r)
{
	const char *m = r->message != NULL ? r->message : "";
	size_t i;

	ref->code = r->error;
	for (i = 0; m[i] != '\0' && i < JIG_MESSAGE_MAX; i++)
		ref->message[i] = (m[i] >= 0x20 && m[i] <= 0x7e) ? m[i] : '?';
	ref->message[i] = '\0';
}

/* Sends req, receives its response and checks it answers req with the
 * expected body. 0 with *out, JIG_CLIENT_REFUSED with *ref, or an error. */
static int
roundtrip(struct jig_client *c, Tally__Request *req,
    Tally__Response__BodyCase want, Tally__Response **out,
    struct jig_refusal *ref)
{
	Tally__Response *resp = NULL;
	int r;

	req->request_id = 0;
	if ((r = jig_client_send(c, req)) != 0 ||
	    (r = jig_client_recv(c, &resp)) != 0)
		return r;
	if (resp->request_id == 0) {
		/* The appliance refused the connection and closes it. */
		set_refusal(ref, resp);
		jig_client_mark_broken(c);
		r = JIG_CLIENT_REFUSED;
	} else if (resp->request_id != req->request_id ||
	    (resp->error == TALLY__ERROR_CODE__OK && resp->body_case != want)) {
		jig_client_mark_broken(c);
		r = TALLY_ERR_INVALID;
	} else if (resp->error != TALLY__ERROR_CODE__OK) {
		set_refusal(ref, resp);
		r = JIG_CLIENT_REFUSED;
	} else {
		*out = resp;
		resp = NULL;
	}
	if (resp != NULL)
		tally__response__free_unpacked(resp, NULL);
	return r;
}

int
jig_client_hello(struct jig_client *c, const char *jig_software,
    Tally__Response **out, struct jig_refusal *ref)
{
	Tally__Request req = TALLY__REQUEST__INIT;
	Tally__Hello hello = TALLY__HELLO__INIT;

	*out = NULL;
	hello.jig_software = (char *)(jig_software != NULL ? jig_software : "");
	req.body_case = TALLY__REQUEST__BODY_HELLO;
	req.hello = &hello;
	return roundtrip(c, &req, TALLY__RESPONSE__BODY_HELLO, out, ref);
}

int
jig_client_challenge(struct jig_client *c, uint8_t nonce[32],
    int64_t *expires_at, struct jig_refusal *ref)
{
	Tally__Request req = TALLY__REQUEST__INIT;
	Tally__ChallengeRequest ch = TALLY__CHALLENGE_REQUEST__INIT;
	Tally__Response *resp = NULL;
	int r;

	req.body_case = TALLY__REQUEST__BODY_CHALLENGE;
	req.challenge = &ch;
	if ((r = roundtrip(c, &req, TALLY__RESPONSE__BODY_CHALLENGE, &resp, ref)) != 0)
		return r;
	memcpy(nonce, resp->challenge->nonce.data, TALLY_NONCE_LEN);
	*expires_at = resp->challenge->expires_at;
	tally__response__free_unpacked(resp, NULL);
	return 0;
}

static int
issue_args_ok(const struct jig_issue_args *a)
{
	if (a->uid == NULL || a->uid_len < 1 || a->uid_len > TALLY_UID_MAX ||
	    a->nonce == NULL || a->attestation_len > TALLY_FRAME_MAX / 2 ||
	    (a->attestation == NULL && a->attestation_len != 0))
		return 0;
	if (a->quota_id == NULL &&
	    (a->product == NULL || a->product[0] == '\0' ||
	    strlen(a->product) > TALLY_PRODUCT_MAX))
		return 0;
	return 1;
}

/* Serializes the received TokenBundle: the bytes the DUT gets. */
static int
pack_bundle(const Tally__TokenBundle *b, uint8_t **out, size_t *len)
{
	size_t n = tally__token_bundle__get_packed_size(b);

	if (n > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((*out = malloc(n > 0 ? n : 1)) == NULL)
		return TALLY_ERR_NOMEM;
	*len = tally__token_bundle__pack(b, *out);
	return 0;
}

int
jig_client_issue(struct jig_client *c, const struct jig_issue_args *a,
    uint8_t **bundle, size_t *bundle_len, int *reissued, struct jig_refusal *ref)
{
	Tally__Request req = TALLY__REQUEST__INIT;
	Tally__IssueTokenRequest it = TALLY__ISSUE_TOKEN_REQUEST__INIT;
	Tally__Response *resp = NULL;
	int r;

	if (!issue_args_ok(a))
		return TALLY_ERR_INVALID;
	if (a->quota_id != NULL)
		it.quota_id = (ProtobufCBinaryData){ TALLY_QUOTA_ID_LEN, (uint8_t *)a->quota_id };
	if (a->product != NULL)
		it.product = (char *)a->product;
	it.device_uid = (ProtobufCBinaryData){ a->uid_len, (uint8_t *)a->uid };
	it.nonce = (ProtobufCBinaryData){ TALLY_NONCE_LEN, (uint8_t *)a->nonce };
	if (a->fw_digest != NULL)
		it.firmware_digest = (ProtobufCBinaryData){ TALLY_DIGEST_LEN, (uint8_t *)a->fw_digest };
	if (a->attestation != NULL)
		it.attestation = (ProtobufCBinaryData){ a->attestation_len, (uint8_t *)a->attestation };
	req.body_case = TALLY__REQUEST__BODY_ISSUE_TOKEN;
	req.issue_token = &it;
	if ((r = roundtrip(c, &req, TALLY__RESPONSE__BODY_ISSUE_TOKEN, &resp, ref)) != 0)
		return r;
	if ((r = pack_bundle(resp->issue_token->bundle, bundle, bundle_len)) == 0)
		*reissued = resp->issue_token->reissued ? 1 : 0;
	tally__response__free_unpacked(resp, NULL);
	return r;
}

int
jig_client_report(struct jig_client *c, const uint8_t *env, size_t len,
    uint64_t *log_index, int *unit_returned, struct jig_refusal *ref)
{
	Tally__Request req = TALLY__REQUEST__INIT;
	Tally__ReportInstallRequest rep = TALLY__REPORT_INSTALL_REQUEST__INIT;
	Tally__Response *resp = NULL;
	int r;

	if (env == NULL || len < 1 || len > TALLY_ENVELOPE_MAX)
		return TALLY_ERR_INVALID;
	rep.report = (ProtobufCBinaryData){ len, (uint8_t *)env };
	req.body_case = TALLY__REQUEST__BODY_REPORT_INSTALL;
	req.report_install = &rep;
	r = roundtrip(c, &req, TALLY__RESPONSE__BODY_REPORT_INSTALL, &resp, ref);
	if (r != 0)
		return r;
	*log_index = resp->report_install->log_index;
	*unit_returned = resp->report_install->unit_returned ? 1 : 0;
	tally__response__free_unpacked(resp, NULL);
	return 0;
}
