/*
 * store.h - the appliance's LMDB store (DESIGN.md §5, docs/storage.md).
 * Owned by daemon/store.c; the writer thread is the only writer.
 * (Helpers extend this header with the txn wrapper and record accessors.)
 */
#ifndef TALLYD_STORE_H
#define TALLYD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Opens (creating when absent) the LMDB environment in folder dir (must
 * exist, mode 0700 recommended) with a map of map_size bytes, runs
 * mdb_reader_check, checks the schema version. *out: store_close.
 * Errors: TALLY_ERR_IO, TALLY_ERR_STORAGE (corrupt, other schema). */
int store_open(const char *dir, size_t map_size, struct store **out);

/* Closes the environment. NULL is a no-op. */
void store_close(struct store *st);

#endif
