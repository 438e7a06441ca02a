/*
 * notify.h - tallyd and its service manager: the sd_notify(3) protocol
 * through libsystemd (Type=notify units, systemd.service(5)).
 *
 * Every function is a no-op when tallyd does not run under systemd
 * (NOTIFY_SOCKET unset): nothing is sent, nothing is armed. Under systemd:
 *   READY=1 and STATUS=   once the store, the jig listener and the control
 *                         socket are up (notify_ready)
 *   WATCHDOG=1            every half of the watchdog interval
 *                         (WatchdogSec=, seen as WATCHDOG_USEC and
 *                         WATCHDOG_PID by sd_watchdog_enabled(3)), from a
 *                         libevent timer on the loop thread: a stuck event
 *                         loop stops the pings and systemd restarts tallyd
 *   STOPPING=1 and STATUS= when shutdown begins (notify_stopping)
 * A failed send is logged (one warning when sends start to fail, one info
 * line when they work again) and otherwise ignored: the service manager is
 * not a reason to stop issuing.
 *
 * Threading: loop thread only. No globals: the state lives in struct notify.
 */
#ifndef TALLYD_NOTIFY_H
#define TALLYD_NOTIFY_H

#include <stdint.h>
#include <event2/event.h>

struct notify;

/* Reads the environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) and
 * arms the watchdog timer on base when systemd asks for one. *out is set
 * to a new struct notify (free with notify_free) in every case; with no
 * NOTIFY_SOCKET it is inert. Errors: TALLY_ERR_NOMEM (allocation or
 * event_new/event_add failed), TALLY_ERR_INVALID (WATCHDOG_USEC malformed,
 * as sd_watchdog_enabled reports it). */
int notify_start(struct event_base *base, struct notify **out);

/* READY=1 with STATUS= the printf-style fmt (a short human line, e.g.
 * "listening on 0.0.0.0:7443"; at most 200 bytes of it are sent). */
void notify_ready(struct notify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* STOPPING=1 with STATUS=stopping (why), why e.g. "SIGTERM" (NULL ok);
 * also disarms the watchdog timer. */
void notify_stopping(struct notify *n, const char *why);

/* Watchdog interval in microseconds systemd asked for, 0 when none. */
uint64_t notify_watchdog_usec(const struct notify *n);

/* Frees n and its timer. NULL ok. */
void notify_free(struct notify *n);

#endif
