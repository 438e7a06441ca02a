/*
 * harden.h - process hardening of tallyd at start-up: no core dumps, and
 * private keys in locked memory (OpenSSL's secure heap).
 *
 * Order in main: harden_process() first (before any key exists in memory),
 * then harden_secure_heap() before the appliance key is loaded or created,
 * so OpenSSL allocates the key's private scalar there.
 *
 * Not thread-safe (start-up, before any thread). No globals of ours: the
 * secure heap is OpenSSL's process-wide state, released by
 * harden_secure_heap_done().
 */
#ifndef TALLYD_HARDEN_H
#define TALLYD_HARDEN_H

#include <stddef.h>
#include <stdint.h>

/* Smallest and largest secure heap, bytes (powers of two). */
#define HARDEN_HEAP_MIN   (256u * 1024)
#define HARDEN_HEAP_MAX   (8u * 1024 * 1024)
/* Secure-heap bytes counted per jig connection: a live TLS 1.3 server
 * connection holds 32 bytes there (measured with OpenSSL 3.0); doubled. */
#define HARDEN_HEAP_PER_CONN 64u
/* Smallest secure-heap allocation, bytes (CRYPTO_secure_malloc_init). */
#define HARDEN_HEAP_MINSIZE 32u

/* No core dumps: RLIMIT_CORE soft and hard limits 0 (setrlimit(2)) and
 * PR_SET_DUMPABLE 0 (prctl(2): no core file whatever the limit, /proc/PID
 * files owned by root, no ptrace attach or /proc/PID/mem by other processes
 * of the same uid without CAP_SYS_PTRACE). Returns 0, or TALLY_ERR_IO when
 * prctl failed (errno kept); a refused setrlimit (e.g. a seccomp filter
 * without @resources) is logged as a warning only, since PR_SET_DUMPABLE 0
 * already stops core files. */
int harden_process(void);

/* Secure-heap size in bytes for max_connections jig connections:
 * HARDEN_HEAP_MIN + max_connections * HARDEN_HEAP_PER_CONN rounded up to a
 * power of two, at most HARDEN_HEAP_MAX. */
size_t harden_heap_size(uint32_t max_connections);

/* Starts OpenSSL's secure heap (CRYPTO_secure_malloc_init) of
 * harden_heap_size(max_connections) bytes: an mmap'ed arena between guard
 * pages, mlock'ed (mlock2 MLOCK_ONFAULT) and excluded from core dumps
 * (MADV_DONTDUMP). OpenSSL then keeps private keys (EC and EdDSA private
 * scalars, BN_secure) there and clears them when they are freed. When
 * mlock is not permitted (RLIMIT_MEMLOCK smaller than the heap, or no
 * @memlock in a seccomp filter) the heap still works unlocked: one warning
 * is logged and 0 is returned. Logs one info line "secure heap: N bytes,
 * locked in memory" (or the warning). *locked (may be NULL) receives 1 when
 * the heap is locked. Returns 0, or TALLY_ERR_NOMEM when OpenSSL could not
 * set the heap up at all (then keys use the ordinary heap: the caller
 * decides; tallyd logs it and goes on). */
int harden_secure_heap(uint32_t max_connections, int *locked);

/* Logs "secure heap: U bytes in use WHEN" (U > 0 once a private key is
 * held there); when is a short phrase, e.g. "after loading the keys".
 * Nothing when the secure heap is not set up. */
void harden_secure_heap_report(const char *when);

/* Releases the secure heap when nothing is allocated in it any more
 * (CRYPTO_secure_malloc_done); otherwise leaves it for process exit. */
void harden_secure_heap_done(void);

#endif
