/* test_crash.c - kill -9 of tallyd while jigs are being served (DESIGN.md
 * §4 invariants 1-3). Four jig threads issue tokens for fresh device UIDs
 * in pipelined batches and keep every token they receive; the test kills
 * tallyd with SIGKILL KILLS times at random moments and starts it again;
 * jigs reconnect and ask again for the UIDs whose answers they lost.
 * Then: every token a jig received is in the exported log with the same
 * bytes; the quota counter and status equal the tokens in the log; log
 * indexes have no gap; no UID has two tokens; the export reconciles with
 * no anomaly. Real tallyd, TLS and LMDB (harness.h). */
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include <cmocka.h>

#include "artifact.h"
#include "err.h"
#include "oem/reconcile.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "tls.h"
#include "util.h"

#define WORKERS 4
#define KILLS 5
#define BATCH 16
#define PER_WORKER_MAX 5000     /* fresh UIDs a worker asks for at most */
#define UNITS 1000000
#define UID_LEN 8               /* "crsh", worker, 24-bit sequence */
#define VERIFY_EVERY 16          /* received bundles verified as a DUT does */
#define WAIT_PROGRESS_MS 10000  /* for tokens to flow after a (re)start */

struct rx {                      /* one token a jig received */
	uint8_t uid[UID_LEN];
	uint8_t *bundle;
	size_t len;
};

struct shared {
	atomic_uint port;            /* tallyd's current jig port */
	atomic_bool stop;
	atomic_ulong got[WORKERS];   /* tokens received, per worker */
	atomic_bool spent[WORKERS];  /* worker has no UID left to ask for */
	uint8_t pin[32];
};

struct worker {
	struct shared *sh;
	unsigned id;
	SSL_CTX *ctx;                /* this jig's client context, made once */
	uint32_t next;               /* next fresh UID sequence number */
	uint8_t pending[BATCH][UID_LEN];  /* sent, never answered: ask again */
	size_t n_pending;
	struct rx *rx;
	size_t n_rx, cap_rx;
	unsigned reconnects, reissued;
	int err;                     /* an unexpected refusal or failure */
};

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
keep(struct worker *w, const uint8_t uid[UID_LEN], struct th_issue_res *res)
{
	struct rx *v;

	if (w->n_rx == w->cap_rx) {
		w->cap_rx = w->cap_rx ? 2 * w->cap_rx : 256;
		if ((v = realloc(w->rx, w->cap_rx * sizeof(*v))) == NULL)
			return TALLY_ERR_NOMEM;
		w->rx = v;
	}
	memcpy(w->rx[w->n_rx].uid, uid, UID_LEN);
	w->rx[w->n_rx].bundle = res->bundle;   /* taken over */
	w->rx[w->n_rx].len = res->bundle_len;
	res->bundle = NULL;
	w->n_rx++;
	w->reissued += res->reissued;
	atomic_fetch_add(&w->sh->got[w->id], 1);
	return 0;
}

/* The UIDs of the next batch: the unanswered ones first, then fresh ones. */
static size_t
next_batch(struct worker *w, uint8_t uids[BATCH][UID_LEN])
{
	size_t n = w->n_pending;

	memcpy(uids, w->pending, n * UID_LEN);
	w->n_pending = 0;
	for (; n < BATCH && w->next < PER_WORKER_MAX; n++, w->next++) {
		memcpy(uids[n], "crsh", 4);
		uids[n][4] = (uint8_t)w->id;
		uids[n][5] = (uint8_t)(w->next >> 16);
		uids[n][6] = (uint8_t)(w->next >> 8);
		uids[n][7] = (uint8_t)w->next;
	}
	return n;
}

/* One batch; answered tokens are kept, lost answers become pending.
 * Returns the link error (the connection is then dropped). */
static int
one_batch(struct worker *w, struct jig_client *c)
{
	uint8_t uids[BATCH][UID_LEN];
	struct th_issue_res res[BATCH];
	size_t n = next_batch(w, uids), k;
	int r;

	if (n == 0) {
		atomic_store(&w->sh->spent[w->id], true);
		sleep_ms(5);
		return 0;
	}
	r = th_issue_pipelined(c, "widget", &uids[0][0], UID_LEN, n, res);
	for (k = 0; k < n && w->err == 0; k++) {
		if (res[k].code == 0)
			w->err = keep(w, uids[k], &res[k]);
		else if (res[k].code < 0)
			memcpy(w->pending[w->n_pending++], uids[k], UID_LEN);
		else
			w->err = res[k].code;   /* no refusal is expected here */
	}
	th_issue_res_clear(res, n);
	return r;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct jig_client *c = NULL;

	while (!atomic_load(&w->sh->stop) && w->err == 0) {
		if (c == NULL) {
			if (jig_client_connect_ctx("127.0.0.1", (uint16_t)atomic_load(&w->sh->port),
			    w->ctx, w->sh->pin, &c) != 0) {
				sleep_ms(10);   /* tallyd is down or starting */
				continue;
			}
			jig_client_set_timeout(c, 5);
			w->reconnects++;
		}
		if (one_batch(w, c) != 0) {
			jig_client_close(c);
			c = NULL;
		}
	}
	jig_client_close(c);
	return NULL;
}

/* Waits until every worker that still has UIDs to ask for has received
 * `more` tokens from now on: all jigs are being served. */
static bool
progress(struct shared *sh, unsigned long more)
{
	uint64_t end = tally_mono_ns() + (uint64_t)WAIT_PROGRESS_MS * 1000000u;
	unsigned long from[WORKERS];
	unsigned i;

	for (i = 0; i < WORKERS; i++)
		from[i] = atomic_load(&sh->got[i]);
	for (i = 0; i < WORKERS; i++)
		while (atomic_load(&sh->got[i]) < from[i] + more && !atomic_load(&sh->spent[i])) {
			if (tally_mono_ns() > end)
				return false;
			sleep_ms(2);
		}
	return true;
}

static unsigned
rand_ms(unsigned lo, unsigned hi)
{
	uint32_t x = 0;

	RAND_bytes((uint8_t *)&x, sizeof(x));
	return lo + x % (hi - lo + 1);
}

/* Kills tallyd KILLS times at random moments while tokens flow, starts
 * it again each time. No cmocka assertion here: the workers still run.
 * Returns 0, or which step failed. */
static const char *
kill_rounds(struct th *t, struct shared *sh)
{
	unsigned i;

	for (i = 0; i < KILLS; i++) {
		if (!progress(sh, 1))
			return "a jig got no token from the running tallyd";
		sleep_ms(rand_ms(20, 250));
		if (th_kill(t, SIGKILL) == -1)
			return "tallyd was not running";
		if (th_start(t) != 0)
			return "tallyd did not start again";
		atomic_store(&sh->port, t->port);
	}
	if (!progress(sh, BATCH))
		return "a jig got no token after the last start";
	return NULL;
}

static int
cmp_uid(const void *a, const void *b)
{
	const struct th_log_token *x = a, *y = b;

	if (x->uid_len != y->uid_len)
		return x->uid_len < y->uid_len ? -1 : 1;
	return memcmp(x->uid, y->uid, x->uid_len);
}

/* Every token worker w received is in the log (sorted by UID) with the
 * same bytes; one in VERIFY_EVERY also verifies as a DUT would. */
static void
received_in_log(struct th *t, const struct worker *w, const struct th_log_tokens *lt)
{
	struct th_log_token key = { .uid_len = UID_LEN }, *hit;
	uint8_t *env = NULL;
	size_t len, i;

	for (i = 0; i < w->n_rx; i++) {
		const struct rx *x = &w->rx[i];

		/* as a DUT would, for a sample: the signature of every token
		 * in the log is checked by the reconcile */
		if (i % VERIFY_EVERY == 0)
			assert_int_equal(tally_bundle_verify(x->bundle, x->len, t->oem_key,
			    x->uid, UID_LEN, th_firmware, tally_now(), NULL), 0);
		memcpy(key.uid, x->uid, UID_LEN);
		hit = bsearch(&key, lt->v, lt->n, sizeof(*lt->v), cmp_uid);
		assert_non_null(hit);
		assert_int_equal(th_bundle_token(x->bundle, x->len, &env, &len), 0);
		assert_int_equal(hit->env_len, len);
		assert_memory_equal(hit->env, env, len);
		free(env);
	}
}

/* Counters, log and the OEM's reconcile agree. */
static void
check_log(struct th *t, const struct worker *w, const uint8_t qid[16])
{
	struct oem_reconcile_result res;
	struct th_log_tokens lt;
	Tally__CtlResponse *resp = NULL;
	char path[TH_PATH + 16];
	uint64_t issued = 0, entries = 0;
	size_t i, rx = 0;

	snprintf(path, sizeof(path), "%s/export.bin", t->dir);
	assert_int_equal(th_export(t, path, &entries), 0);
	assert_int_equal(th_export_tokens(path, &lt), 0);   /* also: no index gap */
	assert_int_equal(lt.entries, entries);
	for (i = 0; i < lt.n; i++)
		assert_int_equal(lt.v[i].token_index, lt.v[i].index);
	qsort(lt.v, lt.n, sizeof(*lt.v), cmp_uid);
	for (i = 1; i < lt.n; i++)
		assert_int_not_equal(cmp_uid(&lt.v[i - 1], &lt.v[i]), 0);  /* one token per UID */
	for (i = 0; i < WORKERS; i++) {
		received_in_log(t, &w[i], &lt);
		rx += w[i].n_rx;
	}
	assert_true(rx <= lt.n);

	assert_int_equal(th_quota_counts(t, qid, NULL, &issued), 0);
	assert_int_equal(issued, lt.n);
	assert_int_equal(th_status(t, &resp), 0);
	assert_int_equal(resp->status->tokens_issued, lt.n);
	assert_int_equal(resp->status->log_size, entries);
	tally__ctl_response__free_unpacked(resp, NULL);

	assert_int_equal(oem_reconcile_file(path, t->oem_key, &res), 0);
	assert_int_equal(res.anomalies_total, 0);
	assert_true(res.checkpoint_ok);
	assert_int_equal(res.entries, entries);
	assert_int_equal(res.n_tokens, lt.n);
	assert_int_equal(res.quotas[0].issued, lt.n);
	oem_reconcile_result_free(&res);
	print_message("crash: %d kills, %zu tokens received, %zu in the log "
	    "(%zu committed but never delivered), %llu log entries\n",
	    KILLS, rx, lt.n, lt.n - rx, (unsigned long long)entries);
	th_log_tokens_free(&lt);
}

static void
workers_free(struct worker *w)
{
	size_t i, k;

	for (i = 0; i < WORKERS; i++) {
		for (k = 0; k < w[i].n_rx; k++)
			free(w[i].rx[k].bundle);
		free(w[i].rx);
		SSL_CTX_free(w[i].ctx);
	}
}

/* The workers pipeline as fast as tallyd answers and count any refusal as
 * a failure: no per-jig rate limit. */
static int
setup_unlimited(void **state)
{
	return th_cmocka_setup_with(state, "rate_limit = 0\n");
}

static void
test_kill9_while_serving(void **state)
{
	struct th *t = *state;
	struct shared sh;
	struct worker w[WORKERS];
	pthread_t tid[WORKERS];
	const char *failed;
	uint8_t qid[16];
	unsigned i, started = 0, reconnects = 0, reissued = 0, spent = 0;
	uint64_t t0, t1;

	memset(w, 0, sizeof(w));
	for (i = 0; i < WORKERS; i++)
		assert_int_equal(th_enroll(t, i), 0);
	assert_int_equal(th_quota_code(t, "widget", UNITS, qid), 0);
	atomic_init(&sh.port, t->port);
	atomic_init(&sh.stop, false);
	for (i = 0; i < WORKERS; i++) {
		atomic_init(&sh.got[i], 0);
		atomic_init(&sh.spent[i], false);
	}
	memcpy(sh.pin, t->appliance_key_id, 32);
	for (i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .sh = &sh, .id = i };
		if (tally_tls_client_ctx(t->jig[i].cert_path, t->jig[i].key, sh.pin, &w[i].ctx) != 0 ||
		    pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0)
			break;
		started++;
	}
	t0 = tally_mono_ns();
	failed = started == WORKERS ? kill_rounds(t, &sh) : "workers did not start";
	t1 = tally_mono_ns();
	atomic_store(&sh.stop, true);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (failed != NULL)
		fail_msg("%s", failed);
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(w[i].err, 0);
		assert_true(w[i].n_rx > 0);
		reconnects += w[i].reconnects;
		reissued += w[i].reissued;
		spent += atomic_load(&sh.spent[i]);
	}
	if (spent == 0)   /* every kill cut every jig (each had been served) */
		assert_true(reconnects >= WORKERS * (KILLS + 1));
	check_log(t, w, qid);
	print_message("crash: %u reconnects, %u tokens came back as reissued after a lost answer; "
	    "kills %.1f s, checks %.1f s\n", reconnects, reissued,
	    (double)(t1 - t0) / 1e9, (double)(tally_mono_ns() - t1) / 1e9);
	workers_free(w);
	assert_int_equal(th_stop_clean(t), 0);   /* also: no sanitizer report from any run */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill9_while_serving,
		    setup_unlimited, th_cmocka_teardown),
	};

	if (getenv("TALLY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TALLY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
