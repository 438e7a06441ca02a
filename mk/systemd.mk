# mk/systemd.mk - make install-systemd: tallyd under systemd
# (docs/operator-guide.md, "Running under systemd").
#   make install-systemd [PREFIX=/usr/local] [DESTDIR=]
# installs the programs (make install), then
#   tallyd.service  -> $(SYSTEMD_UNITDIR)/tallyd.service, ExecStart= naming
#                      $(PREFIX)/sbin/tallyd
#   tallyd.sysusers -> $(SYSUSERSDIR)/tally.conf   (the user tally)
#   tallyd.tmpfiles -> $(TMPFILESDIR)/tally.conf   (/etc/tally, /var/lib/tally)
# Directories come from systemd.pc when it is there. Nothing is started:
# run systemd-sysusers, systemd-tmpfiles --create and systemctl daemon-reload
# afterwards (the guide says so).

SYSTEMD_UNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
SYSUSERSDIR     ?= $(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d)
TMPFILESDIR     ?= $(or $(shell pkg-config --variable=tmpfilesdir systemd 2>/dev/null),/usr/lib/tmpfiles.d)

.PHONY: install-systemd

install-systemd: install
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	sed 's#^ExecStart=/usr/local/sbin/tallyd #ExecStart=$(PREFIX)/sbin/tallyd #' \
	    systemd/tallyd.service > $(DESTDIR)$(SYSTEMD_UNITDIR)/tallyd.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/tallyd.service
	install -m 0644 systemd/tallyd.sysusers $(DESTDIR)$(SYSUSERSDIR)/tally.conf
	install -m 0644 systemd/tallyd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/tally.conf
