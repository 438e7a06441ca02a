/* reconcile_header.c - the export header (format, appliance, the previous
 * checkpoint and its compact range), the ledger's state of the appliance
 * (unknown appliance, gap, fork) and the final checkpoint (signature,
 * size, root, consistency proof, rollback). See reconcile.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "ledger.h"
#include "reconcile_int.h"
#include "util.h"

static int
herr(struct oem_reconcile_result *res, int r, const char *msg)
{
	snprintf(res->error, sizeof(res->error), "header: %s", msg);
	return r;
}

/* Copies count hashes of 32 bytes into out (room for max). */
static int
copy_hashes(uint8_t out[][TALLY_HASH_LEN], size_t max, ProtobufCBinaryData *h,
    size_t count)
{
	size_t i;

	if (count > max)
		return TALLY_ERR_INVALID;
	for (i = 0; i < count; i++) {
		if (h[i].len != TALLY_HASH_LEN)
			return TALLY_ERR_INVALID;
		memcpy(out[i], h[i].data, TALLY_HASH_LEN);
	}
	return 0;
}

/* prev_checkpoint: signed by the appliance, of size F, root = prev_root. */
static int
prev_checkpoint(struct rc *rc, const char *note, uint64_t first)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t root[TALLY_HASH_LEN];
	uint64_t size;
	int r;

	r = tally_checkpoint_verify(note, strlen(note), rc->appliance, res->origin,
	    &size, root);
	if (r != 0)
		return oem_anomaly_add(res, OEM_ANOM_CONSISTENCY, OEM_NO_INDEX,
		    "prev_checkpoint does not verify with the appliance key: %s",
		    tally_strerror(r));
	if (size != first)
		return oem_anomaly_add(res, OEM_ANOM_CONSISTENCY, OEM_NO_INDEX,
		    "prev_checkpoint covers %llu entries, the export starts at %llu",
		    (unsigned long long)size, (unsigned long long)first);
	if (rc->frontier_ok && memcmp(root, rc->prev_root, TALLY_HASH_LEN) != 0)
		return oem_anomaly_add(res, OEM_ANOM_CONSISTENCY, OEM_NO_INDEX,
		    "prev_frontier's root is not prev_checkpoint's root");
	return 0;
}

/* The compact range [0, F) the entries are appended to, and the proof. */
static int
prev_state(struct rc *rc, const Tally__ExportHeader *h)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t nodes[TALLY_MERKLE_MAX_HEIGHT][TALLY_HASH_LEN];
	uint64_t first = h->first_index;

	if (copy_hashes(nodes, TALLY_MERKLE_MAX_HEIGHT, h->prev_frontier,
	    h->n_prev_frontier) != 0 ||
	    copy_hashes(rc->proof, TALLY_PROOF_MAX, h->consistency_proof,
	    h->n_consistency_proof) != 0)
		return herr(res, TALLY_ERR_INVALID, "prev_frontier or consistency_proof "
		    "holds a hash not of 32 bytes, or too many");
	rc->proof_len = h->n_consistency_proof;
	rc->frontier_ok = 1;
	if (first == 0) {
		if (h->prev_checkpoint[0] == '\0' && h->n_prev_frontier == 0 &&
		    h->n_consistency_proof == 0)
			return 0;
		return oem_anomaly_add(res, OEM_ANOM_CONSISTENCY, OEM_NO_INDEX,
		    "export from entry 0 with a previous checkpoint, frontier or proof");
	}
	if (tally_merkle_frontier_set(&res->frontier, first,
	    (const uint8_t (*)[TALLY_HASH_LEN])nodes, (unsigned)h->n_prev_frontier) != 0) {
		rc->frontier_ok = 0;
		tally_merkle_frontier_init(&res->frontier);
		return oem_anomaly_add(res, OEM_ANOM_CONSISTENCY, OEM_NO_INDEX,
		    "prev_frontier is not a compact range of %llu entries",
		    (unsigned long long)first);
	}
	tally_merkle_frontier_root(&res->frontier, rc->prev_root);
	return prev_checkpoint(rc, h->prev_checkpoint, first);
}

/* What the ledger knows of this appliance. */
static int
ledger_state(struct rc *rc)
{
	struct oem_reconcile_result *res = rc->res;
	struct oem_ledger_appliance *a;
	uint64_t first = res->first_index;
	int r;

	rc->checkable = first == 0;
	if (rc->lt == NULL)
		return 0;
	if ((a = malloc(sizeof(*a))) == NULL)
		return TALLY_ERR_NOMEM;
	r = oem_ledger_appliance_get(rc->lt, res->appliance_key_id, a);
	if (r == TALLY_ERR_NOT_FOUND) {
		r = first == 0 ? 0 : oem_anomaly_add(res, OEM_ANOM_UNKNOWN_APPLIANCE,
		    OEM_NO_INDEX, "appliance %s is not in the ledger and its export "
		    "starts at entry %llu: the entries before it were never verified",
		    res->origin, (unsigned long long)first);
		goto out;
	}
	if (r != 0) {
		r = herr(res, r, "reading the ledger failed");
		goto out;
	}
	res->ledger_known = rc->checkable = 1;
	res->ledger_size = rc->skip_below = a->size;
	memcpy(rc->ledger_root, a->root, TALLY_HASH_LEN);
	res->last_time = rc->last_time = a->last_time;
	rc->have_time = a->size > 0;
	if (first > a->size && (r = oem_anomaly_add(res, OEM_ANOM_GAP, OEM_NO_INDEX,
	    "the export starts at entry %llu, the ledger has verified this appliance "
	    "up to %llu: entries %llu..%llu are missing", (unsigned long long)first,
	    (unsigned long long)a->size, (unsigned long long)a->size,
	    (unsigned long long)first - 1)) != 0)
		goto out;
	r = rc_prior_load(rc);
 out:
	free(a);
	return r;
}

int
rc_header(struct rc *rc, const Tally__ExportHeader *h)
{
	struct oem_reconcile_result *res = rc->res;
	int r;

	if (h->format_version != 1 && h->format_version != 2)
		return herr(res, TALLY_ERR_UNSUPPORTED, "export format version not 1 or 2");
	if (h->format_version == 1 && h->first_index != 0)
		return herr(res, TALLY_ERR_UNSUPPORTED, "a format 1 export must start at 0");
	if (h->appliance_public_key.len > TALLY_SPKI_MAX ||
	    tally_key_from_spki(h->appliance_public_key.data,
	    h->appliance_public_key.len, &rc->appliance) != 0)
		return herr(res, TALLY_ERR_INVALID, "appliance public key is not a "
		    "P-256 or Ed25519 SubjectPublicKeyInfo");
	res->format_version = h->format_version;
	res->first_index = h->first_index;
	rc->declared = h->entry_count;
	memcpy(res->appliance_spki, h->appliance_public_key.data, h->appliance_public_key.len);
	res->appliance_spki_len = h->appliance_public_key.len;
	tally_key_id_spki(h->appliance_public_key.data, h->appliance_public_key.len,
	    res->appliance_key_id);
	tally_checkpoint_origin(res->appliance_key_id, res->origin);
	if (strcmp(h->origin, res->origin) != 0 &&
	    (r = oem_anomaly_add(res, OEM_ANOM_APPLIANCE, OEM_NO_INDEX,
	    "header origin \"%.64s\" is not the appliance key's origin %s",
	    h->origin, res->origin)) != 0)
		return r;
	if ((r = prev_state(rc, h)) != 0 || (r = ledger_state(rc)) != 0)
		return r;
	return rc_ledger_root_check(rc);
}

int
rc_ledger_root_check(struct rc *rc)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t root[TALLY_HASH_LEN];
	char a[2 * TALLY_HASH_LEN + 1], b[2 * TALLY_HASH_LEN + 1];

	if (!res->ledger_known || !rc->frontier_ok || rc->ledger_root_done ||
	    res->frontier.size != rc->skip_below)
		return 0;
	rc->ledger_root_done = 1;
	tally_merkle_frontier_root(&res->frontier, root);
	if (memcmp(root, rc->ledger_root, TALLY_HASH_LEN) == 0)
		return 0;
	tally_hex(root, TALLY_HASH_LEN, a);
	tally_hex(rc->ledger_root, TALLY_HASH_LEN, b);
	return oem_anomaly_add(res, OEM_ANOM_FORK, OEM_NO_INDEX, "the first %llu "
	    "entries give root %.16s..., the ledger verified %.16s... at that size: "
	    "the appliance's history changed (restored from an earlier copy, or "
	    "edited)", (unsigned long long)rc->skip_below, a, b);
}

/* Size, root and consistency of a checkpoint that verified (size). */
static int
checkpoint_tree(struct rc *rc, uint64_t size, const uint8_t root[TALLY_HASH_LEN])
{
	struct oem_reconcile_result *res = rc->res;
	uint64_t end = res->first_index + res->entries;
	int r;

	if (res->ledger_known && size < rc->skip_below &&
	    (r = oem_anomaly_add(res, OEM_ANOM_ROLLBACK, OEM_NO_INDEX,
	    "the checkpoint covers %llu entries, the ledger verified %llu for this "
	    "appliance: its log went back to an earlier state",
	    (unsigned long long)size, (unsigned long long)rc->skip_below)) != 0)
		return r;
	if (size != end)
		return oem_anomaly_add(res, OEM_ANOM_CHECKPOINT_SIZE, OEM_NO_INDEX,
		    "checkpoint covers %llu entries, the file ends at entry %llu",
		    (unsigned long long)size, (unsigned long long)end);
	if (!rc->frontier_ok)
		return 0;  /* reported: no root can be computed */
	if (memcmp(root, res->root, TALLY_HASH_LEN) != 0)
		return oem_anomaly_add(res, OEM_ANOM_ROOT_MISMATCH, OEM_NO_INDEX,
		    "the entries do not hash to the checkpoint's root: "
		    "the log was altered");
	if (res->first_index > 0 && (r = tally_merkle_verify_consistency(res->first_index,
	    size, rc->prev_root, root, (const uint8_t (*)[TALLY_HASH_LEN])rc->proof,
	    rc->proof_len)) != 0)
		return oem_anomaly_add(res, OEM_ANOM_CONSISTENCY, OEM_NO_INDEX,
		    "the consistency proof from %llu to %llu entries does not verify: %s",
		    (unsigned long long)res->first_index, (unsigned long long)size,
		    tally_strerror(r));
	res->checkpoint_ok = 1;
	return 0;
}

int
rc_checkpoint(struct rc *rc, const char *note)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t root[TALLY_HASH_LEN];
	uint64_t size;
	int r;

	if ((res->checkpoint = strdup(note)) == NULL)
		return TALLY_ERR_NOMEM;
	if (rc->frontier_ok)
		tally_merkle_frontier_root(&res->frontier, res->root);
	if (rc->declared != res->entries &&
	    (r = oem_anomaly_add(res, OEM_ANOM_CHECKPOINT_SIZE, OEM_NO_INDEX,
	    "header declares %llu entries, the file holds %llu",
	    (unsigned long long)rc->declared, (unsigned long long)res->entries)) != 0)
		return r;
	r = tally_checkpoint_verify(note, strlen(note), rc->appliance, res->origin,
	    &size, root);
	if (r != 0)
		return oem_anomaly_add(res, OEM_ANOM_CHECKPOINT_SIGNATURE, OEM_NO_INDEX,
		    "checkpoint does not verify with the appliance key: %s",
		    tally_strerror(r));
	res->tree_size = size;
	return checkpoint_tree(rc, size, root);
}
