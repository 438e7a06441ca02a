/* notify.c - sd_notify READY, WATCHDOG and STOPPING through libsystemd,
 * see notify.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "err.h"
#include "log.h"
#include "notify.h"

#define STATUS_MAX 200   /* bytes of STATUS= text sent */

struct notify {
	bool active;            /* NOTIFY_SOCKET was set at start */
	bool failing;           /* the last send failed (warned once) */
	uint64_t watchdog_usec; /* WATCHDOG_USEC for this process, 0 = none */
	struct event *timer;    /* WATCHDOG=1 every watchdog_usec / 2 */
};

/* Sends msg. A failure is logged when sending starts to fail (not at every
 * watchdog ping), and when it works again; it is otherwise ignored. */
static void
send_state(struct notify *n, const char *msg)
{
	int r;

	if (!n->active)
		return;
	if ((r = sd_notify(0, msg)) < 0 && !n->failing)
		log_warn("sd_notify: %s (logged once until it works again)", strerror(-r));
	else if (r > 0 && n->failing)
		log_info("sd_notify works again");
	n->failing = r < 0;
}

static void
watchdog_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events;
	send_state(arg, "WATCHDOG=1");
}

/* Arms the WATCHDOG=1 timer when systemd asked for one (WatchdogSec=). */
static int
arm_watchdog(struct event_base *base, struct notify *n)
{
	struct timeval tv;
	uint64_t usec;
	int r;

	if ((r = sd_watchdog_enabled(0, &usec)) < 0) {
		log_err("WATCHDOG_USEC or WATCHDOG_PID: %s", strerror(-r));
		return TALLY_ERR_INVALID;
	}
	if (r == 0 || usec == 0)
		return 0;
	n->watchdog_usec = usec;
	tv.tv_sec = (time_t)(usec / 2 / 1000000u);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000u);
	if ((n->timer = event_new(base, -1, EV_PERSIST, watchdog_cb, n)) == NULL ||
	    event_add(n->timer, &tv) != 0)
		return TALLY_ERR_NOMEM;
	log_info("systemd watchdog: %llu ms, WATCHDOG=1 every %llu ms",
	    (unsigned long long)(usec / 1000), (unsigned long long)(usec / 2000));
	return 0;
}

int
notify_start(struct event_base *base, struct notify **out)
{
	struct notify *n;
	const char *sock = getenv("NOTIFY_SOCKET");
	int r = 0;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return TALLY_ERR_NOMEM;
	n->active = sock != NULL && *sock != '\0';
	if (n->active)
		r = arm_watchdog(base, n);
	if (r != 0) {
		notify_free(n);
		return r;
	}
	*out = n;
	return 0;
}

void
notify_ready(struct notify *n, const char *fmt, ...)
{
	char status[STATUS_MAX + 1], msg[32 + STATUS_MAX];
	va_list ap;

	if (n == NULL || !n->active)
		return;
	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	send_state(n, msg);
}

void
notify_stopping(struct notify *n, const char *why)
{
	char msg[64];

	if (n == NULL)
		return;
	if (n->timer != NULL)
		event_del(n->timer);
	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=stopping (%.32s)",
	    why != NULL ? why : "shutdown");
	send_state(n, msg);
}

uint64_t
notify_watchdog_usec(const struct notify *n)
{
	return n != NULL ? n->watchdog_usec : 0;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->timer != NULL)
		event_free(n->timer);
	free(n);
}
