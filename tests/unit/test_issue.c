/* test_issue.c - the rules of issue.c through the writer: quota import
 * refusals, token refusals, jig enrol/revoke, install reports, and the
 * read-only queries (query.h). A refusal must change nothing. The
 * attestation policy: test_issue_attest.c. */
#include "tests/unit/test_issue_fx.h"

static void
test_quota_refusals(void **state)
{
	struct fx *f = *state;
	Tally__Quota q;
	EVP_PKEY *other;
	uint8_t qid[16], other_id[32];
	uint64_t before;
	struct wreq *r;

	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &other), 0);
	assert_int_equal(tally_key_id(other, other_id), 0);
	before = log_size(f);
	fx_quota_init(f, &q, qid, "widget", 10);
	assert_int_equal(import(f, &q, other), TALLY__ERROR_CODE__QUOTA_BAD_SIGNATURE);
	q.appliance_key_id.data = other_id;
	assert_int_equal(import(f, &q, f->oem), TALLY__ERROR_CODE__QUOTA_WRONG_APPLIANCE);
	q.appliance_key_id.data = f->key_id;
	q.not_before = tally_now() - 100;
	q.not_after = tally_now() - 10;
	assert_int_equal(import(f, &q, f->oem), TALLY__ERROR_CODE__QUOTA_EXPIRED);
	r = fx_run1(f, fx_req_quota(f, (const uint8_t *)"\x0a\x05junk", 7));
	assert_int_equal(r->error, TALLY__ERROR_CODE__BAD_REQUEST);
	wreq_free(r);
	assert_int_equal(log_size(f), before);  /* refusals change nothing */

	q.not_after = tally_now() + 3600;
	assert_int_equal(import(f, &q, f->oem), 0);
	assert_int_equal(log_size(f), before + 1);
	assert_int_equal(import(f, &q, f->oem), TALLY__ERROR_CODE__QUOTA_REPLAYED);
	assert_int_equal(fx_restart(f), 0);  /* remembered across restarts */
	before = log_size(f);
	assert_int_equal(import(f, &q, f->oem), TALLY__ERROR_CODE__QUOTA_REPLAYED);
	assert_int_equal(log_size(f), before);
	EVP_PKEY_free(other);
}

/* Issue request for jig with firmware fw (NULL: none) under product. */
static int
issue(struct fx *f, const uint8_t jig[32], const char *product, const uint8_t *fw,
    const char *uid)
{
	struct wreq *r = fx_req_issue(f, jig, product, uid, strlen(uid));
	int err;

	if (fw != NULL) {
		r->in.issue.has_firmware = true;
		memcpy(r->in.issue.firmware, fw, 32);
	}
	r = fx_run1(f, r);
	err = r->error;
	assert_true(err == 0 ? r->out != NULL : r->out == NULL && r->message[0] != '\0');
	wreq_free(r);
	return err;
}

static void
test_token_refusals(void **state)
{
	struct fx *f = *state;
	ProtobufCBinaryData fws[2] = { { 32, (uint8_t *)fx_fw }, { 32, NULL } };
	uint8_t qid[16], jig[32], other_fw[32] = { 7 }, unknown[32] = { 1 }, *spki;
	Tally__Quota q;
	EVP_PKEY *jk, *att;
	struct wreq *r;
	size_t spki_len;

	fws[1].data = other_fw;
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	assert_int_equal(fx_import(f, "widget", 5, qid), 0);
	assert_int_equal(issue(f, unknown, "widget", NULL, "u1"), TALLY__ERROR_CODE__JIG_NOT_ENROLLED);
	assert_int_equal(issue(f, jig, "nothing", NULL, "u1"), TALLY__ERROR_CODE__UNKNOWN_PRODUCT);
	assert_int_equal(issue(f, jig, "widget", other_fw, "u1"),
	    TALLY__ERROR_CODE__FIRMWARE_NOT_ALLOWED);
	assert_int_equal(issue(f, jig, "widget", fx_fw, "u1"), 0);
	assert_int_equal(issue(f, jig, "", NULL, "u2"), TALLY__ERROR_CODE__BAD_REQUEST);
	r = fx_req_issue(f, jig, "", "u3", 2);
	r->in.issue.has_quota_id = true;
	memset(r->in.issue.quota_id, 0xee, 16);
	r = fx_run1(f, r);
	assert_int_equal(r->error, TALLY__ERROR_CODE__UNKNOWN_QUOTA);
	wreq_free(r);

	/* Two firmware digests: the request must name one. */
	fx_quota_init(f, &q, qid, "two-fw", 5);
	q.n_firmware_digests = 2;
	q.firmware_digests = fws;
	assert_int_equal(import(f, &q, f->oem), 0);
	assert_int_equal(issue(f, jig, "two-fw", NULL, "u1"), TALLY__ERROR_CODE__BAD_REQUEST);
	assert_int_equal(issue(f, jig, "two-fw", other_fw, "u1"), 0);

	/* Not valid yet; attestation required but none sent. */
	fx_quota_init(f, &q, qid, "later", 5);
	q.not_before = tally_now() + 600;
	assert_int_equal(import(f, &q, f->oem), 0);
	assert_int_equal(issue(f, jig, "later", NULL, "u1"), TALLY__ERROR_CODE__QUOTA_NOT_YET_VALID);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &att), 0);
	assert_int_equal(tally_key_spki(att, &spki, &spki_len), 0);
	fx_quota_init(f, &q, qid, "attested", 5);
	q.attestation = TALLY__ATTESTATION_POLICY__ATTESTATION_REQUIRED;
	q.n_attestation_public_keys = 1;
	q.attestation_public_keys = &(ProtobufCBinaryData){ spki_len, spki };
	assert_int_equal(import(f, &q, f->oem), 0);
	assert_int_equal(issue(f, jig, "attested", NULL, "u1"), TALLY__ERROR_CODE__ATTESTATION_FAILED);

	/* Expiry after import: valid for two more seconds. */
	fx_quota_init(f, &q, qid, "short", 5);
	q.not_after = tally_now() + 2;
	assert_int_equal(import(f, &q, f->oem), 0);
	while (tally_now() < q.not_after)
		usleep(50000);
	assert_int_equal(issue(f, jig, "short", NULL, "u1"), TALLY__ERROR_CODE__QUOTA_EXPIRED);
	OPENSSL_free(spki);
	EVP_PKEY_free(att);
	EVP_PKEY_free(jk);
}

/* Serial numbers count up from serial_first; by quota ID works too. */
static void
test_serials_and_quota_id(void **state)
{
	struct fx *f = *state;
	uint8_t qid[16], jig[32];
	Tally__Quota q;
	Tally__Token *tok;
	EVP_PKEY *jk;

	assert_int_equal(fx_enroll(f, TALLY_KEY_ED25519, &jk, jig), 0);
	fx_quota_init(f, &q, qid, "serial", 3);
	q.serial_first = 5000;
	q.serial_last = 5009;
	assert_int_equal(import(f, &q, f->oem), 0);
	for (int i = 0; i < 3; i++) {
		char uid[16];
		struct wreq *r;

		snprintf(uid, sizeof(uid), "s%d", i);
		r = fx_req_issue(f, jig, "", uid, strlen(uid));
		r->in.issue.has_quota_id = true;
		memcpy(r->in.issue.quota_id, qid, 16);
		r = fx_run1(f, r);
		assert_int_equal(r->error, 0);
		assert_int_equal(tally_bundle_verify(r->out, r->out_len, f->oem,
		    (const uint8_t *)uid, strlen(uid), fx_fw, 0, &tok), 0);
		assert_int_equal(tok->serial_number, 5000 + i);
		assert_memory_equal(tok->nonce.data, r->in.issue.nonce, 32);
		tally__token__free_unpacked(tok, NULL);
		wreq_free(r);
	}
	assert_int_equal(issue(f, jig, "serial", NULL, "s9"), TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
	EVP_PKEY_free(jk);
}

static void
test_jig_enroll_revoke(void **state)
{
	struct fx *f = *state;
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__JigListResponse jl;
	EVP_PKEY *jk, *rogue_ca, *rk;
	X509 *other_ca, *cert;
	uint8_t jig[32], qid[16];
	struct wreq *r;
	uint64_t before;

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	assert_int_equal(writer_jig_status(f->w, jig), 0);
	assert_int_equal(fx_import(f, "widget", 5, qid), 0);
	assert_int_equal(issue(f, jig, "widget", NULL, "d1"), 0);

	/* Another CA, garbage, the same certificate twice. */
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &rogue_ca), 0);
	assert_int_equal(tally_key_generate(TALLY_KEY_P256, &rk), 0);
	other_ca = fx_ca(rogue_ca, "rogue CA");
	cert = fx_cert(other_ca, rogue_ca, rk, "rogue jig");
	before = log_size(f);
	r = fx_run1(f, fx_req_enroll(f, cert, "rogue"));
	assert_int_equal(r->error, TALLY__ERROR_CODE__JIG_BAD_CERTIFICATE);
	memset(r->in.enroll.cert + 10, 0, 20);
	r->error = 0;
	r = fx_run1(f, r);
	assert_int_equal(r->error, TALLY__ERROR_CODE__JIG_BAD_CERTIFICATE);
	wreq_free(r);
	X509_free(cert);
	cert = fx_cert(f->ca, f->ca_key, jk, "again");
	r = fx_run1(f, fx_req_enroll(f, cert, "again"));
	assert_int_equal(r->error, TALLY__ERROR_CODE__JIG_ALREADY_ENROLLED);
	wreq_free(r);
	assert_int_equal(log_size(f), before);

	/* Revoke: unknown, then the jig, then again. */
	r = fx_req(f, WREQ_JIG_REVOKE);
	memset(r->in.revoke.jig_key_id, 0x42, 32);
	r = fx_run1(f, r);
	assert_int_equal(r->error, TALLY__ERROR_CODE__NOT_FOUND);
	memcpy(r->in.revoke.jig_key_id, jig, 32);
	r = fx_run1(f, r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->log_index, before);
	r = fx_run1(f, r);
	assert_int_equal(r->error, TALLY__ERROR_CODE__JIG_REVOKED);
	wreq_free(r);
	assert_int_equal(writer_jig_status(f->w, jig), TALLY__ERROR_CODE__JIG_REVOKED);
	assert_int_equal(issue(f, jig, "widget", NULL, "d1"), TALLY__ERROR_CODE__JIG_REVOKED);
	r = fx_run1(f, fx_req_enroll(f, cert, "again"));  /* a revoked jig stays revoked */
	assert_int_equal(r->error, TALLY__ERROR_CODE__JIG_ALREADY_ENROLLED);
	wreq_free(r);

	assert_int_equal(fx_restart(f), 0);
	assert_int_equal(writer_jig_status(f->w, jig), TALLY__ERROR_CODE__JIG_REVOKED);
	assert_int_equal(query_jig_list(f->st, &a, &jl), 0);
	assert_int_equal(jl.n_jigs, 1);
	assert_true(jl.jigs[0]->revoked);
	assert_int_equal(jl.jigs[0]->tokens_issued, 1);
	assert_string_equal(jl.jigs[0]->name, "line 1 jig");
	assert_string_equal(jl.jigs[0]->subject, "CN=jig");
	tally_arena_release(&a);
	X509_free(cert);
	X509_free(other_ca);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(rogue_ca);
	EVP_PKEY_free(jk);
}

/* A ReportInstall request with result, signed by key, sent as jig. */
static struct wreq *
report_as(struct fx *f, EVP_PKEY *key, const uint8_t jig[32], uint64_t index,
    const char *uid, Tally__InstallResult result)
{
	Tally__InstallReport rep = TALLY__INSTALL_REPORT__INIT;
	struct wreq *r = fx_req(f, WREQ_REPORT_INSTALL);
	uint8_t buf[256];
	size_t n;

	rep.token_log_index = index;
	rep.device_uid.data = (uint8_t *)uid;
	rep.device_uid.len = strlen(uid);
	rep.result = result;
	if (result == TALLY__INSTALL_RESULT__FAILED)
		rep.reason = (char *)"flash verify failed";
	rep.time = tally_now();
	n = tally__install_report__pack(&rep, buf);
	assert_int_equal(tally_dsse_sign(key, TALLY_PT_REPORT, buf, n, &r->in.report.env,
	    &r->in.report.len), 0);
	memcpy(r->jig_key_id, jig, 32);
	return r;
}

static struct wreq *
report_req(struct fx *f, EVP_PKEY *key, const uint8_t jig[32], uint64_t index,
    const char *uid)
{
	return report_as(f, key, jig, index, uid, TALLY__INSTALL_RESULT__INSTALLED);
}

static void
test_install_report(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *jk, *jk2;
	uint8_t jig[32], jig2[32], qid[16];
	struct wreq *t, *r;
	uint64_t before;

	assert_int_equal(fx_enroll(f, TALLY_KEY_ED25519, &jk, jig), 0);
	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk2, jig2), 0);
	assert_int_equal(fx_import(f, "widget", 5, qid), 0);
	t = fx_run1(f, fx_req_issue(f, jig, "widget", "dev-1", 5));
	assert_int_equal(t->error, 0);
	before = log_size(f);

	r = fx_run1(f, report_req(f, jk2, jig, t->log_index, "dev-1"));  /* other jig's key */
	assert_int_equal(r->error, TALLY__ERROR_CODE__REPORT_INVALID);
	wreq_free(r);
	r = fx_run1(f, report_req(f, jk, jig, t->log_index, "dev-2"));   /* other device */
	assert_int_equal(r->error, TALLY__ERROR_CODE__REPORT_INVALID);
	wreq_free(r);
	r = fx_run1(f, report_req(f, jk, jig, 1, "dev-1"));              /* not a token */
	assert_int_equal(r->error, TALLY__ERROR_CODE__REPORT_INVALID);
	wreq_free(r);
	r = fx_run1(f, report_req(f, jk, jig, 999999, "dev-1"));         /* no entry */
	assert_int_equal(r->error, TALLY__ERROR_CODE__REPORT_INVALID);
	wreq_free(r);
	assert_int_equal(log_size(f), before);

	r = fx_run1(f, report_req(f, jk, jig, t->log_index, "dev-1"));
	assert_int_equal(r->error, 0);
	assert_int_equal(r->log_index, before);
	assert_false(r->unit_returned);
	wreq_free(r);
	/* the other enrolled jig may report on a token it did not get */
	r = fx_run1(f, report_req(f, jk2, jig2, t->log_index, "dev-1"));
	assert_int_equal(r->error, 0);
	wreq_free(r);
	assert_int_equal(log_size(f), before + 2);
	wreq_free(t);
	EVP_PKEY_free(jk);
	EVP_PKEY_free(jk2);
}

/* Does the log entry at index say the report returned its unit? */
static bool
logged_return(struct fx *f, uint64_t index)
{
	Tally__LogEntry *e = entry_at(f, index);
	bool ret;

	assert_int_equal(e->body_case, TALLY__LOG_ENTRY__BODY_INSTALL_REPORTED);
	ret = e->install_reported->unit_returned;
	tally__log_entry__free_unpacked(e, NULL);
	return ret;
}

/* Sends a report; checks the reply and the log entry agree on the return. */
static bool
report(struct fx *f, EVP_PKEY *jk, const uint8_t jig[32], const struct wreq *tok,
    Tally__InstallResult result)
{
	struct wreq *r = fx_run1(f, report_as(f, jk, jig, tok->log_index,
	    (const char *)tok->in.issue.uid, result));
	bool ret = r->unit_returned;

	assert_int_equal(r->error, 0);
	assert_int_equal(logged_return(f, r->log_index), ret);
	wreq_free(r);
	return ret;
}

/* Scrap allowance 2 on 3 units: a FAILED report returns the unit while
 * returned < 2, once per token; beyond, the unit stays spent; both logged;
 * a restart remembers. */
static void
test_scrap_allowance(void **state)
{
	struct fx *f = *state;
	Tally__QuotaInfo *qi;
	Tally__QuotaListResponse ql;
	struct tally_arena a = TALLY_ARENA_INIT;
	struct wreq *t[6];
	uint8_t qid[16], jig[32];
	Tally__Quota q;
	EVP_PKEY *jk;
	char uid[16];

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	fx_quota_init(f, &q, qid, "widget", 3);
	q.scrap_allowance = 2;
	assert_int_equal(import(f, &q, f->oem), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(uid, sizeof(uid), "dev-%d", i);
		t[i] = fx_req_issue(f, jig, "widget", uid, strlen(uid));
	}
	fx_run(f, t, 4);
	assert_int_equal(t[2]->error, 0);
	assert_int_equal(t[3]->error, TALLY__ERROR_CODE__QUOTA_EXHAUSTED);

	assert_false(report(f, jk, jig, t[0], TALLY__INSTALL_RESULT__INSTALLED));
	assert_true(report(f, jk, jig, t[0], TALLY__INSTALL_RESULT__FAILED));
	assert_false(report(f, jk, jig, t[0], TALLY__INSTALL_RESULT__FAILED));  /* once */
	wreq_free(t[3]);
	t[3] = fx_run1(f, fx_req_issue(f, jig, "widget", "dev-3", 5));
	assert_int_equal(t[3]->error, 0);   /* the returned unit, spent again */
	assert_true(report(f, jk, jig, t[1], TALLY__INSTALL_RESULT__FAILED));
	assert_int_equal(fx_restart(f), 0);
	assert_false(report(f, jk, jig, t[2], TALLY__INSTALL_RESULT__FAILED));  /* beyond */
	assert_false(report(f, jk, jig, t[1], TALLY__INSTALL_RESULT__FAILED));

	assert_int_equal(query_quota_list(f->st, &a, &ql), 0);
	assert_int_equal(ql.n_quotas, 1);
	qi = ql.quotas[0];
	assert_int_equal(qi->issued, 4);
	assert_int_equal(qi->returned, 2);
	tally_arena_release(&a);
	t[4] = fx_run1(f, t[4]);
	assert_int_equal(t[4]->error, 0);   /* 4 issued - 2 returned < 3 units */
	t[5] = fx_run1(f, t[5]);
	assert_int_equal(t[5]->error, TALLY__ERROR_CODE__QUOTA_EXHAUSTED);
	for (int i = 0; i < 6; i++)
		wreq_free(t[i]);
	EVP_PKEY_free(jk);
}

static void
test_queries(void **state)
{
	struct fx *f = *state;
	struct tally_arena a = TALLY_ARENA_INIT;
	Tally__HelloResponse h;
	Tally__IdentityResponse id;
	Tally__TokenShowResponse ts;
	Tally__StatusResponse st = TALLY__STATUS_RESPONSE__INIT;
	char origin[TALLY_ORIGIN_MAX];
	uint8_t q1[16], q2[16], jig[32];
	EVP_PKEY *jk;
	struct wreq *t;

	assert_int_equal(fx_enroll(f, TALLY_KEY_P256, &jk, jig), 0);
	assert_int_equal(fx_import(f, "widget", 2, q1), 0);
	assert_int_equal(fx_import(f, "gadget", 7, q2), 0);
	assert_int_equal(issue(f, jig, "widget", NULL, "A"), 0);
	assert_int_equal(issue(f, jig, "widget", NULL, "B"), 0);
	t = fx_run1(f, fx_req_issue(f, jig, "gadget", "A", 1));
	assert_int_equal(t->error, 0);

	assert_int_equal(query_hello(f->st, &a, &h), 0);
	assert_int_equal(h.appliance_key_id.len, 32);
	assert_memory_equal(h.appliance_key_id.data, f->key_id, 32);
	assert_int_equal(h.n_products, 1);  /* widget is used up */
	assert_string_equal(h.products[0]->product, "gadget");
	assert_int_equal(h.products[0]->units_remaining, 6);
	assert_int_equal(h.products[0]->n_firmware_digests, 1);
	assert_memory_equal(h.products[0]->firmware_digests[0].data, fx_fw, 32);

	assert_int_equal(query_identity(f->st, &a, &id), 0);
	assert_memory_equal(id.key_id.data, f->key_id, 32);
	tally_checkpoint_origin(f->key_id, origin);
	assert_string_equal(id.origin, origin);
	assert_memory_equal(id.public_key.data, h.appliance_public_key.data,
	    h.appliance_public_key.len);

	assert_int_equal(query_token_show(f->st, (const uint8_t *)"A", 1, &a, &ts), 0);
	assert_int_equal(ts.n_tokens, 2);
	assert_int_equal(ts.n_log_indexes, 2);
	assert_true(ts.log_indexes[0] == t->log_index || ts.log_indexes[1] == t->log_index);
	assert_int_equal(query_token_show(f->st, (const uint8_t *)"Z", 1, &a, &ts),
	    TALLY_ERR_NOT_FOUND);
	assert_int_equal(query_token_show(f->st, (const uint8_t *)"Z", 0, &a, &ts),
	    TALLY_ERR_INVALID);

	assert_int_equal(query_status(f->st, &a, &st), 0);
	assert_int_equal(st.tokens_issued, 3);
	assert_int_equal(st.n_quotas, 2);
	assert_int_equal(st.log_size, 7);  /* start, jig, 2 quotas, 3 tokens */
	assert_false(st.storage_full);
	tally_arena_release(&a);
	wreq_free(t);
	EVP_PKEY_free(jk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_quota_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials_and_quota_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jig_enroll_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrap_allowance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
