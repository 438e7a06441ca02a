/* cmd_proof.c - tallyctl log proof / log consistency: RFC 9162 inclusion
 * (§2.1.3) and consistency (§2.1.4) proofs from tallyd, each verified here
 * (lib/merkle.h) against the roots of checkpoints signed by the appliance
 * key before anything is printed. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "err.h"
#include "merkle.h"
#include "util.h"
#include "log.pb-c.h"

struct proof_args {
	uint64_t a, b;          /* proof: index, size; consistency: from, to */
	int have_a, json;
	const char *keyfile;
};

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return TALLY_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return TALLY_ERR_INVALID;
	*out = v;
	return 0;
}

/* Options of both commands: 'a' and 'b' are --index/--size or --from/--to. */
static int
proof_opts(const struct ctl_cmd *self, int argc, char **argv, const struct option *opts,
    struct proof_args *pa)
{
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
		case 'b':
			if (parse_u64(optarg, ch == 'a' ? &pa->a : &pa->b) != 0) {
				ctl_errx(self, "%s: not a number", optarg);
				return CTL_EXIT_USAGE;
			}
			pa->have_a |= ch == 'a';
			break;
		case 'k': pa->keyfile = optarg; break;
		case 'j': pa->json = 1; break;
		case 'h': ctl_usage(self, stdout); return CTL_EXIT_OK;
		default: ctl_usage(self, stderr); return CTL_EXIT_USAGE;
		}
	}
	if (!pa->have_a || optind != argc) {
		ctl_usage(self, stderr);
		return CTL_EXIT_USAGE;
	}
	return -1;
}

static json_t *
hashes_json(uint8_t (*h)[32], size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, ctl_json_hex(h[i], 32));
	return arr;
}

static void
hashes_text(uint8_t (*h)[32], size_t n)
{
	char hex[65];
	size_t i;

	for (i = 0; i < n; i++)
		printf("  %s\n", ctl_hex(h[i], 32, hex));
}

/* The entry of a proof: a LogEntry of that index whose leaf hash is the
 * one sent; *kind is its body's field name (static). */
static int
check_entry(const struct ctl_cmd *self, const Tally__LogProofResponse *p, const char **kind)
{
	const ProtobufCFieldDescriptor *fd;
	uint8_t leaf[TALLY_HASH_LEN];
	Tally__LogEntry *e;
	int ok;

	tally_merkle_leaf_hash(p->entry.data, p->entry.len, leaf);
	e = tally__log_entry__unpack(NULL, p->entry.len, p->entry.data);
	ok = e != NULL && e->index == p->index && p->leaf_hash.len == TALLY_HASH_LEN &&
	    memcmp(leaf, p->leaf_hash.data, TALLY_HASH_LEN) == 0;
	fd = e != NULL ? protobuf_c_message_descriptor_get_field(&tally__log_entry__descriptor,
	    (unsigned)e->body_case) : NULL;
	*kind = fd != NULL ? fd->name : "unknown";
	if (e != NULL)
		tally__log_entry__free_unpacked(e, NULL);
	if (!ok)
		ctl_errx(self, "NOT VERIFIED: the entry sent is not log entry %llu with that "
		    "leaf hash", (unsigned long long)p->index);
	return ok ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
}

static int
proof_print(const struct ctl_cmd *self, const Tally__LogProofResponse *p, const char *kind,
    uint8_t (*h)[32], const char *origin, int json)
{
	char hex[65], *b64;
	int ex;

	if (json) {
		if ((b64 = malloc(TALLY_B64_LEN(p->entry.len) + 1)) == NULL)
			return ctl_json_print(self, NULL);
		tally_b64_encode(p->entry.data, p->entry.len, b64);
		ex = ctl_json_print(self, json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:s, s:b}",
		    "index", (json_int_t)p->index, "tree_size", (json_int_t)p->tree_size,
		    "entry_type", kind, "entry", b64,
		    "leaf_hash", ctl_json_hex(p->leaf_hash.data, p->leaf_hash.len),
		    "root_hash", ctl_json_hex(p->root_hash.data, p->root_hash.len),
		    "hashes", hashes_json(h, p->n_hashes), "checkpoint", p->checkpoint,
		    "verified", 1));
		free(b64);
		return ex;
	}
	printf("inclusion proof of log entry %llu in the tree of %llu entries (RFC 9162)\n",
	    (unsigned long long)p->index, (unsigned long long)p->tree_size);
	printf("entry:       %s, %zu bytes\n", kind, p->entry.len);
	printf("leaf hash:   %s\n", ctl_hex(p->leaf_hash.data, 32, hex));
	printf("root hash:   %s\n", ctl_hex(p->root_hash.data, 32, hex));
	printf("audit path:  %zu hashes, leaf to root\n", p->n_hashes);
	hashes_text(h, p->n_hashes);
	printf("checkpoint:  signed by the appliance key (%s)\n", origin);
	printf("verified:    entry %llu is in the signed log of %llu entries\n",
	    (unsigned long long)p->index, (unsigned long long)p->tree_size);
	return CTL_EXIT_OK;
}

/* Every local check of an inclusion proof, then the output. */
static int
proof_verify(const struct ctl_cmd *self, const struct proof_args *pa,
    const Tally__LogProofResponse *p, EVP_PKEY *pub, const char *origin)
{
	uint8_t h[TALLY_PROOF_MAX][32];
	const char *kind;
	int ex, r;

	if (p->index != pa->a || (pa->b != 0 && p->tree_size != pa->b) ||
	    p->root_hash.len != TALLY_HASH_LEN || ctl_proof_hashes(p->hashes, p->n_hashes, h) != 0) {
		ctl_errx(self, "malformed proof from tallyd");
		return CTL_EXIT_REFUSED;
	}
	if ((ex = check_entry(self, p, &kind)) != CTL_EXIT_OK)
		return ex;
	if ((r = tally_merkle_verify_inclusion(p->leaf_hash.data, p->index, p->tree_size,
	    (const uint8_t (*)[TALLY_HASH_LEN])h, p->n_hashes, p->root_hash.data)) != 0) {
		ctl_errx(self, "NOT VERIFIED: the audit path does not lead to the root: %s",
		    tally_strerror(r));
		return CTL_EXIT_REFUSED;
	}
	if ((ex = ctl_check_note(self, "checkpoint", p->checkpoint, pub, origin, p->tree_size,
	    p->root_hash.data, p->root_hash.len)) != CTL_EXIT_OK)
		return ex;
	return proof_print(self, p, kind, h, origin, pa->json);
}

static int
consistency_print(const struct ctl_cmd *self, const Tally__LogConsistencyResponse *p,
    uint8_t (*h)[32], const char *origin, int json)
{
	char hex[65];

	if (json)
		return ctl_json_print(self, json_pack("{s:I, s:I, s:o, s:o, s:o, s:s, s:s, s:b}",
		    "from_size", (json_int_t)p->from_size, "to_size", (json_int_t)p->to_size,
		    "from_root", ctl_json_hex(p->from_root.data, 32),
		    "to_root", ctl_json_hex(p->to_root.data, 32),
		    "hashes", hashes_json(h, p->n_hashes),
		    "from_checkpoint", p->from_checkpoint, "to_checkpoint", p->to_checkpoint,
		    "verified", 1));
	printf("consistency proof from tree size %llu to %llu (RFC 9162)\n",
	    (unsigned long long)p->from_size, (unsigned long long)p->to_size);
	printf("from root:   %s\n", ctl_hex(p->from_root.data, 32, hex));
	printf("to root:     %s\n", ctl_hex(p->to_root.data, 32, hex));
	printf("proof:       %zu hashes\n", p->n_hashes);
	hashes_text(h, p->n_hashes);
	printf("checkpoints: both signed by the appliance key (%s)\n", origin);
	printf("verified:    the log of %llu entries extends the log of %llu entries\n",
	    (unsigned long long)p->to_size, (unsigned long long)p->from_size);
	return CTL_EXIT_OK;
}

static int
consistency_verify(const struct ctl_cmd *self, const struct proof_args *pa,
    const Tally__LogConsistencyResponse *p, EVP_PKEY *pub, const char *origin)
{
	uint8_t h[TALLY_PROOF_MAX][32];
	int ex, r;

	if (p->from_size != pa->a || (pa->b != 0 && p->to_size != pa->b) ||
	    p->from_root.len != TALLY_HASH_LEN || p->to_root.len != TALLY_HASH_LEN ||
	    ctl_proof_hashes(p->hashes, p->n_hashes, h) != 0) {
		ctl_errx(self, "malformed proof from tallyd");
		return CTL_EXIT_REFUSED;
	}
	if ((r = tally_merkle_verify_consistency(p->from_size, p->to_size, p->from_root.data,
	    p->to_root.data, (const uint8_t (*)[TALLY_HASH_LEN])h, p->n_hashes)) != 0) {
		ctl_errx(self, "NOT VERIFIED: the proof does not link the two roots: %s",
		    tally_strerror(r));
		return CTL_EXIT_REFUSED;
	}
	if ((ex = ctl_check_note(self, "checkpoint of the older size", p->from_checkpoint, pub,
	    origin, p->from_size, p->from_root.data, p->from_root.len)) != CTL_EXIT_OK ||
	    (ex = ctl_check_note(self, "checkpoint of the newer size", p->to_checkpoint, pub,
	    origin, p->to_size, p->to_root.data, p->to_root.len)) != CTL_EXIT_OK)
		return ex;
	return consistency_print(self, p, h, origin, pa->json);
}

/* Connects, gets the key to verify against, asks, verifies, prints. */
static int
proof_run(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    const struct proof_args *pa, Tally__CtlRequest *req, Tally__CtlResponse__BodyCase want)
{
	struct ctl_client *c = NULL;
	Tally__CtlResponse *resp = NULL;
	EVP_PKEY *pub = NULL;
	char origin[CTL_ORIGIN_MAX];
	int ex;

	if ((ex = ctl_connect(ctx, self, &c)) != CTL_EXIT_OK)
		return ex;
	if ((ex = ctl_appliance_key(ctx, self, c, pa->keyfile, &pub, origin)) != CTL_EXIT_OK ||
	    (ex = ctl_call(ctx, self, c, req, want, &resp)) != CTL_EXIT_OK)
		goto out;
	if (want == TALLY__CTL_RESPONSE__BODY_LOG_PROOF)
		ex = proof_verify(self, pa, resp->log_proof, pub, origin);
	else
		ex = consistency_verify(self, pa, resp->log_consistency, pub, origin);
 out:
	if (resp != NULL)
		tally__ctl_response__free_unpacked(resp, NULL);
	EVP_PKEY_free(pub);
	ctl_client_close(c);
	return ex;
}

static int
log_proof_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "index", required_argument, NULL, 'a' },
		{ "size", required_argument, NULL, 'b' },
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__LogProofRequest body = TALLY__LOG_PROOF_REQUEST__INIT;
	struct proof_args pa = { 0 };
	int ex;

	if ((ex = proof_opts(self, argc, argv, opts, &pa)) >= 0)
		return ex;
	body.index = pa.a;
	body.tree_size = pa.b;
	req.body_case = TALLY__CTL_REQUEST__BODY_LOG_PROOF;
	req.log_proof = &body;
	return proof_run(ctx, self, &pa, &req, TALLY__CTL_RESPONSE__BODY_LOG_PROOF);
}

static int
log_consistency_exec(const struct ctl_ctx *ctx, const struct ctl_cmd *self,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 'b' },
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Tally__CtlRequest req = TALLY__CTL_REQUEST__INIT;
	Tally__LogConsistencyRequest body = TALLY__LOG_CONSISTENCY_REQUEST__INIT;
	struct proof_args pa = { 0 };
	int ex;

	if ((ex = proof_opts(self, argc, argv, opts, &pa)) >= 0)
		return ex;
	body.from_size = pa.a;
	body.to_size = pa.b;
	req.body_case = TALLY__CTL_REQUEST__BODY_LOG_CONSISTENCY;
	req.log_consistency = &body;
	return proof_run(ctx, self, &pa, &req, TALLY__CTL_RESPONSE__BODY_LOG_CONSISTENCY);
}

const struct ctl_cmd ctl_cmd_log_proof = {
	{
		"log", "proof", "--index N [--size S] [--key FILE] [--json]",
		"Inclusion proof of log entry N, verified against a signed checkpoint.",
		"  --index N         the log entry (0-based)\n"
		"  --size S          tree size to prove against (default: the latest checkpoint)\n"
		"  -k, --key FILE    verify against this appliance public key (PEM) instead\n"
		"                    of the one tallyd reports\n"
		"  --json            print the proof as JSON\n",
	},
	log_proof_exec,
};

const struct ctl_cmd ctl_cmd_log_consistency = {
	{
		"log", "consistency", "--from M [--to N] [--key FILE] [--json]",
		"Consistency proof that the log of N entries extends the log of M, verified.",
		"  --from M          the older tree size (a checkpoint's)\n"
		"  --to N            the newer tree size (default: the latest checkpoint)\n"
		"  -k, --key FILE    verify against this appliance public key (PEM) instead\n"
		"                    of the one tallyd reports\n"
		"  --json            print the proof as JSON\n",
	},
	log_consistency_exec,
};
