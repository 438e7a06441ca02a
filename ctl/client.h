/*
 * client.h - client side of the tallyd control socket (proto/ctl.proto).
 *
 * Wire format: frames of a 4-byte big-endian length (1..TALLY_FRAME_MAX)
 * followed by one serialized message (lib/frame.h). The client sends a
 * CtlRequest; tallyd answers with one CtlResponse carrying the same
 * request_id, or, for a log export, a series of CtlResponses each holding
 * one ExportRecord, the last one with `last` set.
 *
 * Used by tallyctl and by the integration tests. One client is one
 * connection; it is not thread-safe. Requests on one client are sent one
 * at a time (no pipelining).
 */
#ifndef TALLYCTL_CLIENT_H
#define TALLYCTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "ctl.pb-c.h"

#define CTL_SOCKET_DEFAULT "/run/tally/control.sock"
#define CTL_SOCKET_ENV "TALLY_SOCKET"
#define CTL_TIMEOUT_MS_DEFAULT 30000  /* per read or write on the socket */

struct ctl_client;

/* Connects to the UNIX stream socket at path (at most sizeof(sun_path)-1
 * bytes). Reads and writes that block longer than timeout_ms milliseconds
 * (0 = CTL_TIMEOUT_MS_DEFAULT) fail with TALLY_ERR_TIMEOUT.
 * On success *out owns the connection (ctl_client_close).
 * Errors: TALLY_ERR_NOT_FOUND (nothing at path, or nobody listens:
 * ENOENT / ECONNREFUSED; errno kept), TALLY_ERR_INVALID (path exists but
 * is not a socket, or is too long), TALLY_ERR_PERM (EACCES/EPERM, e.g. not
 * in the socket's group), TALLY_ERR_IO (other socket error, errno kept),
 * TALLY_ERR_NOMEM. */
int ctl_client_connect(const char *path, int timeout_ms, struct ctl_client **out);

/* Closes the connection and frees c. NULL is allowed. */
void ctl_client_close(struct ctl_client *c);

/* Sends req (its request_id is overwritten with the client's next ID) and
 * reads one response with the same request_id, or with request_id 0 and
 * an error (tallyd refusing the connection itself, e.g. PERMISSION_DENIED
 * for a peer outside the control group). The response is returned
 * whatever its error code: *resp (tally__ctl_response__free_unpacked(..,
 * NULL)) may carry error != OK, which the caller reports.
 * Errors: TALLY_ERR_TOO_LARGE (request or response over TALLY_FRAME_MAX),
 * TALLY_ERR_CLOSED (tallyd closed the connection), TALLY_ERR_INVALID
 * (response is not a CtlResponse, or its request_id differs),
 * TALLY_ERR_TIMEOUT, TALLY_ERR_IO, TALLY_ERR_NOMEM. */
int ctl_client_call(struct ctl_client *c, Tally__CtlRequest *req,
    Tally__CtlResponse **resp);

/* Callback of ctl_client_stream: sees one response with error == OK (it
 * is freed after the call returns). Returns 0 to continue, or a negative
 * tally_err to stop the stream with that code. */
typedef int (*ctl_stream_cb)(void *arg, const Tally__CtlResponse *resp);

/* Sends req and reads responses until one has `last` set or error != OK.
 * cb is called for each response with error == OK, the last one included.
 * The response that ended the stream is returned in *end (free as above);
 * the caller checks (*end)->error. If cb stops the stream, its code is
 * returned, *end is NULL, and the connection must be closed (responses
 * may still be in flight).
 * Errors: those of ctl_client_call, and those of cb. */
int ctl_client_stream(struct ctl_client *c, Tally__CtlRequest *req,
    ctl_stream_cb cb, void *arg, Tally__CtlResponse **end);

/* Name of an ErrorCode as in proto/jig.proto (e.g. "QUOTA_REPLAYED");
 * static, never NULL ("UNKNOWN_ERROR" for values not in the enum). */
const char *ctl_error_name(Tally__ErrorCode code);

#endif
