/* th_proc.c - a child program with a time limit and captured output, see
 * th_proc.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "err.h"
#include "th_proc.h"
#include "util.h"

#define POLL_MS 10

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* In the child: own session, dies with the test, output to the files. */
static void
child(const char *const *argv, int fo, int fe, pid_t parent)
{
	int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (fi < 0 || dup2(fi, STDIN_FILENO) < 0 || dup2(fo, STDOUT_FILENO) < 0 ||
	    dup2(fe, STDERR_FILENO) < 0)
		_exit(127);
	execv(argv[0], (char *const *)argv);
	dprintf(STDERR_FILENO, "th_proc: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Waits up to ms for pid; 0 and *status, or TALLY_ERR_TIMEOUT. */
static int
wait_ms(pid_t pid, long ms, int *status)
{
	uint64_t end = tally_mono_ns() + (uint64_t)ms * 1000000u;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return TALLY_ERR_IO;
		if (tally_mono_ns() > end)
			return TALLY_ERR_TIMEOUT;
		nap_ms(POLL_MS);
	}
}

/* Session ID of process pid (field 6 of /proc/PID/stat), or -1 when it
 * is gone or a zombie (dead, waiting for its new parent to reap it). */
static pid_t
session_of(const char *pid)
{
	char path[300], buf[512], *p, state = '?';
	ssize_t n;
	int fd, sid = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID PGRP SESSION ...": COMM may hold spaces */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %*d %*d %d", &state, &sid) != 2)
		return -1;
	return state == 'Z' || state == 'X' ? -1 : sid;
}

/* SIGKILLs every process of session sid; returns how many there were. */
static unsigned
kill_session(pid_t sid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (session_of(e->d_name) == sid &&
		    kill((pid_t)strtol(e->d_name, NULL, 10), SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Waits for the child, stopping it when it overstays. */
static void
finish(struct th_proc_res *res, int timeout_ms)
{
	if (wait_ms(res->pid, timeout_ms, &res->status) == 0)
		return;
	res->timed_out = true;
	kill(res->pid, SIGTERM);
	if (wait_ms(res->pid, TH_PROC_TERM_GRACE_MS, &res->status) == 0)
		return;
	kill(res->pid, SIGKILL);
	while (waitpid(res->pid, &res->status, 0) < 0 && errno == EINTR)
		;
}

static int
read_back(const char *path, char **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = tally_read_file(path, TH_PROC_OUTPUT_MAX, &buf, &len);

	unlink(path);
	if (r == 0 && (*out = realloc(buf, len + 1)) == NULL)
		r = TALLY_ERR_NOMEM;
	if (r != 0) {
		free(buf);
		return r;
	}
	(*out)[len] = '\0';
	return 0;
}

int
th_proc_run(const char *dir, const char *const *argv, int timeout_ms,
    struct th_proc_res *res)
{
	char po[256], pe[256];
	uint64_t t0 = tally_mono_ns();
	pid_t parent = getpid();
	int fo, fe, r;

	memset(res, 0, sizeof(*res));
	if (argv == NULL || argv[0] == NULL || timeout_ms <= 0)
		return TALLY_ERR_INVALID;
	snprintf(po, sizeof(po), "%s/proc.out", dir);
	snprintf(pe, sizeof(pe), "%s/proc.err", dir);
	fo = open(po, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = TALLY_ERR_IO;
	if (fo < 0 || fe < 0 || (res->pid = fork()) < 0)
		goto out;
	if (res->pid == 0)
		child(argv, fo, fe, parent);
	finish(res, timeout_ms);
	res->leftover = kill_session(res->pid);
	res->ms = (long)((tally_mono_ns() - t0) / 1000000u);
	r = 0;
out:
	if (fo >= 0)
		close(fo);
	if (fe >= 0)
		close(fe);
	if (r == 0 && (r = read_back(po, &res->out)) == 0)
		r = read_back(pe, &res->err);
	unlink(po);
	unlink(pe);
	return r;
}

void
th_proc_res_free(struct th_proc_res *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

int
th_proc_exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
