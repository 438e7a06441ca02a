/*
 * harness.h - integration-test harness: a real tallyd process on
 * 127.0.0.1 with real keys and certificates in a mkdtemp folder.
 *
 * What th_setup() builds, in t->dir (under /tmp, removed by th_cleanup):
 *   oem.pem / oem.pub   OEM root key pair (P-256)
 *   ca.pem              jig CA certificate (its key stays in memory)
 *   jigN.pem / jigN.key certificate and key of jig N (P-256), N < njigs;
 *                       NOT enrolled: call th_enroll(t, N)
 *   tallyd.conf         listen 127.0.0.1:0, control socket ctl.sock,
 *                       control_group = this process's primary group
 *   appliance.pem       created by tallyd itself on first start
 *   data/               LMDB store
 *   tallyd.log          tallyd's stderr (appended across restarts)
 * and starts $TALLY_BUILD/tallyd (default build/check/tallyd) with
 * --foreground, waits until the control socket answers status, and reads
 * the jig port (StatusResponse.listen) and the appliance identity.
 *
 * Typical cmocka use:
 *
 *   static void test_x(void **state) {
 *       struct th *t = *state;
 *       struct th_conn *c;
 *       assert_int_equal(th_enroll(t, 0), 0);
 *       assert_int_equal(th_tls_connect(t, &(struct th_tls_opts){ .jig = 0 }, &c), 0);
 *       ...
 *       th_tls_close(c);
 *   }
 *   cmocka_unit_test_setup_teardown(test_x, th_cmocka_setup, th_cmocka_teardown)
 *
 * Teardown runs after a failed assertion too, so no tallyd is left behind;
 * tallyd also gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).
 * Set TALLY_TEST_LOG=1 to copy tallyd.log to stderr at cleanup, and
 * TALLY_TEST_KEEP=1 to keep the folder. th_setup/th_init set SIGPIPE to
 * SIG_IGN in the test process, so writing to a connection tallyd closed
 * gives an error instead of killing the test.
 *
 * Return conventions: functions named *_code return a Tally__ErrorCode
 * (0 = OK, > 0 refused by tallyd) or a negative tally_err when the
 * exchange itself failed; the others return 0 or a negative tally_err.
 * Every Response/CtlResponse handed out is freed by the caller with
 * tally__response__free_unpacked / tally__ctl_response__free_unpacked(.., NULL).
 */
#ifndef TALLY_HARNESS_H
#define TALLY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ctl.pb-c.h"
#include "jig.pb-c.h"
#include "key.h"

#define TH_JIGS_MAX 16
#define TH_PATH 160
#define TH_ATTESTATION_KEYS_MAX 16

/* The firmware digest th_make_quota allows by default (32 bytes). */
extern const uint8_t th_firmware[32];

struct th_jig {
	char cert_path[TH_PATH];   /* PEM certificate, issued by the harness CA */
	char key_path[TH_PATH];    /* PEM private key, mode 0600 */
	EVP_PKEY *key;
	X509 *cert;
	uint8_t key_id[32];        /* SHA-256 of its SPKI: the jig's ID in tallyd */
};

struct th_opts {
	unsigned njigs;                /* jig certificates to make, 0..TH_JIGS_MAX */
	enum tally_key_type key_type;  /* appliance key type; 0 = P-256 */
	const char *extra_config;      /* more "key = value\n" lines for [tallyd] */
};

struct th {
	char dir[64];
	char conf_path[TH_PATH], sock_path[TH_PATH], data_dir[TH_PATH];
	char key_path[TH_PATH], oem_path[TH_PATH], oem_pub_path[TH_PATH];
	char ca_path[TH_PATH], log_path[TH_PATH];
	enum tally_key_type key_type;  /* appliance key type in the config */
	EVP_PKEY *oem_key;             /* OEM root key (signs quotas) */
	EVP_PKEY *ca_key;              /* jig CA key */
	X509 *ca;                      /* jig CA certificate */
	unsigned njigs;
	struct th_jig jig[TH_JIGS_MAX];
	pid_t pid;                     /* running tallyd, 0 when none */
	uint16_t port;                 /* its jig port (changes on restart) */
	uint8_t appliance_key_id[32];
	uint8_t *appliance_spki;       /* DER SPKI (OPENSSL_free) */
	size_t appliance_spki_len;
	uint64_t next_id;              /* request IDs handed out */
	/* Set before th_start (issue 5, fault tests); empty = unused: */
	char tallyd_path[TH_PATH];     /* tallyd binary instead of $TALLY_BUILD/tallyd */
	char extra_env[TH_PATH];       /* one "NAME=value" added to tallyd's environment
	                                  (e.g. TALLY_FAULT=commit:3) */
	bool quiet;                    /* no tallyd.log dump on stderr when a start fails */
};

/* --- life cycle --- */

/* Allocates *out, builds the folder, keys, certificates and configuration
 * (th_init) and starts tallyd (th_start). On failure everything is undone
 * and *out is NULL. Errors: TALLY_ERR_IO, TALLY_ERR_CRYPTO, TALLY_ERR_TIMEOUT
 * (tallyd did not answer within 30 s), TALLY_ERR_CLOSED (tallyd exited). */
int th_setup(struct th **out, const struct th_opts *o);

/* Only the files of th_setup, no process (for tests of broken configs). */
int th_init(struct th *t, const struct th_opts *o);

/* Starts tallyd (again: after th_kill/th_stop the store is kept) and waits
 * until it answers status; updates t->port and the appliance identity. */
int th_start(struct th *t);

/* Sends sig to tallyd and waits for it to exit (SIGKILL after 20 s).
 * Returns its wait status (waitpid), or -1 when none was running. */
int th_kill(struct th *t, int sig);

/* SIGTERM and wait up to timeout_ms; returns tallyd's exit code (0..255),
 * 128+N when it died of signal N, or -1 if it had to be killed. */
int th_stop(struct th *t, int timeout_ms);

/* th_kill(SIGKILL) then th_start. */
int th_restart(struct th *t);

/* Kills tallyd if it still runs, removes the folder, frees t. NULL ok. */
void th_cleanup(struct th *t);

/* cmocka group/test fixtures: th_setup with 4 jigs into *state, and
 * th_cleanup of *state. th_cmocka_setup_with adds extra_config (more
 * "key = value\n" lines for [tallyd], may be NULL). */
int th_cmocka_setup(void **state);
int th_cmocka_setup_with(void **state, const char *extra_config);
int th_cmocka_teardown(void **state);

/* Does tallyd.log contain needle? */
bool th_log_contains(struct th *t, const char *needle);

/* Waits up to timeout_ms for needle to appear in tallyd.log (tallyd may
 * log an event just after the client saw its effect). */
bool th_log_wait(struct th *t, const char *needle, int timeout_ms);

/* Rewrites tallyd.conf with extra lines (replacing o->extra_config). */
int th_write_config(struct th *t, const char *extra_config);

/* --- control socket --- */

/* One request and its (first) response on a new connection. A request_id
 * of 0 is replaced by a fresh one. */
int th_ctl(struct th *t, Tally__CtlRequest *req, Tally__CtlResponse **resp);

/* Lower level, for streamed answers (log export): connect, send, receive
 * one frame. th_ctl_recv: 0, TALLY_ERR_CLOSED (EOF), TALLY_ERR_TIMEOUT
 * (10 s), TALLY_ERR_INVALID (not a CtlResponse). Close fd with close(). */
int th_ctl_connect(struct th *t, int *fd);
int th_ctl_send(int fd, Tally__CtlRequest *req);
int th_ctl_recv(int fd, Tally__CtlResponse **resp);

/* StatusResponse through th_ctl (resp holds it in (*resp)->status). */
int th_status(struct th *t, Tally__CtlResponse **resp);

/* --- quotas and jigs --- */

struct th_quota {
	const char *product;             /* NULL = "widget" */
	uint64_t units;                  /* 0 = 100 */
	int64_t not_before, not_after;   /* both 0 = now-60 .. now+86400 */
	const uint8_t *firmware;         /* NULL = th_firmware (one digest) */
	const uint8_t *appliance_key_id; /* NULL = this appliance's */
	EVP_PKEY *signer;                /* NULL = t->oem_key */
	uint64_t max_unreconciled, scrap_allowance;
	uint64_t serial_first, serial_last;
	/* n_attestation_keys (0..TH_ATTESTATION_KEYS_MAX) keys whose SPKIs
	 * the quota trusts; any key makes the quota ATTESTATION_REQUIRED;
	 * 0 = policy none. More keys: TALLY_ERR_INVALID. */
	EVP_PKEY *const *attestation_keys;
	size_t n_attestation_keys;
};

/* An OEM-signed quota envelope (DSSE) with a fresh random quota ID.
 * *env (free()) and quota_id (16 bytes, may be NULL) receive it.
 * Errors: TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM, TALLY_ERR_INVALID (more than
 * TH_ATTESTATION_KEYS_MAX attestation keys), those of tally_key_spki. */
int th_make_quota(struct th *t, const struct th_quota *q, uint8_t quota_id[16],
    uint8_t **env, size_t *len);

/* quota import of env through the control socket. *_code convention. */
int th_import_code(struct th *t, const uint8_t *env, size_t len);

/* th_make_quota(product, units, defaults otherwise) + import. */
int th_quota_code(struct th *t, const char *product, uint64_t units, uint8_t quota_id[16]);

/* jig enroll / jig revoke of t->jig[i]; they return a code as the
 * *_code functions do (0 = done, > 0 Tally__ErrorCode, < 0 tally_err). */
int th_enroll(struct th *t, unsigned i);
int th_revoke(struct th *t, unsigned i);

/* Makes a P-256 key and a certificate "CN=cn" for it from a NEW CA (not
 * the one tallyd trusts), written to t->dir/<cn>.pem and <cn>.key. */
int th_foreign_jig(struct th *t, const char *cn, struct th_jig *out);
void th_jig_free(struct th_jig *j);

/* Another certificate "CN=cn" for the key of t->jig[i] (so the same jig
 * key ID, enrolled or not as jig i is), from t's jig CA, valid from now +
 * not_before_s to now + not_after_s (seconds; negative = in the past: an
 * expired certificate, or one not yet valid). Written to t->dir/<cn>.pem;
 * out->key_path is jig i's key file. th_jig_free(out) afterwards (also on
 * error). Errors: TALLY_ERR_INVALID (i >= t->njigs), TALLY_ERR_CRYPTO,
 * TALLY_ERR_IO. */
int th_jig_recert(struct th *t, unsigned i, const char *cn, long not_before_s,
    long not_after_s, struct th_jig *out);

/* --- jig TLS client (blocking, 10 s timeouts) --- */

struct th_tls_opts {
	int jig;                 /* index into t->jig, or -1 for no certificate */
	const struct th_jig *as; /* or this identity (overrides jig) */
	int max_version;         /* 0 = TLS1_3_VERSION; e.g. TLS1_2_VERSION, or
	                            TLS1_1_VERSION / TLS1_VERSION (the client then
	                            offers only that version, security level 0) */
	int rcvbuf;              /* SO_RCVBUF in bytes (a slow reader); 0 = default */
};

struct th_conn;

/* Connects to 127.0.0.1:t->port and runs the TLS handshake. 0 and *out
 * when the client saw the handshake complete (in TLS 1.3 the server may
 * still refuse the client certificate right after: see th_tls_refused).
 * TALLY_ERR_CLOSED or TALLY_ERR_CRYPTO when the handshake failed. */
int th_tls_connect(struct th *t, const struct th_tls_opts *o, struct th_conn **out);

/* Connects with o and sends Hello: true when no Hello reply comes back
 * (handshake failed, alert, or closed), i.e. tallyd refused the jig. */
bool th_tls_refused(struct th *t, const struct th_tls_opts *o);

/* Raw bytes into the TLS stream (for broken frames). */
int th_tls_write(struct th_conn *c, const void *buf, size_t len);

/* One framed Request; request_id 0 is replaced by a fresh one. */
int th_tls_send(struct th_conn *c, Tally__Request *rq);

/* One framed Response: 0, TALLY_ERR_CLOSED (EOF, close_notify or alert),
 * TALLY_ERR_TIMEOUT, TALLY_ERR_INVALID (bad frame or message). */
int th_tls_recv(struct th_conn *c, Tally__Response **resp);

/* send + recv. */
int th_tls_call(struct th_conn *c, Tally__Request *rq, Tally__Response **resp);

/* Reads and discards until the server closes: true if it did within
 * timeout_ms, false if it is still open. */
bool th_tls_wait_closed(struct th_conn *c, int timeout_ms);

void th_tls_close(struct th_conn *c);

/* The OpenSSL connection of c (owned by c), for tests that drive TLS
 * itself, e.g. SSL_key_update. */
struct ssl_st *th_tls_ssl(struct th_conn *c);

/* Hello; *_code convention; *resp optional (NULL = freed here). */
int th_hello_code(struct th_conn *c, Tally__Response **resp);

/* Challenge; nonce receives 32 bytes. *_code convention. */
int th_challenge_code(struct th_conn *c, uint8_t nonce[32]);

/* Challenge + IssueToken for product (or quota_id when not NULL) and uid
 * (uid_len bytes), no firmware digest. *_code convention; *resp optional. */
int th_issue_code(struct th_conn *c, const char *product, const uint8_t *quota_id,
    const uint8_t *uid, size_t uid_len, Tally__Response **resp);

#endif
