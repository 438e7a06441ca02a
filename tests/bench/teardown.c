/*
 * teardown.c - stopping tallyd and removing the bench's temporary folder;
 * tallyd's log tail after a failure; the signal check.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include "log.h"

#define STOP_TIMEOUT_MS 10000
#define LOG_TAIL_BYTES 4096

static int
wait_exit(pid_t pid, int timeout_ms, int *status)
{
	struct timespec ts = { 0, 20 * 1000000L };
	int waited;
	pid_t r;

	for (waited = 0; waited <= timeout_ms; waited += 20) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return r == pid ? 0 : -1;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void
stop_tallyd(struct bench_env *env)
{
	int st = 0;

	if (env->tallyd <= 0)
		return;
	bench_say("stopping tallyd (pid %d)", (int)env->tallyd);
	kill(env->tallyd, SIGTERM);
	if (wait_exit(env->tallyd, STOP_TIMEOUT_MS, &st) != 0) {
		log_warn("tallyd did not stop within %d s of SIGTERM; SIGKILL",
		    STOP_TIMEOUT_MS / 1000);
		kill(env->tallyd, SIGKILL);
		while (waitpid(env->tallyd, &st, 0) < 0 && errno == EINTR)
			;
	} else if (WIFSIGNALED(st)) {
		log_warn("tallyd ended by signal %d", WTERMSIG(st));
	} else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		log_warn("tallyd exited with status %d", WEXITSTATUS(st));
	}
	env->tallyd = 0;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(p) != 0)
		log_warn("cannot remove %s: %s", p, strerror(errno));
	return 0;
}

void
bench_teardown(struct bench_env *env, int keep)
{
	unsigned i;

	stop_tallyd(env);
	for (i = 0; env->jigs != NULL && i < env->njigs; i++) {
		SSL_CTX_free(env->jigs[i].ctx);
		EVP_PKEY_free(env->jigs[i].key);
	}
	free(env->jigs);
	env->jigs = NULL;
	env->njigs = 0;
	EVP_PKEY_free(env->oem_root);
	env->oem_root = NULL;
	if (env->dir[0] == '\0')
		return;
	if (keep) {
		bench_say("kept %s", env->dir);
	} else {
		nftw(env->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		bench_say("removed %s", env->dir);
	}
	env->dir[0] = '\0';
}

void
bench_show_log(const struct bench_env *env)
{
	char buf[LOG_TAIL_BYTES + 1];
	FILE *f;
	long size;
	size_t n;

	if (env->log_path[0] == '\0' || (f = fopen(env->log_path, "r")) == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > LOG_TAIL_BYTES)
		fseek(f, size - LOG_TAIL_BYTES, SEEK_SET);
	else
		fseek(f, 0, SEEK_SET);
	n = fread(buf, 1, LOG_TAIL_BYTES, f);
	buf[n] = '\0';
	fclose(f);
	if (n == 0)
		return;
	fprintf(stderr, "---- end of %s ----\n%s%s---- end ----\n", env->log_path, buf,
	    n > 0 && buf[n - 1] != '\n' ? "\n" : "");
}

int
bench_interrupted(const struct bench_env *env)
{
	struct signalfd_siginfo si;

	if (env->sig_fd < 0)
		return 0;
	if (read(env->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_warn("signal %u: stopping", si.ssi_signo);
		return 1;
	}
	return 0;
}
