/* cmd_identity.c - tallyctl identity: the appliance public key, its key ID
 * and checkpoint origin; the PEM is what the OEM needs for quota create. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include "ctl.h"
#include "err.h"
#include "key.h"

/* PEM "PUBLIC KEY" of key, NUL-terminated, in a new buffer (free()). */
static char *
pem_of(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long n;

	if (b == NULL || PEM_write_bio_PUBKEY(b, key) != 1)
		goto out;
	if ((n = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	pem = strndup(data, (size_t)n);
 out:
	BIO_free(b);
	return pem;
}

static int
identity_print(const struct ctl_cmd *self, const Tally__IdentityResponse *id,
    const char *pem, int json)
{
	char hex[65];

	if (json)
		return ctl_json_print(self, json_pack("{s:o, s:s, s:s}",
		    "key_id", ctl_json_hex(id->key_id.data, id->key_id.len),
		    "origin", id->origin, "public_key_pem", pem));
	printf("key ID: %s\norigin: %s\n%s", ctl_hex(id->key_id.data, 32, hex),
	    id->origin, pem);
	return CTL_EXIT_OK;
}

static int
identity_show(const struct ctl_cmd *self, const Tally__IdentityResponse *id,
    const char *out, int json)
{
	EVP_PKEY *key = NULL;
	uint8_t kid[TALLY_KEY_ID_LEN];
	char *pem = NULL;
	int r, ex = CTL_EXIT_USAGE;

	if (id->key_id.len != TALLY_KEY_ID_LEN ||
	    (r = tally_key_from_spki(id->public_key.data, id->public_key.len, &key)) != 0) {
		ctl_errx(self, "tallyd sent a malformed public key");
		goto out;
	}
	tally_key_id_spki(id->public_key.data, id->public_key.len, kid);
	if (memcmp(kid, id->key_id.data, sizeof(kid)) != 0) {
		ctl_errx(self, "tallyd's key ID does not match its public key");
		ex = CTL_EXIT_REFUSED;
		goto out;
	}
	if ((pem = pem_of(key)) == NULL) {
		ctl_errx(self, "cannot encode the public key as PEM");
		goto out;
	}
	if (out != NULL && (r = tally_key_write_public(key, out)) != 0) {
		ctl_errx(self, "write %s: %s", out, r == TALLY_ERR_IO ?
		    strerror(errno) : tally_strerror(r));
		goto out;
	}
	ex = identity_print(self, id, pem, json);
 out:
	free(pem);
	EVP_PKEY_free(key);
	return ex;
}

static int
identity_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__IdentityRequest body = TALLY__IDENTITY_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	const char *out = NULL;
	int ch, ex, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'j': json = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	req.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	req.identity = &body;
	if ((ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_IDENTITY, &resp)) != 0)
		return ex;
	ex = identity_show(self, resp->identity, out, json);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

const struct ctl_cmd ctl_cmd_identity = {
	{
		"identity", NULL, "[--out FILE] [--json]",
		"Show the appliance key ID, checkpoint origin and public key (PEM).",
		"  -o, --out FILE    also write the public key PEM to FILE (for the OEM)\n"
		"  --json            print as JSON\n",
	},
	identity_exec,
};
