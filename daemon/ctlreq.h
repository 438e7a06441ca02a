/*
 * ctlreq.h - the control requests of proto/ctl.proto: status, identity,
 * quota import/list, jig enroll/list/revoke, checkpoint, token show,
 * inclusion and consistency proofs, receipt import and the streamed log
 * export. Every operator action is logged with its uid and, when it
 * changes state, carried to the writer with that uid.
 *
 * Files: ctlreq.c (dispatch and read-only requests), ctl_write.c (requests
 * that go to the writer, and their replies), ctl_export.c (the export
 * stream, format 2).
 */
#ifndef TALLYD_CTLREQ_H
#define TALLYD_CTLREQ_H

#include "ctl.pb-c.h"

struct ctlconn;
struct wreq;

/* Handles one unpacked request from an allowed peer (rq is not kept).
 * Replies at once, or pauses cc and replies from the writer's done(). */
void ctlreq_handle(struct ctlconn *cc, Tally__CtlRequest *rq);

/* Sends the next entries of a log export in progress on cc, from the
 * connection's write callback once its output drained below the low-water
 * mark, until the output holds the high-water mark again; after the last
 * entry it sends the checkpoint with last = true and cc resumes reading. */
void ctlreq_export_pump(struct ctlconn *cc);

/* --- between ctlreq.c, ctl_write.c and ctl_export.c --- */

/* Short name of a request body for logs ("log export", ...); static. */
const char *ctlreq_name(Tally__CtlRequest__BodyCase c);

/* Sends resp as the final (last = true) answer to request_id. */
void ctlreq_reply(struct ctlconn *cc, uint64_t request_id, Tally__CtlResponse *resp);

/* Checks the fields of a state-changing request (quota import, jig
 * enroll/revoke, checkpoint, log export, receipt import), queues it to the
 * writer with the operator's uid and pauses cc; a bad field gets
 * BAD_REQUEST at once. */
void ctlreq_write(struct ctlconn *cc, Tally__CtlRequest *rq);

/* The export's checkpoint w (WREQ_CHECKPOINT, w->out the note, taken
 * over) is committed: sends the header, the context records (quotas, then
 * jigs), and starts the entries. On a store error sends INTERNAL and
 * resumes cc. */
void ctlreq_export_begin(struct ctlconn *cc, struct wreq *w);

/* Ends an export on cc (after its last answer was queued): frees the note,
 * restores the write watermark and resumes reading. */
void ctlreq_export_end(struct ctlconn *cc);

#endif
