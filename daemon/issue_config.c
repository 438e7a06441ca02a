/* issue_config.c - logging the configuration tallyd runs with, see issue.h.
 * An edited tallyd.conf takes effect at the next start; that start appends
 * one LogConfigChanged entry, so the OEM sees every change in the log. */
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "err.h"
#include "issue.h"
#include "log.h"
#include "writer.h"

void
issue_config(struct issue_ctx *ctx, struct store_txn *t, struct wreq *r)
{
	Tally__LogEntry e = TALLY__LOG_ENTRY__INIT;
	Tally__LogConfigChanged cc = TALLY__LOG_CONFIG_CHANGED__INIT;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	const uint8_t *last;
	char *text = NULL;
	size_t last_len;
	uint64_t index;

	SHA256(r->in.config.text, r->in.config.len, digest);
	if (store_txn_get(t, STORE_DB_META, STORE_META_CONFIG, strlen(STORE_META_CONFIG),
	    &last, &last_len) == 0 && last_len == sizeof(digest) &&
	    memcmp(last, digest, sizeof(digest)) == 0)
		return;
	if (r->in.config.len <= ISSUE_CONFIG_TEXT_MAX &&
	    memchr(r->in.config.text, '\0', r->in.config.len) == NULL)
		text = strndup((const char *)r->in.config.text, r->in.config.len);
	cc.sha256.data = digest;
	cc.sha256.len = sizeof(digest);
	cc.text = text != NULL ? text : (char *)"";
	e.body_case = TALLY__LOG_ENTRY__BODY_CONFIG_CHANGED;
	e.config_changed = &cc;
	if (issue_append(ctx, t, &e, &index) == 0 &&
	    store_txn_put(t, STORE_DB_META, STORE_META_CONFIG, strlen(STORE_META_CONFIG),
	    digest, sizeof(digest), 0) == 0)
		r->log_index = index;
	free(text);
}
