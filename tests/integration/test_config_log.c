/* test_config_log.c - a configuration change is a log entry (DESIGN.md §4
 * invariant 5): the first start logs the configuration file (digest and
 * text), a restart with the same file logs nothing new, a restart with an
 * edited file logs the new one; the OEM's reconcile counts them and finds
 * no anomaly. Real tallyd, real LMDB (harness.h). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "ctl.pb-c.h"
#include "err.h"
#include "frame.h"
#include "log.pb-c.h"
#include "oem/reconcile.h"
#include "tests/harness/harness.h"
#include "tests/harness/th_issue.h"
#include "util.h"

#define MAX_CONFIGS 8

struct configs {
	size_t n;
	uint8_t digest[MAX_CONFIGS][SHA256_DIGEST_LENGTH];
	char *text[MAX_CONFIGS];
};

static void
configs_free(struct configs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->text[i]);
	c->n = 0;
}

/* Adds the LogConfigChanged entry of one export frame, if it is one. */
static void
take_entry(const uint8_t *buf, size_t len, struct configs *out)
{
	Tally__ExportRecord *rec = tally__export_record__unpack(NULL, len, buf);
	Tally__LogEntry *e;

	assert_non_null(rec);
	if (rec->body_case == TALLY__EXPORT_RECORD__BODY_ENTRY) {
		e = tally__log_entry__unpack(NULL, rec->entry.len, rec->entry.data);
		assert_non_null(e);
		if (e->body_case == TALLY__LOG_ENTRY__BODY_CONFIG_CHANGED) {
			assert_true(out->n < MAX_CONFIGS);
			assert_int_equal(e->config_changed->sha256.len, SHA256_DIGEST_LENGTH);
			memcpy(out->digest[out->n], e->config_changed->sha256.data,
			    SHA256_DIGEST_LENGTH);
			out->text[out->n] = strdup(e->config_changed->text);
			assert_non_null(out->text[out->n]);
			out->n++;
		}
		tally__log_entry__free_unpacked(e, NULL);
	}
	tally__export_record__free_unpacked(rec, NULL);
}

/* Exports the log to dir/name and collects its configuration entries. */
static void
export_configs(struct th *t, const char *name, struct configs *out)
{
	char path[TH_PATH + 32];
	uint8_t *buf = malloc(TALLY_FRAME_MAX);
	uint64_t entries;
	size_t len;
	int fd;

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	assert_int_equal(th_export(t, path, &entries), 0);
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	while (tally_frame_read_fd(fd, buf, TALLY_FRAME_MAX, &len) == 0)
		take_entry(buf, len, out);
	close(fd);
	free(buf);
}

/* SHA-256 and text of the harness's current tallyd.conf. */
static char *
current_config(struct th *t, uint8_t digest[SHA256_DIGEST_LENGTH])
{
	uint8_t *text;
	size_t len;

	assert_int_equal(tally_read_file(t->conf_path, 65536, &text, &len), 0);
	SHA256(text, len, digest);
	return (char *)text;
}

static void
test_config_changes_are_logged(void **state)
{
	struct th *t = *state;
	struct configs c = { 0 };
	struct oem_reconcile_result res;
	uint8_t d1[SHA256_DIGEST_LENGTH], d2[SHA256_DIGEST_LENGTH];
	char *text1, *text2, path[TH_PATH + 32];

	/* First start: the configuration is logged, digest and text. */
	text1 = current_config(t, d1);
	export_configs(t, "e1.tlx", &c);
	assert_int_equal(c.n, 1);
	assert_memory_equal(c.digest[0], d1, sizeof(d1));
	assert_string_equal(c.text[0], text1);
	configs_free(&c);

	/* Same file, clean stop and start: nothing new. */
	assert_int_equal(th_stop(t, 20000), 0);
	assert_int_equal(th_start(t), 0);
	export_configs(t, "e2.tlx", &c);
	assert_int_equal(c.n, 1);
	configs_free(&c);

	/* Edited file: logged at the next start, after the first one. */
	assert_int_equal(th_stop(t, 20000), 0);
	assert_int_equal(th_write_config(t, "idle_timeout = 123\n"), 0);
	text2 = current_config(t, d2);
	assert_memory_not_equal(d1, d2, sizeof(d1));
	assert_int_equal(th_start(t), 0);
	export_configs(t, "e3.tlx", &c);
	assert_int_equal(c.n, 2);
	assert_memory_equal(c.digest[0], d1, sizeof(d1));
	assert_memory_equal(c.digest[1], d2, sizeof(d2));
	assert_non_null(strstr(c.text[1], "idle_timeout = 123"));
	configs_free(&c);

	/* The OEM sees both and no anomaly. */
	snprintf(path, sizeof(path), "%s/e3.tlx", t->dir);
	assert_int_equal(oem_reconcile_file(path, t->oem_key, &res), 0);
	assert_int_equal(res.config_changes, 2);
	assert_int_equal(res.anomalies_total, 0);
	oem_reconcile_result_free(&res);
	free(text1);
	free(text2);
	assert_int_equal(th_stop_clean(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_changes_are_logged,
		    th_cmocka_setup, th_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
