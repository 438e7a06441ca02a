/* jigreq.c - jig request handlers, see jigreq.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "arena.h"
#include "artifact.h"
#include "attest.h"
#include "daemon.h"
#include "dsse.h"
#include "err.h"
#include "jigreq.h"
#include "log.h"
#include "query.h"
#include "ratelimit.h"
#include "session.h"
#include "util.h"
#include "writer.h"

#define NS_PER_S 1000000000ull
#define JIG_SOFTWARE_MAX 128   /* Hello.jig_software, printable ASCII */

static bool
printable(const char *p, size_t min, size_t max)
{
	size_t n = strlen(p), i;

	if (n < min || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static void
reply(struct session *s, Tally__Response *resp)
{
	session_send(s, resp);
}

static void
do_hello(struct session *s, Tally__Request *rq)
{
	Tally__Response resp = TALLY__RESPONSE__INIT;
	Tally__HelloResponse h = TALLY__HELLO_RESPONSE__INIT;
	struct tally_arena a = TALLY_ARENA_INIT;
	int r;

	if (rq->hello == NULL || !printable(rq->hello->jig_software, 0, JIG_SOFTWARE_MAX)) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "jig_software must be at most 128 printable characters");
		return;
	}
	log_debug("jig %s: Hello from \"%s\"", s->name, rq->hello->jig_software);
	if ((r = query_hello(s->d->store, &a, &h)) != 0) {
		log_tally_err(r, "jig %s: Hello", s->name);
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__INTERNAL,
		    "cannot read the quotas");
		goto out;
	}
	h.appliance_public_key.data = s->d->spki;
	h.appliance_public_key.len = s->d->spki_len;
	h.appliance_key_id.data = s->d->key_id;
	h.appliance_key_id.len = sizeof(s->d->key_id);
	h.time = tally_now();
	resp.request_id = rq->request_id;
	resp.body_case = TALLY__RESPONSE__BODY_HELLO;
	resp.hello = &h;
	reply(s, &resp);
 out:
	tally_arena_release(&a);
}

/* Drops expired nonces, keeping the order of the others. */
static void
nonces_expire(struct session *s, uint64_t now)
{
	unsigned i, j = 0;

	for (i = 0; i < s->n_nonces; i++)
		if (s->nonces[i].expires_ns > now)
			s->nonces[j++] = s->nonces[i];
	OPENSSL_cleanse(&s->nonces[j], (s->n_nonces - j) * sizeof(s->nonces[0]));
	s->n_nonces = j;
}

/* Finds an unexpired nonce equal to n (32 bytes) and removes it: a nonce is
 * good for one IssueToken. Returns true when it was there. */
static bool
nonce_take(struct session *s, const uint8_t *n)
{
	unsigned i;

	nonces_expire(s, tally_mono_ns());
	for (i = 0; i < s->n_nonces; i++) {
		if (CRYPTO_memcmp(s->nonces[i].nonce, n, 32) == 0) {
			s->nonces[i] = s->nonces[--s->n_nonces];
			OPENSSL_cleanse(&s->nonces[s->n_nonces], sizeof(s->nonces[0]));
			return true;
		}
	}
	return false;
}

static void
do_challenge(struct session *s, Tally__Request *rq)
{
	Tally__Response resp = TALLY__RESPONSE__INIT;
	Tally__ChallengeResponse c = TALLY__CHALLENGE_RESPONSE__INIT;
	uint32_t ttl = s->d->cfg->challenge_ttl;
	struct session_nonce *n;

	nonces_expire(s, tally_mono_ns());
	if (s->n_nonces >= SESSION_NONCES_MAX) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__RATE_LIMITED,
		    "too many outstanding challenges on this connection");
		return;
	}
	n = &s->nonces[s->n_nonces];
	if (RAND_bytes(n->nonce, sizeof(n->nonce)) != 1) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__INTERNAL,
		    "no random bytes");
		return;
	}
	n->expires_ns = tally_mono_ns() + (uint64_t)ttl * NS_PER_S;
	s->n_nonces++;
	c.nonce.data = n->nonce;
	c.nonce.len = sizeof(n->nonce);
	c.expires_at = tally_now() + ttl;
	resp.request_id = rq->request_id;
	resp.body_case = TALLY__RESPONSE__BODY_CHALLENGE;
	resp.challenge = &c;
	reply(s, &resp);
}

/* Field checks of IssueTokenRequest; NULL when good, else what is wrong. */
static const char *
issue_invalid(const Tally__IssueTokenRequest *it)
{
	if (it->quota_id.len != 0 && it->quota_id.len != TALLY_QUOTA_ID_LEN)
		return "quota_id must be 16 bytes or empty";
	if (it->quota_id.len == 0 && !printable(it->product, 1, TALLY_PRODUCT_MAX))
		return "product must be 1..64 printable characters when quota_id is empty";
	if (it->quota_id.len != 0 && it->product[0] != '\0' &&
	    !printable(it->product, 1, TALLY_PRODUCT_MAX))
		return "product must be 1..64 printable characters";
	if (it->device_uid.len < 1 || it->device_uid.len > TALLY_UID_MAX)
		return "device_uid must be 1..64 bytes";
	if (it->nonce.len != TALLY_NONCE_LEN)
		return "nonce must be 32 bytes";
	if (it->firmware_digest.len != 0 && it->firmware_digest.len != TALLY_DIGEST_LEN)
		return "firmware_digest must be 32 bytes or empty";
	if (it->attestation.len > TALLY_ATTESTATION_MAX)
		return "attestation must be at most 254 bytes";
	return NULL;
}

static void jigreq_done(struct wreq *w, void *arg);

/* A writer request of kind for this session, routed back to jigreq_done;
 * NULL (after replying INTERNAL) when out of memory. */
static struct wreq *
wreq_for(struct session *s, enum wreq_kind kind, uint64_t request_id)
{
	struct wreq *w = wreq_new(kind);

	if (w == NULL) {
		session_reply_error(s, request_id, TALLY__ERROR_CODE__INTERNAL, "out of memory");
		return NULL;
	}
	w->conn_id = s->id;
	w->request_id = request_id;
	memcpy(w->jig_key_id, s->jig_id, sizeof(w->jig_key_id));
	w->done = jigreq_done;
	w->arg = s->d;
	return w;
}

static void
do_issue(struct session *s, Tally__Request *rq)
{
	const Tally__IssueTokenRequest *it = rq->issue_token;
	const char *bad;
	struct wreq *w;

	if (it == NULL || (bad = issue_invalid(it)) != NULL) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    it == NULL ? "empty IssueToken" : bad);
		return;
	}
	if (s->in_flight >= s->d->cfg->max_in_flight) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__TOO_MANY_IN_FLIGHT,
		    "too many requests in flight on this connection");
		return;
	}
	if (!nonce_take(s, it->nonce.data)) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__NONCE_INVALID,
		    "nonce unknown, expired or already used on this connection");
		return;
	}
	if ((w = wreq_for(s, WREQ_ISSUE_TOKEN, rq->request_id)) == NULL)
		return;
	w->in.issue.has_quota_id = it->quota_id.len != 0;
	if (w->in.issue.has_quota_id)
		memcpy(w->in.issue.quota_id, it->quota_id.data, TALLY_QUOTA_ID_LEN);
	memcpy(w->in.issue.product, it->product, strlen(it->product) + 1);
	memcpy(w->in.issue.uid, it->device_uid.data, it->device_uid.len);
	w->in.issue.uid_len = it->device_uid.len;
	memcpy(w->in.issue.nonce, it->nonce.data, TALLY_NONCE_LEN);
	w->in.issue.has_firmware = it->firmware_digest.len != 0;
	if (w->in.issue.has_firmware)
		memcpy(w->in.issue.firmware, it->firmware_digest.data, TALLY_DIGEST_LEN);
	if (it->attestation.len > 0)
		memcpy(w->in.issue.attestation, it->attestation.data, it->attestation.len);
	w->in.issue.attestation_len = it->attestation.len;
	s->in_flight++;
	writer_submit(s->d->writer, w);
}

static void
do_report(struct session *s, Tally__Request *rq)
{
	const Tally__ReportInstallRequest *ri = rq->report_install;
	struct wreq *w;

	if (ri == NULL || ri->report.len < 1 || ri->report.len > TALLY_ENVELOPE_MAX) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "report must be a serialized Envelope of 1..16384 bytes");
		return;
	}
	if (s->in_flight >= s->d->cfg->max_in_flight) {
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__TOO_MANY_IN_FLIGHT,
		    "too many requests in flight on this connection");
		return;
	}
	if ((w = wreq_for(s, WREQ_REPORT_INSTALL, rq->request_id)) == NULL)
		return;
	if ((w->in.report.env = malloc(ri->report.len)) == NULL) {
		wreq_free(w);
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__INTERNAL, "out of memory");
		return;
	}
	memcpy(w->in.report.env, ri->report.data, ri->report.len);
	w->in.report.len = ri->report.len;
	s->in_flight++;
	writer_submit(s->d->writer, w);
}

/* The jig's request bucket (rate_limit, rate_burst): true when rq may be
 * served. A refused request gets RATE_LIMITED and nothing else happens
 * (no nonce, no writer request, no log entry). The log says when a jig
 * starts being refused and, once it is served again, how many were. */
static bool
rate_ok(struct session *s, const Tally__Request *rq)
{
	const struct tallyd_config *cfg = s->d->cfg;
	struct ratelimit_entry *e = s->rl;
	char msg[96];

	if (e == NULL || ratelimit_take(e, cfg->rate_limit, cfg->rate_burst, tally_mono_ns())) {
		if (e != NULL && e->refused != 0) {
			log_info("jig %s: served again after %llu requests refused "
			    "RATE_LIMITED", s->name, (unsigned long long)e->refused);
			e->refused = 0;
		}
		return true;
	}
	if (e->refused == 1)
		log_warn("jig %s (%s): over rate_limit (%u requests/s, burst %u); "
		    "refusing its requests RATE_LIMITED", s->name, s->peer,
		    (unsigned)cfg->rate_limit, (unsigned)cfg->rate_burst);
	snprintf(msg, sizeof(msg), "more than %u requests/s from this jig (burst %u)",
	    (unsigned)cfg->rate_limit, (unsigned)cfg->rate_burst);
	session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__RATE_LIMITED, msg);
	return false;
}

void
jigreq_handle(struct session *s, Tally__Request *rq)
{
	if (!rate_ok(s, rq))
		return;
	switch (rq->body_case) {
	case TALLY__REQUEST__BODY_HELLO:
		do_hello(s, rq);
		break;
	case TALLY__REQUEST__BODY_CHALLENGE:
		do_challenge(s, rq);
		break;
	case TALLY__REQUEST__BODY_ISSUE_TOKEN:
		do_issue(s, rq);
		break;
	case TALLY__REQUEST__BODY_REPORT_INSTALL:
		do_report(s, rq);
		break;
	default:
		session_reply_error(s, rq->request_id, TALLY__ERROR_CODE__BAD_REQUEST,
		    "request without a known body");
		break;
	}
}

static void
reply_issue(struct session *s, struct wreq *w)
{
	Tally__Response resp = TALLY__RESPONSE__INIT;
	Tally__IssueTokenResponse it = TALLY__ISSUE_TOKEN_RESPONSE__INIT;
	Tally__TokenBundle *b;

	if ((b = tally__token_bundle__unpack(NULL, w->out_len, w->out)) == NULL) {
		log_err("jig %s: the writer returned an unreadable token bundle", s->name);
		session_reply_error(s, w->request_id, TALLY__ERROR_CODE__INTERNAL,
		    "token bundle could not be encoded");
		return;
	}
	it.bundle = b;
	it.reissued = w->reissued;
	resp.request_id = w->request_id;
	resp.body_case = TALLY__RESPONSE__BODY_ISSUE_TOKEN;
	resp.issue_token = &it;
	reply(s, &resp);
	tally__token_bundle__free_unpacked(b, NULL);
}

static void
reply_report(struct session *s, struct wreq *w)
{
	Tally__Response resp = TALLY__RESPONSE__INIT;
	Tally__ReportInstallResponse ri = TALLY__REPORT_INSTALL_RESPONSE__INIT;

	ri.log_index = w->log_index;
	ri.unit_returned = w->unit_returned;
	resp.request_id = w->request_id;
	resp.body_case = TALLY__RESPONSE__BODY_REPORT_INSTALL;
	resp.report_install = &ri;
	reply(s, &resp);
}

/* The writer committed (or failed) the batch holding w: reply, on the loop
 * thread, if the connection is still there. */
static void
jigreq_done(struct wreq *w, void *arg)
{
	struct session *s = session_lookup(arg, w->conn_id);

	if (s == NULL)
		goto out;   /* the jig went away; the state change stands */
	if (s->in_flight > 0)
		s->in_flight--;
	if (s->closing)
		goto settle;
	if (w->error != 0) {
		w->message[sizeof(w->message) - 1] = '\0';
		session_reply_error(s, w->request_id, w->error, w->message);
		if (w->error == TALLY__ERROR_CODE__JIG_REVOKED ||
		    w->error == TALLY__ERROR_CODE__JIG_NOT_ENROLLED)
			session_close(s);
	} else if (w->kind == WREQ_ISSUE_TOKEN) {
		reply_issue(s, w);
	} else {
		reply_report(s, w);
	}
 settle:
	session_settle(s);
 out:
	wreq_free(w);
}
