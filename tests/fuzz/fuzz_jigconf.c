/* fuzz_jigconf.c - tally-jig.conf (jig-firmware/config.c jig_config_load,
 * INI through libinih): the input is written to a file of mode 0600 in a
 * private folder and loaded; the strings of a loaded file must be
 * NUL-terminated within their fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jig-firmware/config.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jig_config cfg;
	char path[256], err[JIG_ERRMSG_MAX];

	if (fz_file("tally-jig.conf", data, size, 0600, path) != 0)
		abort();
	err[0] = '\0';
	if (jig_config_load(path, &cfg, err, sizeof(err)) != 0) {
		if (strnlen(err, sizeof(err)) == sizeof(err))
			abort();
		return 0;
	}
	if (strnlen(cfg.host, sizeof(cfg.host)) == sizeof(cfg.host) || cfg.port == 0 ||
	    strnlen(cfg.product, sizeof(cfg.product)) == sizeof(cfg.product) ||
	    strnlen(cfg.firmware, sizeof(cfg.firmware)) == sizeof(cfg.firmware))
		abort();
	return 0;
}
