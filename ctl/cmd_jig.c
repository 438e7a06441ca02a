/* cmd_jig.c - tallyctl jig enroll CERT [--name N], jig list. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "ctl.h"
#include "err.h"
#include "util.h"

#define CERT_FILE_MAX 32768  /* a jig certificate file, PEM or DER, bytes */

/* Reads a PEM or DER X.509 certificate file into DER (*der, OPENSSL_free). */
static int
read_cert(const struct ctl_cmd *self, const char *path, uint8_t **der, int *derlen)
{
	const unsigned char *p;
	X509 *x = NULL;
	BIO *b = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	*der = NULL;
	if ((r = tally_read_file(path, CERT_FILE_MAX, &buf, &len)) != 0) {
		ctl_errx(self, "%s: %s", path, r == TALLY_ERR_IO ? strerror(errno) :
		    tally_strerror(r));
		return CTL_EXIT_USAGE;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL) {
		p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && p != buf + len) {
			X509_free(x);
			x = NULL;
		}
	}
	if (x == NULL || (*derlen = i2d_X509(x, der)) <= 0) {
		ctl_errx(self, "%s: not a PEM or DER X.509 certificate", path);
		r = CTL_EXIT_USAGE;
	} else
		r = CTL_EXIT_OK;
	X509_free(x);
	BIO_free(b);
	free(buf);
	return r;
}

static int
jig_enroll_send(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    uint8_t *der, int derlen, const char *name, int json)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__JigEnrollRequest body = TALLY__JIG_ENROLL_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	Tally__JigEnrollResponse *e;
	char hex[65];
	int ex;

	body.certificate.data = der;
	body.certificate.len = (size_t)derlen;
	body.name = (char *)(name != NULL ? name : "");
	req.body_case = TALLY__CTL_REQUEST__BODY_JIG_ENROLL;
	req.jig_enroll = &body;
	if ((ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_JIG_ENROLL, &resp)) != 0)
		return ex;
	e = resp->jig_enroll;
	if (json)
		ex = ctl_json_print(self, json_pack("{s:o, s:I}", "jig_key_id",
		    ctl_json_hex(e->jig_key_id.data, e->jig_key_id.len),
		    "log_index", (json_int_t)e->log_index));
	else if (e->jig_key_id.len == 32)
		printf("enrolled jig %s (log entry %llu)\n",
		    ctl_hex(e->jig_key_id.data, 32, hex),
		    (unsigned long long)e->log_index);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

static int
jig_enroll_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	uint8_t *der = NULL;
	int ch, ex, derlen = 0, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "n:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'j': json = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	if (name != NULL && strlen(name) > 64) {
		ctl_errx(self, "--name: at most 64 bytes");
		return CTL_EXIT_USAGE;
	}
	if ((ex = read_cert(self, argv[optind], &der, &derlen)) != CTL_EXIT_OK)
		return ex;
	ex = jig_enroll_send(ctx, self, der, derlen, name, json);
	OPENSSL_free(der);
	return ex;
}

static json_t *
jig_list_json(const Tally__JigListResponse *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n_jigs; i++) {
		const Tally__JigInfo *j = l->jigs[i];

		json_array_append_new(a, json_pack("{s:o, s:s, s:s, s:b, s:I, s:I, s:I}",
		    "jig_key_id", ctl_json_hex(j->jig_key_id.data, j->jig_key_id.len),
		    "name", j->name, "subject", j->subject, "revoked", j->revoked,
		    "enrolled_index", (json_int_t)j->enrolled_index,
		    "enrolled_at", (json_int_t)j->enrolled_at,
		    "tokens_issued", (json_int_t)j->tokens_issued));
	}
	return a;
}

static void
jig_list_text(const Tally__JigListResponse *l)
{
	char hex[65], t[32];
	size_t i;

	if (l->n_jigs == 0) {
		printf("no jig enrolled\n");
		return;
	}
	printf("%-64s  %-8s %-16s %8s  %-20s  %s\n", "JIG KEY ID", "STATE",
	    "NAME", "TOKENS", "ENROLLED", "SUBJECT");
	for (i = 0; i < l->n_jigs; i++) {
		const Tally__JigInfo *j = l->jigs[i];

		printf("%-64s  %-8s %-16s %8llu  %-20s  %s\n",
		    j->jig_key_id.len == 32 ? ctl_hex(j->jig_key_id.data, 32, hex) : "?",
		    j->revoked ? "revoked" : "active", j->name,
		    (unsigned long long)j->tokens_issued,
		    ctl_time(j->enrolled_at, t), j->subject);
	}
}

static int
jig_list_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__JigListRequest body = TALLY__JIG_LIST_REQUEST__INIT;
	Tally__CtlResponse *resp = NULL;
	int ex, json, first;

	if ((ex = ctl_std_opts(self, argc, argv, 0, &json, &first)) >= 0)
		return ex;
	req.body_case = TALLY__CTL_REQUEST__BODY_JIG_LIST;
	req.jig_list = &body;
	if ((ex = ctl_rpc(ctx, self, &req, TALLY__CTL_RESPONSE__BODY_JIG_LIST, &resp)) != 0)
		return ex;
	if (json)
		ex = ctl_json_print(self, jig_list_json(resp->jig_list));
	else
		jig_list_text(resp->jig_list);
	tally__ctl_response__free_unpacked(resp, NULL);
	return ex;
}

const struct ctl_cmd ctl_cmd_jig_enroll = {
	{
		"jig", "enroll", "[--name NAME] [--json] CERT",
		"Enrol a jig by its X.509 client certificate (PEM or DER file).",
		"  -n, --name NAME   a name for the jig (at most 64 bytes)\n"
		"  --json            print the jig key ID and log index as JSON\n",
	},
	jig_enroll_exec,
};

const struct ctl_cmd ctl_cmd_jig_list = {
	{
		"jig", "list", "[--json]",
		"List enrolled jigs, active and revoked.",
		"  --json            print as JSON\n",
	},
	jig_list_exec,
};
