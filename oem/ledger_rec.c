/* ledger_rec.c - the byte layout of the OEM ledger's records (ledger.h):
 * integers 8-byte big-endian, variable byte strings with a 2-byte
 * big-endian length, fixed ones raw, in the order written here. Readers
 * are bounded: a short or over-long record is TALLY_ERR_STORAGE. */
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "ledger_int.h"

static void
lw_grow(struct lw *w, size_t n)
{
	size_t ncap;
	uint8_t *p;

	if (w->err != 0 || w->len + n <= w->cap)
		return;
	for (ncap = w->cap == 0 ? 256 : w->cap; ncap < w->len + n; ncap *= 2)
		;
	if ((p = realloc(w->buf, ncap)) == NULL) {
		w->err = TALLY_ERR_NOMEM;
		return;
	}
	w->buf = p;
	w->cap = ncap;
}

void
lw_bytes(struct lw *w, const void *p, size_t n)
{
	lw_grow(w, n);
	if (w->err != 0 || n == 0)
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void
lw_u64(struct lw *w, uint64_t v)
{
	uint8_t b[8];

	ledger_be64(b, v);
	lw_bytes(w, b, 8);
}

void
lw_blob(struct lw *w, const void *p, size_t n)
{
	uint8_t b[2] = { (uint8_t)(n >> 8), (uint8_t)n };

	if (n > 0xffff) {
		w->err = TALLY_ERR_TOO_LARGE;
		return;
	}
	lw_bytes(w, b, 2);
	lw_bytes(w, p, n);
}

static const uint8_t *
lr_take(struct lr *r, size_t n)
{
	const uint8_t *p;

	if (r->err != 0 || r->len - r->pos < n) {
		r->err = TALLY_ERR_STORAGE;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

uint64_t
lr_u64(struct lr *r)
{
	const uint8_t *p = lr_take(r, 8);

	return p == NULL ? 0 : ledger_get64(p);
}

void
lr_bytes(struct lr *r, void *out, size_t n)
{
	const uint8_t *p = lr_take(r, n);

	if (p != NULL)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

const uint8_t *
lr_blob(struct lr *r, size_t *n)
{
	const uint8_t *p = lr_take(r, 2);

	*n = p == NULL ? 0 : (size_t)p[0] << 8 | p[1];
	return lr_take(r, *n);
}

static void
lr_init(struct lr *r, const MDB_val *v)
{
	r->p = v->mv_data;
	r->len = v->mv_size;
	r->pos = 0;
	r->err = 0;
}

/* An optional trailing count (added after the first layout): absent in
 * records written before it, and written only when not 0, so ledgers
 * without it read the same bytes either way. */
static uint64_t
lr_opt_u64(struct lr *r)
{
	return r->err == 0 && r->len - r->pos == 8 ? lr_u64(r) : 0;
}

static void
lw_opt_u64(struct lw *w, uint64_t v)
{
	if (v != 0)
		lw_u64(w, v);
}

/* A whole record read, nothing left over. */
static int
lr_done(const struct lr *r)
{
	return r->err == 0 && r->pos == r->len ? 0 : TALLY_ERR_STORAGE;
}

/* Appliance: size, root, last_time, verified_at, spki, frontier, note. */
void
lrec_appliance_enc(struct lw *w, const struct oem_ledger_appliance *a)
{
	uint8_t fr[TALLY_FRONTIER_ENC_MAX];
	size_t n = tally_merkle_frontier_encode(&a->frontier, fr);

	lw_u64(w, a->size);
	lw_bytes(w, a->root, TALLY_HASH_LEN);
	lw_u64(w, (uint64_t)a->last_time);
	lw_u64(w, (uint64_t)a->verified_at);
	lw_blob(w, a->spki, a->spki_len);
	lw_blob(w, fr, n);
	lw_blob(w, a->note, strlen(a->note));
}

int
lrec_appliance_dec(const MDB_val *v, struct oem_ledger_appliance *a)
{
	const uint8_t *spki, *fr, *note;
	size_t ns, nf, nn;
	struct lr r;

	lr_init(&r, v);
	a->size = lr_u64(&r);
	lr_bytes(&r, a->root, TALLY_HASH_LEN);
	a->last_time = (int64_t)lr_u64(&r);
	a->verified_at = (int64_t)lr_u64(&r);
	spki = lr_blob(&r, &ns);
	fr = lr_blob(&r, &nf);
	note = lr_blob(&r, &nn);
	if (lr_done(&r) != 0 || ns > sizeof(a->spki) || nn > TALLY_NOTE_MAX ||
	    tally_merkle_frontier_decode(&a->frontier, fr, nf) != 0 ||
	    a->frontier.size != a->size)
		return TALLY_ERR_STORAGE;
	memcpy(a->spki, spki, ns);
	a->spki_len = ns;
	memcpy(a->note, note, nn);
	a->note[nn] = '\0';
	return 0;
}

/* Quota: units, scrap, not_before, not_after, import_index, issued,
 * returned, failed, reported, product, envelope, [attestation failures]. */
void
lrec_quota_enc(struct lw *w, const struct oem_quota_count *c, const uint8_t *env,
    size_t env_len)
{
	lw_u64(w, c->units);
	lw_u64(w, c->scrap_allowance);
	lw_u64(w, (uint64_t)c->not_before);
	lw_u64(w, (uint64_t)c->not_after);
	lw_u64(w, c->import_index);
	lw_u64(w, c->issued);
	lw_u64(w, c->returned);
	lw_u64(w, c->failed);
	lw_u64(w, c->reported);
	lw_blob(w, c->product, strlen(c->product));
	lw_blob(w, env, env_len);
	lw_opt_u64(w, c->attestation_failed);
}

int
lrec_quota_dec(const MDB_val *v, struct oem_quota_count *c, const uint8_t **env,
    size_t *env_len)
{
	const uint8_t *product;
	size_t np;
	struct lr r;

	memset(c, 0, sizeof(*c));
	lr_init(&r, v);
	c->units = lr_u64(&r);
	c->scrap_allowance = lr_u64(&r);
	c->not_before = (int64_t)lr_u64(&r);
	c->not_after = (int64_t)lr_u64(&r);
	c->import_index = lr_u64(&r);
	c->issued = lr_u64(&r);
	c->returned = lr_u64(&r);
	c->failed = lr_u64(&r);
	c->reported = lr_u64(&r);
	product = lr_blob(&r, &np);
	*env = lr_blob(&r, env_len);
	c->attestation_failed = lr_opt_u64(&r);
	if (lr_done(&r) != 0 || np > TALLY_PRODUCT_MAX)
		return TALLY_ERR_STORAGE;
	memcpy(c->product, product, np);
	c->product[np] = '\0';
	c->from_ledger = 1;
	c->pending_use = OEM_NO_INDEX;
	return 0;
}

/* Jig: enrolled_index, revoked, spki, [attestation failures]. */
void
lrec_jig_enc(struct lw *w, const struct oem_jig_rec *j)
{
	lw_u64(w, j->enrolled_index);
	lw_u64(w, j->revoked ? 1 : 0);
	lw_blob(w, j->spki, j->spki_len);
	lw_opt_u64(w, j->attestation_failed);
}

int
lrec_jig_dec(const MDB_val *v, struct oem_jig_rec *j)
{
	const uint8_t *spki;
	size_t n;
	struct lr r;

	lr_init(&r, v);
	j->enrolled_index = lr_u64(&r);
	j->revoked = lr_u64(&r) != 0;
	spki = lr_blob(&r, &n);
	j->attestation_failed = lr_opt_u64(&r);
	if (lr_done(&r) != 0 || n > sizeof(j->spki))
		return TALLY_ERR_STORAGE;
	memcpy(j->spki, spki, n);
	j->spki_len = n;
	j->from_ledger = 1;
	j->pending_use = OEM_NO_INDEX;
	return 0;
}

/* Token: quota ID, jig key ID, serial, time, flags, UID. */
void
lrec_token_enc(struct lw *w, const struct oem_token_rec *t)
{
	uint64_t flags = (t->installed ? OEM_TOK_INSTALLED : 0) |
	    (t->failed ? OEM_TOK_FAILED : 0) | (t->returned ? OEM_TOK_RETURNED : 0);

	lw_bytes(w, t->quota_id, TALLY_QUOTA_ID_LEN);
	lw_bytes(w, t->jig_key_id, TALLY_KEY_ID_LEN);
	lw_u64(w, t->serial);
	lw_u64(w, (uint64_t)t->time);
	lw_u64(w, flags);
	lw_blob(w, t->uid, t->uid_len);
}

int
lrec_token_dec(const MDB_val *v, struct oem_token_rec *t)
{
	const uint8_t *uid;
	uint64_t flags;
	size_t n;
	struct lr r;

	memset(t, 0, sizeof(*t));
	lr_init(&r, v);
	lr_bytes(&r, t->quota_id, TALLY_QUOTA_ID_LEN);
	lr_bytes(&r, t->jig_key_id, TALLY_KEY_ID_LEN);
	t->serial = lr_u64(&r);
	t->time = (int64_t)lr_u64(&r);
	flags = lr_u64(&r);
	uid = lr_blob(&r, &n);
	if (lr_done(&r) != 0 || n == 0 || n > TALLY_UID_MAX)
		return TALLY_ERR_STORAGE;
	memcpy(t->uid, uid, n);
	t->uid_len = (uint8_t)n;
	t->installed = (flags & OEM_TOK_INSTALLED) != 0;
	t->failed = (flags & OEM_TOK_FAILED) != 0;
	t->returned = (flags & OEM_TOK_RETURNED) != 0;
	t->quota = SIZE_MAX;
	return 0;
}

/* Where a UID or serial was seen: appliance key ID, log index. */
void
lrec_ref_enc(struct lw *w, const uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t index)
{
	lw_bytes(w, key_id, TALLY_KEY_ID_LEN);
	lw_u64(w, index);
}

int
lrec_ref_dec(const MDB_val *v, uint8_t key_id[TALLY_KEY_ID_LEN], uint64_t *index)
{
	struct lr r;

	lr_init(&r, v);
	lr_bytes(&r, key_id, TALLY_KEY_ID_LEN);
	*index = lr_u64(&r);
	return lr_done(&r);
}
