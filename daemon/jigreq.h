/*
 * jigreq.h - the jig requests of proto/jig.proto on one session: Hello,
 * Challenge, IssueToken, ReportInstall. Validates every field, keeps the
 * per-connection challenge nonces, queues state changes to the writer and
 * answers from its done() callback.
 */
#ifndef TALLYD_JIGREQ_H
#define TALLYD_JIGREQ_H

#include "jig.pb-c.h"

struct session;

/* Handles one unpacked request of an authenticated session (rq is not
 * kept). Replies at once, or queues a writer request whose done() replies. */
void jigreq_handle(struct session *s, Tally__Request *rq);

#endif
