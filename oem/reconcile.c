/* reconcile.c - reads an export file frame by frame and checks its header
 * and checkpoint; entries are checked in reconcile_entry.c. See reconcile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctl.pb-c.h"
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

	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	errno = saved;
	return r;
}

static int
check_header(struct rc *rc, const Tally__ExportHeader *h)
{
	struct oem_reconcile_result *res = rc->res;
	int r;

	if (h->format_version != 1)
		return fail(res, TALLY_ERR_UNSUPPORTED, "export format version %u "
		    "(only 1 is known)", h->format_version);
	if (h->first_index != 0)
		return fail(res, TALLY_ERR_UNSUPPORTED, "export starts at entry %llu; "
		    "only whole-log exports (from 0) can be reconciled",
		    (unsigned long long)h->first_index);
	if (tally_key_from_spki(h->appliance_public_key.data,
	    h->appliance_public_key.len, &rc->appliance) != 0)
		return fail(res, TALLY_ERR_INVALID, "header: appliance public key "
		    "is not a P-256 or Ed25519 SubjectPublicKeyInfo");
	tally_key_id_spki(h->appliance_public_key.data, h->appliance_public_key.len,
	    res->appliance_key_id);
	tally_checkpoint_origin(res->appliance_key_id, res->origin);
	r = 0;
	if (strcmp(h->origin, res->origin) != 0)
		r = oem_anomaly_add(res, OEM_ANOM_APPLIANCE, OEM_NO_INDEX,
		    "header origin \"%.64s\" is not the appliance key's origin %s",
		    h->origin, res->origin);
	return r;
}

static int
check_checkpoint(struct rc *rc, const char *note, uint64_t declared)
{
	struct oem_reconcile_result *res = rc->res;
	uint8_t root[TALLY_HASH_LEN];
	uint64_t size;
	int r;

	tally_merkle_frontier_root(&rc->frontier, res->root);
	if (declared != res->entries &&
	    (r = oem_anomaly_add(res, OEM_ANOM_CHECKPOINT_SIZE, OEM_NO_INDEX,
	    "header declares %llu entries, the file holds %llu",
	    (unsigned long long)declared, (unsigned long long)res->entries)) != 0)
		return r;
	r = tally_checkpoint_verify(note, strlen(note), rc->appliance, res->origin,
	    &size, root);
	if (r != 0)
		return oem_anomaly_add(res, OEM_ANOM_CHECKPOINT_SIGNATURE, OEM_NO_INDEX,
		    "checkpoint does not verify with the appliance key: %s",
		    tally_strerror(r));
	res->tree_size = size;
	if (size != res->entries)
		return oem_anomaly_add(res, OEM_ANOM_CHECKPOINT_SIZE, OEM_NO_INDEX,
		    "checkpoint covers %llu entries, the file holds %llu",
		    (unsigned long long)size, (unsigned long long)res->entries);
	if (memcmp(root, res->root, TALLY_HASH_LEN) != 0)
		return oem_anomaly_add(res, OEM_ANOM_ROOT_MISMATCH, OEM_NO_INDEX,
		    "the entries do not hash to the checkpoint's root: "
		    "the log was altered");
	res->checkpoint_ok = 1;
	return 0;
}

/* One record in file order: header first, entries, checkpoint last. */
static int
record(struct rc *rc, const Tally__ExportRecord *rec, int *state, uint64_t *declared)
{
	uint8_t leaf[TALLY_HASH_LEN];
	int r;

	if (*state == 0) {
		if (rec->body_case != TALLY__EXPORT_RECORD__BODY_HEADER)
			return fail(rc->res, TALLY_ERR_INVALID, "first record is not a header");
		*declared = rec->header->entry_count;
		*state = 1;
		return check_header(rc, rec->header);
	}
	if (*state == 2)
		return fail(rc->res, TALLY_ERR_INVALID, "data after the checkpoint");
	switch (rec->body_case) {
	case TALLY__EXPORT_RECORD__BODY_ENTRY:
		tally_merkle_leaf_hash(rec->entry.data, rec->entry.len, leaf);
		if (tally_merkle_frontier_append(&rc->frontier, leaf) != 0)
			return fail(rc->res, TALLY_ERR_TOO_LARGE, "too many entries");
		r = rc_entry(rc, rec->entry.data, rec->entry.len, rc->res->entries);
		rc->res->entries++;
		return r;
	case TALLY__EXPORT_RECORD__BODY_CHECKPOINT:
		*state = 2;
		return check_checkpoint(rc, rec->checkpoint, *declared);
	default:
		return fail(rc->res, TALLY_ERR_INVALID, "record %llu is neither an "
		    "entry nor a checkpoint", (unsigned long long)rc->res->entries + 1);
	}
}

static int
read_records(struct rc *rc, int fd, uint8_t *buf)
{
	Tally__ExportRecord *rec;
	uint64_t frame = 0, declared = 0;
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
		r = record(rc, rec, &state, &declared);
		tally__export_record__free_unpacked(rec, NULL);
		if (r != 0)
			return r == TALLY_ERR_NOMEM ? fail(rc->res, r, "out of memory") : r;
	}
	if (state != 2)
		return fail(rc->res, TALLY_ERR_INVALID, "truncated: %s",
		    state == 0 ? "no header" : "no checkpoint at the end");
	return 0;
}

static uint64_t
count_unreported(const struct oem_reconcile_result *res)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < res->n_tokens; i++)
		if (res->tokens[i].installed == 0 && res->tokens[i].failed == 0)
			n++;
	return n;
}

int
oem_reconcile_file(const char *path, EVP_PKEY *oem_root,
    struct oem_reconcile_result *res)
{
	struct rc rc = { 0 };
	uint8_t *buf = NULL;
	int fd, r;

	memset(res, 0, sizeof(*res));
	rc.res = res;
	rc.oem_root = oem_root;
	tally_merkle_frontier_init(&rc.frontier);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(res, TALLY_ERR_IO, "%s", strerror(errno));
	if ((buf = malloc(TALLY_FRAME_MAX)) == NULL) {
		r = fail(res, TALLY_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = read_records(&rc, fd, buf)) != 0)
		goto out;
	if ((r = rc_duplicates(res)) != 0) {
		r = fail(res, r, "out of memory");
		goto out;
	}
	res->unreported = count_unreported(res);
 out:
	free(buf);
	close(fd);
	rc_free(&rc);
	EVP_PKEY_free(rc.appliance);
	return r;
}

void
oem_reconcile_result_free(struct oem_reconcile_result *res)
{
	if (res == NULL)
		return;
	free(res->quotas);
	free(res->tokens);
	free(res->anomalies);
	res->quotas = NULL;
	res->tokens = NULL;
	res->anomalies = NULL;
	res->n_quotas = res->n_tokens = res->n_anomalies = 0;
}
