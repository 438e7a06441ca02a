/*
 * speed.c - the single-core sign rate of `openssl speed` for the appliance
 * key type, run as a subprocess and parsed from its summary table:
 *
 *                               sign    verify    sign/s verify/s
 *  256 bits ecdsa (nistp256)   0.0000s   0.0001s  49445.0  14529.0
 *
 * sign/s is the next-to-last column of the line naming the algorithm.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"
#include "err.h"

#define SPEED_OUT_MAX 65536

extern char **environ;

/* Runs argv with stdout into buf (at most cap-1 bytes, NUL-terminated),
 * stderr to /dev/null. 0 when it exited 0, else TALLY_ERR_IO. */
static int
run_capture(char *const argv[], char *buf, size_t cap)
{
	posix_spawn_file_actions_t fa;
	int fds[2] = { -1, -1 }, st = 0, r = TALLY_ERR_IO;
	size_t len = 0;
	pid_t pid = -1;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return TALLY_ERR_IO;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (pid < 0)
		goto out;
	while (len + 1 < cap && ((n = read(fds[0], buf + len, cap - 1 - len)) > 0 ||
	    (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	buf[len] = '\0';
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		r = 0;
 out:
	close(fds[0]);
	return r;
}

/* Finds the line holding name and parses its next-to-last column. */
static int
parse_sign_rate(char *text, const char *name, double *out)
{
	char *line, *save = NULL, *tok, *tsave, *prev, *last;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, name) == NULL || strstr(line, "bits") == NULL)
			continue;
		prev = last = NULL;
		for (tok = strtok_r(line, " \t", &tsave); tok != NULL;
		    tok = strtok_r(NULL, " \t", &tsave)) {
			prev = last;
			last = tok;
		}
		if (prev == NULL)
			return TALLY_ERR_INVALID;
		char *end;
		errno = 0;
		*out = strtod(prev, &end);
		if (errno != 0 || *end != '\0' || *out <= 0)
			return TALLY_ERR_INVALID;
		return 0;
	}
	return TALLY_ERR_INVALID;
}

int
bench_openssl_speed(enum tally_key_type type, unsigned seconds, double *sign_per_s)
{
	char secs[16], *buf;
	const char *alg = type == TALLY_KEY_ED25519 ? "ed25519" : "ecdsap256";
	const char *name = type == TALLY_KEY_ED25519 ? "EdDSA (Ed25519)" : "ecdsa (nistp256)";
	int r;

	snprintf(secs, sizeof(secs), "%u", seconds);
	char *const argv[] = { "openssl", "speed", "-seconds", secs, "-multi", "1",
		(char *)alg, NULL };
	if ((buf = malloc(SPEED_OUT_MAX)) == NULL)
		return TALLY_ERR_NOMEM;
	if ((r = run_capture(argv, buf, SPEED_OUT_MAX)) == 0)
		r = parse_sign_rate(buf, name, sign_per_s);
	free(buf);
	return r;
}
