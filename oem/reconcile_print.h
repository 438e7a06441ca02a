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
 * ID, entries and checkpoint, quotas with units/issued/returned, tokens,
 * install reports, unreported tokens, then one line per anomaly. */
void oem_reconcile_print_text(FILE *f, const char *path,
    const struct oem_reconcile_result *res);

/* The same report as a new JSON object (json_decref), or NULL when out of
 * memory. Keys: file, appliance_key_id, origin, entries, tree_size, root,
 * checkpoint_ok, jigs_enrolled, quotas[{quota_id, product, units, issued,
 * returned, scrap_allowance, import_index}], tokens, reports{installed,
 * failed}, unreported[{index, device_uid}], anomalies[{type, index (absent
 * when not tied to an entry), message}], anomalies_total. */
json_t *oem_reconcile_json(const char *path, const struct oem_reconcile_result *res);

#endif
