/*
 * bench.h - tally-bench, the load generator behind `make bench` (issue 2).
 *
 * tally-bench sets up a real appliance (tallyd with a synced LMDB in a
 * temporary folder on disk, an OEM key, a jig CA, enrolled jigs, one large
 * quota), drives it with many concurrent mutually-authenticated TLS 1.3 jig
 * connections that each keep several IssueToken requests in flight, reports
 * tokens/s and IssueToken latency, and compares the rate with the
 * single-core `openssl speed` sign rate for the appliance key type.
 *
 * Modules: main.c (options, order of steps, report), setup.c / pki.c /
 * appliance.c / teardown.c (the appliance under test), load.c / conn.c
 * (the load itself), speed.c (openssl speed), stats.c (latency
 * percentiles), cpu.c (CPU use per thread over the window).
 */
#ifndef TALLY_BENCH_H
#define TALLY_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include "key.h"

#define BENCH_MAX_CONNECTIONS 4096
#define BENCH_MAX_PIPELINE 256
#define BENCH_MAX_JIGS 256
#define BENCH_ERR_CODES 32      /* response error codes counted, 0..31 */
#define BENCH_PRODUCT "bench-widget"

struct bench_opts {
	const char *bin_dir;        /* folder holding tallyd (and tallyctl) */
	const char *parent_dir;     /* where the temporary data folder is made */
	unsigned connections;       /* concurrent jig connections */
	unsigned seconds;           /* measured time, seconds (after warm-up) */
	unsigned warmup;            /* warm-up time not counted, seconds */
	unsigned pipeline;          /* IssueTokens in flight per connection */
	unsigned jigs;              /* enrolled jig certificates */
	unsigned speed_seconds;     /* openssl speed -seconds */
	uint64_t units;             /* quota size */
	enum tally_key_type key_type;
	int keep;                   /* keep the temporary folder (debugging) */
	unsigned hold;              /* connections for the hold figure, 0 = none */
};

/* One enrolled jig: its certificate file and key; ctx is the client TLS
 * context made from them and pinned to the appliance key. */
struct bench_jig {
	char cert_file[PATH_MAX];
	EVP_PKEY *key;
	SSL_CTX *ctx;
};

/* The appliance under test, made by bench_setup, undone by bench_teardown. */
struct bench_env {
	char dir[PATH_MAX];         /* temporary folder, removed by teardown */
	char ctl_path[PATH_MAX];    /* control socket */
	char log_path[PATH_MAX];    /* tallyd's stderr */
	pid_t tallyd;               /* 0 when not running */
	int sig_fd;                 /* signalfd of SIGINT/SIGTERM/SIGHUP, or -1 */
	struct sockaddr_in listen;  /* the jig listener, 127.0.0.1:port */
	uint8_t appliance_id[32];   /* appliance key ID, the TLS pin */
	EVP_PKEY *oem_root;         /* OEM root key (private; signs the quota) */
	uint8_t quota_id[16];
	uint8_t firmware[32];
	unsigned njigs;             /* entries of jigs made so far */
	struct bench_jig *jigs;     /* calloc'd, BENCH_MAX_JIGS at most */
};

#define BENCH_CPU_THREADS 16

/* CPU counters at one instant (cpu.c). */
struct bench_cpu_snap {
	uint64_t total, idle;       /* /proc/stat, clock ticks, all CPUs */
	uint64_t self_us;           /* tally-bench user+system time */
	size_t n;
	pid_t tid[BENCH_CPU_THREADS];
	uint64_t ticks[BENCH_CPU_THREADS]; /* tallyd thread utime+stime */
};

/* Where the CPU went over the window, in cores (1.0 = one core busy). */
struct bench_cpu {
	unsigned cores;             /* online CPUs */
	size_t n;
	pid_t tid[BENCH_CPU_THREADS];
	int main[BENCH_CPU_THREADS];/* 1 for tallyd's main (event loop) thread */
	double thread_cores[BENCH_CPU_THREADS];
	double tallyd_cores, bench_cores, other_cores, idle_cores;
};

/* Reads the counters now; tallyd's threads when tallyd > 0. */
void bench_cpu_snap(pid_t tallyd, struct bench_cpu_snap *s);

/* Differences between snapshots a and b taken secs seconds apart. */
void bench_cpu_diff(const struct bench_cpu_snap *a, const struct bench_cpu_snap *b,
    pid_t tallyd, double secs, struct bench_cpu *out);

/* Results of one load run. */
struct bench_result {
	uint64_t tokens;            /* IssueToken OK replies inside the window */
	double window_s;            /* measured window, seconds */
	double tokens_per_s;
	double p50_ms, p99_ms, max_ms;
	uint64_t errors[BENCH_ERR_CODES]; /* IssueToken error replies by code */
	uint64_t challenge_errors;  /* Challenge error replies */
	uint64_t conn_failures;     /* connections lost or refused */
	uint64_t verified;          /* sample bundles verified against the OEM root */
	uint64_t bad_tokens;        /* sample bundles that did NOT verify */
	uint64_t reissued;          /* OK replies marked reissued (fresh UIDs: should be 0) */
	uint64_t tokens_all;        /* OK IssueToken replies in every phase */
	unsigned connected;         /* connections that completed the handshake */
	struct bench_cpu cpu;       /* CPU use over the window */
	const char *failure;        /* static text: why bench_load_run failed */
};

/* Prints one progress line "bench: ..." on stderr. */
void bench_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Makes the appliance: temporary folder under o->parent_dir, keys,
 * jig CA and o->jigs jig certificates, tallyd started from o->bin_dir,
 * identity read, jigs enrolled, one quota of o->units units imported, the
 * jig client TLS contexts made. On failure everything made so far stays
 * recorded in env for bench_teardown. Returns 0 or a negative tally_err. */
int bench_setup(const struct bench_opts *o, struct bench_env *env);

/* Stops tallyd (SIGTERM, then SIGKILL after 10 s; waitpid), frees keys and
 * contexts, and removes the temporary folder unless keep. Safe on a
 * partly made env and when called twice. */
void bench_teardown(struct bench_env *env, int keep);

/* Prints the last lines of tallyd's log on stderr (after a failure). */
void bench_show_log(const struct bench_env *env);

/* 1 when SIGINT, SIGTERM or SIGHUP arrived on env->sig_fd, else 0. */
int bench_interrupted(const struct bench_env *env);

/* Runs the load against env for o->warmup + o->seconds seconds, then
 * drains in-flight requests (at most 10 s); a signal on env->sig_fd ends
 * it early (the result then covers the time measured so far). Returns 0 when at least one
 * token was issued in the window; TALLY_ERR_IO when no connection could
 * be made; TALLY_ERR_INVALID when nothing was issued; TALLY_ERR_CLOSED
 * after a signal; TALLY_ERR_NOMEM. */
int bench_load_run(const struct bench_opts *o, const struct bench_env *env,
    struct bench_result *res);

/* Runs `openssl speed -seconds S -multi 1 ecdsap256|ed25519` and parses
 * the sign/s column. Returns 0, TALLY_ERR_IO (could not run) or
 * TALLY_ERR_INVALID (no such line in its output). */
int bench_openssl_speed(enum tally_key_type type, unsigned seconds, double *sign_per_s);

/* The hold figure (hold.c): concurrent jig connections tallyd held. */
struct bench_hold {
	unsigned wanted;            /* --hold */
	unsigned held;              /* opened, authenticated and answering Hello */
	unsigned tallyd_count;      /* tallyd's own count then (Status.jig_connections) */
	unsigned long rss_idle_kb;  /* tallyd VmRSS before the first, KiB */
	unsigned long rss_kb;       /* tallyd VmRSS with all held, KiB */
	const char *why;            /* static text: why it stopped short, or "" */
};

/* Makes a fresh appliance with max_connections = o->hold + 16 (fewer
 * when this process's open-file limit is lower), opens o->hold jig
 * connections and keeps them all open, then measures (struct
 * bench_hold). A signal on sig_fd stops the opening. Returns 0 (the
 * figure may be short of o->hold: see out->why) or the error of the
 * appliance setup / status call, or TALLY_ERR_NOMEM. */
int bench_hold_run(const struct bench_opts *o, int sig_fd, struct bench_hold *out);

/* Latency samples, microseconds. */
struct bench_lat {
	uint32_t *us;
	size_t n, cap;
	uint32_t max;
};

/* Appends one sample (the array grows by doubling). TALLY_ERR_NOMEM. */
int bench_lat_add(struct bench_lat *l, uint64_t us);

/* Sorts the samples and returns the p-th percentile (0 < p <= 100,
 * nearest-rank) in milliseconds; 0 when there are none. */
double bench_lat_pct(struct bench_lat *l, double p);

void bench_lat_free(struct bench_lat *l);

#endif
