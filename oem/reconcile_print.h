/*
 * reconcile_print.h - the reconcile report of tally-oem, as text or JSON.
 */
#ifndef TALLY_OEM_RECONCILE_PRINT_H
#define TALLY_OEM_RECONCILE_PRINT_H

#include <stdio.h>
#include <jansson.h>
#include "reconcile.h"

#define OEM_TEXT_UNREPORTED_MAX 50  /* unreported tokens listed in text; all in JSON */

/* Human-readable report of one export (path as given) to f: appliance key
 * ID, entries and checkpoint, quotas with units/issued/returned/failed,
 * tokens, install reports, attestation failures (per quota and per jig),
 * unreported tokens, one line per anomaly, and
 * with a ledger (ledger_status 1 taken, 0 refused; -1 no ledger) what
 * happened to the ledger. */
void oem_reconcile_print_text(FILE *f, const char *path,
    const struct oem_reconcile_result *res, int ledger_status);

/* The same report as a new JSON object (json_decref), or NULL when out of
 * memory. Keys: file, appliance_key_id, origin, format_version,
 * first_index, entries, tree_size, root, checkpoint_ok, jigs_enrolled,
 * config_changes, receipts, quotas[{quota_id, product, units, issued,
 * returned, failed, unreported, scrap_allowance, import_index (absent when
 * unknown), attestation_failed}], tokens, reports{installed, failed,
 * unchecked}, unreported[{index, device_uid}], anomalies[{type, appliance,
 * index (absent when not tied to an entry), message}], anomalies_total,
 * attestation_failed (entries in this file), attestation_failed_by_jig
 * [{jig_key_id, count}] (jigs with any, totals). The
 * caller adds "ledger" ("updated" / "unchanged") in ledger mode. */
json_t *oem_reconcile_json(const char *path, const struct oem_reconcile_result *res);

struct oem_ledger;

/* What the ledger at dir (open as l) holds, per appliance: verified
 * checkpoint, last entry, quotas with their counts. Returns 0 or
 * TALLY_ERR_NOMEM / TALLY_ERR_STORAGE. */
int oem_ledger_print_text(FILE *f, struct oem_ledger *l, const char *dir);

#endif
