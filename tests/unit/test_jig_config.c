/* test_jig_config.c - tally-jig's configuration file (jig-firmware/config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "jig-firmware/config.h"
#include "jig-firmware/dutproto.h"
#include "err.h"

#define KEYID "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tally-jigcfg-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/jig.conf", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Loads text; returns the result and leaves the message in msg. */
static int
load_text(struct fx *f, const char *text, struct jig_config *cfg, char *msg,
    size_t cap)
{
	write_text(f->path, text);
	msg[0] = '\0';
	return jig_config_load(f->path, cfg, msg, cap);
}

static const char *valid =
    "; a jig on line 3\n"
    "[jig]\n"
    "appliance = 127.0.0.1:7700\n"
    "appliance_key_id = " KEYID "\n"
    "certificate = /etc/tally/jig.crt\n"
    "key = /etc/tally/jig.key\n"
    "oem_root = /etc/tally/oem.pub\n"
    "product = widget-pro\n"
    "quota_id = 0f0e0d0c0b0a09080706050403020100\n"
    "firmware = /srv/fw/widget.bin\n"
    "timeout = 7\n"
    "\n"
    "[simulate]\n"
    "duts = 30\n"
    "uid_prefix = JIG1\n";

static void
test_valid(void **state)
{
	struct fx *f = *state;
	struct jig_config cfg;
	char msg[JIG_ERRMSG_MAX];

	assert_int_equal(load_text(f, valid, &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(cfg.host, "127.0.0.1");
	assert_int_equal(cfg.port, 7700);
	assert_int_equal(cfg.appliance_key_id[0], 0x00);
	assert_int_equal(cfg.appliance_key_id[1], 0x11);
	assert_int_equal(cfg.appliance_key_id[31], 0xff);
	assert_string_equal(cfg.certificate, "/etc/tally/jig.crt");
	assert_string_equal(cfg.key, "/etc/tally/jig.key");
	assert_string_equal(cfg.oem_root, "/etc/tally/oem.pub");
	assert_string_equal(cfg.product, "widget-pro");
	assert_int_equal(cfg.have_quota_id, 1);
	assert_int_equal(cfg.quota_id[0], 0x0f);
	assert_int_equal(cfg.quota_id[15], 0x00);
	assert_string_equal(cfg.firmware, "/srv/fw/widget.bin");
	assert_int_equal(cfg.timeout_s, 7);
	assert_int_equal(cfg.reconnect_attempts, JIG_RECONNECT_DEFAULT);
	assert_int_equal(cfg.have_simulate, 1);
	assert_int_equal(cfg.sim_duts, 30);
	assert_string_equal(cfg.sim_uid_prefix, "JIG1");
}

static void
test_minimal_and_ipv6(void **state)
{
	struct fx *f = *state;
	struct jig_config cfg;
	char msg[JIG_ERRMSG_MAX];

	assert_int_equal(load_text(f,
	    "[jig]\nappliance = [::1]:443\nappliance_key_id = " KEYID "\n"
	    "certificate = c.pem\nkey = file:k.pem\nproduct = p\nfirmware = fw\n",
	    &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(cfg.host, "::1");
	assert_int_equal(cfg.port, 443);
	assert_int_equal(cfg.have_quota_id, 0);
	assert_int_equal(cfg.have_simulate, 0);
	assert_int_equal(cfg.timeout_s, JIG_TIMEOUT_DEFAULT);
	/* No [usb]: the USB backend with its defaults. */
	assert_int_equal(cfg.have_usb, 0);
	assert_int_equal(cfg.usb_vid, TDP_VID_DEFAULT);
	assert_int_equal(cfg.usb_pid, TDP_PID_DEFAULT);
	assert_int_equal(cfg.usb_slots, JIG_SLOTS_DEFAULT);
	assert_int_equal(cfg.usb_timeout_ms, JIG_TRANSFER_TIMEOUT_DEFAULT);
}

#define USB_JIG "[jig]\nappliance = h:1\nappliance_key_id = " KEYID "\n" \
    "certificate = c\nkey = k\nfirmware = fw\nproduct = p\n"

static void
test_usb(void **state)
{
	struct fx *f = *state;
	struct jig_config cfg;
	char msg[JIG_ERRMSG_MAX];

	assert_int_equal(load_text(f, USB_JIG "[usb]\nvid = 0x0483\n"
	    "pid = DF11\nslots = 16\ntransfer_timeout_ms = 250\n", &cfg, msg,
	    sizeof(msg)), 0);
	assert_int_equal(cfg.have_usb, 1);
	assert_int_equal(cfg.have_simulate, 0);
	assert_int_equal(cfg.usb_vid, 0x0483);
	assert_int_equal(cfg.usb_pid, 0xdf11);
	assert_int_equal(cfg.usb_slots, 16);
	assert_int_equal(cfg.usb_timeout_ms, 250);
	/* Some keys only: the others keep their defaults; 1 digit is an ID. */
	assert_int_equal(load_text(f, USB_JIG "[usb]\nvid = 1\nslots = 1\n",
	    &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.usb_vid, 1);
	assert_int_equal(cfg.usb_pid, TDP_PID_DEFAULT);
	assert_int_equal(cfg.usb_slots, 1);
	assert_int_equal(cfg.usb_timeout_ms, JIG_TRANSFER_TIMEOUT_DEFAULT);
}

/* One bad [usb] line: TALLY_ERR_INVALID naming line 9 and the key. */
static void
expect_bad_usb(struct fx *f, const char *line, const char *word)
{
	struct jig_config cfg;
	char text[1024], msg[JIG_ERRMSG_MAX], want[256];

	snprintf(text, sizeof(text), USB_JIG "[usb]\n%s\n", line);
	assert_int_equal(load_text(f, text, &cfg, msg, sizeof(msg)),
	    TALLY_ERR_INVALID);
	snprintf(want, sizeof(want), "%s:9: ", f->path);
	if (strncmp(msg, want, strlen(want)) != 0 || strstr(msg, word) == NULL)
		fail_msg("'%s': message \"%s\" (want \"%s...%s\")", line, msg,
		    want, word);
	assert_int_equal(cfg.usb_vid, 0);   /* nothing half-filled */
}

static void
test_usb_bad(void **state)
{
	static const char *bad[][2] = {
		{ "vid = 12345", "vid" }, { "vid = 0", "vid" },
		{ "vid = 0x0000", "vid" }, { "vid = 0x", "vid" },
		{ "vid = ", "vid" }, { "vid = 12g4", "vid" },
		{ "vid = -123", "vid" }, { "pid = +7a1", "pid" },
		{ "pid = 0x 7a1", "pid" }, { "pid = 00x1", "pid" },
		{ "slots = 0", "slots" }, { "slots = 17", "slots" },
		{ "slots = 4.5", "slots" }, { "transfer_timeout_ms = 9", "transfer_timeout_ms" },
		{ "transfer_timeout_ms = 60001", "transfer_timeout_ms" },
		{ "transfer_timeout_ms = 2s", "transfer_timeout_ms" },
		{ "bus = 3", "unknown key 'bus' in section [usb]" },
		{ "duts = 3", "unknown key 'duts' in section [usb]" },
	};
	struct fx *f = *state;
	struct jig_config cfg;
	char msg[JIG_ERRMSG_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_usb(f, bad[i][0], bad[i][1]);
	assert_int_equal(load_text(f, USB_JIG "[usb]\nslots = 2\nslots = 3\n",
	    &cfg, msg, sizeof(msg)), TALLY_ERR_INVALID);
	assert_non_null(strstr(msg, "slots: given more than once"));
	/* USB and simulated DUTs exclude each other, in either order. */
	assert_int_equal(load_text(f, USB_JIG "oem_root = o\n[usb]\nslots = 2\n"
	    "[simulate]\nduts = 3\nuid_prefix = X\n", &cfg, msg, sizeof(msg)),
	    TALLY_ERR_INVALID);
	assert_non_null(strstr(msg, ":12: [usb] and [simulate] exclude each other"));
	assert_int_equal(load_text(f, USB_JIG "oem_root = o\n[simulate]\nduts = 3\n"
	    "uid_prefix = X\n[usb]\nvid = 1209\n", &cfg, msg, sizeof(msg)),
	    TALLY_ERR_INVALID);
	assert_non_null(strstr(msg, ":13: [usb] and [simulate] exclude each other"));
}

static void
test_hostport(void **state)
{
	static const char *bad[] = {
		"127.0.0.1", "127.0.0.1:", ":7700", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:77a", "::1:7700", "[::1]7700",
		"[::1:7700", "host name:7700", "127.0.0.1:-1", "[]:7700",
		"127.0.0.1:+80",
	};
	char host[JIG_HOST_MAX + 1];
	uint16_t port;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(jig_config_parse_hostport(bad[i], host,
		    sizeof(host), &port), TALLY_ERR_INVALID);
	assert_int_equal(jig_config_parse_hostport("appliance.local:65535",
	    host, sizeof(host), &port), 0);
	assert_string_equal(host, "appliance.local");
	assert_int_equal(port, 65535);
}

/* Replaces line `line` (1-based) of the valid config with `with`, loads it
 * and checks the error and that "PATH:LINE:" starts the message. */
static void
expect_bad_line(struct fx *f, int line, const char *with, const char *word)
{
	char text[2048], prefix[256], msg[JIG_ERRMSG_MAX];
	const char *p = valid;
	struct jig_config cfg;
	size_t n = 0;
	int l = 1;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p) + 1;
		if (l == line)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\n", with);
		else
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%.*s",
			    (int)len, p);
		p += len;
		l++;
	}
	assert_int_equal(load_text(f, text, &cfg, msg, sizeof(msg)),
	    TALLY_ERR_INVALID);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
	if (strncmp(msg, prefix, strlen(prefix)) != 0 || strstr(msg, word) == NULL)
		fail_msg("line %d: message \"%s\" (want \"%s...%s\")", line, msg,
		    prefix, word);
	/* Nothing half-filled is left behind. */
	assert_int_equal(cfg.port, 0);
	assert_string_equal(cfg.host, "");
}

static void
test_bad_values(void **state)
{
	struct fx *f = *state;

	expect_bad_line(f, 3, "appliance = 127.0.0.1", "appliance");
	expect_bad_line(f, 3, "appliance = 127.0.0.1:99999", "appliance");
	expect_bad_line(f, 4, "appliance_key_id = 0011", "appliance_key_id");
	expect_bad_line(f, 4, "appliance_key_id = zz112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff", "appliance_key_id");
	expect_bad_line(f, 9, "quota_id = 0f0e0d0c0b0a0908070605040302010", "quota_id");
	expect_bad_line(f, 11, "timeout = 0", "timeout");
	expect_bad_line(f, 11, "timeout = 10s", "timeout");
	expect_bad_line(f, 14, "duts = -3", "duts");
	expect_bad_line(f, 14, "duts = 99999999999", "duts");
	expect_bad_line(f, 8, "product = ", "product");
	expect_bad_line(f, 8, "product = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaa", "product");
	expect_bad_line(f, 10, "colour = blue", "unknown key 'colour'");
	expect_bad_line(f, 10, "key = /again", "more than once");
	expect_bad_line(f, 12, "this line has no equals sign", "syntax");
}

static void
test_missing_keys(void **state)
{
	struct fx *f = *state;
	struct jig_config cfg;
	char msg[JIG_ERRMSG_MAX], want[256];

	/* No product: named, with the line where [jig] starts. */
	assert_int_equal(load_text(f,
	    "[jig]\nappliance = 127.0.0.1:1\nappliance_key_id = " KEYID "\n"
	    "certificate = c\nkey = k\nfirmware = fw\n", &cfg, msg, sizeof(msg)),
	    TALLY_ERR_INVALID);
	snprintf(want, sizeof(want), "%s:2: [jig] has no 'product'", f->path);
	assert_int_equal(strncmp(msg, want, strlen(want)), 0);

	/* [simulate] makes oem_root, duts and uid_prefix required. */
	assert_int_equal(load_text(f,
	    "[jig]\nappliance = h:1\nappliance_key_id = " KEYID "\n"
	    "certificate = c\nkey = k\nfirmware = fw\nproduct = p\n"
	    "oem_root = o\n[simulate]\nduts = 3\n", &cfg, msg, sizeof(msg)),
	    TALLY_ERR_INVALID);
	assert_non_null(strstr(msg, "[simulate] has no 'uid_prefix'"));
	assert_int_equal(strncmp(msg, f->path, strlen(f->path)), 0);

	/* An empty file. */
	assert_int_equal(load_text(f, "", &cfg, msg, sizeof(msg)), TALLY_ERR_INVALID);
	assert_non_null(strstr(msg, "has no 'appliance'"));
}

static void
test_long_line_and_missing_file(void **state)
{
	struct fx *f = *state;
	struct jig_config cfg;
	char text[512], msg[JIG_ERRMSG_MAX], want[256];

	snprintf(text, sizeof(text), "[jig]\ncertificate = /%0300d\n", 0);
	assert_int_equal(load_text(f, text, &cfg, msg, sizeof(msg)),
	    TALLY_ERR_TOO_LARGE);
	snprintf(want, sizeof(want), "%s:2: ", f->path);
	assert_int_equal(strncmp(msg, want, strlen(want)), 0);

	unlink(f->path);
	assert_int_equal(jig_config_load(f->path, &cfg, msg, sizeof(msg)),
	    TALLY_ERR_IO);
	assert_non_null(strstr(msg, "cannot open"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_and_ipv6, setup, teardown),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test_setup_teardown(test_usb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usb_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_and_missing_file,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
