#!/usr/bin/env bash
# The README's main job: the whole broker, offline, in a temporary directory that is removed
# afterwards. Starts credbrokerd in user mode, creates its vault through the socket, stores a
# provider app and a grant (with a made-up access token: the OAuth engine and the offline
# sandbox that make real ones arrive with issues 4 and 5), hands tokens out as the policy
# says, locks and unlocks, verifies the audit log, and stops the daemon; then starts the
# offline provider sandbox and takes a token from it.
set -euo pipefail
bin="$1"
dir=$(mktemp -d /tmp/credbroker-demo.XXXXXX)
daemon=""
cleanup() {
    if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then kill -TERM "$daemon"; wait "$daemon" || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

mkdir -m 700 "$dir/policies"
cat > "$dir/policies/demo.toml" <<POLICY
# Your user may have read-only calendar and mail tokens of the demo profile; nothing else.
[[rule]]
name = "demo"
uids = [$(id -u)]
profiles = ["demo"]
providers = ["google"]
scopes = ["calendar.readonly", "gmail.readonly"]
POLICY
chmod 600 "$dir/policies/demo.toml"
printf 'demo passphrase, not for real use\n' > "$dir/pass"
chmod 600 "$dir/pass"
export CREDBROKER_SOCKET="$dir/run/broker.sock"

step "credbrokerd --user (socket $CREDBROKER_SOCKET)"
"$bin/credbrokerd" --user --vault "$dir/state/vault.db" --socket "$CREDBROKER_SOCKET" \
    --policies "$dir/policies" --audit-log "$dir/log/audit.log" 2> "$dir/daemon.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$CREDBROKER_SOCKET" ] && break; sleep 0.1; done
curl -s --unix-socket "$CREDBROKER_SOCKET" http://localhost/v1/health; echo

step "credbroker vault init (through the daemon; the recovery key is printed once)"
"$bin/credbroker" vault init --passphrase-file "$dir/pass" --kdf interactive

step "credbroker profile create demo"
"$bin/credbroker" profile create demo

step "store a provider app and a grant through the admin API (curl --unix-socket)"
curl -s --unix-socket "$CREDBROKER_SOCKET" -X PUT -H 'Content-Type: application/json' \
    -d '{"type":"google","client_id":"demo.apps.googleusercontent.com","client_secret":"demo-client-secret"}' \
    http://localhost/v1/admin/profiles/demo/apps/google; echo
curl -s --unix-socket "$CREDBROKER_SOCKET" -X PUT -H 'Content-Type: application/json' \
    -d '{"scopes":["calendar.readonly","gmail.readonly"],"refresh_token":"demo-refresh-token","access_token":"ya29.demo-access-token","expires_at":"2099-01-01T00:00:00Z"}' \
    http://localhost/v1/admin/profiles/demo/grants/google/me%40example.com; echo

step "credbroker token google --profile demo --scope calendar.readonly"
"$bin/credbroker" token google --profile demo --scope calendar.readonly

step "the same over the socket with curl"
curl -s --unix-socket "$CREDBROKER_SOCKET" -H 'Content-Type: application/json' \
    -d '{"profile":"demo","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"]}' \
    http://localhost/v1/token; echo

step "a scope the policy does not grant is denied (exit 3)"
"$bin/credbroker" token google --profile demo --scope gmail.send || echo "exit status $?"

step "credbroker policy explain says why"
"$bin/credbroker" policy explain --policies "$dir/policies" --uid "$(id -u)" --profile demo \
    --provider google --scope gmail.send || true

step "credbroker vault lock; a token request now gets locked (exit 4)"
"$bin/credbroker" vault lock
"$bin/credbroker" token google --profile demo --scope calendar.readonly || echo "exit status $?"

step "credbroker vault unlock --passphrase-file; tokens flow again"
"$bin/credbroker" vault unlock --passphrase-file "$dir/pass"
"$bin/credbroker" token google --profile demo --scope calendar.readonly --header

step "credbroker status"
"$bin/credbroker" status

step "credbroker audit verify (every decision above is a chained, MACed line)"
"$bin/credbroker" audit verify "$dir/log/audit.log"
tail -n 2 "$dir/log/audit.log" | cut -c1-160

step "SIGTERM: the daemon drains and exits"
kill -TERM "$daemon"; wait "$daemon"; echo "credbrokerd exited with $?"; daemon=""
ls -la "$dir/state" "$dir/log"

step "credbroker sandbox: the offline emulator of Google's and Microsoft's OAuth and APIs"
"$bin/credbroker" sandbox --json > "$dir/sandbox.out" 2> "$dir/sandbox.log" &
sandbox=$!
for _ in $(seq 100); do grep -q '^READY ' "$dir/sandbox.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^READY //p' "$dir/sandbox.out")
echo "READY $url"
echo "-- a client-credentials token from the sandbox's Microsoft identity platform, then its counters"
ms=$(curl -s "$url/microsoft/sandbox-tenant/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d client_id=00000000-0000-4000-8000-00000000a002 \
    -d client_secret=sandbox-ms-confidential-secret -d scope=https://graph.microsoft.com/.default)
echo "$ms" | cut -c1-120
curl -s "$url/_sandbox/counters" | cut -c1-160; echo
kill -TERM "$sandbox"; wait "$sandbox"; echo "sandbox exited with $?"
echo; echo "demo done; $dir removed"
