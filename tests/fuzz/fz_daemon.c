/* fz_daemon.c - the tallyd context of the request fuzz targets; see
 * fz_daemon.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "err.h"
#include "daemon/evframe.h"
#include "frame.h"
#include "key.h"
#include "daemon/control.h"
#include "daemon/session.h"
#include "tests/fuzz/fz_daemon.h"

/* The one context of this process, for the atexit teardown. */
static struct fz_daemon *fz_current;

static void
teardown(void)
{
	struct fz_daemon *z = fz_current;

	if (z == NULL)
		return;
	fz_current = NULL;
	control_stop(z->d.control);
	session_table_free(&z->d);
	OPENSSL_free(z->d.spki);
	fx_teardown(&z->fx);
}

int
fz_daemon_init(struct fz_daemon *z)
{
	memset(z, 0, sizeof(*z));
	if (fx_setup(&z->fx, 64u << 20) != 0)
		return -1;
	z->cfg.max_connections = 16;
	z->cfg.max_in_flight = 4;
	z->cfg.idle_timeout = 60;
	z->cfg.challenge_ttl = 60;
	z->cfg.map_size_mb = 64;
	snprintf(z->cfg.listen, sizeof(z->cfg.listen), "127.0.0.1:0");
	snprintf(z->cfg.data_dir, sizeof(z->cfg.data_dir), "%s", z->fx.dir);
	snprintf(z->cfg.control_socket, sizeof(z->cfg.control_socket), "%s/ctl.sock",
	    z->fx.dir);
	snprintf(z->cfg.control_group, sizeof(z->cfg.control_group), "fuzz");
	z->d.base = z->fx.base;
	z->d.cfg = &z->cfg;
	z->d.store = z->fx.st;
	z->d.writer = z->fx.w;
	z->d.key = z->fx.key;
	z->d.oem_root = z->fx.oem;
	memcpy(z->d.key_id, z->fx.key_id, sizeof(z->d.key_id));
	snprintf(z->d.listen_addr, sizeof(z->d.listen_addr), "127.0.0.1:7700");
	z->d.control_gid = getegid();
	if (tally_key_spki(z->fx.key, &z->d.spki, &z->d.spki_len) != 0 ||
	    session_table_init(&z->d.sessions, z->cfg.max_connections) != 0)
		return -1;
	fz_current = z;
	atexit(teardown);
	return 0;
}

size_t
fz_replies(struct evbuffer *out, const ProtobufCMessageDescriptor *desc)
{
	const uint8_t *body;
	ProtobufCMessage *m;
	size_t len, n = 0;
	int r;

	while ((r = evframe_peek(out, &body, &len)) == 0) {
		if ((m = protobuf_c_message_unpack(desc, NULL, len, body)) == NULL) {
			fprintf(stderr, "fuzz: a reply frame of %zu bytes is not a %s\n",
			    len, desc->name);
			abort();
		}
		protobuf_c_message_free_unpacked(m, NULL);
		if (evbuffer_drain(out, TALLY_FRAME_HDR + len) != 0)
			abort();
		n++;
	}
	if (r != TALLY_ERR_AGAIN) {
		fprintf(stderr, "fuzz: a reply frame is malformed (%d)\n", r);
		abort();
	}
	return n;
}
