/*
 * config.h - tallyd configuration file: INI (libinih), one section [tallyd].
 * See fixtures/tallyd.conf.example for every key with its default.
 */
#ifndef TALLYD_CONFIG_H
#define TALLYD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "key.h"

#define CONFIG_STR_MAX 192  /* longest value accepted (inih reads lines of < 200 bytes) */

struct tallyd_config {
	char listen[CONFIG_STR_MAX];         /* "host:port", "[v6]:port"; port 0 = ephemeral */
	char data_dir[CONFIG_STR_MAX];       /* LMDB folder, created 0700 when absent */
	char key[CONFIG_STR_MAX];            /* appliance key URI (key.h) */
	enum tally_key_type key_type;        /* type of a key generated on first start */
	char oem_root[CONFIG_STR_MAX];       /* OEM root public key, PEM path or URI */
	char jig_ca[CONFIG_STR_MAX];         /* PEM CA bundle jig certificates chain to */
	char control_socket[CONFIG_STR_MAX]; /* UNIX socket path (< 108 bytes) */
	char control_group[CONFIG_STR_MAX];  /* group of the socket and of allowed peers */
	uint64_t map_size_mb;                /* LMDB map size, MiB, 1..1048576 */
	uint32_t max_connections;            /* jig connections, 1..65536 */
	uint32_t max_in_flight;              /* queued requests per jig connection, 1..4096 */
	uint32_t idle_timeout;               /* seconds without a byte from a jig, 1..86400 */
	uint32_t challenge_ttl;              /* seconds a challenge nonce lives, 1..3600 */
	uint32_t checkpoint_interval;        /* seconds between timed checkpoints, 0..86400;
	                                        0 = no timer (default 300) */
	uint32_t frame_timeout;              /* seconds a jig may take to send one frame once
	                                        its first byte came, 1..3600 (default 10) */
	uint32_t handshake_timeout;          /* seconds from accept to a finished TLS
	                                        handshake, 1..3600 (default 10) */
	uint32_t rate_limit;                 /* requests per second per jig key ID, over all
	                                        its connections, 0..1000000; 0 = no limit
	                                        (default 200) */
	uint32_t rate_burst;                 /* requests a jig may send at once before
	                                        rate_limit applies, 1..1000000 (default 400) */
};

#define CONFIG_FILE_MAX (64u * 1024)  /* largest configuration file, bytes */

/* Fills cfg with the defaults, then reads path. Refuses a file that is not
 * a regular file or is writable by others. Every key must belong to section
 * [tallyd]; unknown keys, values out of range and missing required keys
 * (oem_root, jig_ca) are errors. On error returns TALLY_ERR_IO (cannot
 * open/stat), TALLY_ERR_TOO_LARGE (over CONFIG_FILE_MAX), TALLY_ERR_PERM
 * (writable by others) or TALLY_ERR_INVALID,
 * and writes one line "FILE:LINE: what" (or "FILE: what") into err
 * (errlen bytes). */
int config_load(const char *path, struct tallyd_config *cfg, char *err, size_t errlen);

/* Parses a listen address "a.b.c.d:PORT" or "[v6]:PORT" (numeric hosts
 * only, PORT 0..65535, 0 = ephemeral) into *ss and *len.
 * Returns 0 or TALLY_ERR_INVALID. */
int config_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif
