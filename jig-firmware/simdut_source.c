/* simdut_source.c - a batch of simulated DUTs as a DUT source (the
 * [simulate] section of tally-jig), see simdut.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "artifact.h"
#include "dutrecord.h"
#include "err.h"
#include "simdut.h"

struct sim_source {
	char prefix[TALLY_UID_MAX + 1];
	char product[TALLY_PRODUCT_MAX + 1];
	EVP_PKEY *oem_root;
	struct simdut_options opts;     /* attestation_key: own reference */
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
	if ((r = simdut_new_ex((const uint8_t *)uid, (size_t)n, s->product,
	    s->oem_root, &s->opts, &d)) != 0)
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
	EVP_PKEY_free(s->opts.attestation_key);
	free(s);
}

int
simdut_source_ex(const char *prefix, unsigned count, const char *product,
    EVP_PKEY *oem_root, const struct simdut_options *o,
    struct jig_dut_source *src)
{
	struct sim_source *s;

	if (product == NULL)
		product = "";
	if (prefix == NULL || prefix[0] == '\0' ||
	    !dutrec_printable_text(prefix, TALLY_UID_MAX - 10) ||
	    !dutrec_printable_text(product, TALLY_PRODUCT_MAX) || oem_root == NULL ||
	    count > 1000000)
		return TALLY_ERR_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return TALLY_ERR_NOMEM;
	if (o != NULL)
		s->opts = *o;
	if (EVP_PKEY_up_ref(oem_root) != 1 || (s->opts.attestation_key != NULL &&
	    EVP_PKEY_up_ref(s->opts.attestation_key) != 1)) {
		free(s);        /* up_ref only fails on a broken lock: nothing to drop */
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

int
simdut_source(const char *prefix, unsigned count, const char *product,
    EVP_PKEY *oem_root, struct jig_dut_source *src)
{
	return simdut_source_ex(prefix, count, product, oem_root, NULL, src);
}
