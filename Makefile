# credbroker. The README's two commands: `make demo` (the main job) and `make test`.
# Both install what they need first (system packages through apt-get, PyNaCl through pip).

SYSTEM_PACKAGES = libsodium-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev pkg-config \
                  openssl strace util-linux python3 python3-pip
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps demo test test-debug test-release bench clean

# Installs the system packages and PyNaCl when something is missing; a no-op otherwise.
deps:
	@dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $(SYSTEM_PACKAGES); }
	@python3 -c 'import nacl.pwhash' 2>/dev/null || python3 -m pip install --quiet pynacl \
	  || python3 -m pip install --quiet --break-system-packages pynacl

# The main job. Until the daemon and the sandbox exist (issues 3 and 4) it shows what is
# real today: a vault made in a temporary directory, a record stored, read back and
# re-encrypted by a key rotation, and the vault's status. The directory is removed after.
demo: deps
	swift build
	@set -e; bin=$$(swift build --show-bin-path); d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	printf 'demo passphrase, not for real use\n' > "$$d/pass"; chmod 600 "$$d/pass"; \
	echo; echo "== credbroker vault init --vault $$d/vault/vault.db --kdf interactive"; \
	"$$bin/credbroker" vault init --vault "$$d/vault/vault.db" --passphrase-file "$$d/pass" --kdf interactive; \
	echo; echo "== store a provider app, read it back, rotate the data key, read it again"; \
	"$$bin/vault-harness" demo "$$d/vault/vault.db" "$$d/pass"; \
	echo; echo "== credbroker vault status"; \
	"$$bin/credbroker" vault status --vault "$$d/vault/vault.db"; \
	echo; ls -la "$$d/vault"; echo; echo "demo done; $$d removed"

# Every test, in debug and then in release (C-pointer lifetime bugs show only there).
test: deps
	swift test
	swift test -c release

test-debug: deps
	swift test

test-release: deps
	swift test -c release

# The figures of docs/benchmarks.md (release build).
bench: deps
	swift build -c release --product credbroker-bench
	$$(swift build -c release --show-bin-path)/credbroker-bench vault --records 10000 --runs 5

clean:
	rm -rf .build
