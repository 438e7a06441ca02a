/* writer.c - the writer thread and its group commit (DESIGN.md §5); see
 * writer.h. The loop thread submits; this thread takes everything queued
 * (up to BATCH_MAX), runs one write transaction for it, commits with sync
 * and only then hands the batch back to the loop through an event. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "fault.h"
#include "log.h"
#include "util.h"
#include "jig.pb-c.h"
#include "issue.h"
#include "store.h"
#include "writer.h"

#define BATCH_MAX 4096

struct jig_state {
	uint8_t id[32];
	bool revoked;
};

struct writer {
	struct issue_ctx ctx;          /* writer thread only */
	struct event_base *base;
	struct event *done_ev;         /* on the loop: hands batches back */
	pthread_t thread;

	pthread_mutex_t mu;            /* guards everything below up to status */
	pthread_cond_t cv;
	struct wreq *qhead, *qtail;    /* submitted, not yet taken */
	struct wreq *dhead, *dtail;    /* finished, not yet handed back */
	size_t pending;                /* submitted and not yet finished */
	bool stopping;
	char stop_reason[64];
	struct writer_stats stats;

	pthread_mutex_t status_mu;     /* committed jig statuses */
	struct jig_state *status;
	size_t n_status;
};

struct wreq *
wreq_new(enum wreq_kind kind)
{
	struct wreq *r = calloc(1, sizeof(*r));

	if (r != NULL)
		r->kind = kind;
	return r;
}

void
wreq_free(struct wreq *r)
{
	if (r == NULL)
		return;
	switch (r->kind) {
	case WREQ_REPORT_INSTALL:
		free(r->in.report.env);
		break;
	case WREQ_QUOTA_IMPORT:
		free(r->in.quota.env);
		break;
	case WREQ_JIG_ENROLL:
		free(r->in.enroll.cert);
		break;
	case WREQ_CONFIG:
		free(r->in.config.text);
		break;
	case WREQ_RECEIPT_IMPORT:
		free(r->in.receipt.text);
		break;
	default:
		break;
	}
	free(r->out);
	free(r);
}

/* Copies the committed jig statuses for writer_jig_status. */
static void
publish_status(struct writer *w)
{
	struct jig_state *s, *old;
	size_t n = w->ctx.n_jigs;

	if ((s = calloc(n ? n : 1, sizeof(*s))) == NULL) {
		log_err("out of memory: jig statuses not updated");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(s[i].id, w->ctx.jigs[i].id, 32);
		s[i].revoked = w->ctx.jigs[i].rec->status !=
		    TALLY__JIG_STATUS__JIG_STATUS_ACTIVE;
	}
	pthread_mutex_lock(&w->status_mu);
	old = w->status;
	w->status = s;
	w->n_status = n;
	pthread_mutex_unlock(&w->status_mu);
	free(old);
}

int
writer_jig_status(struct writer *w, const uint8_t id[32])
{
	int code = TALLY__ERROR_CODE__JIG_NOT_ENROLLED;

	pthread_mutex_lock(&w->status_mu);
	for (size_t i = 0; i < w->n_status; i++) {
		if (memcmp(w->status[i].id, id, 32) == 0) {
			code = w->status[i].revoked ? TALLY__ERROR_CODE__JIG_REVOKED : 0;
			break;
		}
	}
	pthread_mutex_unlock(&w->status_mu);
	return code;
}

/* Appends one internal entry (Start, Stop) in its own transaction. */
static int
write_entry(struct writer *w, Tally__LogEntry *e)
{
	struct store_txn t;
	int r;

	issue_batch_begin(&w->ctx, tally_now());
	if ((r = store_txn_begin(w->ctx.st, &t, true)) == 0) {
		issue_append(&w->ctx, &t, e, NULL);
		issue_flush(&w->ctx, &t);
		r = store_txn_commit(&t);
	}
	if (r != 0) {
		log_tally_err(r, "cannot append to the log");
		if (r == TALLY_ERR_STORAGE_FULL)
			store_set_full(w->ctx.st, true);
		if (issue_cache_load(&w->ctx) != 0)
			log_err("store unreadable: every request will fail");
	}
	return r;
}

/* Every request of a failed batch gets the same error; caches reload. */
static void
batch_failed(struct writer *w, struct wreq *batch, int err, int mdb_rc)
{
	bool full = err == TALLY_ERR_STORAGE_FULL;

	log_err("batch aborted, nothing written: %s (%s)", tally_strerror(err),
	    mdb_rc != 0 ? mdb_strerror(mdb_rc) : "no LMDB error");
	for (struct wreq *r = batch; r != NULL; r = r->next) {
		free(r->out);
		r->out = NULL;
		r->out_len = 0;
		r->reissued = r->unit_returned = false;
		r->log_index = 0;
		issue_fail(r, full ? TALLY__ERROR_CODE__STORAGE_FULL :
		    TALLY__ERROR_CODE__INTERNAL, "%s", full ?
		    "appliance storage is full: no token can be issued" :
		    "appliance storage error");
	}
	if (full)
		store_set_full(w->ctx.st, true);
	if (issue_cache_load(&w->ctx) != 0)
		log_err("store unreadable: every request will fail");
	publish_status(w);
}

/* Moves a finished list of n requests to the done list and wakes the loop. */
static void
hand_back(struct writer *w, struct wreq *list, size_t n, bool failed, uint64_t tokens)
{
	struct wreq *last = list;

	while (last != NULL && last->next != NULL)
		last = last->next;
	pthread_mutex_lock(&w->mu);
	if (list != NULL) {
		if (w->dtail != NULL)
			w->dtail->next = list;
		else
			w->dhead = list;
		w->dtail = last;
	}
	w->pending -= n;
	w->stats.batches++;
	w->stats.failed_batches += failed;
	w->stats.requests += n;
	w->stats.tokens_issued += tokens;
	if (n > w->stats.largest_batch)
		w->stats.largest_batch = n;
	pthread_mutex_unlock(&w->mu);
	event_active(w->done_ev, EV_WRITE, 0);
}

/* After a batch that appended: marks the store full (new tokens stop)
 * when only the reserve is left, or clears the mark. */
static void
room_check(struct writer *w)
{
	bool low = store_room_low(w->ctx.st);

	if (low && !store_is_full(w->ctx.st))
		log_err("storage full: only the reserve for checkpoints and exports is "
		    "left in the map; new tokens stop until map_size_mb is raised");
	store_set_full(w->ctx.st, low);
}

/* One write transaction for a batch of n requests, then hand it back. */
static void
run_batch(struct writer *w, struct wreq *batch, size_t n)
{
	struct store_txn t = { 0 };
	uint64_t tokens = w->ctx.tokens;
	int r;

	issue_batch_begin(&w->ctx, tally_now());
	if ((r = store_txn_begin(w->ctx.st, &t, true)) == 0) {
		for (struct wreq *q = batch; q != NULL && t.ret == 0; q = q->next) {
			issue_run(&w->ctx, &t, q);
			TALLY_FAULT("batch");
		}
		issue_flush(&w->ctx, &t);
		TALLY_FAULT("flush");
		r = store_txn_commit(&t);
		TALLY_FAULT("commit");
	}
	if (r != 0) {
		batch_failed(w, batch, r, t.mdb_rc);
		w->ctx.tokens = tokens;
	} else {
		if (w->ctx.meta_dirty)
			room_check(w);
		if (w->ctx.jigs_changed)
			publish_status(w);
	}
	hand_back(w, batch, n, r != 0, w->ctx.tokens - tokens);
}

/* Takes up to BATCH_MAX queued requests (w->mu held); *n gets the count. */
static struct wreq *
take_batch(struct writer *w, size_t *n)
{
	struct wreq *head = w->qhead, *last = head;
	size_t k = 1;

	while (last->next != NULL && k < BATCH_MAX) {
		last = last->next;
		k++;
	}
	w->qhead = last->next;
	if (w->qhead == NULL)
		w->qtail = NULL;
	last->next = NULL;
	*n = k;
	return head;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogStop stop = TALLY__LOG_STOP__INIT;
	struct wreq *batch;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->qhead == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->qhead == NULL) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		batch = take_batch(w, &n);
		pthread_mutex_unlock(&w->mu);
		run_batch(w, batch, n);
	}
	stop.reason = w->stop_reason;
	e.body_case = TALLY__LOG_ENTRY__BODY_STOP;
	e.stop = &stop;
	write_entry(w, &e);
	return NULL;
}

void
writer_submit(struct writer *w, struct wreq *r)
{
	r->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->qtail != NULL)
		w->qtail->next = r;
	else
		w->qhead = r;
	w->qtail = r;
	w->pending++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

size_t
writer_pending(struct writer *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->pending;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void
writer_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}

/* Calls done() for every request of list, or frees it when done is NULL. */
static void
deliver(struct wreq *list, bool call)
{
	struct wreq *r, *next;

	for (r = list; r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		if (call && r->done != NULL)
			r->done(r, r->arg);
		else
			wreq_free(r);
	}
}

/* On the loop thread: hands every finished request back. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct writer *w = arg;
	struct wreq *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	list = w->dhead;
	w->dhead = w->dtail = NULL;
	pthread_mutex_unlock(&w->mu);
	deliver(list, true);
}

static void
writer_free(struct writer *w)
{
	if (w->done_ev != NULL)
		event_free(w->done_ev);
	issue_ctx_free(&w->ctx);
	free(w->status);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->status_mu);
	free(w);
}

/* Everything of writer_start before the thread exists. */
static int
writer_setup(struct writer *w, struct store *st, EVP_PKEY *key,
    EVP_PKEY *oem_root, const char *jig_ca_file)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogStart start = TALLY__LOG_START__INIT;
	int r;

	if ((r = issue_ctx_init(&w->ctx, st, key, oem_root, jig_ca_file)) != 0 ||
	    (r = store_check_key(st, key)) != 0 ||
	    (r = issue_cache_load(&w->ctx)) != 0)
		return r;
	start.version = (char *)TALLY_VERSION;
	start.appliance_key_id.data = w->ctx.key_id;
	start.appliance_key_id.len = 32;
	e.body_case = TALLY__LOG_ENTRY__BODY_START;
	e.start = &start;
	r = write_entry(w, &e);
	if (r == 0 && store_room_low(st))
		store_set_full(st, true);
	if (r == TALLY_ERR_STORAGE_FULL || (r == 0 && store_is_full(st)))
		log_err("the store is full: serving status and reissues only until "
		    "the map size is raised");
	else if (r != 0)
		return r;
	publish_status(w);
	if ((w->done_ev = event_new(w->base, -1, 0, done_cb, w)) == NULL)
		return TALLY_ERR_NOMEM;
	return 0;
}

int
writer_start(struct store *st, EVP_PKEY *key, EVP_PKEY *oem_root,
    const char *jig_ca_file, struct event_base *base, struct writer **out)
{
	struct writer *w;
	int r;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return TALLY_ERR_NOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->status_mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->base = base;
	if ((r = writer_setup(w, st, key, oem_root, jig_ca_file)) != 0)
		goto fail;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		r = TALLY_ERR_NOMEM;
		goto fail;
	}
	*out = w;
	return 0;
 fail:
	writer_free(w);
	return r;
}

void
writer_stop(struct writer *w, const char *reason)
{
	struct wreq *list, *r;
	bool call;

	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	snprintf(w->stop_reason, sizeof(w->stop_reason), "%s",
	    reason != NULL ? reason : "stop");
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);

	for (r = w->qhead; r != NULL; r = r->next)
		issue_fail(r, TALLY__ERROR_CODE__INTERNAL, "tallyd is stopping");
	if (w->qhead != NULL) {
		if (w->dtail != NULL)
			w->dtail->next = w->qhead;
		else
			w->dhead = w->qhead;
	}
	list = w->dhead;
	w->qhead = w->qtail = w->dhead = w->dtail = NULL;
	call = !event_base_got_exit(w->base) && !event_base_got_break(w->base);
	event_free(w->done_ev);
	w->done_ev = NULL;
	deliver(list, call);
	writer_free(w);
}
