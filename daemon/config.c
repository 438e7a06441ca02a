/* config.c - tallyd configuration file through libinih, see config.h. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/util.h>
#include <ini.h>

#include "config.h"
#include "err.h"

enum opt_kind { OPT_STR, OPT_U64, OPT_U32, OPT_KEYTYPE, OPT_ADDR, OPT_SOCK };

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t off;
	uint64_t min, max;   /* numbers only */
	int required;
};

#define STR(n, k, req) { #n, k, offsetof(struct tallyd_config, n), 0, 0, req }
#define NUM(n, k, lo, hi) { #n, k, offsetof(struct tallyd_config, n), lo, hi, 0 }

static const struct opt opts[] = {
	STR(listen, OPT_ADDR, 0),
	STR(data_dir, OPT_STR, 0),
	STR(key, OPT_STR, 0),
	{ "key_type", OPT_KEYTYPE, offsetof(struct tallyd_config, key_type), 0, 0, 0 },
	STR(oem_root, OPT_STR, 1),
	STR(jig_ca, OPT_STR, 1),
	STR(control_socket, OPT_SOCK, 0),
	STR(control_group, OPT_STR, 0),
	NUM(map_size_mb, OPT_U64, 1, 1048576),
	NUM(max_connections, OPT_U32, 1, 65536),
	NUM(max_in_flight, OPT_U32, 1, 4096),
	NUM(idle_timeout, OPT_U32, 1, 86400),
	NUM(challenge_ttl, OPT_U32, 1, 3600),
	NUM(checkpoint_interval, OPT_U32, 0, 86400),
	NUM(frame_timeout, OPT_U32, 1, 3600),
	NUM(handshake_timeout, OPT_U32, 1, 3600),
	NUM(rate_limit, OPT_U32, 0, 1000000),
	NUM(rate_burst, OPT_U32, 1, 1000000),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

#define MSG_MAX 160

struct parse {
	struct tallyd_config *cfg;
	FILE *fp;
	int line;           /* lines read so far = the line being handled */
	unsigned char seen[NOPTS];
	int msg_line;       /* line of the first error the handler saw */
	char msg[MSG_MAX];  /* its text, without file:line */
};

static void
defaults(struct tallyd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen, sizeof(cfg->listen), "0.0.0.0:7443");
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "/var/lib/tally");
	snprintf(cfg->key, sizeof(cfg->key), "/var/lib/tally/appliance-key.pem");
	cfg->key_type = TALLY_KEY_P256;
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "/run/tally/control.sock");
	snprintf(cfg->control_group, sizeof(cfg->control_group), "tally");
	cfg->map_size_mb = 1024;
	cfg->max_connections = 256;
	cfg->max_in_flight = 64;
	cfg->idle_timeout = 300;
	cfg->challenge_ttl = 60;
	cfg->checkpoint_interval = 300;
	cfg->frame_timeout = 10;
	cfg->handshake_timeout = 10;
	cfg->rate_limit = 200;
	cfg->rate_burst = 400;
}

static int
parse_number(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (*v < '0' || *v > '9')
		return TALLY_ERR_INVALID;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return TALLY_ERR_INVALID;
	*out = n;
	return 0;
}

/* "port" part: decimal 0..65535. */
static int
parse_port(const char *p, uint16_t *port)
{
	uint64_t n;

	if (parse_number(p, 0, 65535, &n) != 0)
		return TALLY_ERR_INVALID;
	*port = (uint16_t)n;
	return 0;
}

int
config_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hl;
	uint16_t port;

	if (colon == NULL || (hl = (size_t)(colon - s)) == 0 || hl >= sizeof(host) ||
	    parse_port(colon + 1, &port) != 0)
		return TALLY_ERR_INVALID;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (evutil_inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return TALLY_ERR_INVALID;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	if (evutil_inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return TALLY_ERR_INVALID;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	*len = sizeof(*in);
	return 0;
}

static int
check_addr(const char *v)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return config_parse_listen(v, &ss, &len);
}

/* Stores value v into the field of o in cfg; returns 0 or
 * TALLY_ERR_INVALID with msg (MSG_MAX bytes) set. */
static int
set_opt(struct tallyd_config *cfg, const struct opt *o, const char *v, char *msg)
{
	char *field = (char *)cfg + o->off;
	uint64_t n;

	switch (o->kind) {
	case OPT_U64:
	case OPT_U32:
		if (parse_number(v, o->min, o->max, &n) != 0)
			goto bad_range;
		if (o->kind == OPT_U64)
			*(uint64_t *)(void *)field = n;
		else
			*(uint32_t *)(void *)field = (uint32_t)n;
		return 0;
	case OPT_KEYTYPE:
		if (strcmp(v, "p256") == 0)
			cfg->key_type = TALLY_KEY_P256;
		else if (strcmp(v, "ed25519") == 0)
			cfg->key_type = TALLY_KEY_ED25519;
		else
			goto bad;
		return 0;
	case OPT_ADDR:
		if (check_addr(v) != 0)
			goto bad;
		break;
	case OPT_SOCK:
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			goto bad;
		break;
	case OPT_STR:
		break;
	}
	if (*v == '\0' || strlen(v) >= CONFIG_STR_MAX)
		goto bad;
	memcpy(field, v, strlen(v) + 1);
	return 0;
 bad_range:
	snprintf(msg, MSG_MAX, "%s: not a number in %llu..%llu", o->name,
	    (unsigned long long)o->min, (unsigned long long)o->max);
	return TALLY_ERR_INVALID;
 bad:
	snprintf(msg, MSG_MAX, "%s: invalid value", o->name);
	return TALLY_ERR_INVALID;
}

/* inih handler: nonzero = accepted. Only the first error message is kept. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char msg[sizeof(p->msg)] = "";
	size_t i;

	if (strcmp(section, "tallyd") != 0) {
		snprintf(msg, sizeof(msg), "key \"%.32s\" outside section [tallyd]", name);
		goto fail;
	}
	for (i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			break;
	if (i == NOPTS) {
		snprintf(msg, sizeof(msg), "unknown key \"%.32s\"", name);
		goto fail;
	}
	if (p->seen[i]) {
		snprintf(msg, sizeof(msg), "%s: set twice", name);
		goto fail;
	}
	p->seen[i] = 1;
	if (set_opt(p->cfg, &opts[i], value, msg) == 0)
		return 1;
 fail:
	if (p->msg[0] == '\0') {
		memcpy(p->msg, msg, sizeof(msg));
		p->msg_line = p->line;
	}
	return 0;
}

/* fgets-style reader for ini_parse_stream that counts lines. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *r = fgets(str, num, p->fp);

	if (r != NULL)
		p->line++;
	return r;
}

static int
open_checked(const char *path, FILE **fp, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return TALLY_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return TALLY_ERR_IO;
	}
	if (st.st_size > (off_t)CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes, refused", path, CONFIG_FILE_MAX);
		close(fd);
		return TALLY_ERR_TOO_LARGE;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen, "%s: writable by others (mode %04o), refused",
		    path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return TALLY_ERR_PERM;
	}
	if ((*fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return TALLY_ERR_IO;
	}
	return 0;
}

int
config_load(const char *path, struct tallyd_config *cfg, char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg };
	FILE *fp = NULL;
	size_t i;
	int r, line;

	defaults(cfg);
	if ((r = open_checked(path, &fp, err, errlen)) != 0)
		goto out;
	p.fp = fp;
	line = ini_parse_stream(reader, &p, handler, &p);
	r = TALLY_ERR_INVALID;
	if (line > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
		    p.msg_line == line ? p.msg : "syntax error");
		goto out;
	}
	if (line < 0) {
		snprintf(err, errlen, "%s: cannot read", path);
		goto out;
	}
	for (i = 0; i < NOPTS; i++) {
		if (opts[i].required && !p.seen[i]) {
			snprintf(err, errlen, "%s: required key \"%s\" missing", path, opts[i].name);
			goto out;
		}
	}
	r = 0;
 out:
	if (fp != NULL)
		fclose(fp);
	return r;
}
