/* ledger_ops.c - the two things tally-oem does with its ledger: verify and
 * take an export in one transaction, and cosign the last checkpoint it
 * verified (a receipt). See ledger.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cosignature.h"
#include "err.h"
#include "ledger_int.h"

int
oem_ledger_reconcile(struct oem_ledger *l, const char *path, EVP_PKEY *oem_root,
    int64_t now, struct oem_reconcile_result *res, int *applied)
{
	struct oem_ledger_txn t = { 0 };
	uint8_t root_id[TALLY_KEY_ID_LEN];
	int r;

	*applied = 0;
	memset(res, 0, sizeof(*res));
	if ((r = tally_key_id(oem_root, root_id)) != 0 ||
	    (r = oem_ledger_begin(l, 1, &t)) != 0)
		return r;
	if ((r = oem_ledger_bind_root(&t, root_id)) != 0) {
		snprintf(res->error, sizeof(res->error), r == TALLY_ERR_MISMATCH ?
		    "the ledger was made with another OEM root key" :
		    "reading the ledger: %s", tally_strerror(r));
		goto out;
	}
	if ((r = oem_reconcile_ledger(path, oem_root, &t, res)) != 0 ||
	    res->anomalies_total != 0)
		goto out;
	if ((r = oem_ledger_apply(&t, res, now)) == 0 && (r = oem_ledger_commit(&t)) == 0)
		*applied = 1;
	else
		snprintf(res->error, sizeof(res->error), "writing the ledger: %s",
		    tally_strerror(r));
 out:
	oem_ledger_abort(&t);
	return r;
}

/* Is oem_key the root the ledger was made with? */
static int
root_matches(struct oem_ledger_txn *t, EVP_PKEY *oem_key)
{
	uint8_t id[TALLY_KEY_ID_LEN];
	MDB_val v;
	int r;

	if ((r = tally_key_id(oem_key, id)) != 0)
		return r;
	if ((r = ledger_get(t, LDB_META, "root_key_id", strlen("root_key_id"), &v)) != 0)
		return r;
	if (v.mv_size != TALLY_KEY_ID_LEN || memcmp(v.mv_data, id, TALLY_KEY_ID_LEN) != 0)
		return TALLY_ERR_MISMATCH;
	return 0;
}

int
oem_ledger_receipt(struct oem_ledger *l, EVP_PKEY *oem_key,
    const uint8_t key_id[TALLY_KEY_ID_LEN], int64_t ts, char **receipt,
    struct oem_ledger_appliance *a)
{
	struct oem_ledger_txn t = { 0 };
	struct oem_ledger_appliance *rec;
	int r;

	*receipt = NULL;
	if ((rec = malloc(sizeof(*rec))) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = oem_ledger_begin(l, 0, &t)) != 0)
		goto out;
	if ((r = oem_ledger_appliance_get(&t, key_id, rec)) != 0 ||
	    (r = root_matches(&t, oem_key)) != 0)
		goto out;
	if ((r = tally_cosign(oem_key, rec->note, strlen(rec->note), ts, receipt)) != 0)
		goto out;
	if (a != NULL)
		*a = *rec;
 out:
	oem_ledger_abort(&t);
	free(rec);
	return r;
}
