/* test_systemd.c - tallyd as a systemd service (issue 5, service hardening).
 *
 * The unit: systemd/tallyd.service passes `systemd-analyze verify` (on a
 * copy whose ExecStart= names the tallyd under test) with no warning, and
 * `systemd-analyze security --offline=true` rates it at most 2.0; the
 * sysusers.d and tmpfiles.d snippets make the user and the folders in a
 * scratch root. The process: a real tallyd with NOTIFY_SOCKET on a datagram
 * socket of the test sends READY=1 (naming the port it listens on), then
 * WATCHDOG=1 every WATCHDOG_USEC/2, then STOPPING=1 on SIGTERM; without
 * NOTIFY_SOCKET, with an unreachable one, or with WATCHDOG_PID of another
 * process, it runs as before. The process hardening (no core dumps, keys
 * in locked memory) is tested in test_harden.c. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "err.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_proc.h"
#include "util.h"

#define UNIT_SRC "systemd/tallyd.service"
#define EXEC_SRC "ExecStart=/usr/local/sbin/tallyd "
#define EXPOSURE_MAX 2.0

/* A scratch folder (removed by rm_dir). */
static void
scratch(char dir[64])
{
	snprintf(dir, 64, "/tmp/tally-sd-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void
rm_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* dir/tallyd.service: the unit with ExecStart= naming the tallyd under test
 * (verify needs the program to exist), and extra text appended. */
static void
unit_copy(const char *dir, const char *extra, char *out, size_t outlen)
{
	const char *build = getenv("TALLY_BUILD") ? getenv("TALLY_BUILD") : "build/check";
	char bin[PATH_MAX + 16], abs[PATH_MAX], *text, *exec;
	uint8_t *buf;
	size_t len;
	FILE *f;

	snprintf(bin, sizeof(bin), "%s/tallyd", build);
	assert_non_null(realpath(bin, abs));
	assert_int_equal(tally_read_file(UNIT_SRC, TALLY_FILE_MAX, &buf, &len), 0);
	assert_non_null(text = strndup((char *)buf, len));
	free(buf);
	assert_non_null(exec = strstr(text, "\n" EXEC_SRC));
	assert_null(strstr(exec + 1, "\nExecStart="));   /* the only one */
	*exec = '\0';
	snprintf(out, outlen, "%s/tallyd.service", dir);
	assert_non_null(f = fopen(out, "w"));
	fprintf(f, "%s\nExecStart=%s %s%s", text, abs, exec + strlen("\n" EXEC_SRC),
	    extra != NULL ? extra : "");
	assert_int_equal(fclose(f), 0);
	free(text);
}

/* Runs argv (60 s at most); *res to release with th_proc_res_free. */
static void
run(const char *dir, const char *const *argv, struct th_proc_res *res)
{
	assert_int_equal(th_proc_run(dir, argv, 60000, res), 0);
	assert_false(res->timed_out);
}

static void
test_unit_verify(void **state)
{
	const char *argv[] = { "/usr/bin/systemd-analyze", "verify", NULL, NULL };
	struct th_proc_res res;
	char dir[64], unit[128];

	(void)state;
	scratch(dir);
	unit_copy(dir, NULL, unit, sizeof(unit));
	argv[2] = unit;
	run(dir, argv, &res);
	print_message("# verify: exit %d, out '%s', err '%s'\n",
	    th_proc_exit_code(res.status), res.out, res.err);
	assert_int_equal(th_proc_exit_code(res.status), 0);
	assert_null(strstr(res.out, "tallyd.service"));
	assert_null(strstr(res.err, "tallyd.service"));
	th_proc_res_free(&res);
	/* the same check sees a misspelt directive (verify exits 0 then) */
	unit_copy(dir, "ProtectSystm=strict\n", unit, sizeof(unit));
	run(dir, argv, &res);
	assert_non_null(strstr(res.err, "ProtectSystm"));
	th_proc_res_free(&res);
	rm_dir(dir);
}

static void
test_unit_exposure(void **state)
{
	const char *argv[] = { "/usr/bin/systemd-analyze", "security", "--offline=true",
	    NULL, NULL };
	const char *tag = "Overall exposure level for tallyd.service: ";
	struct th_proc_res res;
	char dir[64], unit[128], *p, *end;
	double score;

	(void)state;
	scratch(dir);
	unit_copy(dir, NULL, unit, sizeof(unit));
	argv[3] = unit;
	run(dir, argv, &res);
	assert_int_equal(th_proc_exit_code(res.status), 0);
	assert_non_null(p = strstr(res.out, tag));
	score = strtod(p + strlen(tag), &end);
	assert_true(end > p + strlen(tag));
	print_message("# systemd-analyze security --offline=true: exposure %.1f\n", score);
	assert_true(score >= 0.0 && score <= EXPOSURE_MAX);
	th_proc_res_free(&res);
	rm_dir(dir);
}

/* systemd-sysusers and systemd-tmpfiles --create with the snippets into a
 * scratch root: user tally, /var/lib/tally 0700 tally, /etc/tally 0755. */
static void
test_sysusers_tmpfiles(void **state)
{
	char dir[64], root[80], etc[96], conf[PATH_MAX + 32], cwd[PATH_MAX], path[128];
	const char *su[] = { "/usr/bin/systemd-sysusers", root, conf, NULL };
	const char *tf[] = { "/usr/bin/systemd-tmpfiles", root, "--create", conf, NULL };
	struct th_proc_res res;
	struct stat st;
	uint8_t *pw;
	size_t len;
	unsigned uid;
	char *line;

	(void)state;
	scratch(dir);
	snprintf(root, sizeof(root), "--root=%s", dir);
	snprintf(etc, sizeof(etc), "%s/etc", dir);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(conf, sizeof(conf), "%s/systemd/tallyd.sysusers", cwd);
	run(dir, su, &res);
	assert_int_equal(th_proc_exit_code(res.status), 0);
	th_proc_res_free(&res);
	snprintf(path, sizeof(path), "%s/etc/passwd", dir);
	assert_int_equal(tally_read_file(path, TALLY_FILE_MAX, &pw, &len), 0);
	assert_non_null(line = strstr((char *)pw, "tally:x:"));
	assert_int_equal(sscanf(line, "tally:x:%u:", &uid), 1);
	assert_non_null(strstr(line, ":/var/lib/tally:/usr/sbin/nologin"));
	free(pw);
	snprintf(conf, sizeof(conf), "%s/systemd/tallyd.tmpfiles", cwd);
	run(dir, tf, &res);
	assert_int_equal(th_proc_exit_code(res.status), 0);
	th_proc_res_free(&res);
	snprintf(path, sizeof(path), "%s/var/lib/tally", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, uid);
	snprintf(path, sizeof(path), "%s/etc/tally", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, 0);
	rm_dir(dir);
}

/* --- sd_notify --- */

struct nfx {
	struct th *t;
	int fd;                 /* our NOTIFY_SOCKET, datagram */
	char path[TH_PATH];
};

/* th_init, our notify socket in its folder, environment as given
 * (NULL = unset), th_start, environment cleared again. */
static void
start_env(struct nfx *f, const char *sock, const char *usec, const char *pid,
    const char *extra_config)
{
	struct th_opts o = { .njigs = 1, .extra_config = extra_config };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	assert_non_null(f->t = calloc(1, sizeof(*f->t)));
	assert_int_equal(th_init(f->t, &o), 0);
	snprintf(f->path, sizeof(f->path), "%s/notify.sock", f->t->dir);
	assert_true(strlen(f->path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
	assert_true((f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (sock != NULL)
		setenv("NOTIFY_SOCKET", strcmp(sock, "ours") == 0 ? f->path : sock, 1);
	if (usec != NULL)
		setenv("WATCHDOG_USEC", usec, 1);
	if (pid != NULL)
		setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(th_start(f->t), 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void
nfx_free(struct nfx *f)
{
	close(f->fd);
	th_cleanup(f->t);
}

/* Next datagram within ms into buf (NUL-terminated): 0, or -1 when none. */
static int
next_msg(struct nfx *f, int ms, char *buf, size_t len)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	assert_true((n = recv(f->fd, buf, len - 1, 0)) >= 0);
	buf[n] = '\0';
	return 0;
}

static void
test_notify_ready_watchdog_stopping(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct nfx f;
	char msg[512], want[64];
	uint64_t t0, t1;
	int n = 0, fd;

	(void)state;
	start_env(&f, "ours", "400000", NULL, NULL);
	/* first READY, naming the port the listener was given (port 0 in the
	 * configuration: known only once it listens) */
	assert_int_equal(next_msg(&f, 5000, msg, sizeof(msg)), 0);
	print_message("# first: %.*s | %s\n", (int)strcspn(msg, "\n"), msg,
	    msg + strcspn(msg, "\n") + (msg[strcspn(msg, "\n")] != '\0'));
	snprintf(want, sizeof(want), "jigs on 127.0.0.1:%u,", (unsigned)f.t->port);
	assert_int_equal(strncmp(msg, "READY=1\nSTATUS=issuing; ", 24), 0);
	assert_non_null(strstr(msg, want));
	sin.sin_port = htons(f.t->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	close(fd);
	assert_true(th_log_contains(f.t, "systemd watchdog: 400 ms, WATCHDOG=1 every 200 ms"));
	/* then WATCHDOG=1, every 200 ms: at least 5 in 1.6 s */
	t0 = tally_mono_ns();
	while ((t1 = tally_mono_ns()) - t0 < 1600000000u &&
	    next_msg(&f, 1700 - (int)((t1 - t0) / 1000000u), msg, sizeof(msg)) == 0) {
		assert_string_equal(msg, "WATCHDOG=1");
		n++;
	}
	print_message("# %d WATCHDOG=1 in 1.6 s\n", n);
	assert_true(n >= 5 && n <= 10);
	assert_int_equal(th_stop(f.t, 20000), 0);
	do {   /* pings sent before SIGTERM may still be queued */
		assert_int_equal(next_msg(&f, 5000, msg, sizeof(msg)), 0);
	} while (strcmp(msg, "WATCHDOG=1") == 0);
	assert_string_equal(msg, "STOPPING=1\nSTATUS=stopping (SIGTERM)");
	assert_int_equal(next_msg(&f, 200, msg, sizeof(msg)), -1);
	nfx_free(&f);
}

/* WATCHDOG_PID of another process: READY, but no pings (sd_watchdog_enabled). */
static void
test_notify_watchdog_other_pid(void **state)
{
	struct nfx f;
	char msg[512], pid[32];

	(void)state;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	start_env(&f, "ours", "200000", pid, NULL);
	assert_int_equal(next_msg(&f, 5000, msg, sizeof(msg)), 0);
	assert_int_equal(strncmp(msg, "READY=1\n", 8), 0);
	assert_int_equal(next_msg(&f, 1000, msg, sizeof(msg)), -1);
	assert_false(th_log_contains(f.t, "systemd watchdog"));
	assert_int_equal(th_stop(f.t, 20000), 0);
	nfx_free(&f);
}

/* No NOTIFY_SOCKET (WATCHDOG_USEC alone is ignored), or one nobody listens
 * on (a warning, nothing else): tallyd serves and stops as before. */
static void
test_notify_absent_or_broken(void **state)
{
	Tally__CtlResponse *resp = NULL;
	struct nfx f;
	char msg[512], gone[TH_PATH + 8];
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		snprintf(gone, sizeof(gone), "/tmp/tally-no-such-dir-%d/notify.sock", (int)getpid());
		start_env(&f, i == 0 ? NULL : gone, "200000", NULL, NULL);
		assert_int_equal(th_status(f.t, &resp), 0);
		assert_int_equal(resp->error, 0);
		tally__ctl_response__free_unpacked(resp, NULL);
		assert_int_equal(next_msg(&f, 500, msg, sizeof(msg)), -1);
		assert_int_equal(th_log_contains(f.t, "sd_notify: No such file or directory"),
		    i == 1);
		assert_int_equal(th_log_contains(f.t, "systemd watchdog"), i == 1);
		assert_int_equal(th_stop(f.t, 20000), 0);
		nfx_free(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unit_verify),
		cmocka_unit_test(test_unit_exposure),
		cmocka_unit_test(test_sysusers_tmpfiles),
		cmocka_unit_test(test_notify_ready_watchdog_stopping),
		cmocka_unit_test(test_notify_watchdog_other_pid),
		cmocka_unit_test(test_notify_absent_or_broken),
	};

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
