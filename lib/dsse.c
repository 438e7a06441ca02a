/* dsse.c - DSSE v1 envelopes (secure-systems-lab/dsse protocol.md), see dsse.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dsse.h"
#include "err.h"
#include "key.h"

#define PAE_PREFIX_MAX 64	/* "DSSEv1" + two decimal lengths + spaces */

int
tally_dsse_pae(const char *type, const uint8_t *payload, size_t len,
    uint8_t **out, size_t *outlen)
{
	size_t tlen = strlen(type), total;
	uint8_t *buf;
	int n;

	if (len > TALLY_PAYLOAD_MAX || tlen > TALLY_PAYLOAD_MAX)
		return TALLY_ERR_TOO_LARGE;
	total = PAE_PREFIX_MAX + tlen + len;
	if ((buf = malloc(total)) == NULL)
		return TALLY_ERR_NOMEM;
	n = snprintf((char *)buf, total, "DSSEv1 %zu %s %zu ", tlen, type, len);
	if (n < 0 || (size_t)n + len > total) {
		free(buf);
		return TALLY_ERR_TOO_LARGE;
	}
	if (len > 0)
		memcpy(buf + n, payload, len);
	*out = buf;
	*outlen = (size_t)n + len;
	return 0;
}

/* Serializes an envelope with one signature into a new buffer. */
static int
pack_envelope(const char *type, const uint8_t *payload, size_t len,
    const uint8_t keyid[TALLY_KEY_ID_LEN], const uint8_t *sig, size_t siglen,
    uint8_t **env, size_t *envlen)
{
	Tally__Envelope e = TALLY__ENVELOPE__INIT;
	Tally__Signature s = TALLY__SIGNATURE__INIT, *sigs[1] = { &s };
	size_t n;
	uint8_t *buf;

	e.payload_type = (char *)type;
	e.payload.data = (uint8_t *)payload;
	e.payload.len = len;
	e.n_signatures = 1;
	e.signatures = sigs;
	s.keyid.data = (uint8_t *)keyid;
	s.keyid.len = TALLY_KEY_ID_LEN;
	s.sig.data = (uint8_t *)sig;
	s.sig.len = siglen;
	n = tally__envelope__get_packed_size(&e);
	if (n > TALLY_ENVELOPE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if ((buf = malloc(n)) == NULL)
		return TALLY_ERR_NOMEM;
	*envlen = tally__envelope__pack(&e, buf);
	*env = buf;
	return 0;
}

int
tally_dsse_sign(EVP_PKEY *key, const char *type, const uint8_t *payload,
    size_t len, uint8_t **env, size_t *envlen)
{
	uint8_t keyid[TALLY_KEY_ID_LEN], sig[TALLY_SIG_MAX], *pae = NULL;
	size_t paelen, siglen;
	int r;

	if ((r = tally_dsse_pae(type, payload, len, &pae, &paelen)) != 0 ||
	    (r = tally_key_id(key, keyid)) != 0 ||
	    (r = tally_sign(key, pae, paelen, sig, &siglen)) != 0)
		goto out;
	r = pack_envelope(type, payload, len, keyid, sig, siglen, env, envlen);
 out:
	free(pae);
	return r;
}

int
tally_dsse_sign_with(struct tally_signer *s, const char *type,
    const uint8_t *payload, size_t len, uint8_t **env, size_t *envlen)
{
	uint8_t sig[TALLY_SIG_MAX], *pae = NULL;
	size_t paelen, siglen;
	int r;

	if ((r = tally_dsse_pae(type, payload, len, &pae, &paelen)) != 0 ||
	    (r = tally_signer_sign(s, pae, paelen, sig, &siglen)) != 0)
		goto out;
	r = pack_envelope(type, payload, len, tally_signer_key_id(s), sig, siglen,
	    env, envlen);
 out:
	free(pae);
	return r;
}

/* Parse and check sizes and type; need_sig: at least one signature. */
static int
parse(const uint8_t *env, size_t envlen, const char *type, int need_sig,
    Tally__Envelope **out)
{
	Tally__Envelope *e;
	int r = TALLY_ERR_INVALID;

	if (envlen > TALLY_ENVELOPE_MAX)
		return TALLY_ERR_TOO_LARGE;
	if (envlen == 0 || (e = tally__envelope__unpack(NULL, envlen, env)) == NULL)
		return TALLY_ERR_INVALID;
	if (e->payload.len > TALLY_PAYLOAD_MAX)
		r = TALLY_ERR_TOO_LARGE;
	else if (e->payload.len == 0 || (need_sig && e->n_signatures == 0))
		r = TALLY_ERR_INVALID;
	else if (e->payload_type == NULL || strcmp(e->payload_type, type) != 0)
		r = TALLY_ERR_MISMATCH;
	else
		r = 0;
	if (r != 0) {
		tally__envelope__free_unpacked(e, NULL);
		return r;
	}
	*out = e;
	return 0;
}

int
tally_dsse_parse(const uint8_t *env, size_t envlen, const char *type,
    Tally__Envelope **out)
{
	return parse(env, envlen, type, 1, out);
}

/* Does one of the first TALLY_DSSE_MAX_SIGS signatures of e verify by pub? */
static int
check_signatures(const Tally__Envelope *e, EVP_PKEY *pub)
{
	uint8_t keyid[TALLY_KEY_ID_LEN], *pae = NULL;
	size_t i, paelen;
	const Tally__Signature *s;
	int r;

	if ((r = tally_key_id(pub, keyid)) != 0 ||
	    (r = tally_dsse_pae(e->payload_type, e->payload.data, e->payload.len,
	    &pae, &paelen)) != 0)
		goto out;
	r = TALLY_ERR_SIGNATURE;
	for (i = 0; i < e->n_signatures && i < TALLY_DSSE_MAX_SIGS; i++) {
		s = e->signatures[i];
		if (s->keyid.len != TALLY_KEY_ID_LEN ||
		    memcmp(s->keyid.data, keyid, TALLY_KEY_ID_LEN) != 0)
			continue;
		if (tally_verify(pub, pae, paelen, s->sig.data, s->sig.len) == 0) {
			r = 0;
			break;
		}
	}
 out:
	free(pae);
	return r;
}

int
tally_dsse_open(const uint8_t *env, size_t envlen, const char *type,
    EVP_PKEY *pub, Tally__Envelope **out)
{
	Tally__Envelope *e = NULL;
	int r;

	if ((r = parse(env, envlen, type, 0, &e)) != 0)
		return r;
	if ((r = check_signatures(e, pub)) != 0) {
		tally__envelope__free_unpacked(e, NULL);
		return r;
	}
	*out = e;
	return 0;
}
