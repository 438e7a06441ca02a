/* test_issue_attest.c - the quota's attestation policy through the
 * writer (issue.c, issue_attest.c): with ATTESTATION_REQUIRED a token
 * needs an attestation record by a trusted P-256 or Ed25519 key over the
 * request's nonce and the UID; every bad record is ATTESTATION_FAILED,
 * logged as LogAttestationFailed, and spends nothing; a reissue needs the
 * same key; without the policy a record is ignored. */
#include "tests/unit/test_issue_fx.h"

/* An IssueToken for uid whose attestation is signed by att over the
 * request's nonce and rec_uid (NULL: uid); att NULL: no attestation. */
static struct wreq *
attested_req(struct fx *f, const uint8_t jig[32], const char *product, const char *uid,
    EVP_PKEY *att, const char *rec_uid)
{
	static const uint8_t boot[32] = { 0xb0, 0x07 };
	struct wreq *r = fx_req_issue(f, jig, product, uid, strlen(uid));

	if (rec_uid == NULL)
		rec_uid = uid;
	if (att != NULL)
		assert_int_equal(tally_attestation_make(att, r->in.issue.nonce,
		    (const uint8_t *)rec_uid, strlen(rec_uid), boot, 0x00020001,
		    r->in.issue.attestation, sizeof(r->in.issue.attestation),
		    &r->in.issue.attestation_len), 0);
	return r;
}

/* Runs r; checks a refusal logged LogAttestationFailed for it and spent
 * nothing; returns the error code. */
static int
attested_run(struct fx *f, struct wreq *r, const uint8_t qid[16], const uint8_t *named)
{
	uint64_t before = log_size(f);
	Tally__LogAttestationFailed *af;
	Tally__LogEntry *e;
	int err;

	r = fx_run1(f, r);
	err = r->error;
	if (err == TALLY__ERROR_CODE__ATTESTATION_FAILED) {
		assert_null(r->out);
		assert_int_equal(log_size(f), before + 1);
		assert_int_equal(r->log_index, before);
		e = entry_at(f, before);
		assert_int_equal(e->body_case, TALLY__LOG_ENTRY__BODY_ATTESTATION_FAILED);
		af = e->attestation_failed;
		assert_memory_equal(af->jig_key_id.data, r->jig_key_id, 32);
		assert_int_equal(af->device_uid.len, r->in.issue.uid_len);
		assert_memory_equal(af->device_uid.data, r->in.issue.uid, r->in.issue.uid_len);
		assert_memory_equal(af->quota_id.data, qid, 16);
		assert_true(strlen(af->reason) > 0 && strstr(r->message, af->reason) != NULL);
		assert_int_equal(af->attestation_key_id.len, named != NULL ? 32 : 0);
		if (named != NULL)
			assert_memory_equal(af->attestation_key_id.data, named, 32);
		tally__log_entry__free_unpacked(e, NULL);
	}
	wreq_free(r);
	return err;
}

static uint64_t
quota_issued(struct fx *f)
{
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__QuotaListResponse ql;
	uint64_t n = 0;

	assert_int_equal(query_quota_list(f->st, &a, &ql), 0);
	for (size_t i = 0; i < ql.n_quotas; i++)
		n += ql.quotas[i]->issued;
	tally_arena_release(&a);
	return n;
}

/* A quota requiring attestation by a P-256 or an Ed25519 key: good
 * records get tokens naming the key; every bad one is ATTESTATION_FAILED,
 * logged, and spends nothing; a reissue needs the same key again. */
static void
test_attestation(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *jk, *att[3];
	ProtobufCBinaryData keys[2];
	uint8_t qid[16], jig[32], kid[3][32];
	Tally__Quota q;
	Tally__Token *tok;
	struct wreq *r;

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tally_key_generate(i == 1 ? TALLY_KEY_ED25519 :
		    TALLY_KEY_P256, &att[i]), 0);
		assert_int_equal(tally_key_id(att[i], kid[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(tally_key_spki(att[i], &keys[i].data, &keys[i].len), 0);
	fx_quota_init(f, &q, qid, "attested", 3);
	q.attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
	q.n_attestation_public_keys = 2;
	q.attestation_public_keys = keys;
	assert_int_equal(import(f, &q, f->oem), 0);

	for (int i = 0; i < 2; i++) {
		r = fx_run1(f, attested_req(f, jig, "attested", i ? "dut-b" : "dut-a", att[i], NULL));
		assert_int_equal(r->error, 0);
		assert_int_equal(tally_bundle_verify(r->out, r->out_len, f->oem,
		    r->in.issue.uid, r->in.issue.uid_len, fx_fw, 0, &tok), 0);
		assert_int_equal(tok->attestation_key_id.len, 32);
		assert_memory_equal(tok->attestation_key_id.data, kid[i], 32);
		assert_int_equal(tok->boot_key_hash.len, 32);
		assert_int_equal(tok->boot_key_hash.data[0], 0xb0);
		assert_int_equal(tok->software_version, 0x00020001);
		tally__token__free_unpacked(tok, NULL);
		wreq_free(r);
	}
	assert_int_equal(quota_issued(f), 2);

	/* Untrusted key, record for another UID, over another nonce, malformed, none. */
	assert_int_equal(attested_run(f, attested_req(f, jig, "attested", "dut-c", att[2], NULL),
	    qid, kid[2]), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(attested_run(f, attested_req(f, jig, "attested", "dut-c", att[0], "dut-d"),
	    qid, kid[0]), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	r = attested_req(f, jig, "attested", "dut-c", att[0], NULL);
	r->in.issue.nonce[0] ^= 1;
	assert_int_equal(attested_run(f, r, qid, kid[0]), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	r = attested_req(f, jig, "attested", "dut-c", att[1], NULL);
	r->in.issue.attestation_len--;
	assert_int_equal(attested_run(f, r, qid, NULL), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	r = attested_req(f, jig, "attested", "dut-c", att[1], NULL);
	r->in.issue.attestation[r->in.issue.attestation_len - 1] ^= 1;  /* signature */
	assert_int_equal(attested_run(f, r, qid, kid[1]), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(attested_run(f, attested_req(f, jig, "attested", "dut-c", NULL, NULL),
	    qid, NULL), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(quota_issued(f), 2);

	/* Reissue: the same key again is free; the other trusted key is a clone. */
	r = fx_run1(f, attested_req(f, jig, "attested", "dut-a", att[0], NULL));
	assert_int_equal(r->error, 0);
	assert_true(r->reissued);
	wreq_free(r);
	assert_int_equal(attested_run(f, attested_req(f, jig, "attested", "dut-a", att[1], NULL),
	    qid, kid[1]), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(attested_run(f, attested_req(f, jig, "attested", "dut-a", NULL, NULL),
	    qid, NULL), TALLY__ERROR_CODE__ATTESTATION_FAILED);
	assert_int_equal(quota_issued(f), 2);
	assert_int_equal(fx_restart(f), 0);   /* the policy holds across restarts */
	assert_int_equal(attested_run(f, attested_req(f, jig, "attested", "dut-b", att[0], NULL),
	    qid, kid[0]), TALLY__ERROR_CODE__ATTESTATION_FAILED);

	/* Without the policy, an attestation is accepted and ignored. */
	assert_int_equal(fx_import(f, "plain", 2, qid), 0);
	r = attested_req(f, jig, "plain", "dut-e", att[2], NULL);
	memset(r->in.issue.attestation, 0xee, 10);   /* not even a record */
	r = fx_run1(f, r);
	assert_int_equal(r->error, 0);
	assert_int_equal(tally_bundle_verify(r->out, r->out_len, f->oem,
	    r->in.issue.uid, r->in.issue.uid_len, fx_fw, 0, &tok), 0);
	assert_int_equal(tok->attestation_key_id.len, 0);
	assert_int_equal(tok->software_version, 0);
	tally__token__free_unpacked(tok, NULL);
	wreq_free(r);
	for (int i = 0; i < 3; i++)
		EVP_PKEY_free(att[i]);
	OPENSSL_free(keys[0].data);
	OPENSSL_free(keys[1].data);
	EVP_PKEY_free(jk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attestation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
