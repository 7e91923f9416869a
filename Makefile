# credbroker. The README's two commands: `make demo` (the main job) and `make test`.
# Both install what they need first (system packages through apt-get, PyNaCl through pip).

SYSTEM_PACKAGES = libsodium-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev pkg-config \
                  openssl strace util-linux python3 python3-pip curl systemd
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=

.PHONY: deps demo test test-debug test-release fuzz bench build install uninstall clean

# Installs the system packages and PyNaCl when something is missing; a no-op otherwise.
deps:
	@dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $(SYSTEM_PACKAGES); }
	@python3 -c 'import nacl.pwhash' 2>/dev/null || python3 -m pip install --quiet pynacl \
	  || python3 -m pip install --quiet --break-system-packages pynacl

# The main job: credbrokerd, its vault, policies, tokens, lock/unlock and the audit log, in a
# temporary directory that is removed afterwards (scripts/demo.sh says what it shows).
demo: deps
	swift build -c release --product credbrokerd
	swift build -c release --product credbroker
	swift build -c release --product daily-brief
	scripts/demo.sh "$$(swift build -c release --show-bin-path)"

# Every test, in debug and then in release (C-pointer lifetime bugs show only there), then
# the fuzzers' short mode: each target 30 s under libFuzzer and AddressSanitizer
# (docs/testing.md, "Fuzzing").
test: deps
	swift test
	swift test -c release
	scripts/fuzz.sh --seconds 30

test-debug: deps
	swift test

test-release: deps
	swift test -c release

# The fuzzers alone: `make fuzz` is the short mode; the nightly long mode is
# `make fuzz FUZZ="--runs 100000000 --corpus-dir DIR"` (docs/testing.md, "Fuzzing").
FUZZ ?= --seconds 30
fuzz: deps
	scripts/fuzz.sh $(FUZZ)

# The figures of docs/benchmarks.md (release build), in one run: the vault, the socket
# against its floors, `credbroker token`, memory with 10,000 cached tokens, the refresh
# engine, a cached CredBrokerClient token (about 15 minutes in all).
bench: deps
	swift build -c release --product credbroker-bench
	swift build -c release --product credbrokerd
	swift build -c release --product credbroker
	swift build -c release --product credbroker-memory-floor
	$$(swift build -c release --show-bin-path)/credbroker-bench all

# The release binaries `make install` installs.
build: deps
	swift build -c release --product credbrokerd
	swift build -c release --product credbroker

# Binaries, systemd units, sysusers.d and tmpfiles.d snippets, shell completions, man
# pages (docs/man, when present) and the example policies (as *.toml.example, never
# replacing a file) under PREFIX (default /usr/local) and SYSCONFDIR (default /etc), staged
# under DESTDIR if set. scripts/install.sh lists every file; docs/operations.md the next
# steps. `make uninstall` with the same variables removes what it installed.
install: build
	scripts/install.sh install "$$(swift build -c release --show-bin-path)" --prefix "$(PREFIX)" \
	  --sysconfdir "$(SYSCONFDIR)" $(if $(DESTDIR),--destdir "$(DESTDIR)")

uninstall:
	scripts/install.sh uninstall --prefix "$(PREFIX)" --sysconfdir "$(SYSCONFDIR)" $(if $(DESTDIR),--destdir "$(DESTDIR)")

clean:
	rm -rf .build .build-fuzz
