/*
 * appliance.c - the bench's control-socket calls to tallyd (through
 * ctl/client.h, as tallyctl does) and the OEM-signed quota it imports.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "setup.h"
#include "artifacts.pb-c.h"
#include "ctl/client.h"
#include "dsse.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define CALL_TIMEOUT_MS 30000

/* One request/response on a new connection; the response must be OK and
 * carry body want. *resp: tally__ctl_response__free_unpacked(.., NULL). */
static int
call(const struct bench_env *env, Tally__CtlRequest *req,
    Tally__CtlResponse__BodyCase want, Tally__CtlResponse **resp)
{
	struct ctl_client *c = NULL;
	Tally__CtlResponse *rsp = NULL;
	int r;

	if ((r = ctl_client_connect(env->ctl_path, CALL_TIMEOUT_MS, &c)) != 0 ||
	    (r = ctl_client_call(c, req, &rsp)) != 0)
		goto out;
	if (rsp->error != TALLY__ERROR_CODE__OK) {
		log_err("tallyd refused: %s: %s", ctl_error_name(rsp->error), rsp->message);
		r = TALLY_ERR_PERM;
	} else if (rsp->body_case != want) {
		log_err("tallyd answered with another message (%d)", rsp->body_case);
		r = TALLY_ERR_INVALID;
	}
	if (r == 0) {
		*resp = rsp;
		rsp = NULL;
	}
 out:
	if (rsp != NULL)
		tally__ctl_response__free_unpacked(rsp, NULL);
	ctl_client_close(c);
	return r;
}

/* "127.0.0.1:PORT" -> sockaddr_in; only 127.0.0.1 is accepted. */
static int
parse_listen(const char *s, struct sockaddr_in *sin)
{
	const char *colon = strrchr(s, ':');
	char host[32];
	char *end;
	unsigned long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return TALLY_ERR_INVALID;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 || strcmp(host, "127.0.0.1") != 0)
		return TALLY_ERR_INVALID;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static int
wait_ready(const struct bench_env *env, int timeout_ms)
{
	struct ctl_client *c = NULL;
	int waited, r = TALLY_ERR_TIMEOUT;

	for (waited = 0; waited < timeout_ms; waited += 50) {
		if ((r = ctl_client_connect(env->ctl_path, 1000, &c)) == 0) {
			ctl_client_close(c);
			return 0;
		}
		usleep(50000);
	}
	return r;
}

int
appliance_connect(struct bench_env *env, const uint8_t want_id[32], int timeout_ms)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__StatusRequest st = TALLY__STATUS_REQUEST__INIT;
	Tally__IdentityRequest id = TALLY__IDENTITY_REQUEST__INIT;
	Tally__CtlResponse *rsp = NULL;
	int r;

	if ((r = wait_ready(env, timeout_ms)) != 0)
		return r;
	req.body_case = TALLY__CTL_REQUEST__BODY_STATUS;
	req.status = &st;
	if ((r = call(env, &req, TALLY__CTL_RESPONSE__BODY_STATUS, &rsp)) != 0)
		return r;
	if ((r = parse_listen(rsp->status->listen, &env->listen)) != 0)
		log_err("tallyd listens on \"%s\", not 127.0.0.1:PORT", rsp->status->listen);
	tally__ctl_response__free_unpacked(rsp, NULL);
	if (r != 0)
		return r;
	req.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	req.identity = &id;
	if ((r = call(env, &req, TALLY__CTL_RESPONSE__BODY_IDENTITY, &rsp)) != 0)
		return r;
	if (rsp->identity->key_id.len != 32 ||
	    memcmp(rsp->identity->key_id.data, want_id, 32) != 0)
		r = TALLY_ERR_MISMATCH;
	else
		memcpy(env->appliance_id, want_id, 32);
	tally__ctl_response__free_unpacked(rsp, NULL);
	return r;
}

int
appliance_enroll(const struct bench_env *env, const uint8_t *der, size_t len,
    const char *name)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__JigEnrollRequest en = TALLY__JIG_ENROLL_REQUEST__INIT;
	Tally__CtlResponse *rsp = NULL;
	int r;

	en.certificate.data = (uint8_t *)der;
	en.certificate.len = len;
	en.name = (char *)name;
	req.body_case = TALLY__CTL_REQUEST__BODY_JIG_ENROLL;
	req.jig_enroll = &en;
	if ((r = call(env, &req, TALLY__CTL_RESPONSE__BODY_JIG_ENROLL, &rsp)) == 0)
		tally__ctl_response__free_unpacked(rsp, NULL);
	return r;
}

/* Serialized quota Envelope signed by env->oem_root (*env_out, free()). */
static int
make_quota(struct bench_env *env, const uint8_t *spki, size_t spki_len,
    uint64_t units, uint8_t **out, size_t *out_len)
{
	Tally__Quota q = TALLY__QUOTA__INIT;
	ProtobufCBinaryData fw = { sizeof(env->firmware), env->firmware };
	int64_t now = tally_now();
	uint8_t *payload;
	size_t len;
	int r;

	if (RAND_bytes(env->quota_id, sizeof(env->quota_id)) != 1)
		return TALLY_ERR_CRYPTO;
	q.quota_id.data = env->quota_id;
	q.quota_id.len = sizeof(env->quota_id);
	q.appliance_key_id.data = env->appliance_id;
	q.appliance_key_id.len = sizeof(env->appliance_id);
	q.appliance_public_key.data = (uint8_t *)spki;
	q.appliance_public_key.len = spki_len;
	q.product = BENCH_PRODUCT;
	q.n_firmware_digests = 1;
	q.firmware_digests = &fw;
	q.units = units;
	q.not_before = now - 3600;
	q.not_after = now + 86400;
	q.issued_at = now;
	len = tally__quota__get_packed_size(&q);
	if ((payload = malloc(len)) == NULL)
		return TALLY_ERR_NOMEM;
	tally__quota__pack(&q, payload);
	r = tally_dsse_sign(env->oem_root, TALLY_PT_QUOTA, payload, len, out, out_len);
	free(payload);
	return r;
}

int
appliance_import_quota(struct bench_env *env, const uint8_t *spki, size_t spki_len,
    uint64_t units)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__QuotaImportRequest qi = TALLY__QUOTA_IMPORT_REQUEST__INIT;
	Tally__CtlResponse *rsp = NULL;
	uint8_t *envl = NULL;
	size_t len;
	int r;

	if ((r = make_quota(env, spki, spki_len, units, &envl, &len)) != 0)
		return r;
	qi.quota.data = envl;
	qi.quota.len = len;
	req.body_case = TALLY__CTL_REQUEST__BODY_QUOTA_IMPORT;
	req.quota_import = &qi;
	if ((r = call(env, &req, TALLY__CTL_RESPONSE__BODY_QUOTA_IMPORT, &rsp)) == 0) {
		if (rsp->quota_import->quota_id.len != sizeof(env->quota_id) ||
		    memcmp(rsp->quota_import->quota_id.data, env->quota_id,
		    sizeof(env->quota_id)) != 0)
			r = TALLY_ERR_MISMATCH;
		tally__ctl_response__free_unpacked(rsp, NULL);
	}
	free(envl);
	return r;
}

int
appliance_jig_connections(const struct bench_env *env, unsigned *n)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__StatusRequest st = TALLY__STATUS_REQUEST__INIT;
	Tally__CtlResponse *rsp = NULL;
	int r;

	req.body_case = TALLY__CTL_REQUEST__BODY_STATUS;
	req.status = &st;
	if ((r = call(env, &req, TALLY__CTL_RESPONSE__BODY_STATUS, &rsp)) != 0)
		return r;
	*n = rsp->status->jig_connections;
	tally__ctl_response__free_unpacked(rsp, NULL);
	return 0;
}
