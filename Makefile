# duro — top-level build. Everything lands under build/.
#
#   make deps    install missing Debian packages (idempotent)
#   make         build durod, libduro, examples and test workers
#   make run     deps + build + run durod with examples/duro.json
#   make test    deps + build + unit and integration tests
#   make fuzz    run each libFuzzer target for FUZZ_SECONDS
#   make asan    the tests under AddressSanitizer/UBSan
#   make install PREFIX=/usr/local DESTDIR=   durod, libduro, policies, unit, config
#   make clean

CC      ?= cc
BUILD   ?= build
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing \
	   -D_GNU_SOURCE -Iipc -Iworker -Isupervisor -Isandbox
LDLIBS_NNG = -lnng -lpthread
FUZZ_SECONDS ?= 300

DEB_PACKAGES = build-essential pkg-config clang libclang-rt-14-dev \
	libev-dev libsqlite3-dev libnng-dev libcjson-dev libseccomp-dev \
	libcmocka-dev libhttp-parser-dev libssl-dev uthash-dev libwslay-dev \
	curl python3 wrk prometheus
# The browser tests' (tests/browser/deps.sh also installs playwright-core).
BROWSER_PACKAGES = chromium fonts-dejavu-core

IPC_SRC  = ipc/ipc_codec.c ipc/ipc_ws.c ipc/ipc_text.c ipc/ipc_alarm.c ipc/ipc_nng.c
IPC_OBJ  = $(IPC_SRC:%.c=$(BUILD)/%.o)

DURO_SRC = $(wildcard worker/*.c)
DURO_OBJ = $(DURO_SRC:%.c=$(BUILD)/%.o)
LIBDURO  = $(BUILD)/libduro.a

SUP_SRC  = $(filter-out supervisor/main.c,$(wildcard supervisor/*.c))
SUP_OBJ  = $(SUP_SRC:%.c=$(BUILD)/%.o)
SUP_LIBS = -lev -lsqlite3 -lhttp_parser -lcjson -lcrypto -lseccomp -lwslay $(LDLIBS_NNG)

SANDBOX_SRC = $(wildcard sandbox/*.c)
SANDBOX_OBJ = $(SANDBOX_SRC:%.c=$(BUILD)/%.o)

EXAMPLES = $(BUILD)/examples/counter $(BUILD)/examples/ledger $(BUILD)/examples/chat
TEST_WORKERS = $(BUILD)/tests/misbehave $(BUILD)/tests/hostile $(BUILD)/tests/wsecho
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

# What each unit test links besides its own file (pure modules only).
UNIT_DEPS_ipc       = $(IPC_OBJ)
UNIT_DEPS_config    = $(BUILD)/supervisor/config.o $(BUILD)/supervisor/log.o
UNIT_DEPS_http_in   = $(BUILD)/supervisor/http_in.o $(IPC_OBJ)
UNIT_DEPS_objid     = $(BUILD)/supervisor/objid.o
UNIT_DEPS_lifecycle = $(BUILD)/supervisor/lifecycle.o
UNIT_DEPS_restart   = $(BUILD)/supervisor/restart.o
UNIT_DEPS_metrics   = $(BUILD)/supervisor/metrics.o
UNIT_DEPS_admin_db  = $(BUILD)/supervisor/admin_db.o $(BUILD)/supervisor/admin_db_sql.o \
	$(BUILD)/supervisor/admin_db_copy.o $(BUILD)/ipc/ipc_text.o
UNIT_DEPS_router    = $(BUILD)/supervisor/router_parse.o $(BUILD)/supervisor/objid.o $(IPC_OBJ)
UNIT_DEPS_libduro   = $(BUILD)/tests/unit/fake_durod.o $(LIBDURO)
UNIT_DEPS_storage   = $(BUILD)/tests/unit/fake_durod.o $(LIBDURO)
UNIT_DEPS_alarm     = $(BUILD)/tests/unit/fake_durod.o $(LIBDURO)
UNIT_DEPS_ws_sdk    = $(BUILD)/tests/unit/fake_durod.o $(LIBDURO)
UNIT_DEPS_alarm_sched = $(BUILD)/supervisor/alarm_sched.o
UNIT_DEPS_policy    = $(BUILD)/sandbox/policy.o $(BUILD)/sandbox/policy_seccomp.o
UNIT_DEPS_sandbox   = $(BUILD)/sandbox/prepare.o $(BUILD)/sandbox/apply.o $(BUILD)/sandbox/probe.o
UNIT_DEPS_duroctl   = $(DUROCTL_PURE)
UNIT_DEPS_ws_conn   = $(BUILD)/supervisor/ws_conn.o $(BUILD)/supervisor/ws_handshake.o

.PHONY: all deps run test unit integration fuzz asan clean format format-check bench \
	install

all: $(BUILD)/durod $(BUILD)/duroctl $(LIBDURO) $(EXAMPLES) $(TEST_WORKERS) $(UNIT_BIN)

deps:
	@sh tests/deps.sh $(DEB_PACKAGES)
	@sh tests/browser/deps.sh $(BROWSER_PACKAGES)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBDURO): $(DURO_OBJ) $(IPC_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/durod: $(BUILD)/supervisor/main.o $(SUP_OBJ) $(SANDBOX_OBJ) $(IPC_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(SUP_LIBS) $(LDFLAGS)

# duroctl, the admin API's command line. Its objects go to obj-duroctl/
# ($(BUILD)/duroctl is the binary); the pure ones are unit-tested.
DUROCTL_OBJ  = $(patsubst duroctl/%.c,$(BUILD)/obj-duroctl/%.o,$(wildcard duroctl/*.c))
DUROCTL_PURE = $(patsubst %,$(BUILD)/obj-duroctl/%.o,ctl_args ctl_buf ctl_format ctl_json)

$(BUILD)/obj-duroctl/%.o: duroctl/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/duroctl: $(DUROCTL_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ -lhttp_parser -lcjson $(LDFLAGS)

WORKER_LIBS = -lsqlite3 -lcjson $(LDLIBS_NNG)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIBDURO)
	$(CC) $(CFLAGS) -o $@ $^ $(WORKER_LIBS) $(LDFLAGS)

$(BUILD)/tests/misbehave: $(BUILD)/tests/workers/misbehave.o $(LIBDURO)
	$(CC) $(CFLAGS) -o $@ $^ $(WORKER_LIBS) $(LDFLAGS)

$(BUILD)/tests/hostile: $(BUILD)/tests/workers/hostile.o $(LIBDURO)
	$(CC) $(CFLAGS) -o $@ $^ $(WORKER_LIBS) $(LDFLAGS)

$(BUILD)/tests/wsecho: $(BUILD)/tests/workers/wsecho.o $(LIBDURO)
	$(CC) $(CFLAGS) -o $@ $^ $(WORKER_LIBS) $(LDFLAGS)

# Unit tests link the module under test plus whatever pure objects it needs.
.SECONDEXPANSION:
.SECONDARY:
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $$(UNIT_DEPS_$$*)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(SUP_LIBS) $(LDFLAGS)

run: deps all
	$(BUILD)/durod -c examples/duro.json

test: deps all
	@sh tests/run_unit.sh $(UNIT_BIN)
	@python3 tests/integration/run.py --build $(BUILD)

unit: all
	@sh tests/run_unit.sh $(UNIT_BIN)

integration: all
	@python3 tests/integration/run.py --build $(BUILD)

# Unit then integration tests (one after the other) under ASan + UBSan.
ASAN_MAKE = $(MAKE) BUILD=build-asan CC=clang \
	CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	LDFLAGS="-fsanitize=address,undefined"
asan:
	$(ASAN_MAKE) unit
	$(ASAN_MAKE) integration

# libFuzzer targets: clang, ASan+UBSan, one binary per tests/fuzz/fuzz_*.c.
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -Iipc -Iworker -Isupervisor -Isandbox
FUZZ_DEPS_ipc     = ipc/ipc_codec.c ipc/ipc_ws.c ipc/ipc_text.c
FUZZ_DEPS_http_in = supervisor/http_in.c ipc/ipc_codec.c ipc/ipc_ws.c ipc/ipc_text.c
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_DEPS_$$*)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ -lcjson -lhttp_parser

fuzz: deps $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

bench: all
	@sh bench/run.sh

# Install: the daemon, the worker SDK (header, library, pkg-config file),
# the policies, the example workers and a config that uses them, and the
# systemd unit. The shipped unit and config name /usr/local; sed puts the
# real directories in. An existing config is never overwritten.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= $(PREFIX)/etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
VERSION    ?= 0.1
INSTALL_SED = -e 's|/usr/local/etc|$(SYSCONFDIR)|g' -e 's|/usr/local|$(PREFIX)|g'
INSTALL_DIRS = $(PREFIX)/bin $(PREFIX)/include $(PREFIX)/lib/pkgconfig \
	$(PREFIX)/libexec/duro $(PREFIX)/share/duro/policies $(UNITDIR) \
	$(SYSCONFDIR)/duro

install: $(BUILD)/durod $(BUILD)/duroctl $(LIBDURO) $(EXAMPLES)
	install -d $(INSTALL_DIRS:%=$(DESTDIR)%)
	install -m 755 $(BUILD)/durod $(DESTDIR)$(PREFIX)/bin/durod
	install -m 755 $(BUILD)/duroctl $(DESTDIR)$(PREFIX)/bin/duroctl
	install -m 644 worker/duro.h $(DESTDIR)$(PREFIX)/include/duro.h
	install -m 644 $(LIBDURO) $(DESTDIR)$(PREFIX)/lib/libduro.a
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    supervisor/duro.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/duro.pc
	install -m 755 $(EXAMPLES) $(DESTDIR)$(PREFIX)/libexec/duro/
	install -m 644 policies/*.json $(DESTDIR)$(PREFIX)/share/duro/policies/
	sed $(INSTALL_SED) supervisor/durod.service > $(DESTDIR)$(UNITDIR)/durod.service
	test -e $(DESTDIR)$(SYSCONFDIR)/duro/duro.json || \
	    sed $(INSTALL_SED) examples/duro-installed.json > $(DESTDIR)$(SYSCONFDIR)/duro/duro.json

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
