/* verify.c - tallyctl's local checks of what tallyd sends: the appliance
 * key and its checkpoint notes (C2SP signed-note / tlog-checkpoint through
 * lib/checkpoint.h); see ctl.h. */
#include <errno.h>
#include <string.h>
#include "checkpoint.h"
#include "ctl.h"
#include "err.h"
#include "key.h"
#include "merkle.h"

_Static_assert(CTL_ORIGIN_MAX == TALLY_ORIGIN_MAX, "origin buffer size");

/* Origin of pub: from its key ID. */
static int
origin_of(const struct ctl_cmd *cmd, EVP_PKEY *pub, char *origin)
{
	uint8_t id[TALLY_KEY_ID_LEN];

	if (tally_key_id(pub, id) != 0) {
		ctl_errx(cmd, "cannot compute the appliance key ID");
		return CTL_EXIT_USAGE;
	}
	tally_checkpoint_origin(id, origin);
	return CTL_EXIT_OK;
}

/* The key of tallyd's identity answer, its key ID checked. */
static int
identity_key(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd, struct ctl_client *c,
    EVP_PKEY **pub)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__IdentityRequest idr = TALLY__IDENTITY_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	uint8_t kid[TALLY_KEY_ID_LEN];
	int ex;

	req.body_case = TALLY__CTL_REQUEST__BODY_IDENTITY;
	req.identity = &idr;
	if ((ex = ctl_call(ctx, cmd, c, &req, TALLY__CTL_RESPONSE__BODY_IDENTITY, &resp)) != 0)
		goto out;
	ex = CTL_EXIT_REFUSED;
	tally_key_id_spki(resp->identity->public_key.data, resp->identity->public_key.len, kid);
	if (resp->identity->key_id.len != sizeof(kid) ||
	    memcmp(kid, resp->identity->key_id.data, sizeof(kid)) != 0 ||
	    tally_key_from_spki(resp->identity->public_key.data,
	    resp->identity->public_key.len, pub) != 0) {
		ctl_errx(cmd, "tallyd sent a malformed appliance key, or one whose key ID "
		    "does not match");
		goto out;
	}
	ex = CTL_EXIT_OK;
 out:
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

int
ctl_appliance_key(const struct ctl_ctx *ctx, const struct ctl_cmd *cmd,
    struct ctl_client *c, const char *keyfile, EVP_PKEY **pub, char *origin)
{
	int r, ex;

	*pub = NULL;
	if (keyfile != NULL) {
		if ((r = tally_key_load_public(keyfile, pub)) != 0) {
			ctl_errx(cmd, "%s: %s", keyfile, r == TALLY_ERR_IO ?
			    strerror(errno) : tally_strerror(r));
			return CTL_EXIT_USAGE;
		}
	} else if ((ex = identity_key(ctx, cmd, c, pub)) != CTL_EXIT_OK) {
		return ex;
	}
	if ((ex = origin_of(cmd, *pub, origin)) != CTL_EXIT_OK) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
	}
	return ex;
}

int
ctl_check_note(const struct ctl_cmd *cmd, const char *what, const char *note,
    EVP_PKEY *pub, const char *origin, uint64_t size, const uint8_t *root, size_t root_len)
{
	uint8_t nroot[TALLY_HASH_LEN];
	uint64_t nsize;
	int r;

	if (note == NULL || note[0] == '\0') {
		ctl_errx(cmd, "NOT VERIFIED: the appliance signed no checkpoint of tree size "
		    "%llu; `tallyctl checkpoint` signs one of the current log",
		    (unsigned long long)size);
		return CTL_EXIT_REFUSED;
	}
	if ((r = tally_checkpoint_verify(note, strlen(note), pub, origin, &nsize, nroot)) != 0) {
		ctl_errx(cmd, "NOT VERIFIED: the %s is not signed by the appliance key: %s",
		    what, tally_strerror(r));
		return CTL_EXIT_REFUSED;
	}
	if (nsize != size || root_len != TALLY_HASH_LEN ||
	    memcmp(nroot, root, TALLY_HASH_LEN) != 0) {
		ctl_errx(cmd, "NOT VERIFIED: the %s (tree size %llu) does not match the root "
		    "of tree size %llu sent with it", what, (unsigned long long)nsize,
		    (unsigned long long)size);
		return CTL_EXIT_REFUSED;
	}
	return CTL_EXIT_OK;
}

int
ctl_proof_hashes(const ProtobufCBinaryData *h, size_t n, uint8_t (*out)[32])
{
	size_t i;

	if (n > TALLY_PROOF_MAX)
		return TALLY_ERR_INVALID;
	for (i = 0; i < n; i++) {
		if (h[i].len != TALLY_HASH_LEN)
			return TALLY_ERR_INVALID;
		memcpy(out[i], h[i].data, TALLY_HASH_LEN);
	}
	return 0;
}
