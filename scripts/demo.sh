#!/usr/bin/env bash
# The README's main job: the whole broker, offline, in a temporary directory that is removed
# afterwards. Starts the offline provider sandbox and credbrokerd in user mode, creates the
# vault through the socket, sets up a Google and a Microsoft app pointed at the sandbox, logs
# in to both through the loopback redirect (this script plays the browser), runs the
# daily-brief agent (it holds no secret: its tokens come from the broker, narrowed to what
# each call needs), hands out a narrowed token to curl, refuses what the policy does not
# allow, locks and unlocks, shows the status, revokes a grant, verifies the audit log, and
# stops everything.
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
# Your user may have read-only calendar, mail and contacts tokens of the demo profile;
# nothing else (no sending, no writing).
[[rule]]
name = "demo-google"
uids = [$(id -u)]
profiles = ["demo"]
providers = ["google"]
scopes = ["calendar.readonly", "gmail.readonly", "contacts.readonly"]

[[rule]]
name = "demo-microsoft"
uids = [$(id -u)]
profiles = ["demo"]
providers = ["microsoft"]
scopes = ["Calendars.Read", "Mail.Read", "Contacts.Read"]
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
    --scope calendar.readonly --scope gmail.readonly --scope contacts.readonly

step "credbroker setup microsoft --sandbox (a public client: PKCE, no secret)"
"$bin/credbroker" setup microsoft --profile demo --sandbox "$url" --tenant sandbox-tenant \
    --client-id 00000000-0000-4000-8000-00000000a001 --client-auth none \
    --scope Calendars.Read --scope Mail.Read --scope Contacts.Read

# credbroker login APP, with this script as the browser: it reads the authorization URL the
# CLI prints, lets the sandbox consent, and follows the redirect to the CLI's listener.
login_as_browser() {
    local app=$1 prefix=$2
    "$bin/credbroker" login "$app" --profile demo --no-browser 2> "$dir/login.err" &
    login=$!
    local auth=""
    for _ in $(seq 100); do
        auth=$(grep -o "$prefix[^ ]*" "$dir/login.err" | head -n 1 || true)
        [ -n "$auth" ] && break; sleep 0.1
    done
    echo "authorization URL: ${auth:0:100}..."
    local callback
    callback=$(curl -s -o /dev/null -w '%{redirect_url}' "$auth")
    echo "the sandbox consents as alice@sandbox.test and redirects to ${callback%%\?*}"
    curl -s "$callback" | head -c 200; echo
    wait "$login"; login=""
    grep -v "^credbroker: open" "$dir/login.err" || true
}

step "credbroker login google (loopback redirect on an ephemeral port; this script is the browser)"
login_as_browser google "$url/google/o/oauth2/v2/auth?"

step "credbroker login microsoft"
login_as_browser microsoft "$url/microsoft/sandbox-tenant/oauth2/v2.0/authorize?"

step "daily-brief: an agent with no secret; its tokens come from the broker, one narrowed token per API"
"$bin/daily-brief" --profile demo

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
