# tally: one entry point. See README.md.
#   make          build everything (release flags) into build/release
#   make check    install test deps, build with ASan+UBSan into build/check, run every test
#   make demo     install deps, build, run the end-to-end demo (scripts/demo.sh)
#   make bench    install deps, build, run the load benchmark (tests/bench)
#   make install  install binaries (PREFIX=/usr/local)

BUILD   ?= build/release
SAN     ?= 0
PREFIX  ?= /usr/local
CC      ?= cc

PKGS := libevent libevent_openssl libevent_pthreads openssl lmdb libprotobuf-c inih jansson libusb-1.0 libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llmdb -lpthread

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wformat-security \
        -Wimplicit-fallthrough
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -ftrivial-auto-var-init=zero -fPIE
LDHARDEN := -pie -Wl,-z,relro,-z,now,-z,noexecstack
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
else
OPT := -O2 -g
endif

GEN := $(BUILD)/gen
CPPFLAGS += -I. -Ilib -I$(GEN)/proto -D_GNU_SOURCE -DTALLY_VERSION=\"0.1.0\"
CFLAGS   += -std=c11 $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS)
LDFLAGS  += $(LDHARDEN) $(LDSAN)
LDLIBS   += $(PKG_LIBS)

PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(GEN)/proto/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_OBJ  := $(PROTO_C:.c=.o)

LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(wildcard lib/*.c))
# Each program's objects except its main.c go into an archive tests can link.
DAEMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out daemon/main.c,$(wildcard daemon/*.c)))
CTL_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(filter-out ctl/main.c,$(wildcard ctl/*.c)))
OEM_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(filter-out oem/main.c,$(wildcard oem/*.c)))
JIG_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(filter-out jig-firmware/main.c,$(wildcard jig-firmware/*.c)))

# The simulated USB DUT (jig-firmware/usbsim/, tally-dutsim): umockdev + GLib,
# never linked into tally-jig.
USBSIM_PKGS  := umockdev-1.0 gio-2.0
USBSIM_CFLAGS = $(shell pkg-config --cflags $(USBSIM_PKGS) 2>/dev/null)
USBSIM_LIBS   = $(shell pkg-config --libs $(USBSIM_PKGS) 2>/dev/null)
USBSIM_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out jig-firmware/usbsim/main.c,$(wildcard jig-firmware/usbsim/*.c)))

LIBTALLY   := $(BUILD)/libtally.a
LIBDAEMON  := $(BUILD)/libtallyd.a
LIBCTL     := $(BUILD)/libtallyctl.a
LIBOEM     := $(BUILD)/libtallyoem.a
LIBJIG     := $(BUILD)/libtallyjig.a
LIBUSBSIM  := $(BUILD)/libusbsim.a

BINS := $(BUILD)/tallyd $(BUILD)/tallyctl $(BUILD)/tally-oem $(BUILD)/tally-jig \
        $(BUILD)/tally-dutsim

TEST_SRC   := $(wildcard tests/unit/test_*.c tests/integration/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
HARNESS_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/harness/*.c))
BENCH_BIN  := $(BUILD)/tests/bench/tally-bench

.PHONY: all deps deps-check check demo bench install clean tests
.SECONDARY:

all: $(BINS)

deps:
	@scripts/deps.sh build
deps-check:
	@scripts/deps.sh check

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)/proto
	protoc-c --c_out=$(GEN)/proto -Iproto $<

# Generated code: same hardening, fewer warnings (protoc-c output is not ours).
$(GEN)/proto/%.pb-c.o: $(GEN)/proto/%.pb-c.c $(PROTO_H)
	$(CC) $(CPPFLAGS) -std=c11 $(OPT) $(HARDEN) $(PKG_CFLAGS) -Wall -Werror -c -o $@ $<

$(BUILD)/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# GLib headers need the umockdev/GLib include paths.
$(BUILD)/jig-firmware/usbsim/%.o: jig-firmware/usbsim/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ijig-firmware $(CFLAGS) $(USBSIM_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBTALLY): $(LIB_OBJ) $(PROTO_OBJ)
	$(AR) rcs $@ $^
$(LIBDAEMON): $(DAEMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
$(LIBCTL): $(CTL_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
$(LIBOEM): $(OEM_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
$(LIBJIG): $(JIG_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
$(LIBUSBSIM): $(USBSIM_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/tallyd: $(BUILD)/daemon/main.o $(LIBDAEMON) $(LIBTALLY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tallyctl: $(BUILD)/ctl/main.o $(LIBCTL) $(LIBTALLY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tally-oem: $(BUILD)/oem/main.o $(LIBOEM) $(LIBTALLY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tally-jig: $(BUILD)/jig-firmware/main.o $(LIBJIG) $(LIBTALLY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tally-dutsim: $(BUILD)/jig-firmware/usbsim/main.o $(LIBUSBSIM) $(LIBJIG) $(LIBTALLY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(USBSIM_LIBS)

# Tests link every archive; unused members are not pulled in.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(HARNESS_OBJ) $(LIBDAEMON) $(LIBJIG) $(LIBOEM) $(LIBCTL) $(LIBTALLY)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# tally-bench (make bench): the load generator of tests/bench; not in make check.
BENCH_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/bench/*.c))
$(BENCH_BIN): $(BENCH_OBJ) $(LIBCTL) $(LIBTALLY)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests: $(BINS) $(TEST_BINS)

check: deps-check
	@$(MAKE) --no-print-directory BUILD=build/check SAN=1 tests
	@tests/run.sh build/check

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@$(BENCH_BIN) --bin $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/tallyctl $(BUILD)/tally-oem $(BUILD)/tally-jig $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/tallyd $(DESTDIR)$(PREFIX)/sbin

clean:
	rm -rf build

# Further targets, one file per concern (fuzzing, fault harness, systemd).
-include $(wildcard mk/*.mk)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
