# mk/faults.mk - the crash-consistency fault harness (issue 5; docs/storage.md
# "Crash consistency").
#   make faults      builds a fault-enabled tallyd (-DTALLY_FAULT_INJECTION,
#                    daemon/fault.h) and tests/fault/tally-faults into
#                    $(FAULTS_BUILD) (ASan+UBSan) and runs the long form:
#                    FAULT_KILLS kill points (default 300)
# `make check` runs the short form (tests/integration/test_crash_faults.c),
# which needs $(BUILD)/tallyd-faults: built with the tests.

FAULTS_BUILD ?= build/faults
FAULT_KILLS  ?= 300
FAULT_JIGS   ?= 4

# The daemon's objects again, with the kill points compiled in.
FAULT_DAEMON_OBJ := $(patsubst %.c,$(BUILD)/faults/%.o,$(wildcard daemon/*.c))
FR_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out tests/fault/main.c,$(wildcard tests/fault/*.c)))

$(BUILD)/faults/daemon/%.o: daemon/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DTALLY_FAULT_INJECTION $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tallyd-faults: $(FAULT_DAEMON_OBJ) $(LIBTALLY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fault/tally-faults: $(BUILD)/tests/fault/main.o $(FR_OBJ) $(HARNESS_OBJ) \
    $(LIBDAEMON) $(LIBJIG) $(LIBOEM) $(LIBCTL) $(LIBTALLY)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The short form is a cmocka test that links the harness's rounds (before
# the archives they need, so this rule replaces the pattern rule).
$(BUILD)/tests/integration/test_crash_faults: $(BUILD)/tests/integration/test_crash_faults.o \
    $(FR_OBJ) $(HARNESS_OBJ) $(LIBDAEMON) $(LIBJIG) $(LIBOEM) $(LIBCTL) $(LIBTALLY)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

tests: $(BUILD)/tallyd-faults

.PHONY: faults
faults: deps-check
	@$(MAKE) --no-print-directory BUILD=$(FAULTS_BUILD) SAN=1 $(FAULTS_BUILD)/tallyd \
	    $(FAULTS_BUILD)/tallyctl $(FAULTS_BUILD)/tallyd-faults $(FAULTS_BUILD)/tests/fault/tally-faults
	TALLY_BUILD=$(FAULTS_BUILD) ASAN_OPTIONS=detect_leaks=1 $(FAULTS_BUILD)/tests/fault/tally-faults \
	    --tallyd $(FAULTS_BUILD)/tallyd-faults --kills $(FAULT_KILLS) --jigs $(FAULT_JIGS)
