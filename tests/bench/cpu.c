/*
 * cpu.c - where the CPU went during the measured window: per tallyd
 * thread, tally-bench itself, the rest of the machine, idle. Read from
 * /proc (proc(5): /proc/stat, /proc/PID/task/TID/stat) and getrusage.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "bench.h"
#include "err.h"

/* utime + stime (clock ticks) of one task's stat file, or -1. */
static long long
task_ticks(const char *path)
{
	char buf[1024], *p;
	unsigned long long ut, st;
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the ")" of comm: state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static void
snap_machine(struct bench_cpu_snap *s)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	s->total = s->idle = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			s->total += v[i];
		s->idle = v[3] + v[4];
	}
	fclose(f);
}

void
bench_cpu_snap(pid_t tallyd, struct bench_cpu_snap *s)
{
	char dir[64], path[PATH_MAX];
	struct rusage ru;
	struct dirent *de;
	DIR *d;
	long long t;

	memset(s, 0, sizeof(*s));
	snap_machine(s);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		s->self_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
		    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)tallyd);
	if (tallyd <= 0 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && s->n < BENCH_CPU_THREADS) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s/stat", dir, de->d_name);
		if ((t = task_ticks(path)) < 0)
			continue;
		s->tid[s->n] = atoi(de->d_name);
		s->ticks[s->n++] = (uint64_t)t;
	}
	closedir(d);
}

void
bench_cpu_diff(const struct bench_cpu_snap *a, const struct bench_cpu_snap *b,
    pid_t tallyd, double secs, struct bench_cpu *out)
{
	double hz = (double)sysconf(_SC_CLK_TCK), all = 0;
	size_t i, j;

	memset(out, 0, sizeof(*out));
	out->cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (secs <= 0 || hz <= 0)
		return;
	for (i = 0; i < b->n; i++)
		for (j = 0; j < a->n; j++)
			if (a->tid[j] == b->tid[i] && out->n < BENCH_CPU_THREADS) {
				out->tid[out->n] = b->tid[i];
				out->main[out->n] = b->tid[i] == tallyd;
				out->thread_cores[out->n] = (double)(b->ticks[i] - a->ticks[j]) / hz / secs;
				out->tallyd_cores += out->thread_cores[out->n++];
			}
	out->bench_cores = (double)(b->self_us - a->self_us) / 1e6 / secs;
	if (b->total > a->total) {
		all = (double)(b->total - a->total);
		out->idle_cores = out->cores * (double)(b->idle - a->idle) / all;
		out->other_cores = out->cores - out->idle_cores - out->tallyd_cores -
		    out->bench_cores;
		if (out->other_cores < 0)
			out->other_cores = 0;
	}
}
