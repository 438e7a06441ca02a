/* test_harden.c - tallyd's process hardening (issue 5, service hardening;
 * daemon/harden.h), seen from outside on a real tallyd:
 *   no core dumps: /proc/PID/limits shows a core size of 0 (RLIMIT_CORE),
 *   and PR_SET_DUMPABLE 0 shows as PTRACE_SEIZE refused to a same-uid
 *   process without CAP_SYS_PTRACE in its effective set, which the
 *   (dumpable) test process itself allows;
 *   keys in locked memory: OpenSSL's secure heap, sized by max_connections,
 *   holds the appliance key after start-up (its log line) and is locked
 *   (VmLck in /proc/PID/status); when mlock is refused (small
 *   RLIMIT_MEMLOCK, no CAP_IPC_LOCK) one warning, nothing locked, and tokens
 *   are issued as before. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "daemon/harden.h"
#include "err.h"
#include "tests/harness/harness.h"
#include "util.h"

/* A tallyd with one jig and extra configuration lines (may be NULL). */
static struct th *
start(const char *extra_config)
{
	struct th_opts o = { .njigs = 1, .extra_config = extra_config };
	struct th *t;

	assert_int_equal(th_setup(&t, &o), 0);
	return t;
}

/* In a child that keeps its permitted capabilities (a superset of
 * tallyd's, same uid) but drops CAP_SYS_PTRACE from its effective set: may
 * it PTRACE_SEIZE pid? The kernel refuses that for a non-dumpable process
 * (ptrace(2), "Ptrace access mode checking"); SEIZE does not stop the
 * tracee, and the child's exit detaches it. */
static int
seizable(pid_t pid)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	pid_t c;
	int st;

	if ((c = fork()) == 0) {
		if (syscall(SYS_capget, &h, d) != 0)
			_exit(3);
		d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
		if (syscall(SYS_capset, &h, d) != 0)
			_exit(3);
		if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0)
			_exit(0);
		_exit(errno == EPERM ? 1 : 2);
	}
	assert_true(c > 0);
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
	return WEXITSTATUS(st) == 0;
}

/* Yama's ptrace_scope (0 when Yama is not there). */
static int
yama_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	int v = 0;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* The value after "name:" in /proc/pid/status, or the line of limits. */
static char *
proc_line(pid_t pid, const char *file, const char *name, char *buf, size_t len)
{
	char path[64], *p;
	uint8_t *text;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	assert_int_equal(tally_read_file(path, TALLY_FILE_MAX, &text, &n), 0);
	assert_non_null(p = strstr((char *)text, name));
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	free(text);
	return buf;
}

static void
test_no_core_dumps(void **state)
{
	struct th *t = *state;
	char line[256];
	unsigned long soft, hard;

	proc_line(t->pid, "limits", "Max core file size", line, sizeof(line));
	print_message("# %s\n", line);
	assert_int_equal(sscanf(line, "Max core file size %lu %lu bytes", &soft, &hard), 2);
	assert_true(soft == 0 && hard == 0);
	/* PR_SET_DUMPABLE 0: tallyd refuses the same ptrace that the (dumpable)
	 * test process allows; with Yama's ptrace_scope > 0 a non-child is
	 * refused anyway, so the control only holds without it. */
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	if (yama_scope() == 0)
		assert_true(seizable(getpid()));
	else
		print_message("# Yama ptrace_scope %d: no control\n", yama_scope());
	assert_false(seizable(t->pid));
}

/* The number after needle in tallyd.log (-1 when absent). */
static long
log_number(struct th *t, const char *needle)
{
	uint8_t *text;
	size_t n;
	char *p;
	long v = -1;

	assert_int_equal(tally_read_file(t->log_path, TALLY_FILE_MAX, &text, &n), 0);
	if ((p = strstr((char *)text, needle)) != NULL)
		v = strtol(p + strlen(needle), NULL, 10);
	free(text);
	return v;
}

/* A jig gets a token: the appliance key in the secure heap signs. */
static void
issue_one(struct th *t)
{
	struct th_tls_opts o = { .jig = 0 };
	struct th_conn *c;

	assert_int_equal(th_enroll(t, 0), 0);
	assert_int_equal(th_quota_code(t, "widget", 5, NULL), 0);
	assert_int_equal(th_tls_connect(t, &o, &c), 0);
	assert_int_equal(th_issue_code(c, "widget", NULL, (const uint8_t *)"UID-1", 5, NULL), 0);
	th_tls_close(c);
}

static void
test_secure_heap_locked(void **state)
{
	struct th *t;
	char line[128];
	long size, used, vmlck;

	(void)state;
	t = start("max_connections = 20000\n");
	size = log_number(t, "harden_secure_heap: secure heap: ");
	print_message("# secure heap %ld bytes (max_connections 20000)\n", size);
	assert_int_equal(size, (long)harden_heap_size(20000));
	assert_int_equal(size, 2 * 1024 * 1024);
	assert_true(th_log_contains(t, "bytes, locked in memory"));
	assert_true((used = log_number(t, "harden_secure_heap_report: secure heap: ")) > 0);
	print_message("# %ld bytes in use after loading the keys\n", used);
	proc_line(t->pid, "status", "VmLck:", line, sizeof(line));
	print_message("# tallyd %s\n", line);
	assert_int_equal(sscanf(line, "VmLck: %ld kB", &vmlck), 1);
	assert_true(vmlck * 1024 >= size);
	issue_one(t);
	assert_int_equal(th_stop(t, 20000), 0);
	th_cleanup(t);
}

/* mlock refused (RLIMIT_MEMLOCK 64 KiB and, for root, no CAP_IPC_LOCK in
 * the bounding set: irreversible for this test process, so it runs last):
 * one warning, nothing locked, tokens issued as before. */
static void
test_secure_heap_unlocked(void **state)
{
	struct rlimit old, low;
	struct th *t;
	char line[128];
	long vmlck;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	low = old;
	low.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) != 0)
		assert_int_equal(errno, EPERM);   /* not root: no CAP_IPC_LOCK anyway */
	t = start(NULL);
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	assert_true(th_log_contains(t, "NOT locked in memory (mlock or madvise refused; "
	    "RLIMIT_MEMLOCK 65536 bytes)"));
	proc_line(t->pid, "status", "VmLck:", line, sizeof(line));
	assert_int_equal(sscanf(line, "VmLck: %ld kB", &vmlck), 1);
	assert_int_equal(vmlck, 0);
	issue_one(t);
	assert_int_equal(th_stop(t, 20000), 0);
	th_cleanup(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_core_dumps, th_cmocka_setup,
		    th_cmocka_teardown),
		cmocka_unit_test(test_secure_heap_locked),
		cmocka_unit_test(test_secure_heap_unlocked),   /* last: drops CAP_IPC_LOCK */
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
