/* test_receipt.c - OEM receipts through the writer (issue_receipt.c):
 * a receipt cosigned with the OEM key (lib/cosignature.h tally_cosign) is
 * imported, logged and advances every quota's reconciled count; receipts
 * by another OEM key, for a checkpoint the appliance never signed, for
 * another appliance, with a changed byte, or older than the last one are
 * refused and change nothing; max_unreconciled stops issuance until the
 * next receipt. Real LMDB, real keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include "checkpoint.h"
#include "cosignature.h"
#include "err.h"
#include "util.h"
#include "jig.pb-c.h"
#include "log.pb-c.h"
#include "store.pb-c.h"
#include "daemon/store.h"
#include "daemon/writer.h"
#include "tests/harness/fx_core.h"

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fx_setup(f, 32u << 20) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx_teardown(*state);
	free(*state);
	return 0;
}

/* What a refusal must not change: log size, receipt size, every quota
 * record, the checkpoints (digest of those databases). */
struct snap {
	uint64_t next, receipt;
	uint8_t digest[32];
};

static int
hash_rec(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	assert_int_equal(EVP_DigestUpdate(arg, key, klen), 1);
	assert_int_equal(EVP_DigestUpdate(arg, val, vlen), 1);
	return 0;
}

static uint64_t
meta_u64(struct store_txn *t, const char *name)
{
	const uint8_t *v;
	size_t vlen;

	if (store_txn_get(t, STORE_DB_META, name, strlen(name), &v, &vlen) != 0)
		return 0;
	assert_int_equal(vlen, 8);
	return store_be64_get(v);
}

static void
snap_take(struct fx *f, struct snap *s)
{
	struct store_txn t;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	assert_non_null(c);
	assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	s->next = meta_u64(&t, STORE_META_NEXT);
	s->receipt = meta_u64(&t, STORE_META_RECEIPT);
	assert_int_equal(store_txn_each(&t, STORE_DB_QUOTAS, NULL, 0, hash_rec, c), 0);
	assert_int_equal(store_txn_each(&t, STORE_DB_CHECKPOINTS, NULL, 0, hash_rec, c), 0);
	assert_int_equal(store_txn_each(&t, STORE_DB_RETURNED, NULL, 0, hash_rec, c), 0);
	store_txn_abort(&t);
	assert_int_equal(EVP_DigestFinal_ex(c, s->digest, NULL), 1);
	EVP_MD_CTX_free(c);
}

static void
snap_same(struct fx *f, const struct snap *before)
{
	struct snap now;

	snap_take(f, &now);
	assert_int_equal(now.next, before->next);
	assert_int_equal(now.receipt, before->receipt);
	assert_memory_equal(now.digest, before->digest, 32);
}

/* The stored QuotaRecord of qid (free_unpacked). */
static Tally__QuotaRecord *
quota_rec(struct fx *f, const uint8_t qid[16])
{
	Tally__QuotaRecord *rec;
	struct store_txn t;
	const uint8_t *v;
	size_t vlen;

	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_get(&t, STORE_DB_QUOTAS, qid, 16, &v, &vlen), 0);
	assert_non_null(rec = tally__quota_record__unpack(NULL, vlen, v));
	store_txn_abort(&t);
	return rec;
}

static uint64_t
reconciled(struct fx *f, const uint8_t qid[16])
{
	Tally__QuotaRecord *rec = quota_rec(f, qid);
	uint64_t n = rec->reconciled;

	tally__quota_record__free_unpacked(rec, NULL);
	return n;
}

/* The log entry at index (free_unpacked). */
static Tally__LogEntry *
entry_at(struct fx *f, uint64_t index)
{
	Tally__LogEntry *e;
	struct store_txn t;
	const uint8_t *v;
	uint8_t key[8];
	size_t vlen;

	store_be64_put(key, index);
	assert_int_equal(store_txn_begin(f->st, &t, false), 0);
	assert_int_equal(store_txn_get(&t, STORE_DB_LOG, key, 8, &v, &vlen), 0);
	assert_non_null(e = tally__log_entry__unpack(NULL, vlen, v));
	store_txn_abort(&t);
	return e;
}

/* Imports a quota for product with max_unreconciled (units 100). */
static void
import_quota(struct fx *f, const char *product, uint64_t max_unrec, uint8_t qid[16])
{
	Tally__Quota q;
	struct wreq *r;
	uint8_t *env;
	size_t len;

	fx_quota_init(f, &q, qid, product, 100);
	q.max_unreconciled = max_unrec;
	assert_non_null(env = fx_quota_sign(&q, f->oem, &len));
	r = fx_run1(f, fx_req_quota(f, env, len));
	assert_int_equal(r->error, 0);
	wreq_free(r);
	free(env);
}

/* Issues one token for uid (a number) under product; returns its error. */
static int
issue(struct fx *f, const uint8_t jig[32], const char *product, uint32_t uid)
{
	struct wreq *r = fx_run1(f, fx_req_issue(f, jig, product, &uid, sizeof(uid)));
	int err = r->error;

	wreq_free(r);
	return err;
}

/* A checkpoint of the log now (note text, free()). */
static char *
checkpoint(struct fx *f, uint64_t *size)
{
	struct wreq *r = fx_run1(f, fx_req(f, WREQ_CHECKPOINT));
	char *note;

	assert_int_equal(r->error, 0);
	note = strdup((const char *)r->out);
	if (size != NULL)
		*size = r->tree_size;
	wreq_free(r);
	return note;
}

/* note cosigned by key at time ts (free()). */
static char *
cosign(EVP_PKEY *key, const char *note, int64_t ts)
{
	char *receipt = NULL;

	assert_int_equal(tally_cosign(key, note, strlen(note), ts, &receipt), 0);
	return receipt;
}

/* Runs a receipt import of text (copied); returns the finished request. */
static struct wreq *
import(struct fx *f, const char *text)
{
	struct wreq *r = fx_req(f, WREQ_RECEIPT_IMPORT);

	r->in.receipt.text = strdup(text);
	r->in.receipt.len = strlen(text);
	r->has_operator = true;
	r->operator_uid = 4242;
	return fx_run1(f, r);
}

static int
import_err(struct fx *f, const char *text, char *msg, size_t cap)
{
	struct wreq *r = import(f, text);
	int err = r->error;

	if (msg != NULL)
		snprintf(msg, cap, "%s", r->message);
	wreq_free(r);
	return err;
}

/* A good receipt is logged with the operator, records its size and
 * reconciles the tokens before it; a restart keeps it. */
static void
test_import(void **state)
{
	struct fx *f = *state;
	uint8_t q1[16], q2[16], jig[32];
	Tally__LogEntry *e;
	EVP_PKEY *jk;
	struct wreq *r;
	struct snap s;
	char *note, *receipt;
	uint64_t size, log_before;

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	import_quota(f, "widget", 0, q1);
	import_quota(f, "gadget", 0, q2);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(issue(f, jig, "widget", i), 0);
	assert_int_equal(issue(f, jig, "gadget", 99), 0);
	note = checkpoint(f, &size);
	assert_int_equal(issue(f, jig, "widget", 50), 0);  /* after the checkpoint */
	receipt = cosign(f->oem, note, 1700000000);
	snap_take(f, &s);
	log_before = s.next;

	r = import(f, receipt);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->tree_size, size);
	assert_int_equal(r->cosigned_at, 1700000000);
	assert_int_equal(r->log_index, log_before);
	e = entry_at(f, r->log_index);
	assert_int_equal(e->body_case, TALLY__LOG_ENTRY__BODY_RECEIPT_IMPORTED);
	assert_true(e->has_operator);
	assert_int_equal(e->operator_uid, 4242);
	assert_string_equal(e->receipt_imported->receipt, receipt);
	assert_int_equal(e->receipt_imported->tree_size, size);
	assert_int_equal(e->receipt_imported->cosigned_at, 1700000000);
	tally__log_entry__free_unpacked(e, NULL);
	wreq_free(r);
	assert_int_equal(reconciled(f, q1), 4);
	assert_int_equal(reconciled(f, q2), 1);

	/* the same receipt again is refused: no second entry, nothing more reconciled */
	snap_take(f, &s);
	assert_int_equal(import_err(f, receipt, NULL, 0), TALLY__ERROR_CODE__BAD_REQUEST);
	snap_same(f, &s);
	assert_int_equal(reconciled(f, q1), 4);
	assert_int_equal(fx_restart(f), 0);
	snap_take(f, &s);
	assert_int_equal(s.receipt, size);
	assert_int_equal(reconciled(f, q1), 4);

	/* a later receipt covers the token after the first checkpoint */
	free(note);
	free(receipt);
	note = checkpoint(f, &size);
	receipt = cosign(f->oem, note, 1700000100);
	assert_int_equal(import_err(f, receipt, NULL, 0), 0);
	assert_int_equal(reconciled(f, q1), 5);
	assert_int_equal(reconciled(f, q2), 1);
	free(note);
	free(receipt);
	EVP_PKEY_free(jk);
}

/* Every refusal: its code, and nothing changed. */
static void
test_refusals(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *oem2, *other;
	uint8_t root[32], other_id[32], qid[16], jig[32];
	char origin[TALLY_ORIGIN_MAX], msg[192], *note, *note2, *fake, *receipt, *bad;
	uint64_t size, size2;
	EVP_PKEY *jk;
	struct snap s;

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	import_quota(f, "widget", 0, qid);
	assert_int_equal(issue(f, jig, "widget", 1), 0);
	note = checkpoint(f, &size);
	assert_int_equal(issue(f, jig, "widget", 2), 0);
	note2 = checkpoint(f, &size2);
	assert_int_equal(tally_key_generate(TALLY_KEY_ED25519, &oem2), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	snap_take(f, &s);

	/* cosigned by another OEM key */
	receipt = cosign(oem2, note, tally_now());
	assert_int_equal(import_err(f, receipt, NULL, 0), TALLY__ERROR_CODE__RECEIPT_INVALID);
	free(receipt);
	snap_same(f, &s);

	/* a well-formed checkpoint signed by this appliance's key that it never
	 * stored (another root, same size) */
	tally_checkpoint_origin(f->key_id, origin);
	RAND_bytes(root, sizeof(root));
	assert_int_equal(tally_checkpoint_sign(f->key, origin, size, root, &fake), 0);
	receipt = cosign(f->oem, fake, tally_now());
	assert_int_equal(import_err(f, receipt, msg, sizeof(msg)),
	    TALLY__ERROR_CODE__RECEIPT_UNKNOWN_CHECKPOINT);
	assert_non_null(strstr(msg, "differs"));
	free(receipt);
	free(fake);
	/* ... and for a size it never checkpointed */
	assert_int_equal(tally_checkpoint_sign(f->key, origin, size + 1, root, &fake), 0);
	receipt = cosign(f->oem, fake, tally_now());
	assert_int_equal(import_err(f, receipt, NULL, 0),
	    TALLY__ERROR_CODE__RECEIPT_UNKNOWN_CHECKPOINT);
	free(receipt);
	free(fake);
	snap_same(f, &s);

	/* another appliance's checkpoint */
	assert_int_equal(tally_key_id(other, other_id), 0);
	tally_checkpoint_origin(other_id, origin);
	assert_int_equal(tally_checkpoint_sign(other, origin, size, root, &fake), 0);
	receipt = cosign(f->oem, fake, tally_now());
	assert_int_equal(import_err(f, receipt, msg, sizeof(msg)),
	    TALLY__ERROR_CODE__RECEIPT_UNKNOWN_CHECKPOINT);
	assert_non_null(strstr(msg, "another appliance"));
	free(receipt);
	free(fake);
	snap_same(f, &s);

	/* a changed byte: in the checkpoint text (the cosignature breaks) */
	receipt = cosign(f->oem, note, tally_now());
	bad = strdup(receipt);
	bad[strchr(bad, '\n') - bad + 1] ^= 1;  /* first digit of the size */
	assert_int_equal(import_err(f, bad, NULL, 0), TALLY__ERROR_CODE__RECEIPT_INVALID);
	free(bad);
	/* in the appliance's signature line (the text still matches) */
	bad = strdup(receipt);
	{
		char *line = strstr(bad, "\n\n\xe2\x80\x94 ");
		char *sig;
		assert_non_null(line);
		sig = strchr(line + 6, ' ') + 10;  /* inside the base64 signature */
		*sig = *sig == 'A' ? 'B' : 'A';
	}
	assert_int_equal(import_err(f, bad, NULL, 0), TALLY__ERROR_CODE__RECEIPT_INVALID);
	free(bad);
	/* garbage, empty */
	assert_int_equal(import_err(f, "hello\n", NULL, 0), TALLY__ERROR_CODE__RECEIPT_INVALID);
	assert_int_equal(import_err(f, "", NULL, 0), TALLY__ERROR_CODE__BAD_REQUEST);
	snap_same(f, &s);

	/* older than the receipt already imported */
	free(receipt);
	receipt = cosign(f->oem, note2, tally_now());
	assert_int_equal(import_err(f, receipt, NULL, 0), 0);
	free(receipt);
	snap_take(f, &s);
	receipt = cosign(f->oem, note, tally_now());
	assert_int_equal(import_err(f, receipt, msg, sizeof(msg)),
	    TALLY__ERROR_CODE__BAD_REQUEST);
	assert_non_null(strstr(msg, "older than the receipt already imported"));
	snap_same(f, &s);
	free(receipt);
	free(note);
	free(note2);
	EVP_PKEY_free(oem2);
	EVP_PKEY_free(other);
	EVP_PKEY_free(jk);
}

/* max_unreconciled 3: the 4th new token is refused and spends nothing;
 * reissues still work; a receipt resumes issuance, also across a restart. */
static void
test_max_unreconciled(void **state)
{
	struct fx *f = *state;
	uint8_t qid[16], free_qid[16], jig[32];
	Tally__QuotaRecord *rec;
	EVP_PKEY *jk;
	struct snap s;
	char *note, *receipt;
	struct wreq *r;

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	import_quota(f, "widget", 3, qid);
	import_quota(f, "gadget", 0, free_qid);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(issue(f, jig, "widget", i), 0);
	snap_take(f, &s);
	r = fx_run1(f, fx_req_issue(f, jig, "widget", &(uint32_t){ 7 }, 4));
	assert_int_equal(r->error, TALLY__ERROR_CODE__UNRECONCILED_LIMIT);
	assert_non_null(strstr(r->message, "receipt"));
	wreq_free(r);
	snap_same(f, &s);
	assert_int_equal(issue(f, jig, "widget", 1), 0);     /* a reissue: free */
	assert_int_equal(issue(f, jig, "gadget", 100), 0);   /* another quota: no limit */
	rec = quota_rec(f, qid);
	assert_int_equal(rec->issued, 3);
	tally__quota_record__free_unpacked(rec, NULL);

	assert_int_equal(fx_restart(f), 0);
	assert_int_equal(issue(f, jig, "widget", 7), TALLY__ERROR_CODE__UNRECONCILED_LIMIT);

	note = checkpoint(f, NULL);
	receipt = cosign(f->oem, note, tally_now());
	assert_int_equal(import_err(f, receipt, NULL, 0), 0);
	assert_int_equal(reconciled(f, qid), 3);
	for (uint32_t i = 7; i < 10; i++)
		assert_int_equal(issue(f, jig, "widget", i), 0);
	assert_int_equal(issue(f, jig, "widget", 10), TALLY__ERROR_CODE__UNRECONCILED_LIMIT);
	assert_int_equal(fx_restart(f), 0);
	assert_int_equal(issue(f, jig, "widget", 10), TALLY__ERROR_CODE__UNRECONCILED_LIMIT);
	free(note);
	free(receipt);
	EVP_PKEY_free(jk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_unreconciled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
