/*
 * main.c - tallyd: the appliance daemon (DESIGN.md §5).
 *
 *   tallyd -c CONFIG [--foreground] [--check-config]
 *
 * Exit status: 0 stopped cleanly (or configuration valid), 1 failed while
 * starting or running, 2 usage or configuration error.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>

#include "config.h"
#include "control.h"
#include "daemon.h"
#include "err.h"
#include "harden.h"
#include "key.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "query.h"
#include "session.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "writer.h"

struct args {
	const char *config;
	int foreground;
	int check;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tallyd -c CONFIG [--foreground] [--check-config]\n"
	    "  -c, --config FILE    configuration file (INI, section [tallyd])\n"
	    "  -f, --foreground     stay in the foreground (as under systemd)\n"
	    "  -n, --check-config   validate the configuration and exit\n"
	    "  -h, --help           this text\n"
	    "exit status: 0 ok, 1 failed to start or run, 2 usage or configuration error\n");
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:fnh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': a->config = optarg; break;
		case 'f': a->foreground = 1; break;
		case 'n': a->check = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || a->config == NULL) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int
resolve_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return TALLY_ERR_NOT_FOUND;
	*gid = gr.gr_gid;
	return 0;
}

/* Makes the folder that will hold path (one level, mode 0700), so a first
 * start with the default paths works on a fresh machine. */
static int
make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return TALLY_ERR_TOO_LARGE;
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return TALLY_ERR_IO;
	return 0;
}

/* Loads the appliance key; a plain path (no URI scheme) that does not
 * exist yet gets a new key of cfg->key_type, written with mode 0600. */
static int
load_key(const struct tallyd_config *cfg, EVP_PKEY **out)
{
	EVP_PKEY *k = NULL;
	int r;

	if (strchr(cfg->key, ':') == NULL && access(cfg->key, F_OK) != 0 && errno == ENOENT) {
		if ((r = make_parent(cfg->key)) != 0 ||
		    (r = tally_key_generate(cfg->key_type, &k)) != 0 ||
		    (r = tally_key_write_private(k, cfg->key)) != 0) {
			log_tally_err(r, "creating the appliance key %s", cfg->key);
			EVP_PKEY_free(k);
			return r;
		}
		EVP_PKEY_free(k);
		log_info("created a new %s appliance key in %s",
		    cfg->key_type == TALLY_KEY_ED25519 ? "Ed25519" : "P-256", cfg->key);
	}
	if ((r = tally_key_load(cfg->key, out)) != 0)
		log_tally_err(r, "appliance key %s", cfg->key);
	return r;
}

static int
load_keys(struct tallyd *d)
{
	int r;

	if ((r = load_key(d->cfg, &d->key)) != 0)
		return r;
	if ((r = tally_key_id(d->key, d->key_id)) != 0 ||
	    (r = tally_key_spki(d->key, &d->spki, &d->spki_len)) != 0) {
		log_tally_err(r, "appliance key");
		return r;
	}
	if ((r = tally_key_load_public(d->cfg->oem_root, &d->oem_root)) != 0)
		log_tally_err(r, "OEM root public key %s", d->cfg->oem_root);
	return r;
}

static int
open_store(struct tallyd *d)
{
	int r;

	if (mkdir(d->cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		log_err("data_dir %s: %s", d->cfg->data_dir, strerror(errno));
		return TALLY_ERR_IO;
	}
	if ((r = store_open(d->cfg->data_dir, (size_t)d->cfg->map_size_mb << 20, &d->store)) != 0)
		log_tally_err(r, "opening the store in %s", d->cfg->data_dir);
	else if ((r = writer_start(d->store, d->key, d->oem_root, d->cfg->jig_ca, d->base,
	    &d->writer)) != 0)
		log_tally_err(r, "starting the writer");
	return r;
}

static int
open_sockets(struct tallyd *d)
{
	int r;

	if ((r = tally_tls_server_ctx(d->key, d->cfg->jig_ca, &d->tls)) != 0) {
		tally_log_openssl(__func__, "TLS server context");
		log_tally_err(r, "TLS context (jig_ca %s)", d->cfg->jig_ca);
		return r;
	}
	if ((r = session_table_init(&d->sessions, d->cfg->max_connections)) != 0)
		return r;
	if ((r = listener_start(d, &d->listener)) != 0) {
		log_tally_err(r, "listen %s: %s", d->cfg->listen, strerror(errno));
		return r;
	}
	if ((r = control_start(d, &d->control)) != 0) {
		log_tally_err(r, "control socket %s: %s", d->cfg->control_socket, strerror(errno));
		return r;
	}
	log_info("listening on %s", d->listen_addr);
	log_info("control socket %s (group %s)", d->cfg->control_socket, d->cfg->control_group);
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct tallyd *d = arg;

	(void)events;
	d->stop_reason = sig == SIGTERM ? "SIGTERM" : "SIGINT";
	log_info("%s: stopping", d->stop_reason);
	event_base_loopexit(d->base, NULL);
}

/* On the loop thread: the timed checkpoint is committed (or failed). The
 * writer signs a new one only when the log grew since the last one. */
static void
ckpt_done(struct wreq *r, void *arg)
{
	struct tallyd *d = arg;

	d->ckpt_pending = false;
	if (r->error != 0) {
		log_warn("timed checkpoint failed: %s", r->message);
	} else if (r->tree_size != d->ckpt_size) {
		log_info("timed checkpoint: tree size %llu",
		    (unsigned long long)r->tree_size);
		d->ckpt_size = r->tree_size;
	}
	wreq_free(r);
}

static void
ckpt_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tallyd *d = arg;
	struct wreq *r;

	(void)fd; (void)events;
	if (d->ckpt_pending)
		return;   /* the last one is still with the writer */
	if ((r = wreq_new(WREQ_CHECKPOINT)) == NULL) {
		log_warn("timed checkpoint: out of memory");
		return;
	}
	r->done = ckpt_done;
	r->arg = d;
	d->ckpt_pending = true;
	writer_submit(d->writer, r);
}

/* Every cfg->checkpoint_interval seconds (none when 0), a WREQ_CHECKPOINT. */
static int
start_ckpt_timer(struct tallyd *d)
{
	struct timeval tv = { .tv_sec = (time_t)d->cfg->checkpoint_interval };
	Tally__CheckpointResponse cp;
	struct tally_arena a = TALLY_ARENA_INIT;

	if (d->cfg->checkpoint_interval == 0) {
		log_info("no timed checkpoints (checkpoint_interval = 0)");
		return 0;
	}
	if (query_checkpoint(d->store, &a, &cp) == 0)
		d->ckpt_size = cp.tree_size;
	tally_arena_release(&a);
	if ((d->ckpt_timer = event_new(d->base, -1, EV_PERSIST, ckpt_timer_cb, d)) == NULL ||
	    event_add(d->ckpt_timer, &tv) != 0)
		return TALLY_ERR_NOMEM;
	log_info("a checkpoint every %u s when the log grew", d->cfg->checkpoint_interval);
	return 0;
}

static void
teardown(struct tallyd *d)
{
	if (d->ckpt_timer != NULL)
		event_free(d->ckpt_timer);
	listener_stop(d->listener);
	control_stop(d->control);
	session_table_free(d);
	if (d->writer != NULL)
		writer_stop(d->writer, d->stop_reason != NULL ? d->stop_reason : "shutdown");
	store_close(d->store);
	SSL_CTX_free(d->tls);
	OPENSSL_free(d->spki);
	EVP_PKEY_free(d->key);
	EVP_PKEY_free(d->oem_root);
	if (d->base != NULL)
		event_base_free(d->base);
}

/* On the loop thread: the WREQ_CONFIG of start-up is committed. */
static void
config_logged(struct wreq *r, void *arg)
{
	(void)arg;
	if (r->error != 0)
		log_err("logging the configuration failed: %s", r->message);
	else if (r->log_index != 0)
		log_info("configuration changed since the last start: logged as entry %llu",
		    (unsigned long long)r->log_index);
	wreq_free(r);
}

/* Queues the configuration file's bytes (len) to be logged if they changed
 * (DESIGN.md §4 invariant 5). */
static int
submit_config(struct tallyd *d, const uint8_t *text, size_t len)
{
	struct wreq *r;

	if ((r = wreq_new(WREQ_CONFIG)) == NULL ||
	    (r->in.config.text = malloc(len ? len : 1)) == NULL) {
		wreq_free(r);
		return TALLY_ERR_NOMEM;
	}
	memcpy(r->in.config.text, text, len);
	r->in.config.len = len;
	r->done = config_logged;
	writer_submit(d->writer, r);
	return 0;
}

static int
run(const struct tallyd_config *cfg, const uint8_t *cfg_text, size_t cfg_len)
{
	struct tallyd d = { .cfg = cfg };
	struct event *sigterm = NULL, *sigint = NULL;
	struct notify *nt = NULL;
	int rc = 1;

	d.started_at = tally_now();
	if (resolve_group(cfg->control_group, &d.control_gid) != 0) {
		log_err("control_group %s: no such group", cfg->control_group);
		return 2;
	}
	if (evthread_use_pthreads() != 0 || (d.base = event_base_new()) == NULL) {
		log_err("cannot create the event loop");
		goto out;
	}
	(void)harden_secure_heap(cfg->max_connections, NULL);
	if (load_keys(&d) != 0 || open_store(&d) != 0 ||
	    submit_config(&d, cfg_text, cfg_len) != 0 || open_sockets(&d) != 0 ||
	    start_ckpt_timer(&d) != 0 || notify_start(d.base, &nt) != 0)
		goto out;
	harden_secure_heap_report("after loading the keys");
	sigterm = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	sigint = evsignal_new(d.base, SIGINT, signal_cb, &d);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0)
		goto out;
	notify_ready(nt, "issuing; jigs on %s, control socket %s", d.listen_addr,
	    cfg->control_socket);
	if (event_base_dispatch(d.base) < 0)
		log_err("event loop failed");
	else
		rc = 0;
	notify_stopping(nt, d.stop_reason);
 out:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	teardown(&d);
	notify_free(nt);
	harden_secure_heap_done();
	if (rc == 0)
		log_info("stopped");
	return rc;
}

/* --check-config: the file parsed; also the files it names must be usable. */
static int
check_config(const struct tallyd_config *cfg, const char *path)
{
	EVP_PKEY *oem = NULL;
	gid_t gid;
	int r;

	if ((r = tally_key_load_public(cfg->oem_root, &oem)) != 0) {
		fprintf(stderr, "tallyd: %s: oem_root %s: %s\n", path, cfg->oem_root, tally_strerror(r));
		return 2;
	}
	EVP_PKEY_free(oem);
	if (access(cfg->jig_ca, R_OK) != 0) {
		fprintf(stderr, "tallyd: %s: jig_ca %s: %s\n", path, cfg->jig_ca, strerror(errno));
		return 2;
	}
	if (resolve_group(cfg->control_group, &gid) != 0) {
		fprintf(stderr, "tallyd: %s: control_group %s: no such group\n", path,
		    cfg->control_group);
		return 2;
	}
	fprintf(stderr, "tallyd: %s: configuration OK\n", path);
	return 0;
}

int
main(int argc, char **argv)
{
	struct tallyd_config cfg;
	struct args a = { 0 };
	uint8_t *text = NULL;
	size_t len;
	char err[512];
	int rc;

	if (parse_args(argc, argv, &a) != 0)
		return 2;
	if (harden_process() != 0)
		return 1;
	if (config_load(a.config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "tallyd: %s\n", err);
		return 2;
	}
	if (a.check)
		return check_config(&cfg, a.config);
	/* Read before daemon() changes to "/": the bytes just parsed. */
	if (tally_read_file(a.config, CONFIG_FILE_MAX, &text, &len) != 0) {
		fprintf(stderr, "tallyd: %s: cannot read it again: %s\n", a.config,
		    strerror(errno));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!a.foreground && daemon(0, 1) != 0) {
		fprintf(stderr, "tallyd: cannot detach: %s\n", strerror(errno));
		free(text);
		return 1;
	}
	rc = run(&cfg, text, len);
	free(text);
	return rc;
}
