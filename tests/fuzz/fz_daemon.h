/*
 * fz_daemon.h - a tallyd context for the request fuzz targets
 * (fuzz_jigframe.c, fuzz_ctlreq.c): the store, writer, keys and loop of
 * tests/harness/fx_core.h (real LMDB in a mkdtemp folder, real writer
 * thread), a configuration with the defaults the targets need, and the
 * session table. Made once per process, torn down at exit.
 */
#ifndef TALLY_FUZZ_FZ_DAEMON_H
#define TALLY_FUZZ_FZ_DAEMON_H

#include <event2/buffer.h>
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "tests/harness/fx_core.h"

struct fz_daemon {
	struct fx fx;
	struct tallyd_config cfg;
	struct tallyd d;
};

/* Sets up *z (control socket path in the fixture folder, not started).
 * Returns 0 or -1. Registers the teardown with atexit. */
int fz_daemon_init(struct fz_daemon *z);

/* Moves every whole frame off the front of out, each of which must be a
 * message of desc (protobuf-c); aborts on one that is not, so a reply
 * the daemon cannot frame or encode is a finding. Returns the frames. */
size_t fz_replies(struct evbuffer *out, const ProtobufCMessageDescriptor *desc);

#endif
