/*
 * setup.c - the appliance under test: a temporary folder on disk, the OEM
 * and appliance keys, the jig CA, tallyd.conf, the tallyd process, enrolled
 * jigs with their client TLS contexts, the quota; and the teardown that
 * undoes all of it (SIGTERM, waitpid, folder removed) even after errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/sha.h>
#include "setup.h"
#include "err.h"
#include "log.h"
#include "tls.h"

#define START_TIMEOUT_MS 15000
#define MAP_SIZE_MB 16384
#define TMPFS_MAGIC_ 0x01021994

extern char **environ;

static int
path(char *out, const struct bench_env *env, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", env->dir, name);

	return n > 0 && n < PATH_MAX ? 0 : TALLY_ERR_TOO_LARGE;
}

static int
make_dir(const struct bench_opts *o, struct bench_env *env)
{
	struct statfs fs;
	int n = snprintf(env->dir, sizeof(env->dir), "%s/tally-bench.XXXXXX", o->parent_dir);

	if (n <= 0 || n >= 80) {  /* the control socket path must fit sun_path */
		env->dir[0] = '\0';
		log_err("--dir %s: path too long", o->parent_dir);
		return TALLY_ERR_TOO_LARGE;
	}
	if (mkdtemp(env->dir) == NULL) {
		log_err("mkdtemp %s: %s", env->dir, strerror(errno));
		env->dir[0] = '\0';
		return TALLY_ERR_IO;
	}
	if (statfs(env->dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC_)
		log_warn("%s is on tmpfs: fsync costs nothing there, the figures "
		    "will not be those of a disk (use --dir)", env->dir);
	return 0;
}

static int
write_config(const struct bench_opts *o, const struct bench_env *env, const char *conf)
{
	struct group *g = getgrgid(getegid());
	char data[PATH_MAX], key[PATH_MAX], oem[PATH_MAX], ca[PATH_MAX];
	unsigned in_flight = 2 * o->pipeline + 8;
	FILE *f;
	int ok;

	if (path(data, env, "data") || path(key, env, "appliance.key") ||
	    path(oem, env, "oem-root.pub") || path(ca, env, "jig-ca.pem"))
		return TALLY_ERR_TOO_LARGE;
	if (g == NULL)
		return TALLY_ERR_NOT_FOUND;
	if ((f = fopen(conf, "w")) == NULL)
		return TALLY_ERR_IO;
	fprintf(f, "# written by tally-bench\n[tallyd]\nlisten = 127.0.0.1:0\n"
	    "data_dir = %s\nkey = %s\nkey_type = %s\noem_root = %s\njig_ca = %s\n"
	    "control_socket = %s\ncontrol_group = %s\nmap_size_mb = %u\n"
	    "max_connections = %u\nmax_in_flight = %u\n"
	    /* --hold keeps connections open for minutes without a request */
	    "idle_timeout = 86400\n"
	    /* a load generator: no per-jig rate limit */
	    "rate_limit = 0\n",
	    data, key, o->key_type == TALLY_KEY_ED25519 ? "ed25519" : "p256", oem, ca,
	    env->ctl_path, g->gr_name, MAP_SIZE_MB, o->connections + 16,
	    in_flight < 64 ? 64 : in_flight);
	ok = !ferror(f);
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : TALLY_ERR_IO;
}

/* Starts bin_dir/tallyd -c conf --foreground in its own process group,
 * signals unblocked, stdout and stderr into env->log_path. */
static int
spawn_tallyd(const struct bench_opts *o, struct bench_env *env, const char *conf)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	char exe[PATH_MAX];
	int r;

	if (snprintf(exe, sizeof(exe), "%s/tallyd", o->bin_dir) >= (int)sizeof(exe))
		return TALLY_ERR_TOO_LARGE;
	char *const argv[] = { exe, "-c", (char *)conf, "--foreground", NULL };
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, env->log_path,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	r = posix_spawn(&env->tallyd, exe, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0) {
		env->tallyd = 0;
		log_err("cannot start %s: %s", exe, strerror(r));
		return TALLY_ERR_IO;
	}
	return 0;
}

/* OEM root key (public half in oem-root.pub) and appliance key file;
 * the appliance SPKI (*spki, OPENSSL_free) and key ID out. */
static int
make_keys(const struct bench_opts *o, struct bench_env *env, uint8_t **spki,
    size_t *spki_len, uint8_t id[32])
{
	char oem[PATH_MAX], key[PATH_MAX];
	EVP_PKEY *k = NULL;
	int r;

	if ((r = path(oem, env, "oem-root.pub")) != 0 ||
	    (r = path(key, env, "appliance.key")) != 0 ||
	    (r = tally_key_generate(TALLY_KEY_P256, &env->oem_root)) != 0 ||
	    (r = tally_key_write_public(env->oem_root, oem)) != 0 ||
	    (r = tally_key_generate(o->key_type, &k)) != 0 ||
	    (r = tally_key_write_private(k, key)) != 0 ||
	    (r = tally_key_spki(k, spki, spki_len)) != 0 ||
	    (r = tally_key_id(k, id)) != 0)
		goto out;
 out:
	EVP_PKEY_free(k);
	return r;
}

/* Makes, enrols and connects-ready o->jigs jigs. */
static int
make_jigs(const struct bench_opts *o, struct bench_env *env, X509 *ca, EVP_PKEY *ca_key)
{
	uint8_t *der = NULL;
	size_t der_len;
	char name[32];
	unsigned i;
	int r = 0;

	for (i = 0; i < o->jigs && r == 0; i++) {
		struct bench_jig *j = &env->jigs[i];

		snprintf(name, sizeof(name), "jig-%u.pem", i);
		if ((r = path(j->cert_file, env, name)) != 0 ||
		    (r = pki_make_jig(ca, ca_key, i, j->cert_file, &j->key, &der, &der_len)) != 0)
			break;
		env->njigs++;
		snprintf(name, sizeof(name), "bench-jig-%u", i);
		if ((r = appliance_enroll(env, der, der_len, name)) == 0)
			r = tally_tls_client_ctx(j->cert_file, j->key, env->appliance_id, &j->ctx);
		OPENSSL_free(der);
		der = NULL;
	}
	return r;
}

static int
start_appliance(const struct bench_opts *o, struct bench_env *env, const uint8_t id[32])
{
	char conf[PATH_MAX];
	int r;

	if ((r = path(conf, env, "tallyd.conf")) != 0 ||
	    (r = path(env->ctl_path, env, "ctl.sock")) != 0 ||
	    (r = path(env->log_path, env, "tallyd.log")) != 0 ||
	    (r = write_config(o, env, conf)) != 0)
		return r;
	bench_say("starting %s/tallyd (data in %s, log in %s)", o->bin_dir, env->dir,
	    env->log_path);
	if ((r = spawn_tallyd(o, env, conf)) != 0)
		return r;
	if ((r = appliance_connect(env, id, START_TIMEOUT_MS)) != 0)
		log_tally_err(r, "tallyd did not come up on %s", env->ctl_path);
	return r;
}

int
bench_setup(const struct bench_opts *o, struct bench_env *env)
{
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	uint8_t *spki = NULL, id[32];
	size_t spki_len = 0;
	char ca_file[PATH_MAX];
	int r;

	SHA256((const unsigned char *)"tally-bench firmware", 20, env->firmware);
	if ((env->jigs = calloc(o->jigs, sizeof(*env->jigs))) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = make_dir(o, env)) != 0)
		goto out;
	bench_say("making OEM, appliance (%s) and jig CA keys",
	    o->key_type == TALLY_KEY_ED25519 ? "Ed25519" : "ECDSA P-256");
	if ((r = make_keys(o, env, &spki, &spki_len, id)) != 0 ||
	    (r = path(ca_file, env, "jig-ca.pem")) != 0 ||
	    (r = pki_make_ca(ca_file, &ca, &ca_key)) != 0 ||
	    (r = start_appliance(o, env, id)) != 0)
		goto out;
	bench_say("enrolling %u jigs", o->jigs);
	if ((r = make_jigs(o, env, ca, ca_key)) != 0)
		goto out;
	bench_say("importing a quota of %llu units", (unsigned long long)o->units);
	r = appliance_import_quota(env, spki, spki_len, o->units);
 out:
	if (r != 0)
		log_tally_err(r, "setting up the appliance failed");
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	OPENSSL_free(spki);
	return r;
}
