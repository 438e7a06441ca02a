/* harden.c - no core dumps, keys in locked memory, see harden.h. */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <openssl/crypto.h>

#include "err.h"
#include "harden.h"
#include "log.h"

int
harden_process(void)
{
	const struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) != 0)
		log_warn("setrlimit(RLIMIT_CORE, 0): %s; relying on PR_SET_DUMPABLE",
		    strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		log_err("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
		return TALLY_ERR_IO;
	}
	return 0;
}

size_t
harden_heap_size(uint32_t max_connections)
{
	size_t want = HARDEN_HEAP_MIN + (size_t)max_connections * HARDEN_HEAP_PER_CONN;
	size_t size = HARDEN_HEAP_MIN;

	while (size < want && size < HARDEN_HEAP_MAX)
		size <<= 1;
	return size;
}

int
harden_secure_heap(uint32_t max_connections, int *locked)
{
	size_t size = harden_heap_size(max_connections);
	struct rlimit lim = { 0, 0 };
	int r;

	if (locked != NULL)
		*locked = 0;
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	r = CRYPTO_secure_malloc_init(size, HARDEN_HEAP_MINSIZE);
	if (r == 0) {
		log_err("secure heap of %zu bytes: OpenSSL could not set it up", size);
		return TALLY_ERR_NOMEM;
	}
	if (r == 2) {
		getrlimit(RLIMIT_MEMLOCK, &lim);
		log_warn("secure heap: %zu bytes, NOT locked in memory (mlock or madvise "
		    "refused; "
		    "RLIMIT_MEMLOCK %llu bytes): keys may reach swap", size,
		    (unsigned long long)lim.rlim_cur);
		return 0;
	}
	if (locked != NULL)
		*locked = 1;
	log_info("secure heap: %zu bytes, locked in memory", size);
	return 0;
}

void
harden_secure_heap_report(const char *when)
{
	if (CRYPTO_secure_malloc_initialized())
		log_info("secure heap: %zu bytes in use %s", CRYPTO_secure_used(), when);
}

void
harden_secure_heap_done(void)
{
	if (CRYPTO_secure_malloc_initialized())
		(void)CRYPTO_secure_malloc_done();
}
