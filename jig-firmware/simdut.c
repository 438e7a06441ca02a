/* simdut.c - a simulated DUT behind the transport interface, see simdut.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "simdut.h"
#include "util.h"

struct simdut {
	uint8_t uid[TALLY_UID_MAX];
	size_t uid_len;
	char product[TALLY_PRODUCT_MAX + 1];
	EVP_PKEY *oem_root;
	enum jig_dut_state state;
	int have_token;
	uint8_t fw_digest[TALLY_DIGEST_LEN];  /* from the accepted token */
	uint64_t token_index;
};

static int
printable(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

int
simdut_new(const uint8_t *uid, size_t uid_len, const char *product,
    EVP_PKEY *oem_root, struct simdut **out)
{
	struct simdut *d;

	if (product == NULL)
		product = "";
	if (uid == NULL || uid_len == 0 || uid_len > TALLY_UID_MAX ||
	    oem_root == NULL || !printable(product, TALLY_PRODUCT_MAX))
		return TALLY_ERR_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return TALLY_ERR_NOMEM;
	if (EVP_PKEY_up_ref(oem_root) != 1) {
		free(d);
		return TALLY_ERR_CRYPTO;
	}
	memcpy(d->uid, uid, uid_len);
	d->uid_len = uid_len;
	snprintf(d->product, sizeof(d->product), "%s", product);
	d->oem_root = oem_root;
	d->state = JIG_DUT_BLANK;
	*out = d;
	return 0;
}

void
simdut_free(struct simdut *d)
{
	if (d == NULL)
		return;
	EVP_PKEY_free(d->oem_root);
	free(d);
}

enum jig_dut_state
simdut_state(const struct simdut *d)
{
	return d->state;
}

uint64_t
simdut_token_index(const struct simdut *d)
{
	return d->have_token ? d->token_index : 0;
}

static int
sim_read_identity(void *ctx, struct jig_dut_identity *id)
{
	struct simdut *d = ctx;

	memset(id, 0, sizeof(*id));
	memcpy(id->uid, d->uid, d->uid_len);
	id->uid_len = d->uid_len;
	snprintf(id->product, sizeof(id->product), "%s", d->product);
	id->state = d->state;
	return 0;
}

static enum jig_dut_verdict
verdict_of(int err)
{
	switch (err) {
	case TALLY_ERR_SIGNATURE:	return JIG_DUT_BAD_SIGNATURE;
	case TALLY_ERR_MISMATCH:	return JIG_DUT_WRONG_DEVICE;
	case TALLY_ERR_EXPIRED:		return JIG_DUT_EXPIRED;
	default:			return JIG_DUT_MALFORMED;
	}
}

static int
sim_write_bundle(void *ctx, const uint8_t *bundle, size_t len,
    enum jig_dut_verdict *verdict)
{
	struct simdut *d = ctx;
	Tally__Token *tok = NULL;
	int r;

	if (len > TALLY_FRAME_MAX)
		return TALLY_ERR_TOO_LARGE;
	/* Whatever was accepted before is forgotten: a new bundle replaces it. */
	d->have_token = 0;
	r = tally_bundle_verify(bundle, len, d->oem_root, d->uid, d->uid_len,
	    NULL, tally_now(), &tok);
	if (r == TALLY_ERR_NOMEM)
		return r;
	if (r != 0) {
		log_debug("simulated DUT refused the bundle: %s", tally_strerror(r));
		d->state = JIG_DUT_REJECTED;
		*verdict = verdict_of(r);
		return 0;
	}
	memcpy(d->fw_digest, tok->firmware_digest.data, TALLY_DIGEST_LEN);
	d->token_index = tok->log_index;
	d->have_token = 1;
	d->state = JIG_DUT_TOKEN_ACCEPTED;
	*verdict = JIG_DUT_OK;
	tally__token__free_unpacked(tok, NULL);
	return 0;
}

static int
sim_download_firmware(void *ctx, const uint8_t *image, size_t len,
    enum jig_dut_verdict *verdict)
{
	struct simdut *d = ctx;
	uint8_t md[TALLY_DIGEST_LEN];
	unsigned int mdlen = 0;

	if (!d->have_token) {
		*verdict = JIG_DUT_NO_TOKEN;
		return 0;
	}
	if (EVP_Digest(image, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return TALLY_ERR_CRYPTO;
	if (CRYPTO_memcmp(md, d->fw_digest, sizeof(md)) != 0) {
		d->state = JIG_DUT_REJECTED;
		*verdict = JIG_DUT_WRONG_FIRMWARE;
		return 0;
	}
	d->state = JIG_DUT_PROGRAMMED;
	*verdict = JIG_DUT_OK;
	return 0;
}

static int
sim_read_state(void *ctx, enum jig_dut_state *state)
{
	*state = ((struct simdut *)ctx)->state;
	return 0;
}

static void
sim_close(void *ctx)
{
	simdut_free(ctx);
}

static const struct jig_dut_ops sim_ops = {
	.name = "simulated",
	.read_identity = sim_read_identity,
	.attest = NULL,
	.write_bundle = sim_write_bundle,
	.download_firmware = sim_download_firmware,
	.read_state = sim_read_state,
	.close = sim_close,
};

void
simdut_transport(struct simdut *d, struct jig_dut *dut)
{
	dut->ops = &sim_ops;
	dut->ctx = d;
}

/* The simulated batch. */
struct sim_source {
	char prefix[TALLY_UID_MAX + 1];
	char product[TALLY_PRODUCT_MAX + 1];
	EVP_PKEY *oem_root;
	unsigned count, next;
};

int
simdut_uid_name(const char *prefix, unsigned index, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s-%04u", prefix, index);

	if (n < 0 || (size_t)n >= cap)
		return TALLY_ERR_TOO_LARGE;
	return n;
}

static int
source_next(void *ctx, struct jig_dut *dut)
{
	struct sim_source *s = ctx;
	struct simdut *d = NULL;
	char uid[TALLY_UID_MAX + 1];
	int n, r;

	if (s->next >= s->count)
		return TALLY_ERR_NOT_FOUND;
	if ((n = simdut_uid_name(s->prefix, s->next + 1, uid, sizeof(uid))) < 0)
		return n;
	if ((r = simdut_new((const uint8_t *)uid, (size_t)n, s->product,
	    s->oem_root, &d)) != 0)
		return r;
	s->next++;
	simdut_transport(d, dut);
	return 0;
}

static void
source_close(void *ctx)
{
	struct sim_source *s = ctx;

	if (s == NULL)
		return;
	EVP_PKEY_free(s->oem_root);
	free(s);
}

int
simdut_source(const char *prefix, unsigned count, const char *product,
    EVP_PKEY *oem_root, struct jig_dut_source *src)
{
	struct sim_source *s;

	if (product == NULL)
		product = "";
	if (prefix == NULL || prefix[0] == '\0' ||
	    !printable(prefix, TALLY_UID_MAX - 10) ||
	    !printable(product, TALLY_PRODUCT_MAX) || oem_root == NULL ||
	    count > 1000000)
		return TALLY_ERR_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return TALLY_ERR_NOMEM;
	if (EVP_PKEY_up_ref(oem_root) != 1) {
		free(s);
		return TALLY_ERR_CRYPTO;
	}
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	snprintf(s->product, sizeof(s->product), "%s", product);
	s->oem_root = oem_root;
	s->count = count;
	src->next = source_next;
	src->close = source_close;
	src->ctx = s;
	return 0;
}
