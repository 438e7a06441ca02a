/* report.c - the report model: appliances, quotas and days from the
 * ledger or from the exports. See report.h. */
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "report.h"

/* Grows *arr (elem bytes each, *n used) to hold one more. */
static int
grow(void **arr, size_t n, size_t elem)
{
	void *p;

	if (n > 0 && (n & (n - 1)) != 0)
		return 0;  /* capacity is the next power of two */
	if ((p = realloc(*arr, (n == 0 ? 1 : 2 * n) * elem)) == NULL)
		return TALLY_ERR_NOMEM;
	*arr = p;
	return 0;
}

int
oem_report_init(struct oem_report *rep, int64_t now, const char *ledger_dir,
    char *const *files, const struct oem_reconcile_result *res,
    const char *const *errors, const int *statuses, size_t n)
{
	size_t i;

	memset(rep, 0, sizeof(*rep));
	rep->generated_at = now;
	rep->ledger_dir = ledger_dir;
	if (n > 0 && (rep->exports = calloc(n, sizeof(*rep->exports))) == NULL)
		return TALLY_ERR_NOMEM;
	rep->n_exports = n;
	for (i = 0; i < n; i++) {
		struct oem_report_export *e = &rep->exports[i];

		e->file = files[i];
		e->error = errors != NULL ? errors[i] : NULL;
		e->res = e->error == NULL ? &res[i] : NULL;
		e->ledger_status = statuses != NULL ? statuses[i] : -1;
		if (e->res != NULL)
			rep->anomalies_total += e->res->anomalies_total;
		else
			rep->unreadable++;
	}
	return 0;
}

static void
appliance_clear(struct oem_report_appliance *a)
{
	free(a->quotas);
	free(a->days);
	free(a->jigs);
	a->quotas = NULL;
	a->days = NULL;
	a->jigs = NULL;
	a->n_quotas = a->n_days = a->n_jigs = 0;
}

void
oem_report_free(struct oem_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n_appliances; i++)
		appliance_clear(&rep->appliances[i]);
	free(rep->appliances);
	free(rep->exports);
	memset(rep, 0, sizeof(*rep));
}

static size_t
quota_slot(const struct oem_report_appliance *a, const uint8_t *id)
{
	size_t i;

	for (i = 0; i < a->n_quotas; i++)
		if (memcmp(a->quotas[i].quota_id, id, TALLY_QUOTA_ID_LEN) == 0)
			return i;
	return SIZE_MAX;
}

static int
add_quota(struct oem_report_appliance *a, const struct oem_quota_count *c)
{
	struct oem_report_quota *q;

	if (grow((void **)&a->quotas, a->n_quotas, sizeof(*a->quotas)) != 0)
		return TALLY_ERR_NOMEM;
	q = &a->quotas[a->n_quotas++];
	memset(q, 0, sizeof(*q));
	memcpy(q->quota_id, c->quota_id, TALLY_QUOTA_ID_LEN);
	memcpy(q->product, c->product, sizeof(q->product));
	q->units = c->units;
	q->scrap_allowance = c->scrap_allowance;
	q->issued = c->issued;
	q->returned = c->returned;
	q->failed = c->failed;
	q->reported = c->reported;
	q->attestation_failed = c->attestation_failed;
	return 0;
}

/* A jig, when it has attestation failures. */
static int
add_jig(struct oem_report_appliance *a, const struct oem_jig_rec *j)
{
	if (j->attestation_failed == 0)
		return 0;
	if (grow((void **)&a->jigs, a->n_jigs, sizeof(*a->jigs)) != 0)
		return TALLY_ERR_NOMEM;
	memcpy(a->jigs[a->n_jigs].id, j->id, TALLY_KEY_ID_LEN);
	a->jigs[a->n_jigs++].attestation_failed = j->attestation_failed;
	return 0;
}

/* count more tokens under quota slot on day. */
static int
add_day(struct oem_report_appliance *a, int64_t day, size_t slot, uint64_t count)
{
	struct oem_report_day *d;
	size_t i;

	for (i = a->n_days; i > 0; i--)  /* recent days are at the end */
		if (a->days[i - 1].day == day && a->days[i - 1].quota == slot) {
			a->days[i - 1].count += count;
			return 0;
		}
	if (grow((void **)&a->days, a->n_days, sizeof(*a->days)) != 0)
		return TALLY_ERR_NOMEM;
	d = &a->days[a->n_days++];
	d->day = day;
	d->quota = slot;
	d->count = count;
	return 0;
}

static struct oem_report_appliance *
add_appliance(struct oem_report *rep, const uint8_t key_id[TALLY_KEY_ID_LEN])
{
	struct oem_report_appliance *a;

	if (grow((void **)&rep->appliances, rep->n_appliances, sizeof(*a)) != 0)
		return NULL;
	a = &rep->appliances[rep->n_appliances++];
	memset(a, 0, sizeof(*a));
	memcpy(a->key_id, key_id, TALLY_KEY_ID_LEN);
	tally_checkpoint_origin(key_id, a->origin);
	return a;
}

struct lwalk {
	struct oem_report *rep;
	struct oem_ledger_txn *t;
	struct oem_report_appliance *a;
};

static int
ledger_quota(void *arg, const struct oem_quota_count *q, const uint8_t *env, size_t len)
{
	struct lwalk *w = arg;

	(void)env;
	(void)len;
	return add_quota(w->a, q);
}

static int
ledger_jig(void *arg, const struct oem_jig_rec *j)
{
	struct lwalk *w = arg;

	return add_jig(w->a, j);
}

static int
ledger_day(void *arg, const struct oem_ledger_day *d)
{
	struct lwalk *w = arg;
	size_t slot = quota_slot(w->a, d->quota_id);

	return slot == SIZE_MAX ? 0 : add_day(w->a, d->day, slot, d->count);
}

static int
ledger_appliance(void *arg, const struct oem_ledger_appliance *la)
{
	struct lwalk *w = arg;
	struct oem_report_appliance *a;
	int r;

	if ((a = w->a = add_appliance(w->rep, la->key_id)) == NULL)
		return TALLY_ERR_NOMEM;
	a->size = la->size;
	memcpy(a->root, la->root, TALLY_HASH_LEN);
	a->verified = 1;
	a->last_time = la->last_time;
	a->verified_at = la->verified_at;
	if ((r = oem_ledger_quota_each(w->t, la->key_id, ledger_quota, w)) != 0 ||
	    (r = oem_ledger_jig_each(w->t, la->key_id, ledger_jig, w)) != 0)
		return r;
	return oem_ledger_day_each(w->t, la->key_id, ledger_day, w);
}

int
oem_report_from_ledger(struct oem_report *rep, struct oem_ledger *l)
{
	struct oem_ledger_txn t = { 0 };
	struct lwalk w = { rep, &t, NULL };
	int r;

	if ((r = oem_ledger_begin(l, 0, &t)) != 0)
		return r;
	r = oem_ledger_appliance_each(&t, ledger_appliance, &w);
	oem_ledger_abort(&t);
	return r;
}

/* Day of Unix time t, rounded down. */
static int64_t
unix_day(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

static int
fill_from_result(struct oem_report_appliance *a, const struct oem_reconcile_result *res)
{
	size_t i;
	int r;

	appliance_clear(a);
	a->size = res->tree_size;
	memcpy(a->root, res->root, TALLY_HASH_LEN);
	a->verified = res->checkpoint_ok;
	a->last_time = res->last_time;
	for (i = 0; i < res->n_quotas; i++)
		if ((r = add_quota(a, &res->quotas[i])) != 0)
			return r;
	for (i = 0; i < res->n_jigs; i++)
		if ((r = add_jig(a, &res->jigs[i])) != 0)
			return r;
	for (i = 0; i < res->n_tokens; i++)
		if (res->tokens[i].quota != SIZE_MAX &&
		    (r = add_day(a, unix_day(res->tokens[i].time), res->tokens[i].quota, 1)) != 0)
			return r;
	return 0;
}

static int
cmp_appliance(const void *pa, const void *pb)
{
	const struct oem_report_appliance *a = pa, *b = pb;

	return memcmp(a->key_id, b->key_id, TALLY_KEY_ID_LEN);
}

int
oem_report_from_exports(struct oem_report *rep)
{
	struct oem_report_appliance *a;
	size_t i, k;
	int r;

	for (i = 0; i < rep->n_exports; i++) {
		const struct oem_reconcile_result *res = rep->exports[i].res;

		if (res == NULL)
			continue;
		for (k = 0, a = NULL; k < rep->n_appliances && a == NULL; k++)
			if (memcmp(rep->appliances[k].key_id, res->appliance_key_id,
			    TALLY_KEY_ID_LEN) == 0)
				a = &rep->appliances[k];
		if (a != NULL && a->size > res->tree_size)
			continue;
		if (a == NULL && (a = add_appliance(rep, res->appliance_key_id)) == NULL)
			return TALLY_ERR_NOMEM;
		if ((r = fill_from_result(a, res)) != 0)
			return r;
	}
	if (rep->n_appliances > 1)
		qsort(rep->appliances, rep->n_appliances, sizeof(*rep->appliances),
		    cmp_appliance);
	return 0;
}
