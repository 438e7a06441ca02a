/* fuzz_tallydconf.c - tallyd.conf (daemon/config.c config_load, INI
 * through libinih): the input is written to a file of mode 0600 in a
 * private folder and loaded; a loaded listen address is parsed as tallyd
 * does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "tests/fuzz/fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tallyd_config cfg;
	struct sockaddr_storage ss;
	socklen_t sl;
	char path[256], err[256];

	if (fz_file("tallyd.conf", data, size, 0600, path) != 0)
		abort();
	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof(err)) != 0) {
		if (strnlen(err, sizeof(err)) == sizeof(err))
			abort();   /* the message is a string */
		return 0;
	}
	if (strnlen(cfg.listen, sizeof(cfg.listen)) == sizeof(cfg.listen) ||
	    strnlen(cfg.control_socket, sizeof(cfg.control_socket)) == sizeof(cfg.control_socket))
		abort();
	(void)config_parse_listen(cfg.listen, &ss, &sl);
	return 0;
}
