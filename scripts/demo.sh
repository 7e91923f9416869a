#!/usr/bin/env bash
# The README's main job: the whole broker, offline, in a temporary directory that is removed
# afterwards. Starts the offline provider sandbox and credbrokerd in user mode, creates the
# vault through the socket, sets up a Google app pointed at the sandbox, logs in through the
# loopback redirect (this script plays the browser), hands out a narrowed token as the
# policy says and calls the sandbox's Calendar API with it, refuses what the policy does
# not allow, locks and unlocks, shows the status, revokes the grant, verifies the audit log,
# and stops everything.
set -euo pipefail
bin="$1"
dir=$(mktemp -d /tmp/credbroker-demo.XXXXXX)
daemon=""
sandbox=""
login=""
cleanup() {
    for pid in $login $daemon $sandbox; do
        if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
    done
    rm -rf "$dir"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "credbroker sandbox: offline Google, Microsoft and Zoom (OAuth and APIs)"
"$bin/credbroker" sandbox > "$dir/sandbox.out" 2> "$dir/sandbox.log" &
sandbox=$!
for _ in $(seq 100); do grep -q '^READY ' "$dir/sandbox.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^READY //p' "$dir/sandbox.out")
echo "READY $url"

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
printf 'GOCSPX-sandbox-desktop-secret\n' > "$dir/client-secret"
chmod 600 "$dir/pass" "$dir/client-secret"
export CREDBROKER_SOCKET="$dir/run/broker.sock"

step "credbrokerd --user (socket $CREDBROKER_SOCKET)"
"$bin/credbrokerd" --user --vault "$dir/state/vault.db" --socket "$CREDBROKER_SOCKET" \
    --policies "$dir/policies" --audit-log "$dir/log/audit.log" 2> "$dir/daemon.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$CREDBROKER_SOCKET" ] && break; sleep 0.1; done
curl -s --unix-socket "$CREDBROKER_SOCKET" http://localhost/v1/health; echo

step "credbroker vault init (through the daemon; the recovery key is printed once)"
"$bin/credbroker" vault init --passphrase-file "$dir/pass" --kdf interactive

step "credbroker setup google --sandbox (the client secret from a file, never argv)"
"$bin/credbroker" setup google --profile demo --sandbox "$url" \
    --client-id sandbox-desktop.apps.googleusercontent.com --client-secret-file "$dir/client-secret" \
    --scope calendar.readonly --scope gmail.readonly

step "credbroker login google (loopback redirect on an ephemeral port; this script is the browser)"
"$bin/credbroker" login google --profile demo --no-browser 2> "$dir/login.err" &
login=$!
auth=""
for _ in $(seq 100); do
    auth=$(grep -o "$url/google/o/oauth2/v2/auth?[^ ]*" "$dir/login.err" | head -n 1 || true)
    [ -n "$auth" ] && break; sleep 0.1
done
echo "authorization URL: ${auth:0:100}..."
callback=$(curl -s -o /dev/null -w '%{redirect_url}' "$auth")
echo "the sandbox consents as alice@sandbox.test and redirects to ${callback%%\?*}"
curl -s "$callback" | head -c 200; echo
wait "$login"; login=""
cat "$dir/login.err" | grep -v "^credbroker: open" || true

step "credbroker token google --scope calendar.readonly (a refresh narrows the token to that scope)"
token=$("$bin/credbroker" token google --profile demo --scope calendar.readonly)
echo "${token:0:12}... (fingerprint only in the audit log)"

step "the token works at the sandbox's Calendar API, and not at Gmail's"
curl -s -o /dev/null -w 'GET calendarList: %{http_code}\n' -H "Authorization: Bearer $token" "$url/google/calendar/v3/users/me/calendarList"
curl -s -o /dev/null -w 'GET gmail messages: %{http_code}\n' -H "Authorization: Bearer $token" "$url/google/gmail/v1/users/me/messages"

step "the same request over the socket with curl"
curl -s --unix-socket "$CREDBROKER_SOCKET" -H 'Content-Type: application/json' \
    -d '{"profile":"demo","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"]}' \
    http://localhost/v1/token | cut -c1-90; echo "..."

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
"$bin/credbroker" token google --profile demo --scope gmail.readonly --header | cut -c1-40

step "credbroker status"
"$bin/credbroker" status

step "the sandbox's counters: one login, one refresh per scope set"
curl -s "$url/_sandbox/counters" | cut -c1-200; echo

step "credbroker revoke google (at the provider, then in the vault)"
"$bin/credbroker" revoke google --profile demo --yes
"$bin/credbroker" token google --profile demo --scope calendar.readonly || echo "exit status $?"

step "credbroker audit verify (every decision above is a chained, MACed line)"
"$bin/credbroker" audit verify "$dir/log/audit.log"
tail -n 2 "$dir/log/audit.log" | cut -c1-160

step "SIGTERM: the daemon drains and exits; the sandbox stops"
kill -TERM "$daemon"; wait "$daemon"; echo "credbrokerd exited with $?"; daemon=""
kill -TERM "$sandbox"; wait "$sandbox"; echo "sandbox exited with $?"; sandbox=""
ls -la "$dir/state" "$dir/log"
echo; echo "demo done; $dir removed"
