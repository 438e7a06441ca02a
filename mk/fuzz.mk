# mk/fuzz.mk - libFuzzer targets for every parser of outside input
# (tests/fuzz/fuzz_*.c, docs/fuzzing.md), built with clang, libFuzzer,
# ASan and UBSan into their own folder (the archives are rebuilt there
# with clang and -fsanitize=fuzzer-no-link).
#
#   make fuzz                 build, then run each target FUZZ_SECONDS (60)
#                             seconds on its corpus; new inputs go to
#                             FUZZ_BUILD/corpus/<target>, crashes to
#                             FUZZ_BUILD/crashes/<target>/
#   make fuzz FUZZ_TARGETS="bundle devverify" FUZZ_SECONDS=300
#   make fuzz-build           build the targets only
#   make fuzz-seeds           regenerate fixtures/fuzz/<target>/ (tests/fuzz/seeds.c)
#   make check                also builds the targets (into build/check-fuzz)
#                             and tests/run.sh replays each corpus once

FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_NAMES)

# The sub-make that builds with clang (FUZZ=1): fuzzer coverage on every
# object, the sanitizers of SAN=1. -D_FORTIFY_SOURCE and
# -ftrivial-auto-var-init are left out: ASan checks the same accesses
# and clang 14 wants an extra flag for the latter.
ifeq ($(FUZZ),1)
CC     := clang
OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
          -fno-sanitize-recover=undefined
HARDEN := -fstack-protector-strong -fPIE
LDSAN  := -fsanitize=address,undefined
endif

FUZZ_COMMON   := $(BUILD)/tests/fuzz/fz.o $(BUILD)/tests/fuzz/fz_daemon.o $(BUILD)/tests/harness/fx_core.o
FUZZ_ARCHIVES := $(LIBDAEMON) $(LIBJIG) $(LIBOEM) $(LIBCTL) $(LIBTALLY)
FUZZ_BINS     := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))

.PHONY: fuzz fuzz-build fuzz-bins fuzz-seeds fuzz-check-build

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON) $(FUZZ_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The seed generator: a plain program (no libFuzzer main), with the OEM
# test harness's export writer (cmocka asserts).
$(BUILD)/fuzz/seeds: $(BUILD)/tests/fuzz/seeds.o $(BUILD)/tests/fuzz/seeds_req.o $(BUILD)/tests/harness/fx_export.o \
    $(FUZZ_COMMON) $(FUZZ_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

fuzz-bins: $(FUZZ_BINS)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) FUZZ=1 fuzz-bins

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-seeds:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) FUZZ=1 $(FUZZ_BUILD)/fuzz/seeds
	@$(FUZZ_BUILD)/fuzz/seeds fixtures/fuzz

# make check: the replay binaries, before the tests run.
check: fuzz-check-build
fuzz-check-build:
	@$(MAKE) --no-print-directory BUILD=build/check-fuzz FUZZ=1 fuzz-bins
