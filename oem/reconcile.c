/* reconcile.c - reads an export file frame by frame in its order (header,
 * context, entries, checkpoint); the checks are in the other reconcile_*.c
 * files. See reconcile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "err.h"
#include "frame.h"
#include "reconcile_int.h"

static const char *const anomaly_names[] = {
	[OEM_ANOM_APPLIANCE] = "appliance_mismatch",
	[OEM_ANOM_ENTRY_MALFORMED] = "entry_malformed",
	[OEM_ANOM_ENTRY_INDEX] = "entry_index",
	[OEM_ANOM_QUOTA_SIGNATURE] = "quota_signature",
	[OEM_ANOM_QUOTA_APPLIANCE] = "quota_other_appliance",
	[OEM_ANOM_QUOTA_REPLAYED] = "quota_replayed",
	[OEM_ANOM_TOKEN_SIGNATURE] = "token_signature",
	[OEM_ANOM_TOKEN_BINDING] = "token_binding",
	[OEM_ANOM_TOKEN_QUOTA] = "token_quota",
	[OEM_ANOM_TOKEN_JIG] = "token_jig",
	[OEM_ANOM_OVER_QUOTA] = "over_quota",
	[OEM_ANOM_DUPLICATE_UID] = "duplicate_uid",
	[OEM_ANOM_DUPLICATE_SERIAL] = "duplicate_serial",
	[OEM_ANOM_REPORT_SIGNATURE] = "report_signature",
	[OEM_ANOM_REPORT_BINDING] = "report_binding",
	[OEM_ANOM_SCRAP] = "scrap",
	[OEM_ANOM_JIG] = "jig_certificate",
	[OEM_ANOM_CHECKPOINT_SIGNATURE] = "checkpoint_signature",
	[OEM_ANOM_CHECKPOINT_SIZE] = "checkpoint_size",
	[OEM_ANOM_ROOT_MISMATCH] = "root_mismatch",
	[OEM_ANOM_CONSISTENCY] = "consistency",
	[OEM_ANOM_ROLLBACK] = "rollback",
	[OEM_ANOM_FORK] = "fork",
	[OEM_ANOM_GAP] = "gap",
	[OEM_ANOM_UNKNOWN_APPLIANCE] = "unknown_appliance",
	[OEM_ANOM_TIME] = "time_backwards",
	[OEM_ANOM_FAILURE_RATE] = "failure_rate",
	[OEM_ANOM_RECEIPT] = "receipt",
	[OEM_ANOM_CONTEXT] = "context",
};

const char *
oem_anomaly_name(enum oem_anomaly_kind kind)
{
	if ((size_t)kind >= sizeof(anomaly_names) / sizeof(anomaly_names[0]) ||
	    anomaly_names[kind] == NULL)
		return "unknown";
	return anomaly_names[kind];
}

int
rc_reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > SIZE_MAX / elem || (p = realloc(*arr, ncap * elem)) == NULL)
		return TALLY_ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* The anomaly array grows by doubling at powers of two from 8 on, so its
 * capacity follows from n_anomalies alone. */
int
oem_anomaly_add(struct oem_reconcile_result *res, enum oem_anomaly_kind kind,
    uint64_t index, const char *fmt, ...)
{
	struct oem_anomaly *a;
	size_t n = res->n_anomalies;
	va_list ap;

	res->anomalies_total++;
	if (n >= OEM_ANOMALIES_MAX)
		return 0;
	if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) {
		a = realloc(res->anomalies, (n == 0 ? 8 : 2 * n) * sizeof(*a));
		if (a == NULL)
			return TALLY_ERR_NOMEM;
		res->anomalies = a;
	}
	a = &res->anomalies[n];
	a->kind = kind;
	a->index = index;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
	res->n_anomalies++;
	return 0;
}

static int
fail(struct oem_reconcile_result *res, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct oem_reconcile_result *res, int r, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (res->error[0] != '\0')
		return r;  /* the first, most precise message stays */
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	errno = saved;
	return r;
}

static int
on_entry(struct rc *rc, const ProtobufCBinaryData *entry)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t leaf[TALLY_HASH_LEN];
	uint64_t pos = res->first_index + res->entries;
	int r;

	tally_merkle_leaf_hash(entry->data, entry->len, leaf);
	if (tally_merkle_frontier_append(&res->frontier, leaf) != 0)
		return fail(res, TALLY_ERR_TOO_LARGE, "too many entries");
	res->entries++;
	if ((r = rc_ledger_root_check(rc)) != 0 || pos < rc->skip_below)
		return r;  /* verified by the ledger: the root at its size says so */
	return rc_entry(rc, entry->data, entry->len, pos);
}

/* States: 0 before the header, 1 context allowed, 2 entries, 3 done. */
static int
record(struct rc *rc, const Tally__ExportRecord *rec, int *state)
{
	struct oem_reconcile_result *res = rc->res;

	if (*state == 0) {
		if (rec->body_case != TALLY__EXPORT_RECORD__BODY_HEADER)
			return fail(res, TALLY_ERR_INVALID, "first record is not a header");
		*state = 1;
		return rc_header(rc, rec->header);
	}
	if (*state == 3)
		return fail(res, TALLY_ERR_INVALID, "data after the checkpoint");
	switch (rec->body_case) {
	case TALLY__EXPORT_RECORD__BODY_QUOTA:
	case TALLY__EXPORT_RECORD__BODY_JIG:
		if (*state != 1 || res->format_version < 2)
			return fail(res, TALLY_ERR_INVALID, "context record after an "
			    "entry, or in a format 1 export");
		if (++rc->n_context > OEM_CONTEXT_MAX)
			return fail(res, TALLY_ERR_TOO_LARGE, "more than %u context "
			    "records", (unsigned)OEM_CONTEXT_MAX);
		return rec->body_case == TALLY__EXPORT_RECORD__BODY_QUOTA ?
		    rc_ctx_quota(rc, &rec->quota) : rc_ctx_jig(rc, &rec->jig);
	case TALLY__EXPORT_RECORD__BODY_ENTRY:
		*state = 2;
		return on_entry(rc, &rec->entry);
	case TALLY__EXPORT_RECORD__BODY_CHECKPOINT:
		*state = 3;
		return rc_checkpoint(rc, rec->checkpoint);
	default:
		return fail(res, TALLY_ERR_INVALID, "record after %llu entries is "
		    "not a context record, an entry or a checkpoint",
		    (unsigned long long)res->entries);
	}
}

static int
read_records(struct rc *rc, int fd, uint8_t *buf)
{
	Tally__ExportRecord *rec;
	uint64_t frame = 0;
	size_t len;
	int r, state = 0;

	for (;; frame++) {
		r = tally_frame_read_fd(fd, buf, TALLY_FRAME_MAX, &len);
		if (r == TALLY_ERR_CLOSED)
			break;
		if (r != 0)
			return fail(rc->res, r, "frame %llu: %s", (unsigned long long)frame,
			    r == TALLY_ERR_INVALID ? "truncated (or an empty frame)" : r == TALLY_ERR_IO ?
			    strerror(errno) : tally_strerror(r));
		if ((rec = tally__export_record__unpack(NULL, len, buf)) == NULL)
			return fail(rc->res, TALLY_ERR_INVALID,
			    "frame %llu is not an ExportRecord", (unsigned long long)frame);
		r = record(rc, rec, &state);
		tally__export_record__free_unpacked(rec, NULL);
		if (r != 0)
			return fail(rc->res, r, "frame %llu: %s", (unsigned long long)frame,
			    tally_strerror(r));
	}
	if (state != 3)
		return fail(rc->res, TALLY_ERR_INVALID, "truncated: %s",
		    state == 0 ? "no header" : "no checkpoint at the end");
	return 0;
}

int
oem_reconcile_ledger(const char *path, EVP_PKEY *oem_root, struct oem_ledger_txn *lt,
    struct oem_reconcile_result *res)
{
	struct rc rc = { 0 };
	uint8_t *buf = NULL;
	int fd, r;

	memset(res, 0, sizeof(*res));
	rc.res = res;
	rc.oem_root = oem_root;
	rc.lt = lt;
	tally_merkle_frontier_init(&res->frontier);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(res, TALLY_ERR_IO, "%s", strerror(errno));
	if ((buf = malloc(TALLY_FRAME_MAX)) == NULL) {
		r = fail(res, TALLY_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = read_records(&rc, fd, buf)) != 0)
		goto out;
	if ((r = rc_duplicates(res)) != 0 || (r = rc_final(&rc)) != 0)
		r = fail(res, r, "%s", tally_strerror(r));
 out:
	free(buf);
	close(fd);
	rc_free(&rc);
	EVP_PKEY_free(rc.appliance);
	return r;
}

int
oem_reconcile_file(const char *path, EVP_PKEY *oem_root, struct oem_reconcile_result *res)
{
	return oem_reconcile_ledger(path, oem_root, NULL, res);
}

void
oem_reconcile_result_free(struct oem_reconcile_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; res->quotas != NULL && i < res->n_quotas; i++)
		free(res->quotas[i].env);
	free(res->quotas);
	free(res->tokens);
	free(res->prior_tokens);
	free(res->jigs);
	free(res->anomalies);
	free(res->checkpoint);
	res->quotas = NULL;
	res->tokens = res->prior_tokens = NULL;
	res->jigs = NULL;
	res->anomalies = NULL;
	res->checkpoint = NULL;
	res->n_quotas = res->n_tokens = res->n_prior_tokens = res->n_jigs = 0;
	res->n_anomalies = 0;
}
