/*
 * export.h - tallyctl's checks of a log export as it streams in (format 2,
 * docs/formats.md "Export file"), so that only a complete, self-consistent
 * file is renamed into place:
 *
 *   header (format_version 2), quota records, jig records, entries
 *   [first_index, first_index + entry_count) in index order, checkpoint.
 *
 * The entries' RFC 9162 root is recomputed on the fly from the header's
 * prev_frontier (a compact range, O(log n) memory) and compared with the
 * final checkpoint, which must be signed by the header's appliance key;
 * for an incremental export the prev_checkpoint must be signed by the same
 * key with the root of prev_frontier, and consistency_proof must link the
 * two roots. These checks guard the transfer; the OEM's reconcile is what
 * trusts or distrusts the appliance.
 */
#ifndef TALLYCTL_EXPORT_H
#define TALLYCTL_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "checkpoint.h"
#include "merkle.h"
#include "ctl.pb-c.h"

enum export_stage {
	EXPORT_START,     /* nothing yet: a header must come */
	EXPORT_QUOTAS,    /* after the header or a quota */
	EXPORT_JIGS,      /* after a jig */
	EXPORT_ENTRIES,   /* after an entry */
	EXPORT_DONE,      /* after the checkpoint: nothing more */
};

struct export_check {
	enum export_stage stage;
	uint64_t first_index, declared;   /* from the header */
	uint64_t entries, quotas, jigs;   /* records seen */
	uint64_t tree_size;               /* of the final checkpoint */
	EVP_PKEY *pub;                    /* the header's appliance key */
	char origin[TALLY_ORIGIN_MAX];
	struct tally_merkle_frontier fr;  /* [0, first_index + entries) */
	uint8_t prev_root[TALLY_HASH_LEN];
	uint8_t proof[TALLY_PROOF_MAX][TALLY_HASH_LEN];
	size_t nproof;
	const char *why;                  /* static reason of the last failure */
};

/* Zeroes ec. */
void export_check_init(struct export_check *ec);

/* Takes the next record. Returns 0, or TALLY_ERR_INVALID (out of order,
 * counts, malformed), TALLY_ERR_SIGNATURE (a checkpoint not signed by the
 * header's key) or TALLY_ERR_MISMATCH (roots, consistency), with ec->why
 * saying what. */
int export_check_record(struct export_check *ec, const Tally__ExportRecord *rec);

/* Frees what ec holds. */
void export_check_free(struct export_check *ec);

#endif
