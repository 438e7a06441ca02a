/*
 * ctlreq.h - the control requests of proto/ctl.proto: status, identity,
 * quota import/list, jig enroll/list/revoke, checkpoint, token show and
 * the streamed log export. Every operator action is logged with its uid
 * and, when it changes state, carried to the writer with that uid.
 */
#ifndef TALLYD_CTLREQ_H
#define TALLYD_CTLREQ_H

#include "ctl.pb-c.h"

struct ctlconn;

/* Handles one unpacked request from an allowed peer (rq is not kept).
 * Replies at once, or pauses cc and replies from the writer's done(). */
void ctlreq_handle(struct ctlconn *cc, Tally__CtlRequest *rq);

/* Sends the next part of a log export in progress on cc while its output
 * is below the low-water mark; the last part is the checkpoint note, with
 * last = true, after which cc resumes reading. */
void ctlreq_export_pump(struct ctlconn *cc);

#endif
