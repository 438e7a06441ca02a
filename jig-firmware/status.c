/* status.c - printing the appliance's Hello for `tally-jig status`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jansson.h>
#include "artifact.h"
#include "err.h"
#include "key.h"
#include "run.h"
#include "util.h"

static void
utc(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "%" PRId64, t);
}

static int
print_text(const Tally__HelloResponse *h, FILE *out)
{
	char id[2 * TALLY_KEY_ID_LEN + 1], q[2 * TALLY_QUOTA_ID_LEN + 1], when[32];
	size_t i;

	tally_hex(h->appliance_key_id.data, TALLY_KEY_ID_LEN, id);
	utc(h->time, when, sizeof(when));
	fprintf(out, "appliance %s, time %s\n", id, when);
	if (h->n_products == 0)
		fprintf(out, "no product has units left\n");
	for (i = 0; i < h->n_products; i++) {
		const Tally__ProductStatus *p = h->products[i];
		tally_hex(p->quota_id.data, TALLY_QUOTA_ID_LEN, q);
		utc(p->not_after, when, sizeof(when));
		fprintf(out, "product %s: quota %s, %" PRIu64 " of %" PRIu64
		    " units left, valid until %s, %zu firmware digest(s)\n",
		    p->product, q, p->units_remaining, p->units, when,
		    p->n_firmware_digests);
	}
	return ferror(out) ? TALLY_ERR_IO : 0;
}

static json_t *
hex_json(const uint8_t *b, size_t len)
{
	char buf[2 * 64 + 1];

	if (len > 64)
		return NULL;
	tally_hex(b, len, buf);
	return json_string(buf);
}

static json_t *
product_json(const Tally__ProductStatus *p)
{
	json_t *o, *fw;
	size_t i;

	if ((fw = json_array()) == NULL)
		return NULL;
	for (i = 0; i < p->n_firmware_digests; i++)
		json_array_append_new(fw, hex_json(p->firmware_digests[i].data,
		    p->firmware_digests[i].len));
	o = json_pack("{s:s, s:o, s:I, s:I, s:I, s:o}",
	    "product", p->product,
	    "quota_id", hex_json(p->quota_id.data, p->quota_id.len),
	    "units", (json_int_t)p->units,
	    "units_remaining", (json_int_t)p->units_remaining,
	    "not_after", (json_int_t)p->not_after,
	    "firmware_digests", fw);
	return o;
}

static int
print_json(const Tally__HelloResponse *h, FILE *out)
{
	json_t *root = NULL, *products;
	size_t i;
	int r = TALLY_ERR_NOMEM;

	if ((products = json_array()) == NULL)
		goto out;
	for (i = 0; i < h->n_products; i++)
		if (json_array_append_new(products, product_json(h->products[i])) != 0)
			goto out;
	root = json_pack("{s:o, s:I, s:o}",
	    "appliance_key_id", hex_json(h->appliance_key_id.data,
	    h->appliance_key_id.len),
	    "time", (json_int_t)h->time,
	    "products", products);
	products = NULL;
	if (root == NULL)
		goto out;
	r = json_dumpf(root, out, JSON_INDENT(2)) == 0 && fputc('\n', out) != EOF ?
	    0 : TALLY_ERR_IO;
 out:
	json_decref(products);
	json_decref(root);
	return r;
}

int
jig_print_hello(const Tally__HelloResponse *h, int json, FILE *out)
{
	return json ? print_json(h, out) : print_text(h, out);
}
