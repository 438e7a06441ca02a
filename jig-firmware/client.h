/*
 * client.h - the jig's client for the appliance protocol (proto/jig.proto,
 * DESIGN.md §5): mutually authenticated TLS 1.3 (RFC 8446) over one TCP
 * connection, blocking I/O with send and receive timeouts, frames of a
 * 4-byte big-endian length then one protobuf message of at most
 * TALLY_FRAME_MAX bytes (lib/frame.h).
 *
 * Two levels:
 *  - jig_client_send / jig_client_recv move one Request / Response each and
 *    allow pipelining: send several requests, then receive the responses
 *    and match them by request_id (the appliance may answer out of order).
 *  - jig_client_hello / _challenge / _issue / _report each send one request
 *    and wait for its response; they must not be mixed with outstanding
 *    pipelined requests on the same client.
 *
 * Return convention of every function here:
 *   0                    the appliance answered OK;
 *   JIG_CLIENT_REFUSED   (positive) the appliance answered with a typed
 *                        error (Response.error != OK); code and message
 *                        are in *ref; the connection stays usable, except
 *                        after a connection-level refusal (a Response with
 *                        request_id 0, e.g. JIG_NOT_ENROLLED or JIG_REVOKED
 *                        sent right after the handshake), after which the
 *                        appliance closes the link;
 *   a negative tally_err the link failed or the peer broke the protocol;
 *                        the client is then unusable (every later call
 *                        returns TALLY_ERR_CLOSED): close it and reconnect.
 *
 * Writes to a connection the peer has closed raise SIGPIPE; programs using
 * this client ignore SIGPIPE (tally-jig does, in main).
 * A client is used by one thread at a time.
 */
#ifndef JIG_CLIENT_H
#define JIG_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include "jig.pb-c.h"
#include "key.h"

#define JIG_CLIENT_REFUSED 1
#define JIG_CLIENT_TIMEOUT_DEFAULT 10   /* seconds, send and receive */
#define JIG_MESSAGE_MAX 256             /* bytes of an error message kept */
#define JIG_RESPONSE_MESSAGE_MAX 4096   /* longer Response.message is a protocol error */
#define JIG_HELLO_PRODUCTS_MAX 1024     /* products accepted in a HelloResponse */

struct jig_client;

/* An appliance's refusal: the typed code and its message, made printable
 * (bytes outside 0x20..0x7e become '?') and cut to JIG_MESSAGE_MAX. */
struct jig_refusal {
	Tally__ErrorCode code;
	char message[JIG_MESSAGE_MAX + 1];
};

/* Connects to host:port (a name or a numeric IPv4/IPv6 address; every
 * address getaddrinfo returns is tried in turn), sets TCP_NODELAY and
 * SO_RCVTIMEO/SO_SNDTIMEO of JIG_CLIENT_TIMEOUT_DEFAULT seconds, and runs
 * the TLS 1.3 handshake presenting the PEM certificate at cert_file with
 * key (not owned; a reference is held while connected). The appliance is
 * accepted only if its certificate's SPKI hashes to pin (32 bytes, the
 * appliance key ID); this is checked by the TLS context and again after
 * the handshake. *out: jig_client_close.
 * Errors: TALLY_ERR_INVALID (host empty, port 0), TALLY_ERR_NOT_FOUND
 * (name does not resolve), TALLY_ERR_IO (connection refused or reset, or
 * cert_file unreadable; errno says which),
 * TALLY_ERR_TIMEOUT, TALLY_ERR_KEY (key does not match the certificate),
 * TALLY_ERR_CRYPTO (handshake failed: the alert is logged),
 * TALLY_ERR_MISMATCH (the appliance's key is not the pinned one),
 * TALLY_ERR_NOMEM. */
int jig_client_connect(const char *host, uint16_t port, const char *cert_file,
    EVP_PKEY *key, const uint8_t pin[TALLY_KEY_ID_LEN], struct jig_client **out);

/* As jig_client_connect, with a client context made once by
 * tally_tls_client_ctx (ctx is not taken: a reference is held while
 * connected), so that reconnecting does not reload the certificate.
 * pin must be the one ctx was made with. Same errors, but not
 * TALLY_ERR_KEY; TALLY_ERR_INVALID also for ctx NULL. */
int jig_client_connect_ctx(const char *host, uint16_t port, SSL_CTX *ctx,
    const uint8_t pin[TALLY_KEY_ID_LEN], struct jig_client **out);

/* Sets the send and receive timeout to seconds (1..3600) for later calls.
 * Returns 0, TALLY_ERR_INVALID or TALLY_ERR_IO. */
int jig_client_set_timeout(struct jig_client *c, unsigned seconds);

/* Sends a TLS close_notify (when the link is still good), closes the
 * socket and frees c. NULL is a no-op. */
void jig_client_close(struct jig_client *c);

/* Serializes req and sends it as one frame. When req->request_id is 0 the
 * next ID of this client (1, 2, ...) is assigned to it first, so the
 * caller reads req->request_id afterwards to match the response.
 * Errors: TALLY_ERR_TOO_LARGE (message > TALLY_FRAME_MAX), TALLY_ERR_IO,
 * TALLY_ERR_TIMEOUT, TALLY_ERR_CLOSED, TALLY_ERR_NOMEM. */
int jig_client_send(struct jig_client *c, Tally__Request *req);

/* Receives the next Response, in arrival order. The frame length is
 * checked (1..TALLY_FRAME_MAX) before the body is read and unpacked; the
 * message is then validated: request_id != 0 (or 0 with error != OK and
 * no body: a connection-level refusal, see above), message at most
 * JIG_RESPONSE_MESSAGE_MAX bytes, and when error == OK a body whose
 * fields have the sizes of proto/jig.proto (HelloResponse: key ID 32
 * bytes, SPKI 1..TALLY_SPKI_MAX, at most JIG_HELLO_PRODUCTS_MAX products
 * with product 1..64 bytes, quota_id 16 bytes, units_remaining <= units,
 * at most 16 digests of 32 bytes; ChallengeResponse: nonce 32 bytes;
 * IssueTokenResponse: bundle with quota and token envelopes of
 * 1..TALLY_ENVELOPE_MAX bytes and an SPKI of 1..TALLY_SPKI_MAX bytes).
 * Returns 0 with *out (tally__response__free_unpacked(*out, NULL)) even
 * when (*out)->error != OK: matching and refusals are the caller's.
 * Errors: TALLY_ERR_CLOSED (peer closed between frames), TALLY_ERR_INVALID
 * (not a valid Response, EOF inside a frame, bad sizes), TALLY_ERR_TOO_LARGE,
 * TALLY_ERR_TIMEOUT, TALLY_ERR_IO, TALLY_ERR_NOMEM. */
int jig_client_recv(struct jig_client *c, Tally__Response **out);

/* Writes len raw bytes on the TLS connection, no framing: for tests that
 * send garbage, truncated or oversized frames. Errors as jig_client_send. */
int jig_client_write_raw(struct jig_client *c, const uint8_t *buf, size_t len);

/* Hello. On 0, *out holds the whole Response (use (*out)->hello; free with
 * tally__response__free_unpacked(*out, NULL)); otherwise *out is NULL.
 * Returns 0, JIG_CLIENT_REFUSED (with *ref) or a negative error as above. */
int jig_client_hello(struct jig_client *c, const char *jig_software,
    Tally__Response **out, struct jig_refusal *ref);

/* Challenge: a fresh single-use nonce (TALLY_NONCE_LEN bytes) and its expiry
 * (Unix seconds). Returns 0, JIG_CLIENT_REFUSED or a negative error. */
int jig_client_challenge(struct jig_client *c, uint8_t nonce[32],
    int64_t *expires_at, struct jig_refusal *ref);

/* What IssueToken asks for. */
struct jig_issue_args {
	const uint8_t *quota_id;      /* 16 bytes, or NULL to pick by product */
	const char *product;          /* used when quota_id is NULL; may be NULL otherwise */
	const uint8_t *uid;           /* device UID */
	size_t uid_len;               /* 1..TALLY_UID_MAX */
	const uint8_t *nonce;         /* 32 bytes from jig_client_challenge */
	const uint8_t *fw_digest;     /* 32 bytes, or NULL when the quota allows one */
	const uint8_t *attestation;   /* NULL (reserved for attestation) */
	size_t attestation_len;
};

/* IssueToken. On 0, *bundle (free()) holds the serialized TokenBundle
 * (*bundle_len bytes, what the DUT receives) and *reissued is 1 when the
 * device already had this token (no unit spent), else 0. On a refusal
 * (e.g. QUOTA_EXHAUSTED, NONCE_INVALID) returns JIG_CLIENT_REFUSED with
 * *ref. Errors: TALLY_ERR_INVALID (arguments out of range: nothing is
 * sent), and those of send/recv. */
int jig_client_issue(struct jig_client *c, const struct jig_issue_args *a,
    uint8_t **bundle, size_t *bundle_len, int *reissued, struct jig_refusal *ref);

/* ReportInstall with a serialized Envelope of an InstallReport signed by
 * the jig key (env, 1..TALLY_ENVELOPE_MAX bytes). On 0, *log_index is the
 * report's log entry and *unit_returned 1 when the quota got the unit
 * back (scrap allowance). Returns 0, JIG_CLIENT_REFUSED (e.g.
 * REPORT_INVALID) or a negative error; TALLY_ERR_INVALID for a bad len. */
int jig_client_report(struct jig_client *c, const uint8_t *env, size_t len,
    uint64_t *log_index, int *unit_returned, struct jig_refusal *ref);

/* Name of an error code as in proto/jig.proto ("QUOTA_EXHAUSTED"), or
 * "ERROR_<n>" for an unknown value, written into buf (cap bytes).
 * Returns buf. */
const char *jig_error_name(int code, char *buf, size_t cap);

#endif
