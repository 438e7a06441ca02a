# mk/usbtest.mk - the one test binary that runs simulated USB DUTs in its
# own process: tests/unit/test_usbsource.c drives jig-firmware/usbsource.c
# (libusb hotplug) against the umockdev testbed of jig-firmware/usbsim/.
# It needs the umockdev/GLib headers and links libusbsim with
# $(USBSIM_LIBS), which the generic test rule of the Makefile does not
# add. Part of `make tests` through TEST_BINS like every other test; the
# binary re-executes itself under umockdev-wrapper, so tests/run.sh runs it
# as it runs the others.

USBTEST_BIN := $(BUILD)/tests/unit/test_usbsource

$(USBTEST_BIN).o: tests/unit/test_usbsource.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ijig-firmware $(CFLAGS) $(USBSIM_CFLAGS) -MMD -MP -c -o $@ $<

$(USBTEST_BIN): $(USBTEST_BIN).o $(LIBUSBSIM) $(LIBJIG) $(LIBTALLY)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(USBSIM_LIBS) -lcmocka
