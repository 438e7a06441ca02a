/* dutrecord.c - the DUT protocol's records as the host reads them, see
 * dutrecord.h. */
#include <string.h>
#include "attest.h"
#include "dutproto.h"
#include "dutrecord.h"
#include "err.h"

int
dutrec_printable(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

int
dutrec_printable_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n <= max && dutrec_printable((const uint8_t *)s, n);
}

/* version(1) | state(1) | flags(1) | uid_len(1) | uid | product_len(1) | product */
int
dutrec_identity(const uint8_t *b, size_t n, struct jig_dut_identity *id,
    uint8_t *flags)
{
	size_t ul, pl;

	if (n < 5 || b[0] != TDP_VERSION || b[1] > JIG_DUT_REJECTED)
		return TALLY_ERR_INVALID;
	ul = b[3];
	if (ul < 1 || ul > TALLY_UID_MAX || n < 5 + ul)
		return TALLY_ERR_INVALID;
	pl = b[4 + ul];
	if (pl > JIG_DUT_PRODUCT_MAX || n != 5 + ul + pl ||
	    !dutrec_printable(b + 5 + ul, pl))
		return TALLY_ERR_INVALID;
	memset(id, 0, sizeof(*id));
	id->state = (enum jig_dut_state)b[1];
	memcpy(id->uid, b + 4, ul);
	id->uid_len = ul;
	memcpy(id->product, b + 5 + ul, pl);
	id->product[pl] = '\0';
	*flags = b[2];
	return 0;
}

int
dutrec_attestation(const uint8_t *b, size_t n, uint8_t *out, size_t cap,
    size_t *len)
{
	struct tally_attestation a;

	if (tally_attestation_parse(b, n, &a) != 0)
		return TALLY_ERR_INVALID;
	if (n > cap)
		return TALLY_ERR_TOO_LARGE;
	memcpy(out, b, n);
	*len = n;
	return 0;
}

/* verdict(1) | state(1) | version(1) | reserved(1) */
int
dutrec_status(const uint8_t *b, size_t n, enum jig_dut_verdict *v,
    enum jig_dut_state *st)
{
	if (n != TDP_STATUS_LEN || b[0] > JIG_DUT_FLASH_ERROR ||
	    b[1] > JIG_DUT_REJECTED || b[2] != TDP_VERSION)
		return TALLY_ERR_INVALID;
	if (v != NULL)
		*v = (enum jig_dut_verdict)b[0];
	if (st != NULL)
		*st = (enum jig_dut_state)b[1];
	return 0;
}

/* bStatus(1) | bwPollTimeout(3, LE) | bState(1) | iString(1) */
int
dutrec_dfu_status(const uint8_t *b, size_t n, struct dutrec_dfu_status *s)
{
	if (n != TDP_DFU_STATUS_LEN || b[0] > TDP_DFU_ERR_STALLEDPKT ||
	    b[4] > TDP_DFU_ERROR)
		return TALLY_ERR_INVALID;
	s->status = b[0];
	s->poll_ms = (unsigned)b[1] | (unsigned)b[2] << 8 | (unsigned)b[3] << 16;
	s->state = b[4];
	return 0;
}

int
dutrec_dfu_error(uint8_t bstatus, enum jig_dut_verdict *v)
{
	switch (bstatus) {
	case TDP_DFU_ERR_FILE:
		*v = JIG_DUT_WRONG_FIRMWARE;
		return 0;
	case TDP_DFU_ERR_VENDOR:
		*v = JIG_DUT_NO_TOKEN;
		return 0;
	case TDP_DFU_ERR_WRITE:
	case TDP_DFU_ERR_ERASE:
	case TDP_DFU_ERR_CHECK_ERASED:
	case TDP_DFU_ERR_PROG:
	case TDP_DFU_ERR_VERIFY:
		*v = JIG_DUT_FLASH_ERROR;
		return 0;
	case TDP_DFU_ERR_ADDRESS:
		return TALLY_ERR_TOO_LARGE;
	default:
		return TALLY_ERR_IO;
	}
}
