/* export_check.c - order, counts, roots and signatures of a log export as
 * it streams in; see export.h. */
#include <string.h>
#include "ctl.h"
#include "err.h"
#include "export.h"
#include "key.h"
#include "log.pb-c.h"

void
export_check_init(struct export_check *ec)
{
	memset(ec, 0, sizeof(*ec));
	tally_merkle_frontier_init(&ec->fr);
}

void
export_check_free(struct export_check *ec)
{
	EVP_PKEY_free(ec->pub);
	ec->pub = NULL;
}

static int
fail(struct export_check *ec, int r, const char *why)
{
	ec->why = why;
	return r;
}

/* The appliance key and origin of the header. */
static int
header_key(struct export_check *ec, const Tally__ExportHeader *h)
{
	uint8_t kid[32];

	if (tally_key_from_spki(h->appliance_public_key.data, h->appliance_public_key.len,
	    &ec->pub) != 0)
		return fail(ec, TALLY_ERR_INVALID, "the header's appliance key does not parse");
	tally_key_id_spki(h->appliance_public_key.data, h->appliance_public_key.len, kid);
	tally_checkpoint_origin(kid, ec->origin);
	if (h->origin == NULL || strcmp(h->origin, ec->origin) != 0)
		return fail(ec, TALLY_ERR_MISMATCH, "the header's origin is not its key's");
	return 0;
}

/* Incremental export: the compact range of [0, first_index), whose root
 * the receipted prev_checkpoint must sign; the consistency proof kept. */
static int
header_prev(struct export_check *ec, const Tally__ExportHeader *h)
{
	uint8_t nodes[TALLY_PROOF_MAX][TALLY_HASH_LEN], root[TALLY_HASH_LEN];
	uint64_t size;

	if (ctl_proof_hashes(h->prev_frontier, h->n_prev_frontier, nodes) != 0 ||
	    tally_merkle_frontier_set(&ec->fr, h->first_index,
	    (const uint8_t (*)[TALLY_HASH_LEN])nodes, (unsigned)h->n_prev_frontier) != 0)
		return fail(ec, TALLY_ERR_INVALID, "the header's prev_frontier is malformed");
	if (ctl_proof_hashes(h->consistency_proof, h->n_consistency_proof, ec->proof) != 0)
		return fail(ec, TALLY_ERR_INVALID, "the header's consistency proof is malformed");
	ec->nproof = h->n_consistency_proof;
	tally_merkle_frontier_root(&ec->fr, ec->prev_root);
	if (h->prev_checkpoint == NULL ||
	    tally_checkpoint_verify(h->prev_checkpoint, strlen(h->prev_checkpoint), ec->pub,
	    ec->origin, &size, root) != 0)
		return fail(ec, TALLY_ERR_SIGNATURE,
		    "the header's prev_checkpoint is not signed by the appliance key");
	if (size != h->first_index || memcmp(root, ec->prev_root, sizeof(root)) != 0)
		return fail(ec, TALLY_ERR_MISMATCH,
		    "the header's prev_checkpoint does not match its prev_frontier");
	return 0;
}

static int
take_header(struct export_check *ec, const Tally__ExportHeader *h)
{
	int r;

	if (ec->stage != EXPORT_START)
		return fail(ec, TALLY_ERR_INVALID, "a second header");
	if (h->format_version != 2)
		return fail(ec, TALLY_ERR_INVALID, "export format is not 2");
	if (h->first_index + h->entry_count < h->first_index)
		return fail(ec, TALLY_ERR_INVALID, "entry count out of range");
	ec->first_index = h->first_index;
	ec->declared = h->entry_count;
	ec->stage = EXPORT_QUOTAS;
	if ((r = header_key(ec, h)) != 0)
		return r;
	if (h->first_index == 0)
		return h->n_prev_frontier == 0 ? 0 :
		    fail(ec, TALLY_ERR_INVALID, "prev_frontier in an export from entry 0");
	return header_prev(ec, h);
}

static int
take_entry(struct export_check *ec, const ProtobufCBinaryData *entry)
{
	uint8_t leaf[TALLY_HASH_LEN];
	Tally__LogEntry *e;
	bool ok;

	if (ec->stage < EXPORT_QUOTAS || ec->stage > EXPORT_ENTRIES)
		return fail(ec, TALLY_ERR_INVALID, "an entry out of place");
	if (ec->entries == ec->declared)
		return fail(ec, TALLY_ERR_INVALID, "more entries than the header declares");
	e = tally__log_entry__unpack(NULL, entry->len, entry->data);
	ok = e != NULL && e->index == ec->first_index + ec->entries;
	if (e != NULL)
		tally__log_entry__free_unpacked(e, NULL);
	if (!ok)
		return fail(ec, TALLY_ERR_INVALID, "an entry that is not the next log entry");
	tally_merkle_leaf_hash(entry->data, entry->len, leaf);
	if (tally_merkle_frontier_append(&ec->fr, leaf) != 0)
		return fail(ec, TALLY_ERR_INVALID, "too many entries");
	ec->entries++;
	ec->stage = EXPORT_ENTRIES;
	return 0;
}

static int
take_checkpoint(struct export_check *ec, const char *note)
{
	uint8_t root[TALLY_HASH_LEN], mine[TALLY_HASH_LEN];

	if (ec->stage == EXPORT_START || ec->stage == EXPORT_DONE)
		return fail(ec, TALLY_ERR_INVALID, "a checkpoint out of place");
	ec->stage = EXPORT_DONE;
	if (ec->entries != ec->declared)
		return fail(ec, TALLY_ERR_INVALID, "fewer entries than the header declares");
	if (note == NULL || tally_checkpoint_verify(note, strlen(note), ec->pub, ec->origin,
	    &ec->tree_size, root) != 0)
		return fail(ec, TALLY_ERR_SIGNATURE,
		    "the checkpoint is not signed by the appliance key");
	tally_merkle_frontier_root(&ec->fr, mine);
	if (ec->tree_size != ec->first_index + ec->entries || memcmp(root, mine, sizeof(root)) != 0)
		return fail(ec, TALLY_ERR_MISMATCH,
		    "the checkpoint's root is not the root of the exported entries");
	if (ec->first_index > 0 && tally_merkle_verify_consistency(ec->first_index,
	    ec->tree_size, ec->prev_root, root, (const uint8_t (*)[TALLY_HASH_LEN])ec->proof,
	    ec->nproof) != 0)
		return fail(ec, TALLY_ERR_MISMATCH,
		    "the consistency proof does not link the receipted checkpoint to this one");
	return 0;
}

int
export_check_record(struct export_check *ec, const Tally__ExportRecord *rec)
{
	switch (rec->body_case) {
	case TALLY__EXPORT_RECORD__BODY_HEADER:
		return take_header(ec, rec->header);
	case TALLY__EXPORT_RECORD__BODY_QUOTA:
		if (ec->stage != EXPORT_QUOTAS)
			return fail(ec, TALLY_ERR_INVALID, "a quota record out of place");
		ec->quotas++;
		return 0;
	case TALLY__EXPORT_RECORD__BODY_JIG:
		if (ec->stage != EXPORT_QUOTAS && ec->stage != EXPORT_JIGS)
			return fail(ec, TALLY_ERR_INVALID, "a jig record out of place");
		ec->stage = EXPORT_JIGS;
		ec->jigs++;
		return 0;
	case TALLY__EXPORT_RECORD__BODY_ENTRY:
		return take_entry(ec, &rec->entry);
	case TALLY__EXPORT_RECORD__BODY_CHECKPOINT:
		return take_checkpoint(ec, rec->checkpoint);
	default:
		return fail(ec, TALLY_ERR_INVALID, "a record of unknown type");
	}
}
