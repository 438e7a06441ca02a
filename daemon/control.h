/*
 * control.h - the control UNIX socket (DESIGN.md §5): the only way
 * tallyctl talks to tallyd. Stream socket, mode 0660, owned by root (when
 * tallyd runs as root) and the control group; every connection's peer is
 * identified by SO_PEERCRED and must be uid 0, tallyd's own uid, or a
 * member of the control group. Frames as in frame.h carry CtlRequest /
 * CtlResponse (proto/ctl.proto). Each connection handles one request at a
 * time; a log export streams many responses, the last with last = true.
 */
#ifndef TALLYD_CONTROL_H
#define TALLYD_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/bufferevent.h>

#include "ctl.pb-c.h"

struct tallyd;
struct control;

#define CONTROL_CONNS_MAX 32   /* simultaneous control connections */

/* One control connection. */
struct ctlconn {
	struct control *c;
	struct bufferevent *bev;
	uint64_t id;               /* (sequence << 32) | slot */
	uid_t uid;                 /* SO_PEERCRED */
	pid_t pid;
	bool closing;              /* flushing the output, then freed */
	bool busy;                 /* a request is with the writer or streaming */
	/* log export in progress */
	bool exporting;            /* from the request until the last response */
	uint64_t exp_request_id;
	bool exp_full;             /* from entry 0, not from the last receipt */
	uint64_t exp_next, exp_end; /* entries [exp_next, exp_end) still to send */
	char *exp_note;            /* checkpoint sent last (free()) */
};

/* Creates the socket at d->cfg->control_socket (a stale socket there is
 * removed; any other file is an error), under umask 0117, then chmod 0660
 * and chown to root (if running as root) and group d->control_gid, and
 * starts accepting on d->base. *out: control_stop.
 * Errors: TALLY_ERR_EXISTS (a non-socket at the path), TALLY_ERR_IO
 * (socket, bind, listen; errno kept), TALLY_ERR_NOMEM. */
int control_start(struct tallyd *d, struct control **out);

/* Closes every control connection, stops accepting, removes the socket
 * file and frees c. NULL is a no-op. */
void control_stop(struct control *c);

/* --- for the request handlers (ctlreq.c) --- */

/* The tallyd context of c. */
struct tallyd *control_daemon(struct control *c);

/* The live connection with ID conn_id, or NULL (closed). */
struct ctlconn *control_lookup(struct control *c, uint64_t conn_id);

/* Frames and queues resp on cc; on an encoding failure sends INTERNAL. */
void control_send(struct ctlconn *cc, Tally__CtlResponse *resp);

/* Sends a final response with only request_id, error code and message. */
void control_reply_error(struct ctlconn *cc, uint64_t request_id, int code, const char *msg);

/* Marks cc busy: reading stops until control_resume. */
void control_pause(struct ctlconn *cc);

/* Marks cc idle again (reading resumes) after a queued request finished. */
void control_resume(struct ctlconn *cc);

/* At the end of a callback: frees cc if it is closing and flushed.
 * Returns true when cc was freed. */
bool control_settle(struct ctlconn *cc);

#endif
