/* reconcile_uid.c - device UIDs with more than one token, inside one export,
 * across exports and against the ledger, and serial numbers assigned twice
 * under one quota. Tokens are sorted, then equal runs compared. */
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "ledger.h"
#include "reconcile_int.h"
#include "util.h"

struct uid_ref {
	const struct oem_token_rec *tok;
	size_t result;               /* which result it belongs to */
};

static int
uid_cmp(const struct oem_token_rec *a, const struct oem_token_rec *b)
{
	if (a->uid_len != b->uid_len)
		return a->uid_len < b->uid_len ? -1 : 1;
	return memcmp(a->uid, b->uid, a->uid_len);
}

/* Order: UID, then result, then log index, so the first of a run is the
 * earliest token of that UID. */
static int
ref_cmp(const void *pa, const void *pb)
{
	const struct uid_ref *a = pa, *b = pb;
	int c = uid_cmp(a->tok, b->tok);

	if (c != 0)
		return c;
	if (a->result != b->result)
		return a->result < b->result ? -1 : 1;
	return a->tok->index < b->tok->index ? -1 : a->tok->index > b->tok->index;
}

static int
collect(struct oem_reconcile_result *res, size_t n, struct uid_ref **out, size_t *count)
{
	struct uid_ref *refs;
	size_t i, k, total = 0;

	for (i = 0; i < n; i++)
		total += res[i].n_tokens;
	*out = NULL;
	*count = total;
	if (total == 0)
		return 0;
	if ((refs = calloc(total, sizeof(*refs))) == NULL)
		return TALLY_ERR_NOMEM;
	for (i = 0, total = 0; i < n; i++)
		for (k = 0; k < res[i].n_tokens; k++) {
			refs[total].tok = &res[i].tokens[k];
			refs[total++].result = i;
		}
	qsort(refs, total, sizeof(*refs), ref_cmp);
	*out = refs;
	return 0;
}

static int
dup_uids(struct oem_reconcile_result *res, struct uid_ref *refs, size_t n)
{
	char hex[2 * TALLY_UID_MAX + 1];
	size_t i, first = 0;
	int r = 0;

	for (i = 1; i < n && r == 0; i++) {
		if (uid_cmp(refs[first].tok, refs[i].tok) != 0) {
			first = i;
			continue;
		}
		tally_hex(refs[i].tok->uid, refs[i].tok->uid_len, hex);
		r = oem_anomaly_add(res, OEM_ANOM_DUPLICATE_UID, refs[i].tok->index,
		    "device UID %s already has the token at entry %llu", hex,
		    (unsigned long long)refs[first].tok->index);
	}
	return r;
}

/* Order: quota, serial, log index. */
static int
serial_cmp(const void *pa, const void *pb)
{
	const struct oem_token_rec *a = ((const struct uid_ref *)pa)->tok;
	const struct oem_token_rec *b = ((const struct uid_ref *)pb)->tok;

	if (a->quota != b->quota)
		return a->quota < b->quota ? -1 : 1;
	if (a->serial != b->serial)
		return a->serial < b->serial ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int
dup_serials(struct oem_reconcile_result *res, struct uid_ref *refs, size_t n)
{
	const struct oem_token_rec *a, *b;
	size_t i;
	int r = 0;

	if (n < 2)
		return 0;  /* also: qsort's base must not be NULL */
	qsort(refs, n, sizeof(*refs), serial_cmp);
	for (i = 1; i < n && r == 0; i++) {
		a = refs[i - 1].tok;
		b = refs[i].tok;
		if (b->serial == 0 || b->quota == SIZE_MAX || a->quota != b->quota ||
		    a->serial != b->serial)
			continue;
		r = oem_anomaly_add(res, OEM_ANOM_DUPLICATE_SERIAL, b->index,
		    "serial number %llu was already assigned at entry %llu",
		    (unsigned long long)b->serial, (unsigned long long)a->index);
	}
	return r;
}

int
rc_duplicates(struct oem_reconcile_result *res)
{
	struct uid_ref *refs;
	size_t n;
	int r;

	if ((r = collect(res, 1, &refs, &n)) != 0)
		return r;
	if ((r = dup_uids(res, refs, n)) == 0)
		r = dup_serials(res, refs, n);
	free(refs);
	return r;
}

/* Two tokens of one UID in different results are the same token only when
 * both exports come from one appliance and name the same log index. */
static int
same_token(const struct oem_reconcile_result *res, const struct uid_ref *a,
    const struct uid_ref *b)
{
	return a->tok->index == b->tok->index &&
	    memcmp(res[a->result].appliance_key_id, res[b->result].appliance_key_id,
	    TALLY_KEY_ID_LEN) == 0;
}

int
oem_reconcile_cross(struct oem_reconcile_result *res, size_t n)
{
	struct uid_ref *refs;
	char hex[2 * TALLY_UID_MAX + 1];
	size_t i, cnt, first = 0;
	int r;

	if ((r = collect(res, n, &refs, &cnt)) != 0)
		return r;
	for (i = 1; i < cnt && r == 0; i++) {
		if (uid_cmp(refs[first].tok, refs[i].tok) != 0) {
			first = i;
			continue;
		}
		if (refs[i].result == refs[first].result || same_token(res, &refs[first], &refs[i]))
			continue;
		tally_hex(refs[i].tok->uid, refs[i].tok->uid_len, hex);
		r = oem_anomaly_add(&res[refs[i].result], OEM_ANOM_DUPLICATE_UID,
		    refs[i].tok->index, "device UID %s also has a token in export %zu "
		    "(appliance origin %s, entry %llu)", hex, refs[first].result + 1,
		    res[refs[first].result].origin,
		    (unsigned long long)refs[first].tok->index);
	}
	free(refs);
	return r;
}

int
rc_ledger_dups(struct rc *rc, const struct oem_token_rec *tok)
{
	struct oem_reconcile_result *res = rc->res;
	char hex[2 * TALLY_UID_MAX + 1], origin[TALLY_ORIGIN_MAX];
	uint8_t other[TALLY_KEY_ID_LEN];
	uint64_t at;
	int r;

	if (rc->lt == NULL)
		return 0;
	r = oem_ledger_uid_get(rc->lt, tok->uid, tok->uid_len, other, &at);
	if (r == 0) {
		tally_hex(tok->uid, tok->uid_len, hex);
		tally_checkpoint_origin(other, origin);
		if ((r = oem_anomaly_add(res, OEM_ANOM_DUPLICATE_UID, tok->index,
		    "device UID %s already has the token at entry %llu of appliance %s "
		    "in the ledger", hex, (unsigned long long)at, origin)) != 0)
			return r;
	} else if (r != TALLY_ERR_NOT_FOUND)
		return r;
	if (tok->serial == 0 || tok->quota == SIZE_MAX)
		return 0;
	r = oem_ledger_serial_get(rc->lt, res->quotas[tok->quota].quota_id, tok->serial,
	    other, &at);
	if (r == TALLY_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	tally_checkpoint_origin(other, origin);
	return oem_anomaly_add(res, OEM_ANOM_DUPLICATE_SERIAL, tok->index,
	    "serial number %llu was already assigned at entry %llu of appliance %s "
	    "in the ledger", (unsigned long long)tok->serial, (unsigned long long)at,
	    origin);
}
