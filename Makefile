# nightshift — plain Makefile. `make` builds ./nightshift; `make test` installs
# what is missing (contrib/deps.sh), builds, and runs every test, including the
# ASan/UBSan build and a short fuzz run; `make demo` runs the demo.

CC      ?= cc
PKGS    := libwebsockets libcurl libcjson sqlite3 libpcre2-8 yaml-0.1 libcrypto
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
INC     := -Ibot -Ichannels -Itools -I.
OPT     ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(OPT) $(WARN) $(INC) $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread -lm

BUILD   ?= build
LIB_SRC := $(filter-out bot/main.c,$(wildcard bot/*.c channels/*.c tools/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
SIM_SRC := $(wildcard contrib/simcluster/*.c) bot/util.c bot/log.c
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)
SD_SRC  := $(filter-out tests/doubles/slack/wsclient.c,$(wildcard tests/doubles/slack/*.c)) bot/util.c bot/log.c
SD_BIN  := $(BUILD)/slackdouble/slackdouble $(BUILD)/slackdouble/wsclient

.PHONY: all deps test test-unit test-asan fuzz demo bench clean format check-banned

all: nightshift $(BUILD)/simcluster

deps:
	@sh contrib/deps.sh

nightshift: $(BUILD)/nightshift
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/nightshift: $(BUILD)/bot/main.o $(BUILD)/libnightshift.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The simulated Kubernetes API server of the demo and the tests (contrib/simcluster).
$(BUILD)/simcluster: $(SIM_SRC) contrib/simcluster/simcluster.h bot/util.h bot/log.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SIM_SRC) $(LDLIBS)

# The Slack test double (Web API + Socket Mode on loopback) and its WebSocket client.
$(BUILD)/slackdouble/slackdouble: $(SD_SRC) tests/doubles/slack/sd.h bot/util.h bot/log.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SD_SRC) $(LDLIBS)

$(BUILD)/slackdouble/wsclient: tests/doubles/slack/wsclient.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/libnightshift.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(wildcard bot/*.h channels/*.h tools/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/harness.h $(BUILD)/libnightshift.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libnightshift.a $(LDLIBS)

$(BUILD)/helpers/%: tests/helpers/%.c $(BUILD)/libnightshift.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libnightshift.a $(LDLIBS)

test-bins: $(BUILD)/nightshift $(BUILD)/simcluster $(UNIT_BIN) $(HELPER_BIN) $(SD_BIN)

# The whole suite: unit, integration, the sanitizer build, a short fuzz run.
test: deps
	@$(MAKE) --no-print-directory nightshift test-bins
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang \
		OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" test-bins
	@$(MAKE) --no-print-directory fuzz-bin
	@sh tests/run.sh

test-unit: nightshift test-bins
	@sh tests/run.sh unit

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang \
		OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" test-bins
	@sh tests/run.sh asan

# libFuzzer over the payload parsers. `make fuzz` runs it for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SRC := bot/intake.c bot/intake_alertmanager.c bot/intake_kuma.c bot/intake_generic.c bot/alert.c bot/fingerprint.c bot/regex.c bot/util.c bot/log.c
fuzz-bin: $(BUILD)/fuzz_intake
$(BUILD)/fuzz_intake: tests/fuzz/fuzz_intake.c $(FUZZ_SRC) $(wildcard bot/*.h)
	@mkdir -p $(BUILD)
	clang $(CSTD) -O1 -g $(INC) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
		-o $@ tests/fuzz/fuzz_intake.c $(FUZZ_SRC) $(LDLIBS)

fuzz: deps fuzz-bin
	mkdir -p $(BUILD)/fuzz-corpus
	cp tests/fixtures/payloads/*.json $(BUILD)/fuzz-corpus/ 2>/dev/null || true
	$(BUILD)/fuzz_intake -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(BUILD)/fuzz-corpus tests/fuzz/corpus

demo:
	@sh contrib/deps.sh --demo
	@$(MAKE) --no-print-directory nightshift $(BUILD)/simcluster
	./nightshift demo

bench: deps
	@sh contrib/deps.sh --bench
	@$(MAKE) --no-print-directory nightshift $(BUILD)/simcluster $(SD_BIN) $(BUILD)/helpers/post_alerts
	@sh bench/run.sh

format:
	clang-format -i bot/*.[ch] channels/*.[ch] tools/*.[ch] tests/*.h tests/unit/*/*.c

# Functions we do not use: unbounded copies and parsers without error reporting.
check-banned:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof)\s*\(' \
		$(wildcard bot/*.c channels/*.c tools/*.c) || (echo "banned function used" >&2; exit 1)

clean:
	rm -rf build nightshift
