/*
 * seeds.h - the seed corpus generator of the fuzz targets (seeds.c,
 * seeds_req.c): writes small real inputs, made by the project's own code
 * with the fixed keys of fz.h, to <root>/<target>/<name>.
 */
#ifndef TALLY_FUZZ_SEEDS_H
#define TALLY_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "tests/fuzz/fz.h"

/* Writes root/target/name (the folder made if needed): the mode byte
 * (skipped when mode < 0) then len bytes of data. Exits on failure. */
void seed_put(const char *root, const char *target, const char *name, int mode,
    const void *data, size_t len);

/* A growing buffer of frames (4-byte big-endian length, then the packed
 * message). */
struct seed_frames {
	uint8_t *buf;
	size_t len;
};
void seed_frame(struct seed_frames *f, const ProtobufCMessage *m);

/* Seeds of fuzz_jigframe and fuzz_ctlreq. */
void seeds_jig(const char *root, const struct fz_keys *k);
void seeds_ctl(const char *root, const struct fz_keys *k);

#endif
