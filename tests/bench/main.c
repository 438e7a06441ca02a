/*
 * main.c - tally-bench: options, the order of the steps, the report.
 *
 *   tally-bench [--bin DIR] [--connections N] [--seconds S] [--pipeline K]
 *               [--key-type p256|ed25519] [--jigs N] [--units N] [--dir DIR]
 *               [--warmup S] [--speed-seconds S] [--hold N] [--keep]
 *
 * After the load, --hold N (default 10000, 0 = skip) measures how many
 * concurrent jig connections a fresh tallyd holds and its RSS then
 * (hold.c), reported as "bench: connections=N rss_kb=M ...".
 * Progress goes to stderr; the report to stdout, last line:
 *   bench: tokens_per_s=N p50_ms=X p99_ms=X sign_per_s=N ratio=X
 * Exit 0 after a measured run, 1 when the run failed, a connection was
 * lost, or tallyd returned a token that does not verify or was "reissued"
 * for a fresh UID; 2 on a usage error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include "bench.h"
#include "ctl/client.h"
#include "err.h"
#include "log.h"

#define TARGET_RATIO 0.5

static const char usage_text[] =
"usage: tally-bench [options]\n"
"  Starts a real tallyd with a synced LMDB in a temporary folder, issues\n"
"  tokens over many mutually-authenticated TLS jig connections and compares\n"
"  the rate with the single-core `openssl speed` sign rate of the key type.\n"
"  --bin DIR             folder with tallyd (default build/release)\n"
"  --connections N       concurrent jig connections (default 64)\n"
"  --seconds S           measured seconds (default 10)\n"
"  --warmup S            warm-up seconds, not counted (default 1)\n"
"  --pipeline K          IssueTokens in flight per connection (default 8)\n"
"  --key-type T          appliance key: p256 (default) or ed25519\n"
"  --jigs N              enrolled jig certificates (default 8)\n"
"  --units N             quota size (default 10000000)\n"
"  --dir DIR             parent of the temporary folder (default $TMPDIR or /var/tmp)\n"
"  --speed-seconds S     openssl speed -seconds (default 3)\n"
"  --hold N              then hold N concurrent jig connections on a fresh\n"
"                        tallyd and report its RSS (default 10000, 0 = skip)\n"
"  --keep                keep the temporary folder\n";

void
bench_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int
num(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, &end, 10);
	return *end == '\0' && *out >= lo && *out <= hi ? 0 : -1;
}

static int
parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "bin", required_argument, NULL, 'b' },
		{ "connections", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "pipeline", required_argument, NULL, 'p' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "jigs", required_argument, NULL, 'j' },
		{ "units", required_argument, NULL, 'u' },
		{ "dir", required_argument, NULL, 'd' },
		{ "speed-seconds", required_argument, NULL, 'S' },
		{ "keep", no_argument, NULL, 'K' },
		{ "hold", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v = 0;
	int ch, li = 0, bad = 0;

	while ((ch = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
		switch (ch) {
		case 'b': o->bin_dir = optarg; break;
		case 'd': o->parent_dir = optarg; break;
		case 'K': o->keep = 1; break;
		case 'c': bad |= num(optarg, 1, BENCH_MAX_CONNECTIONS, &v); o->connections = (unsigned)v; break;
		case 's': bad |= num(optarg, 1, 3600, &v); o->seconds = (unsigned)v; break;
		case 'w': bad |= num(optarg, 0, 600, &v); o->warmup = (unsigned)v; break;
		case 'p': bad |= num(optarg, 1, BENCH_MAX_PIPELINE, &v); o->pipeline = (unsigned)v; break;
		case 'j': bad |= num(optarg, 1, BENCH_MAX_JIGS, &v); o->jigs = (unsigned)v; break;
		case 'u': bad |= num(optarg, 1, 1ull << 32, &v); o->units = v; break;
		case 'S': bad |= num(optarg, 1, 60, &v); o->speed_seconds = (unsigned)v; break;
		case 'H': bad |= num(optarg, 0, 65000, &v); o->hold = (unsigned)v; break;
		case 'k':
			if (strcmp(optarg, "p256") == 0)
				o->key_type = TALLY_KEY_P256;
			else if (strcmp(optarg, "ed25519") == 0)
				o->key_type = TALLY_KEY_ED25519;
			else
				bad = 1;
			break;
		case 'h': fputs(usage_text, stdout); exit(0);
		default: bad = 1;
		}
		if (bad) {
			if (ch != '?')
				fprintf(stderr, "tally-bench: bad value for --%s: %s\n",
				    longopts[li].name, optarg);
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return -1;
	}
	return 0;
}

/* SIGINT, SIGTERM and SIGHUP are blocked and read from a signalfd, so a
 * Ctrl-C still stops tallyd and removes the folder. -1 on failure. */
static int
signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
print_errors(const struct bench_result *res)
{
	unsigned i;

	for (i = 1; i < BENCH_ERR_CODES; i++)
		if (res->errors[i] != 0)
			printf("bench: IssueToken refused %llu times with %s\n",
			    (unsigned long long)res->errors[i], ctl_error_name(i));
	if (res->challenge_errors)
		printf("bench: Challenge refused %llu times\n",
		    (unsigned long long)res->challenge_errors);
	if (res->conn_failures)
		printf("bench: %llu connections failed or were closed by tallyd\n",
		    (unsigned long long)res->conn_failures);
	if (res->reissued)
		printf("bench: %llu replies said \"reissued\" for a fresh device UID\n",
		    (unsigned long long)res->reissued);
	if (res->bad_tokens)
		printf("bench: %llu of %llu sampled token bundles did NOT verify\n",
		    (unsigned long long)res->bad_tokens,
		    (unsigned long long)(res->bad_tokens + res->verified));
}

/* The busiest tallyd thread (the writer, when it signs) bounds the rate:
 * tokens per second of its CPU time, compared with the sign rate, is a
 * figure that holds even when other processes share the machine. */
static void
print_busiest(const struct bench_result *res, double sign_per_s)
{
	const struct bench_cpu *c = &res->cpu;
	double best = 0;
	size_t i, at = 0;

	for (i = 0; i < c->n; i++)
		if (c->thread_cores[i] > best)
			best = c->thread_cores[at = i];
	if (best < 0.05 || sign_per_s <= 0)
		return;
	printf("bench: busiest tallyd thread (%s %d) at %.2f cores: %.0f tokens per "
	    "second of its CPU time, %.2f of the sign rate\n",
	    c->main[at] ? "event loop" : "thread", (int)c->tid[at], best,
	    res->tokens_per_s / best, res->tokens_per_s / best / sign_per_s);
}

static void
print_cpu(const struct bench_result *res, double sign_per_s)
{
	const struct bench_cpu *c = &res->cpu;
	size_t i;

	if (c->cores == 0)
		return;
	printf("bench: CPU over the window (%u cores): tallyd %.2f cores (", c->cores,
	    c->tallyd_cores);
	for (i = 0; i < c->n; i++)
		printf("%s%s %.2f", i ? ", " : "", c->main[i] ? "event loop" : "thread",
		    c->thread_cores[i]);
	printf("), tally-bench %.2f, other processes %.2f, idle %.2f\n",
	    c->bench_cores, c->other_cores, c->idle_cores);
	print_busiest(res, sign_per_s);
	if (c->other_cores > 0.25)
		printf("bench: note: other processes used %.2f cores during the window: "
		    "figures are lower and noisier than on a quiet machine\n", c->other_cores);
}

static void
print_hold(const struct bench_hold *h)
{
	if (h->wanted == 0)
		return;
	printf("bench: connections=%u rss_kb=%lu (tallyd counted %u; RSS %lu KiB before "
	    "the first, %.1f KiB per connection)%s%s\n", h->held, h->rss_kb,
	    h->tallyd_count, h->rss_idle_kb, h->held ? (double)(h->rss_kb -
	    h->rss_idle_kb) / h->held : 0.0, h->held < h->wanted ? "; stopped: " : "",
	    h->held < h->wanted ? h->why : "");
}

static void
report(const struct bench_opts *o, const struct bench_result *res, double sign_per_s,
    const struct bench_hold *hold)
{
	double ratio = sign_per_s > 0 ? res->tokens_per_s / sign_per_s : 0;
	const char *kt = o->key_type == TALLY_KEY_ED25519 ? "Ed25519" : "ECDSA P-256";

	printf("bench: %u connections (%u up) over %u jigs, pipeline %u, %s appliance key\n",
	    o->connections, res->connected, o->jigs, o->pipeline, kt);
	printf("bench: %llu tokens in %.2f s after %u s warm-up (%llu in all); "
	    "%llu sample bundles verified\n", (unsigned long long)res->tokens,
	    res->window_s, o->warmup, (unsigned long long)res->tokens_all,
	    (unsigned long long)res->verified);
	printf("bench: IssueToken latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
	    res->p50_ms, res->p99_ms, res->max_ms);
	printf("bench: openssl speed %s, 1 core: %.0f sign/s\n",
	    o->key_type == TALLY_KEY_ED25519 ? "ed25519" : "ecdsap256", sign_per_s);
	print_cpu(res, sign_per_s);
	print_errors(res);
	print_hold(hold);
	if (ratio < TARGET_RATIO)
		printf("bench: ratio %.3f is below the target %.1f\n", ratio, TARGET_RATIO);
	printf("bench: tokens_per_s=%.0f p50_ms=%.3f p99_ms=%.3f sign_per_s=%.0f ratio=%.3f\n",
	    res->tokens_per_s, res->p50_ms, res->p99_ms, sign_per_s, ratio);
	fflush(stdout);
}

/* The whole run; on failure *stage names the step that failed. */
static int
run(const struct bench_opts *o, struct bench_env *env, struct bench_result *res,
    double *sign_per_s, const char **stage)
{
	int r;

	*stage = "setting up the appliance";
	if ((r = bench_setup(o, env)) != 0 || bench_interrupted(env)) {
		bench_show_log(env);
		bench_teardown(env, o->keep);
		return r != 0 ? r : TALLY_ERR_CLOSED;
	}
	*stage = "load run";
	r = bench_load_run(o, env, res);
	if (res->failure != NULL)
		*stage = res->failure;
	if (r != 0 && r != TALLY_ERR_CLOSED) {
		log_err("load run: %s", *stage);
		print_errors(res);
		bench_show_log(env);
	}
	bench_teardown(env, o->keep);
	if (r != 0)
		return r;
	*stage = "openssl speed";
	bench_say("measuring the single-core sign rate: openssl speed -seconds %u "
	    "-multi 1 %s", o->speed_seconds,
	    o->key_type == TALLY_KEY_ED25519 ? "ed25519" : "ecdsap256");
	if ((r = bench_openssl_speed(o->key_type, o->speed_seconds, sign_per_s)) != 0)
		log_tally_err(r, "openssl speed");
	return r;
}

int
main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	struct bench_opts o = {
		.bin_dir = "build/release", .parent_dir = tmp && *tmp ? tmp : "/var/tmp",
		.connections = 64, .seconds = 10, .warmup = 1, .pipeline = 8, .jigs = 8,
		.speed_seconds = 3, .units = 10000000, .key_type = TALLY_KEY_P256,
		.hold = 10000,
	};
	struct bench_hold hold = { 0 };
	struct bench_env env = { .sig_fd = -1 };
	struct bench_result res = { 0 };
	double sign_per_s = 0;
	const char *stage = "";
	int r;

	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	if (o.jigs > o.connections)
		o.jigs = o.connections;
	if ((env.sig_fd = signals()) < 0) {
		log_err("cannot set up signal handling");
		return 1;
	}
	r = run(&o, &env, &res, &sign_per_s, &stage);
	if (r != 0) {
		if (res.failure != NULL)
			printf("bench: FAILED: %s\n", stage);
		else
			printf("bench: FAILED: %s: %s\n", stage, r == TALLY_ERR_CLOSED ?
			    "interrupted" : tally_strerror(r));
		return 1;
	}
	if (o.hold != 0 && (r = bench_hold_run(&o, env.sig_fd, &hold)) != 0) {
		printf("bench: FAILED: hold: %s\n", tally_strerror(r));
		return 1;
	}
	report(&o, &res, sign_per_s, &hold);
	/* Figures were measured, but tallyd misbehaved: say so in the status. */
	return res.bad_tokens != 0 || res.reissued != 0 || res.conn_failures != 0 ? 1 : 0;
}
