/* cmd_keygen.c - tally-oem keygen --out PREFIX [--type p256|ed25519]:
 * a new OEM root key in PREFIX.key (0600) and PREFIX.pub. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include "err.h"
#include "key.h"
#include "oem.h"
#include "util.h"

static int
write_pair(const struct oem_cmd *self, EVP_PKEY *key, const char *prefix)
{
	char priv[PATH_MAX], pub[PATH_MAX];
	int r;

	if ((size_t)snprintf(priv, sizeof(priv), "%s.key", prefix) >= sizeof(priv) ||
	    (size_t)snprintf(pub, sizeof(pub), "%s.pub", prefix) >= sizeof(pub)) {
		oem_errx(self, "%s: path too long", prefix);
		return OEM_EXIT_USAGE;
	}
	if ((r = tally_key_write_private(key, priv)) != 0) {
		oem_errx(self, "%s: %s", priv, r == TALLY_ERR_EXISTS ?
		    "exists; refusing to overwrite a key" : r == TALLY_ERR_IO ?
		    strerror(errno) : tally_strerror(r));
		return OEM_EXIT_USAGE;
	}
	if ((r = tally_key_write_public(key, pub)) != 0) {
		oem_errx(self, "%s: %s", pub, r == TALLY_ERR_IO ? strerror(errno) :
		    tally_strerror(r));
		unlink(priv);
		return OEM_EXIT_USAGE;
	}
	return OEM_EXIT_OK;
}

static int
keygen_exec(const struct oem_cmd *self, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "type", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum tally_key_type type = TALLY_KEY_P256;
	const char *prefix = NULL;
	uint8_t id[TALLY_KEY_ID_LEN];
	char hex[2 * TALLY_KEY_ID_LEN + 1];
	EVP_PKEY *key = NULL;
	int ch, ex;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': prefix = optarg; break;
		case 't':
			if (strcmp(optarg, "p256") == 0)
				type = TALLY_KEY_P256;
			else if (strcmp(optarg, "ed25519") == 0)
				type = TALLY_KEY_ED25519;
			else {
				oem_errx(self, "--type %s: p256 or ed25519", optarg);
				return OEM_EXIT_USAGE;
			}
			break;
		case 'h': oem_usage(self, stdout); return OEM_EXIT_OK;
		default: oem_usage(self, stderr); return OEM_EXIT_USAGE;
		}
	}
	if (prefix == NULL || optind != argc) {
		oem_usage(self, stderr);
		return OEM_EXIT_USAGE;
	}
	if (tally_key_generate(type, &key) != 0 || tally_key_id(key, id) != 0) {
		oem_errx(self, "key generation failed");
		EVP_PKEY_free(key);
		return OEM_EXIT_USAGE;
	}
	tally_hex(id, sizeof(id), hex);
	if ((ex = write_pair(self, key, prefix)) == OEM_EXIT_OK)
		printf("key ID: %s\nprivate key: %s.key (keep it offline)\n"
		    "public key:  %s.pub\n", hex, prefix, prefix);
	EVP_PKEY_free(key);
	return ex;
}

const struct oem_cmd oem_cmd_keygen = {
	{
		"keygen", NULL, "--out PREFIX [--type p256|ed25519]",
		"Make a new OEM root key: PREFIX.key (mode 0600) and PREFIX.pub.",
		"  -o, --out PREFIX        where to write PREFIX.key and PREFIX.pub\n"
		"  -t, --type TYPE         p256 (default) or ed25519\n",
	},
	keygen_exec,
};
