# Makefile: the one build of the shared-parking system.
#
#   make            build every program into build/bin/
#   make test       build and run all tests (unit, simulator black-box, core purity)
#   make bench      benchmarks that print figures (callgrind instruction counts, sizes)
#   make fuzz       every fuzz target for FUZZ_SECONDS (default 60) each
#   make run        the main job: the demo garage, its drivers, and the console
#   make run HEADLESS=1   the same without the console (for a server room or a script)
#   make install    PREFIX (/usr/local) and DESTDIR honoured
#   make SAN=1 ...  AddressSanitizer + UndefinedBehaviorSanitizer build (under build/san)
#   make V=1 ...    show the commands
#
# test, run, bench and fuzz first install missing Debian packages (scripts/deps.sh),
# then re-enter make so that pkg-config sees them.

SHELL := /bin/sh
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60
SAN ?= 0
V ?= 0
HEADLESS ?= 0

ifeq ($(SAN),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD := build
SANFLAGS :=
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wvla -Wformat=2 -Wundef -Wcast-qual -Wwrite-strings
CSTD := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
OPT ?= -O2 -g
DEPFLAGS = -MMD -MP
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -fno-common $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

PKG_CRYPTO := $(shell pkg-config --cflags --libs libcrypto 2>/dev/null)
CRYPTO_CFLAGS := $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj
LIBDIR := $(BUILD)/lib
TESTBIN := $(BUILD)/tests

# ---- the shared firmware protocol: linked by the lock, the phone, the gateway, the server
PROTO_SRC := lockfw/proto/wire.c lockfw/proto/frag.c lockfw/proto/proto.c

# ---- the lock firmware core: no heap, no stdio, no OS calls
CORE_SRC := lockfw/core/store.c lockfw/core/evlog.c lockfw/core/usecount.c \
	lockfw/core/config.c lockfw/core/credential.c \
	lockfw/core/share.c lockfw/core/revocation.c lockfw/core/lockout.c \
	lockfw/core/walltime.c lockfw/core/barrier.c lockfw/core/operate.c \
	lockfw/core/mgmt.c lockfw/core/lock.c

# ---- host code several programs link (logging, P-256 keys, signing, sim transport)
LIBPARK_SRC := lib/log.c lib/hex.c lib/p256.c lib/atomicfile.c lib/signer.c lib/transport-sim.c lib/lockconn.c lib/ecies.c lib/reqsig.c lib/cli.c lib/monocond.c

# ---- the host port of the lock and the simulator program parklockd
LOCKHOST_SRC := lockfw/host/port-crypto.c lockfw/host/sim-hw.c lockfw/host/port-host.c lockfw/host/garage.c \
	lockfw/host/world.c lockfw/host/simulator.c
PARKLOCKD_MAIN := lockfw/host/main.c

# ---- the key server parkd (server/) and the gateway parkgw (gateway/). Each helper
# team owns one of these lists; the parts link into libparkd.a / parkgw.
SERVER_CORE_SRC := server/db.c server/db-sqlite.c server/config.c server/json-field.c \
	server/server.c server/audit.c server/http.c server/workpool.c server/routes.c server/ratelimit.c \
	server/session.c server/hook.c server/sms.c server/account.c server/route-account.c \
	server/route-metrics.c
SERVER_KEYS_SRC := server/keywrap.c server/keycache.c server/site.c server/key.c \
	server/gateway-auth.c server/delivery.c server/timerelay.c server/route-site.c \
	server/route-key.c server/route-gateway.c
SERVER_EVENTS_SRC := server/event.c server/event-hub.c server/notify.c server/route-event.c
SERVER_SPOT_SRC := server/navigation.c server/spot.c server/route-spot.c server/role.c \
	server/route-role.c server/override.c server/route-override.c server/alarm.c \
	server/route-alarm.c
# ---- sharing, revocation, owner control, one-time codes (issue "Sharing")
SERVER_SHARE_SRC := server/totp.c server/otp.c server/revocation.c server/share.c \
	server/route-share.c server/route-otp.c
PARKD_MAIN := server/main.c
GATEWAY_SRC := gateway/gwauth.c gateway/gwqueue.c gateway/locklink.c gateway/gateway.c
PARKGW_MAIN := gateway/main.c
APICLIENT_SRC := lib/apiclient.c

# ---- links to locks: the transport interface and its sim implementation (in LIBPARK),
# and BlueZ over D-Bus (sd-bus from libsystemd), linked by the gateway and the phone.
BLE_SRC := lib/transport.c lib/transport-bluez.c
# ---- the garage map as drawn by parkctl and parkconsole (terminal grid, SVG)
MAP_SRC := lib/sitemap.c lib/maptext.c phone/mapsvg.c phone/routespeech.c
# ---- the phone: parkphoned (daemon) and parkctl (its command line)
PHONE_SRC := phone/paths.c phone/keyring.c phone/revlist.c phone/operate.c phone/ctlproto.c phone/phoned.c \
	phone/cmd.c phone/cmd-account.c phone/cmd-keys.c phone/cmd-lock.c phone/cmd-map.c \
	phone/cmd-events.c phone/follow.c phone/ctlserver.c phone/ctl-account.c phone/ctl-keys.c \
	phone/ctl-map.c phone/ctl-events.c phone/cmd-share.c phone/ctl-share.c
PARKPHONED_MAIN := phone/parkphoned.c
PARKCTL_MAIN := phone/parkctl.c
# ---- the operator console parkconsole
TUI_SRC := tui/text.c tui/eventlist.c tui/alarms.c tui/model.c tui/live.c tui/session.c \
	tui/prompt.c tui/ui.c tui/frame.c tui/console.c tui/screen-login.c tui/screen-map.c \
	tui/screen-spot.c tui/screen-events.c tui/screen-alarms.c tui/screen-help.c \
	tui/holders.c tui/action.c tui/screen-requests.c tui/screen-members.c
PARKCONSOLE_MAIN := tui/main.c

# ---- tests: one cmocka file per module; support code lives under tests/ only
TEST_SUPPORT_SRC := tests/support/test-port.c tests/support/test-authority.c \
	tests/support/test-lock.c tests/support/test-stack.c
UNIT_TESTS := wire frag proto hex log store sim-hw evlog lock-unlock lock-share lock-mgmt lock-lockout \
	lock-power lock-barrier p256 signer lockconn garage world reqsig cli
SIM_TESTS := parklockd
SERVER_TESTS_CORE := db config json-field http workpool routes account hook server
SERVER_TESTS_KEYS := ecies keywrap keycache site key gateway-auth delivery timerelay
SERVER_TESTS_EVENTS := event notify
SERVER_TESTS_SPOT := navigation spot role override alarm
SERVER_TESTS_SHARE := totp revocation share
GATEWAY_TESTS := apiclient gwqueue locklink parkgw
SERVER_SIM_TESTS := parkd system api-input override-system
BLE_TESTS := transport-bluez
MAP_TESTS := sitemap maptext mapsvg routespeech
PHONE_TESTS := keyring ctlproto revlist
PHONE_SIM_TESTS := phone phone-ble sharing
TUI_TESTS := tui-model tui-eventlist tui-alarms tui-text tui-prompt tui-session tui-holders \
	tui-action
TUI_SIM_TESTS := console console-share
# Programs only tests run (never installed): the BlueZ peer on a private bus.
TEST_PROGRAMS := fake-bluez
FUZZ_TARGETS := frame mgmt

to_obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

PROTO_OBJ := $(call to_obj,$(PROTO_SRC))
CORE_OBJ := $(call to_obj,$(CORE_SRC))
LIBPARK_OBJ := $(call to_obj,$(LIBPARK_SRC))
LOCKHOST_OBJ := $(call to_obj,$(LOCKHOST_SRC))
TEST_SUPPORT_OBJ := $(call to_obj,$(TEST_SUPPORT_SRC))

LIB_PROTO := $(LIBDIR)/libparkproto.a
LIB_CORE := $(LIBDIR)/liblockcore.a
LIB_PARK := $(LIBDIR)/libpark.a
LIB_LOCKHOST := $(LIBDIR)/liblockhost.a

SERVER_SRC = $(SERVER_CORE_SRC) $(SERVER_KEYS_SRC) $(SERVER_EVENTS_SRC) $(SERVER_SPOT_SRC) \
	$(SERVER_SHARE_SRC)
SERVER_OBJ = $(call to_obj,$(SERVER_SRC)) $(if $(SERVER_CORE_SRC),$(OBJ)/gen/schema.o)
GATEWAY_OBJ = $(call to_obj,$(GATEWAY_SRC))
APICLIENT_OBJ = $(call to_obj,$(APICLIENT_SRC))
LIB_SERVER := $(LIBDIR)/libparkd.a
LIB_GATEWAY := $(LIBDIR)/libparkgw.a
LIB_APICLIENT := $(LIBDIR)/libparkapi.a
BLE_OBJ = $(call to_obj,$(BLE_SRC))
MAP_OBJ = $(call to_obj,$(MAP_SRC))
PHONE_OBJ = $(call to_obj,$(PHONE_SRC))
TUI_OBJ = $(call to_obj,$(TUI_SRC))
LIB_BLE := $(LIBDIR)/libparkble.a
LIB_MAP := $(LIBDIR)/libparkmap.a
LIB_PHONE := $(LIBDIR)/libparkphone.a
LIB_TUI := $(LIBDIR)/libparktui.a
BLE_PKGS := libsystemd
TUI_PKGS := ncursesw
QR_PKGS := libqrencode
QR_CFLAGS := $(shell pkg-config --cflags $(QR_PKGS) 2>/dev/null)
QR_LIBS := $(shell pkg-config --libs $(QR_PKGS) 2>/dev/null)
BLE_CFLAGS := $(shell pkg-config --cflags $(BLE_PKGS) 2>/dev/null)
BLE_LIBS := $(shell pkg-config --libs $(BLE_PKGS) 2>/dev/null)
TUI_CFLAGS := $(shell pkg-config --cflags $(TUI_PKGS) 2>/dev/null)
TUI_LIBS := $(shell pkg-config --libs $(TUI_PKGS) 2>/dev/null)
SERVER_PKGS := libmicrohttpd json-c sqlite3 libargon2 libcurl
CLIENT_PKGS := libcurl json-c
SERVER_CFLAGS := $(shell pkg-config --cflags $(SERVER_PKGS) 2>/dev/null)
SERVER_LIBS := $(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null) -lpthread -lm
CLIENT_CFLAGS := $(shell pkg-config --cflags $(CLIENT_PKGS) 2>/dev/null)
CLIENT_LIBS := $(shell pkg-config --libs $(CLIENT_PKGS) 2>/dev/null) -lsqlite3 -lpthread -lm

PROGRAMS := $(BIN)/parklockd $(if $(SERVER_CORE_SRC),$(BIN)/parkd) $(if $(GATEWAY_SRC),$(BIN)/parkgw) \
	$(if $(PHONE_SRC),$(BIN)/parkphoned $(BIN)/parkctl) $(if $(TUI_SRC),$(BIN)/parkconsole)
TEST_PROGRAM_BINS = $(addprefix $(TESTBIN)/,$(TEST_PROGRAMS))
ALL_UNIT_TESTS = $(UNIT_TESTS) $(SERVER_TESTS_CORE) $(SERVER_TESTS_KEYS) $(SERVER_TESTS_EVENTS) \
	$(SERVER_TESTS_SPOT) $(SERVER_TESTS_SHARE) \
	$(GATEWAY_TESTS) $(BLE_TESTS) $(MAP_TESTS) $(PHONE_TESTS) $(TUI_TESTS)
ALL_SIM_TESTS = $(SIM_TESTS) $(SERVER_SIM_TESTS) $(PHONE_SIM_TESTS) $(TUI_SIM_TESTS)
UNIT_BINS = $(addprefix $(TESTBIN)/test-,$(ALL_UNIT_TESTS))
SIM_BINS = $(addprefix $(TESTBIN)/test-,$(ALL_SIM_TESTS))

# Keep test objects (made through pattern rules) between runs: not throwaway
# intermediates. .PRECIOUS rather than .SECONDARY, which would stop make from building a
# newly listed source whose archive is newer.
.PRECIOUS: $(OBJ)/%.o $(BUILD)/gen/%

.PHONY: all test bench fuzz run install clean deps-build deps-test deps-fuzz deps-bench \
	deps-run _test _bench _fuzz _run programs tests
.DEFAULT_GOAL := all

all: deps-build
	$(Q)$(MAKE) --no-print-directory programs

programs: $(PROGRAMS)

tests: $(UNIT_BINS) $(SIM_BINS) $(TEST_PROGRAM_BINS)

deps-%:
	$(Q)sh scripts/deps.sh $*

# ---- libraries
$(LIB_PROTO): $(PROTO_OBJ)
$(LIB_CORE): $(CORE_OBJ)
$(LIB_PARK): $(LIBPARK_OBJ)
$(LIB_LOCKHOST): $(LOCKHOST_OBJ)
$(LIBDIR)/%.a:
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

# The core must stay freestanding: no OS headers, no libcrypto.
$(CORE_OBJ) $(PROTO_OBJ): EXTRA_CFLAGS := -ffreestanding
$(LIBPARK_OBJ) $(LOCKHOST_OBJ): EXTRA_CFLAGS := $(CRYPTO_CFLAGS)
$(OBJ)/lockfw/host/main.o: EXTRA_CFLAGS := $(CRYPTO_CFLAGS) -DLOCALEDIR='"$(PREFIX)/share/locale"'

$(LIB_SERVER): $(SERVER_OBJ)
$(LIB_GATEWAY): $(GATEWAY_OBJ)
$(LIB_APICLIENT): $(APICLIENT_OBJ)
$(SERVER_OBJ) $(OBJ)/server/main.o: EXTRA_CFLAGS := $(CRYPTO_CFLAGS) $(SERVER_CFLAGS)
$(GATEWAY_OBJ) $(APICLIENT_OBJ) $(OBJ)/gateway/main.o: EXTRA_CFLAGS := $(CRYPTO_CFLAGS) $(CLIENT_CFLAGS) \
	$(BLE_CFLAGS)
$(LIB_BLE): $(BLE_OBJ)
$(LIB_MAP): $(MAP_OBJ)
$(LIB_PHONE): $(PHONE_OBJ)
$(LIB_TUI): $(TUI_OBJ)
$(BLE_OBJ): EXTRA_CFLAGS := $(CRYPTO_CFLAGS) $(BLE_CFLAGS)
$(MAP_OBJ): EXTRA_CFLAGS := $(CLIENT_CFLAGS)
$(PHONE_OBJ) $(call to_obj,$(PARKPHONED_MAIN) $(PARKCTL_MAIN)): EXTRA_CFLAGS := $(CRYPTO_CFLAGS) \
	$(CLIENT_CFLAGS) $(BLE_CFLAGS) $(QR_CFLAGS) -DLOCALEDIR='"$(PREFIX)/share/locale"'
$(TUI_OBJ) $(call to_obj,$(PARKCONSOLE_MAIN)): EXTRA_CFLAGS := $(CRYPTO_CFLAGS) $(CLIENT_CFLAGS) \
	$(TUI_CFLAGS) -DLOCALEDIR='"$(PREFIX)/share/locale"'

# The schema migrations are compiled in: server/schema/NNN-name.sql, in order.
$(BUILD)/gen/schema.c: $(wildcard server/schema/*.sql) scripts/embed-sql.sh
	@mkdir -p $(@D)
	$(Q)sh scripts/embed-sql.sh server/schema/*.sql >$@.tmp && mv $@.tmp $@
$(OBJ)/gen/schema.o: $(BUILD)/gen/schema.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c $< -o $@

# ---- programs
$(BIN)/parkd: $(OBJ)/server/main.o $(LIB_SERVER) $(LIB_PARK) $(LIB_PROTO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(SERVER_LIBS) $(CRYPTO_LIBS)

$(BIN)/parkgw: $(OBJ)/gateway/main.o $(LIB_GATEWAY) $(LIB_APICLIENT) $(if $(BLE_SRC),$(LIB_BLE)) \
		$(LIB_PARK) $(LIB_PROTO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(BLE_LIBS) $(CRYPTO_LIBS)

$(BIN)/parkphoned: $(call to_obj,$(PARKPHONED_MAIN)) $(LIB_PHONE) $(LIB_APICLIENT) \
		$(if $(BLE_SRC),$(LIB_BLE)) $(LIB_PARK) $(LIB_PROTO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(BLE_LIBS) $(CRYPTO_LIBS)

$(BIN)/parkctl: $(call to_obj,$(PARKCTL_MAIN)) $(LIB_PHONE) $(if $(MAP_SRC),$(LIB_MAP)) \
		$(LIB_APICLIENT) $(if $(BLE_SRC),$(LIB_BLE)) $(LIB_PARK) $(LIB_PROTO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(BLE_LIBS) $(QR_LIBS) $(CRYPTO_LIBS)

$(BIN)/parkconsole: $(call to_obj,$(PARKCONSOLE_MAIN)) $(LIB_TUI) $(if $(MAP_SRC),$(LIB_MAP)) \
		$(LIB_APICLIENT) $(LIB_PARK) $(LIB_PROTO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(TUI_LIBS) $(CLIENT_LIBS) $(CRYPTO_LIBS)

$(BIN)/parklockd: $(call to_obj,$(PARKLOCKD_MAIN)) $(LIB_LOCKHOST) $(LIB_CORE) $(LIB_PARK) $(LIB_PROTO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CRYPTO_LIBS)

# ---- tests
TEST_LINK := $(TEST_SUPPORT_OBJ) $(LIB_SERVER) \
	$(if $(GATEWAY_SRC),$(LIB_GATEWAY)) $(if $(PHONE_SRC),$(LIB_PHONE)) \
	$(if $(TUI_SRC),$(LIB_TUI)) $(if $(MAP_SRC),$(LIB_MAP)) \
	$(if $(APICLIENT_SRC),$(LIB_APICLIENT)) $(if $(BLE_SRC),$(LIB_BLE)) \
	$(LIB_LOCKHOST) $(LIB_CORE) $(LIB_PARK) $(LIB_PROTO)
TEST_LIBS = $(CMOCKA_LIBS) $(SERVER_LIBS) \
	$(if $(GATEWAY_SRC)$(APICLIENT_SRC),$(CLIENT_LIBS)) $(if $(BLE_SRC),$(BLE_LIBS)) \
	$(if $(TUI_SRC),$(TUI_LIBS)) $(QR_LIBS) $(CRYPTO_LIBS)
$(OBJ)/tests/%.o: EXTRA_CFLAGS := $(CRYPTO_CFLAGS) $(CMOCKA_CFLAGS) $(SERVER_CFLAGS) \
	$(CLIENT_CFLAGS) $(BLE_CFLAGS) $(TUI_CFLAGS) -Wno-missing-prototypes

$(TESTBIN)/test-%: $(OBJ)/tests/unit/test-%.o $(TEST_LINK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(TEST_LIBS)

# Black-box tests of the real programs: they need every program built first.
$(TESTBIN)/test-%: $(OBJ)/tests/sim/test-%.o $(TEST_LINK) | $(PROGRAMS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o %.a,$^) $(TEST_LIBS)

# Test-only programs (tests/support/NAME-main.c plus TEST_LINK), e.g. the BlueZ peer.
$(TESTBIN)/%: $(OBJ)/tests/support/%-main.o $(TEST_LINK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(TEST_LIBS)

test: deps-test
	$(Q)$(MAKE) --no-print-directory _test
	$(Q)$(MAKE) --no-print-directory SAN=1 _test

_test: programs tests
	$(Q)sh tests/run.sh $(BUILD) $(ALL_UNIT_TESTS) $(ALL_SIM_TESTS)

# ---- fuzzing: clang + libFuzzer, with ASan and UBSan
FUZZ_CFLAGS := $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN)
FUZZ_BINS := $(addprefix build/fuzz/fuzz-,$(FUZZ_TARGETS))

FUZZ_SUPPORT := tests/support/test-port.c tests/support/test-authority.c tests/support/test-lock.c \
	lockfw/host/sim-hw.c lockfw/host/port-crypto.c lib/p256.c lib/atomicfile.c lib/signer.c lib/hex.c
build/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(PROTO_SRC) $(CORE_SRC) $(FUZZ_SUPPORT)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ-CC $@")
	$(Q)clang $(FUZZ_CFLAGS) -Wno-missing-prototypes $(CRYPTO_CFLAGS) -o $@ $^ $(CRYPTO_LIBS)

fuzz: deps-fuzz
	$(Q)$(MAKE) --no-print-directory _fuzz

_fuzz: $(FUZZ_BINS)
	$(Q)sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---- benchmarks
# bench-unlock runs the lock core under callgrind; the whole-system benchmarks start the
# real programs, like the black-box tests, with the set-up they share (tests/support/test-stack.c).
# bench-console draws the console's map without a server (its rule is in parkconsole's block).
BENCH_SYSTEM := issue events delivery phone share console-storm
BENCH_SYSTEM_BINS := $(addprefix build/bench/bench-,$(BENCH_SYSTEM))
BENCH_SUPPORT_OBJ := $(call to_obj,tests/bench/bench-stats.c tests/bench/bench-http.c \
				      tests/bench/bench-threads.c)
BENCH_BINS := build/bench/bench-unlock $(BENCH_SYSTEM_BINS) build/bench/bench-console

build/bench/bench-unlock: $(OBJ)/tests/bench/bench-unlock.o $(TEST_LINK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(TEST_LIBS)

$(BENCH_SYSTEM_BINS): build/bench/bench-%: $(OBJ)/tests/bench/bench-%.o $(BENCH_SUPPORT_OBJ) \
		$(TEST_LINK) | $(PROGRAMS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o %.a,$^) $(TEST_LIBS)

bench: deps-build deps-bench
	$(Q)$(MAKE) --no-print-directory SAN=0 _bench

_bench: $(BENCH_BINS)
	$(Q)sh tests/bench/run.sh

# ---- the main job
# HEADLESS=1: the same garage without the console, until SIGINT or SIGTERM.
run: deps-run
	$(Q)$(MAKE) --no-print-directory programs
	$(Q)HEADLESS=$(HEADLESS) sh assets/demo/run.sh $(BIN)

# ---- install
# Daemons and servers have their man page in section 8, user programs in section 1.
install: programs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/parking \
		$(DESTDIR)$(PREFIX)/lib/systemd/user
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(wildcard $(patsubst $(BIN)/%,docs/man/%.8,$(PROGRAMS))) \
		$(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $(wildcard $(patsubst $(BIN)/%,docs/man/%.1,$(PROGRAMS))) \
		$(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 assets/demo/garage.conf $(DESTDIR)$(PREFIX)/share/parking/
	sed 's|/usr/local|$(PREFIX)|' assets/systemd/parkphoned.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/user/parkphoned.service

# ---- messages (parkconsole's block): the gettext catalogues of text domain "parking".
# po/LANG.po is compiled with msgfmt into $(BUILD)/locale/LANG/LC_MESSAGES/parking.mo,
# with the programs and before the tests (which point parkconsole --localedir at it),
# and installed under $(PREFIX)/share/locale with parkconsole's man page (section 1).
# `make update-po` extracts po/parking.pot from the files of po/POTFILES and merges it
# into each po/LANG.po (run it after changing messages; it needs xgettext).
PO_LANGS := zh_CN
MO_FILES := $(foreach l,$(PO_LANGS),$(BUILD)/locale/$(l)/LC_MESSAGES/parking.mo)

$(BUILD)/locale/%/LC_MESSAGES/parking.mo: po/%.po
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MSGFMT  $@")
	$(Q)msgfmt --check -o $@.tmp $< && mv $@.tmp $@

programs: $(MO_FILES)
tests: $(MO_FILES)
$(addprefix $(TESTBIN)/test-,$(TUI_SIM_TESTS)): | $(MO_FILES)

# The console's frame benchmark (in BENCH_BINS; its event storm is bench-console-storm,
# a whole-system benchmark of the bench section).
build/bench/bench-console: $(OBJ)/tests/bench/bench-console.o $(BENCH_SUPPORT_OBJ) $(TEST_LINK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(TEST_LIBS)

.PHONY: update-po install-messages
update-po:
	xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ \
		--add-comments=TRANSLATORS --package-name=parking -o po/parking.pot -f po/POTFILES
	for l in $(PO_LANGS); do msgmerge --quiet --update --backup=none po/$$l.po \
		po/parking.pot || exit 1; done

install: install-messages
install-messages: $(MO_FILES)
	for l in $(PO_LANGS); do \
		install -d $(DESTDIR)$(PREFIX)/share/locale/$$l/LC_MESSAGES && \
		install -m 0644 $(BUILD)/locale/$$l/LC_MESSAGES/parking.mo \
			$(DESTDIR)$(PREFIX)/share/locale/$$l/LC_MESSAGES/ || exit 1; done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
