/* harness.c - the tallyd process and its control socket for integration
 * tests, see harness.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <openssl/crypto.h>

#include "err.h"
#include "frame.h"
#include "harness.h"
#include "harness_int.h"
#include "util.h"

#define START_TIMEOUT_MS 30000
#define KILL_TIMEOUT_MS 20000
#define IO_TIMEOUT_S 10

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
th_write_config(struct th *t, const char *extra)
{
	struct group *gr = getgrgid(getgid());
	char buf[4096];
	int n;

	if (gr == NULL)
		return TALLY_ERR_NOT_FOUND;
	n = snprintf(buf, sizeof(buf),
	    "# written by the tally test harness\n[tallyd]\n"
	    "listen = 127.0.0.1:0\ndata_dir = %s\nkey = %s\nkey_type = %s\n"
	    "oem_root = %s\njig_ca = %s\ncontrol_socket = %s\ncontrol_group = %s\n%s",
	    t->data_dir, t->key_path, t->key_type == TALLY_KEY_ED25519 ? "ed25519" : "p256",
	    t->oem_pub_path, t->ca_path, t->sock_path, gr->gr_name, extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(buf))
		return TALLY_ERR_TOO_LARGE;
	return tally_write_file(t->conf_path, (const uint8_t *)buf, (size_t)n, 0600);
}

int
th_init(struct th *t, const struct th_opts *o)
{
	signal(SIGPIPE, SIG_IGN);
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/tally-test-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		t->dir[0] = '\0';
		return TALLY_ERR_IO;
	}
	snprintf(t->conf_path, TH_PATH, "%s/tallyd.conf", t->dir);
	snprintf(t->sock_path, TH_PATH, "%s/ctl.sock", t->dir);
	snprintf(t->data_dir, TH_PATH, "%s/data", t->dir);
	snprintf(t->key_path, TH_PATH, "%s/appliance.pem", t->dir);
	snprintf(t->oem_path, TH_PATH, "%s/oem.pem", t->dir);
	snprintf(t->oem_pub_path, TH_PATH, "%s/oem.pub", t->dir);
	snprintf(t->ca_path, TH_PATH, "%s/ca.pem", t->dir);
	snprintf(t->log_path, TH_PATH, "%s/tallyd.log", t->dir);
	t->key_type = o->key_type != 0 ? o->key_type : TALLY_KEY_P256;
	t->next_id = 1;
	if (th_make_pki(t, o->njigs) != 0)
		return TALLY_ERR_CRYPTO;
	return th_write_config(t, o->extra_config);
}

static void
dump_log(struct th *t, const char *why)
{
	uint8_t *buf = NULL;
	size_t len;

	if (t->quiet)
		return;
	fprintf(stderr, "# --- tallyd.log (%s) ---\n", why);
	if (tally_read_file(t->log_path, TALLY_FILE_MAX, &buf, &len) == 0)
		fwrite(buf, 1, len, stderr);
	fprintf(stderr, "# --- end of tallyd.log ---\n");
	free(buf);
}

static int
spawn(struct th *t)
{
	const char *build = getenv("TALLY_BUILD");
	pid_t parent = getpid(), pid;
	char bin[TH_PATH];
	int fd;

	if (t->tallyd_path[0] != '\0')
		snprintf(bin, sizeof(bin), "%s", t->tallyd_path);
	else
		snprintf(bin, sizeof(bin), "%s/tallyd", build != NULL ? build : "build/check");
	if ((fd = open(t->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return TALLY_ERR_IO;
	if ((pid = fork()) < 0) {
		close(fd);
		return TALLY_ERR_IO;
	}
	if (pid == 0) {
		/* tallyd dies with the test process, whatever happens to it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (t->extra_env[0] != '\0')
			putenv(t->extra_env);
		execl(bin, "tallyd", "-c", t->conf_path, "--foreground", (char *)NULL);
		dprintf(STDERR_FILENO, "harness: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(fd);
	t->pid = pid;
	return 0;
}

/* Waits up to ms for t->pid to exit; 0 and *status, or TALLY_ERR_TIMEOUT. */
static int
wait_exit(struct th *t, int ms, int *status)
{
	uint64_t end = tally_mono_ns() + (uint64_t)ms * 1000000u;
	pid_t r;

	for (;;) {
		r = waitpid(t->pid, status, WNOHANG);
		if (r == t->pid || (r < 0 && errno == ECHILD)) {
			t->pid = 0;
			return 0;
		}
		if (tally_mono_ns() > end)
			return TALLY_ERR_TIMEOUT;
		sleep_ms(10);
	}
}

static int
read_identity(struct th *t)
{
	Tally__CtlRequest rq = TALLY__CTL_REQUEST__INIT;
	Tally__IdentityRequest id = TALLY__IDENTITY_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int r;

	rq.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	rq.identity = &id;
	if ((r = th_ctl(t, &rq, &resp)) != 0)
		return r;
	r = TALLY_ERR_INVALID;
	if (resp->error == 0 && resp->body_case == TALLY__CTL_RESPONSE__BODY_IDENTITY &&
	    resp->identity->key_id.len == 32 && resp->identity->public_key.len > 0) {
		memcpy(t->appliance_key_id, resp->identity->key_id.data, 32);
		OPENSSL_free(t->appliance_spki);
		t->appliance_spki = OPENSSL_memdup(resp->identity->public_key.data,
		    resp->identity->public_key.len);
		t->appliance_spki_len = resp->identity->public_key.len;
		r = t->appliance_spki != NULL ? 0 : TALLY_ERR_NOMEM;
	}
	tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

/* Status answered: take the port from "host:port". */
static int
ready(struct th *t)
{
	Tally__CtlResponse *resp = NULL;
	const char *colon;
	int r = TALLY_ERR_AGAIN;

	if (th_status(t, &resp) != 0)
		return TALLY_ERR_AGAIN;
	if (resp->error == 0 && resp->body_case == TALLY__CTL_RESPONSE__BODY_STATUS &&
	    (colon = strrchr(resp->status->listen, ':')) != NULL) {
		t->port = (uint16_t)strtoul(colon + 1, NULL, 10);
		r = t->port != 0 ? 0 : TALLY_ERR_INVALID;
	}
	tally__ctl_response__free_unpacked(resp, NULL);
	return r;
}

int
th_start(struct th *t)
{
	uint64_t end = tally_mono_ns() + (uint64_t)START_TIMEOUT_MS * 1000000u;
	int r, status;

	if (t->pid != 0)
		return TALLY_ERR_EXISTS;
	if ((r = spawn(t)) != 0)
		return r;
	while ((r = ready(t)) == TALLY_ERR_AGAIN) {
		if (wait_exit(t, 0, &status) == 0) {
			dump_log(t, "tallyd exited while starting");
			return TALLY_ERR_CLOSED;
		}
		if (tally_mono_ns() > end) {
			dump_log(t, "tallyd did not answer status");
			th_kill(t, SIGKILL);
			return TALLY_ERR_TIMEOUT;
		}
		sleep_ms(20);
	}
	if (r == 0)
		r = read_identity(t);
	if (r != 0) {
		dump_log(t, "tallyd answered badly");
		th_kill(t, SIGKILL);
	}
	return r;
}

int
th_setup(struct th **out, const struct th_opts *o)
{
	struct th *t = calloc(1, sizeof(*t));
	int r;

	*out = NULL;
	if (t == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = th_init(t, o)) != 0 || (r = th_start(t)) != 0) {
		th_cleanup(t);
		return r;
	}
	*out = t;
	return 0;
}

int
th_kill(struct th *t, int sig)
{
	int status = 0;

	if (t->pid == 0)
		return -1;
	kill(t->pid, sig);
	if (wait_exit(t, KILL_TIMEOUT_MS, &status) != 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		t->pid = 0;
	}
	return status;
}

int
th_stop(struct th *t, int timeout_ms)
{
	int status = 0;

	if (t->pid == 0)
		return -1;
	kill(t->pid, SIGTERM);
	if (wait_exit(t, timeout_ms, &status) != 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		t->pid = 0;
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int
th_restart(struct th *t)
{
	th_kill(t, SIGKILL);
	return th_start(t);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void
th_cleanup(struct th *t)
{
	unsigned i;

	if (t == NULL)
		return;
	if (t->pid != 0)
		th_kill(t, SIGKILL);
	if (t->dir[0] != '\0' && getenv("TALLY_TEST_LOG") != NULL)
		dump_log(t, "cleanup");
	if (t->dir[0] != '\0' && getenv("TALLY_TEST_KEEP") == NULL)
		nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (i = 0; i < TH_JIGS_MAX; i++)
		th_jig_free(&t->jig[i]);
	EVP_PKEY_free(t->oem_key);
	EVP_PKEY_free(t->ca_key);
	X509_free(t->ca);
	OPENSSL_free(t->appliance_spki);
	free(t);
}

int
th_cmocka_setup_with(void **state, const char *extra_config)
{
	struct th_opts o = { .njigs = 4, .extra_config = extra_config };
	struct th *t;

	if (th_setup(&t, &o) != 0)
		return -1;
	*state = t;
	return 0;
}

int
th_cmocka_setup(void **state)
{
	return th_cmocka_setup_with(state, NULL);
}

int
th_cmocka_teardown(void **state)
{
	th_cleanup(*state);
	*state = NULL;
	return 0;
}

bool
th_log_contains(struct th *t, const char *needle)
{
	uint8_t *buf = NULL;
	size_t len;
	bool found;

	if (tally_read_file(t->log_path, TALLY_FILE_MAX, &buf, &len) != 0)
		return false;
	found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

bool
th_log_wait(struct th *t, const char *needle, int timeout_ms)
{
	uint64_t end = tally_mono_ns() + (uint64_t)timeout_ms * 1000000u;

	while (!th_log_contains(t, needle)) {
		if (tally_mono_ns() > end)
			return false;
		sleep_ms(20);
	}
	return true;
}
