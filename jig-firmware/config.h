/*
 * config.h - the jig's configuration file (INI, read with libinih).
 *
 *   [jig]
 *   appliance = HOST:PORT         appliance address; IPv6 as [ADDR]:PORT
 *   appliance_key_id = HEX        64 hex digits: SHA-256 of the appliance's
 *                                 SPKI, pinned on every TLS connection
 *   certificate = PATH            the jig's client certificate (PEM)
 *   key = URI                     the jig's private key (tally_key_load URI)
 *   oem_root = PATH               OEM root public key (PEM), for simulated DUTs
 *   product = NAME                product to program (1..64 printable ASCII)
 *   quota_id = HEX                optional, 32 hex digits: issue from this quota
 *   firmware = PATH               the firmware image the DUTs receive
 *   timeout = SECONDS             optional, 1..600, default 10: per send/receive
 *   reconnect_attempts = N        optional, 0..100, default 5
 *   [usb]                         optional; DUTs on USB (the default backend)
 *   vid = HEX                     USB vendor ID, 1..4 hex digits (optional
 *                                 0x), default TDP_VID_DEFAULT (1209)
 *   pid = HEX                     USB product ID, default TDP_PID_DEFAULT (7a11)
 *   slots = N                     DUTs programmed at once, 1..16, default 4
 *   transfer_timeout_ms = MS      per USB transfer, 10..60000, default 2000
 *   [simulate]                    in-process simulated DUTs instead of USB
 *   duts = N                      simulated DUTs for `run` (0..1000000)
 *   uid_prefix = STR              UIDs are STR-0001, STR-0002, ...
 *
 * Without [simulate] the DUTs are found on USB ([usb] or its defaults);
 * [usb] and [simulate] together are an error.
 * Comments start with ';' or '#'. Every key may appear once; unknown
 * sections or keys are errors. Paths are used as written (relative ones
 * from the working directory). This module checks text only; the files
 * named are opened by the caller (setup.c).
 */
#ifndef JIG_CONFIG_H
#define JIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "artifact.h"
#include "key.h"

#define JIG_PATH_MAX 1024
#define JIG_HOST_MAX 255
#define JIG_ERRMSG_MAX 512
#define JIG_TIMEOUT_DEFAULT 10
#define JIG_RECONNECT_DEFAULT 5
#define JIG_SLOTS_DEFAULT 4
#define JIG_SLOTS_MAX 16
#define JIG_TRANSFER_TIMEOUT_DEFAULT 2000  /* ms */
#define JIG_TRANSFER_TIMEOUT_MIN 10        /* ms */
#define JIG_TRANSFER_TIMEOUT_MAX 60000     /* ms */

struct jig_config {
	char host[JIG_HOST_MAX + 1];      /* name or address, brackets removed */
	uint16_t port;                    /* 1..65535 */
	uint8_t appliance_key_id[TALLY_KEY_ID_LEN];
	char certificate[JIG_PATH_MAX];
	char key[JIG_PATH_MAX];
	char oem_root[JIG_PATH_MAX];      /* "" when absent */
	char product[TALLY_PRODUCT_MAX + 1];
	uint8_t quota_id[TALLY_QUOTA_ID_LEN];
	int have_quota_id;
	char firmware[JIG_PATH_MAX];
	unsigned timeout_s;               /* seconds */
	unsigned reconnect_attempts;
	int have_usb;                     /* a [usb] section was given */
	uint16_t usb_vid, usb_pid;
	unsigned usb_slots;               /* 1..JIG_SLOTS_MAX */
	unsigned usb_timeout_ms;          /* per transfer */
	int have_simulate;                /* a [simulate] section was given */
	unsigned sim_duts;
	char sim_uid_prefix[TALLY_UID_MAX - 10 + 1];
};

/* Parses the configuration file at path into *cfg (cleared first, then
 * the defaults). Required: appliance, appliance_key_id, certificate, key,
 * product, firmware; with [simulate], also oem_root, duts and uid_prefix.
 * On error, errmsg (cap bytes) receives one line naming the file and, for
 * a bad line, its number: "PATH:LINE: appliance: port must be 1..65535".
 * Errors: TALLY_ERR_IO (cannot open or read path), TALLY_ERR_INVALID
 * (syntax, bad value, unknown or repeated key, missing key, [usb] with
 * [simulate]),
 * TALLY_ERR_TOO_LARGE (a line longer than 199 bytes). */
int jig_config_load(const char *path, struct jig_config *cfg,
    char *errmsg, size_t cap);

/* Splits "HOST:PORT" or "[V6ADDR]:PORT" into host (cap bytes) and *port.
 * Returns 0 or TALLY_ERR_INVALID. */
int jig_config_parse_hostport(const char *s, char *host, size_t cap,
    uint16_t *port);

#endif
