/* preload.c - getting a program under libumockdev-preload, see usbsim.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "usbsim.h"

int
usbsim_under_preload(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "libumockdev-preload") != NULL;
}

void
usbsim_reexec_preloaded(const char *name, const char *mark, char **argv)
{
	char self[PATH_MAX], asan[512], what[PATH_MAX];
	const char *old = getenv("ASAN_OPTIONS");
	ssize_t n;
	int argc;
	char **nargv;

	if (getenv(mark) != NULL) {
		fprintf(stderr, "%s: still not under libumockdev-preload "
		    "after umockdev-wrapper\n", name);
		return;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
		snprintf(what, sizeof(what), "%s: /proc/self/exe", name);
		perror(what);
		return;
	}
	self[n] = '\0';
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
	    old != NULL ? old : "", old != NULL && old[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	setenv(mark, "1", 1);
	for (argc = 0; argv[argc] != NULL; argc++)
		;
	if ((nargv = calloc((size_t)argc + 2, sizeof(*nargv))) == NULL)
		return;
	nargv[0] = "umockdev-wrapper";
	nargv[1] = self;
	if (argc > 0)
		memcpy(nargv + 2, argv + 1, (size_t)argc * sizeof(*nargv));
	execvp(nargv[0], nargv);
	snprintf(what, sizeof(what), "%s: umockdev-wrapper (package umockdev)", name);
	perror(what);
	free(nargv);
}
