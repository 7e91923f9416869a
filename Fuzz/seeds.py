#!/usr/bin/env python3
"""Writes the committed seed corpora, Fuzz/corpus/<target>/ (docs/testing.md, "Fuzzing").

Every seed is written out here, so a reader sees what each target starts from and a
changed seed shows in review. Deterministic: no randomness, no clock. Run it from
anywhere; it replaces the seed files it knows and leaves any other file alone.
"""
import base64
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def j(value):
    return json.dumps(value, separators=(",", ":"))


def b64(text):
    return base64.b64encode(text.encode()).decode()


# --- api: raw HTTP/1.1 byte streams (a leading non-letter byte is the read size) ------

def request(method, path, body=None, content_type="application/json", extra=""):
    head = f"{method} {path} HTTP/1.1\r\nHost: credbroker\r\n{extra}"
    if body is None:
        return head + "\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head + f"Content-Length: {len(body.encode())}\r\n\r\n" + body


TOKEN = j({"profile": "dev", "provider": "google", "scopes": ["calendar.readonly"]})
TOKEN_FULL = j({"profile": "dev", "provider": "google", "account": "me@example.com",
                "scopes": ["https://www.googleapis.com/auth/calendar.readonly", "gmail.send"],
                "min_valid_seconds": 300, "force_refresh": True})

api = {
    "health.http": request("GET", "/v1/health"),
    "profiles.http": request("GET", "/v1/profiles"),
    "token.http": request("POST", "/v1/token", TOKEN),
    "token-full.http": request("POST", "/v1/token", TOKEN_FULL),
    "token-charset.http": request("POST", "/v1/token", TOKEN, content_type="application/json; charset=utf-8"),
    "token-wrong-type.http": request("POST", "/v1/token", TOKEN, content_type="text/plain"),
    "token-no-type.http": request("POST", "/v1/token", TOKEN, content_type=None),
    "token-chunked.http": "POST /v1/token HTTP/1.1\r\nHost: credbroker\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n10\r\n" + TOKEN[:16] + "\r\n"
                          + format(len(TOKEN) - 16, "x") + "\r\n" + TOKEN[16:] + "\r\n0\r\n\r\n",
    "token-wrong-method.http": request("GET", "/v1/token"),
    "token-expect.http": request("POST", "/v1/token", TOKEN, extra="Expect: 100-continue\r\n"),
    "token-bad-json.http": request("POST", "/v1/token", '{"profile":"dev","scopes":["a",]}'),
    "token-escapes.http": request("POST", "/v1/token", '{"profile":"d\\u0065v","provider":"\\ud83d\\ude00","scopes":["\\n"]}'),
    "pipelined.http": request("GET", "/v1/health") + request("POST", "/v1/token", TOKEN) + request("GET", "/v1/profiles"),
    "http10.http": "GET /v1/health HTTP/1.0\r\n\r\n",
    "close.http": request("GET", "/v1/health", extra="Connection: close\r\n") + request("GET", "/v1/health"),
    "admin-unlock.http": request("POST", "/v1/admin/unlock", j({"method": "passphrase", "secret": b64("correct horse")})),
    "admin-record.http": request("PUT", "/v1/admin/profiles/dev/grants/google/me%40example.com",
                                 j({"scopes": ["calendar.readonly"], "refresh_token": "1//0abc"})),
    "admin-delete.http": request("DELETE", "/v1/admin/profiles/dev?force=true&x=%41"),
    "bad-query.http": request("GET", "/v1/health?a=%zz"),
    "unknown-route.http": request("GET", "/v2/nothing/here"),
    "huge-length.http": "POST /v1/token HTTP/1.1\r\nHost: credbroker\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n{}",
    "garbage.http": "GET\x00 / HTTP/9.9\r\n\r\n",
    # Read sizes: the same requests arriving 1, 7 and 64 bytes at a time.
    "split-1.bin": b"\x01" + request("POST", "/v1/token", TOKEN).encode(),
    "split-7.bin": b"\x07" + request("GET", "/v1/health").encode() + request("POST", "/v1/token", TOKEN_FULL).encode(),
    "split-64.bin": b"\x40" + request("PUT", "/v1/admin/profiles/dev/apps/google", j({"type": "google", "client_id": "x"})).encode(),
}
for name, data in api.items():
    write("api", name, data)

# --- api-json: a route letter, then the body ------------------------------------------

GRANT = {"scopes": ["calendar.readonly", "https://graph.microsoft.com/Mail.Read"], "refresh_token": "1//0fuzz-refresh",
         "access_token": "ya29.fuzz", "expires_at": "2030-01-02T03:04:05Z"}
APP = {"type": "google", "client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-fuzz",
       "endpoints": {"token": "https://oauth2.googleapis.com/token"}, "scopes": ["calendar.readonly"],
       "client_auth": "client_secret_post", "redirect_uri": "http://127.0.0.1:8765/callback"}
SERVICE_ACCOUNT = {"client_email": "bot@project.iam.gserviceaccount.com",
                   "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
                   "private_key_id": "abc123", "token_uri": "https://oauth2.googleapis.com/token"}
api_json = {
    "a-token": TOKEN, "a-token-full": TOKEN_FULL, "a-token-null-account": j({"profile": "dev", "provider": "google", "account": None, "scopes": ["x"]}),
    "a-token-duplicates": '{"profile":"a","profile":"dev","provider":"google","scopes":["x"],"extra":{"deep":[1,2.5e3,null,true]}}',
    "b-init": j({"passphrase": b64("correct horse battery"), "kdf": "interactive", "allow_weak_kdf": False}),
    "c-unlock": j({"method": "recovery", "secret": b64("ABCD-EFGH-IJKL")}),
    "d-passwd": j({"current": b64("old passphrase"), "new": b64("new passphrase"), "kdf": "moderate"}),
    "e-add-slot": j({"kind": "keyfile", "path": "/tmp/credbroker-fuzz/key"}),
    "e-add-slot-passphrase": j({"kind": "passphrase", "passphrase": b64("another one"), "kdf": "sensitive"}),
    "f-remove-slot": j({"id": 2}),
    "g-backup": j({"path": "/var/lib/credbroker/backup.db", "force": True}),
    "h-restore": j({"path": "/var/lib/credbroker/../backup.db", "passphrase": b64("backup passphrase")}),
    "i-audit-verify": j({"path": "relative/audit.log"}),
    "j-import": j({"profile": "dev", "app": "google", "account": "me@example.com", "grant": GRANT, "verify": True,
                   "dry_run": True, "source": "/home/me/token.json", "app_record": APP}),
    "j-import-service-account": j({"profile": "dev", "app": "google", "grant": {"scopes": ["calendar.readonly"], "flow": "jwt_bearer",
                                                                              "service_account": SERVICE_ACCOUNT}, "verify": False}),
    "k-login-start": j({"profile": "dev", "app": "google", "scopes": ["calendar.readonly"], "redirect_uri": "http://127.0.0.1:8765/cb", "device": False}),
    "l-login-complete": j({"login_id": "0123abcd", "state": "st", "code": "4/0fuzz-code", "error": None}),
    "m-login-poll": j({"login_id": "0123abcd"}),
    "n-revoke": j({"profile": "dev", "app": "google", "account": "me@example.com"}),
    "o-secret-rotate": j({"profile": "dev", "app": "google", "client_secret": "GOCSPX-new-secret"}),
    "p-app": j(APP),
    "p-app-generic": j({"type": "generic", "client_id": "c", "endpoints": {"authorization": "https://id.example/auth",
                        "token": "http://localhost:9/token"}, "rotates_refresh_tokens": True, "private_key": "pem", "key_id": "k1"}),
    "q-grant": j(GRANT),
    "q-grant-client-credentials": j({"scopes": ["https://graph.microsoft.com/.default"], "flow": "client_credentials"}),
}
for name, body in api_json.items():
    write("api-json", name + ".json", name[0] + body)

# --- policy: policy files (the examples of policies/ as well, copied in) ---------------

here = os.path.dirname(os.path.abspath(__file__))
for example in sorted(os.listdir(os.path.join(here, "..", "policies"))):
    if example.endswith(".toml"):
        with open(os.path.join(here, "..", "policies", example), "rb") as f:
            write("policy", "example-" + example, f.read())
policy = {
    "minimal.toml": '[[rule]]\nuids = [1000]\nprofiles = ["dev"]\nproviders = ["google"]\nscopes = ["calendar.readonly"]\n',
    "everything.toml": '# every field\n[admin]\nusers = ["alice"]\nuids = [1000]\ngroups = ["wheel"]\ngids = [10]\n\n'
                       '[[rule]]\nname = "brief"\ncomment = "the daily brief"\nusers = ["alice", "*"]\nuids = [1000, 0]\ngroups = ["staff"]\n'
                       'gids = [50]\nunits = ["daily-brief.service"]\nexecutables = ["/usr/local/bin/daily-brief"]\nprofiles = ["dev", "*"]\n'
                       'providers = ["google", "microsoft"]\naccounts = ["me@example.com", "*"]\n'
                       'scopes = ["calendar.readonly", "https://graph.microsoft.com/Mail.Read", "*"]\nmetrics = true\n\n'
                       '[[rule]]\nname = "metrics"\nusers = ["prometheus"]\nmetrics = true\n',
    "single-values.toml": '[[rule]]\nusers = "alice"\nuids = 1000\nprofiles = "dev"\nproviders = "google"\nscopes = "gmail.send"\n',
    "inline-tables.toml": 'rule = [{users = ["bob"], profiles = ["p"], providers = ["zoom"], scopes = ["meeting:read"]}]\nadmin = {uids = [0]}\n',
    "errors.toml": '[[rule]]\nuser = ["alice"]\nexe = ["relative"]\nuids = [-1, 4294967296]\nscopes = []\n[[rule]]\nname = "x"\n[[rule]]\nname = "x"\n',
    "toml-features.toml": 'title = """multi\nline"""\n[admin]\n"users" = [\'lit\', "esc\\u00e9\\t"]\n# comment\n[[rule]]\nuids = [0x10, 0o7, 1_000]\n'
                          'profiles = ["a"]\nproviders = ["b"]\nscopes = ["c"]\nratio = 1e3\nnested = [[1, 2], {a.b = \'c\'}]\n',
    "date.toml": '[[rule]]\nuids = [1]\nwhen = 1979-05-27T07:32:00Z\n',
    "config.toml": 'vault = "/var/lib/credbroker/vault.db"\nidle_lock_seconds = 900\n[limits]\nmax_connections = 64\n'
                   'request_timeout_seconds = 2.5\n[audit]\nmax_bytes = 1048576\nkeep = 3\non_failure = "serve"\n'
                   '[oauth]\nconnect_timeout_seconds = 5\nkeep_alive_days = 14.5\n',
}
for name, text in policy.items():
    write("policy", name, text)

# --- token-response: parser letter, status byte, optional Retry-After line, body --------
# Status bytes index [200, 400, 401, 403, 404, 429, 500, 503, 302, 204].

def token_seed(name, which, status_index, body, retry_after=None):
    data = which.encode() + bytes([status_index])
    if retry_after is not None:
        data += b"Retry-After:" + retry_after.encode() + b"\n"
    data += body.encode() if isinstance(body, str) else body
    write("token-response", name, data)


token_seed("google-refresh", "t", 0, j({"access_token": "ya29.a0AfB_byCfuzzfuzzfuzz", "expires_in": 3599,
                                        "scope": "https://www.googleapis.com/auth/calendar.readonly", "token_type": "Bearer"}))
token_seed("google-code", "t", 0, j({"access_token": "ya29.a0AfB_byCfuzz", "expires_in": 3599, "refresh_token": "1//0gFuzzRefresh",
                                     "scope": "openid https://www.googleapis.com/auth/calendar.readonly https://www.googleapis.com/auth/userinfo.email",
                                     "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6Im1lQGV4YW1wbGUuY29tIn0.c2ln"}))
token_seed("microsoft-code", "t", 0, j({"token_type": "Bearer", "scope": "https://graph.microsoft.com/Mail.Read offline_access openid",
                                        "expires_in": 4970, "ext_expires_in": 4970, "access_token": "eyJ0eXAiOiJKV1QifQ.fuzz.sig",
                                        "refresh_token": "0.AAAAfuzz-rotated", "id_token": "eyJ0eXAi.e30.sig"}))
token_seed("microsoft-bare-scope", "t", 0, j({"token_type": "Bearer", "scope": "Mail.Read User.Read", "expires_in": "3600",
                                              "access_token": "eyJfuzz"}))
token_seed("zoom", "t", 0, j({"access_token": "eyJzb29t", "token_type": "bearer", "refresh_token": "eyJyZWZyZXNo",
                              "expires_in": 3599, "scope": "meeting:read user:read"}))
token_seed("no-scope", "t", 0, j({"access_token": "x", "token_type": "Bearer", "expires_in": 60}))
token_seed("hostile-mac", "t", 0, j({"access_token": "x", "token_type": "mac", "expires_in": 60}))
token_seed("hostile-lifetime", "t", 0, j({"access_token": "x", "token_type": "Bearer", "expires_in": 1000000000000}))
token_seed("hostile-duplicate", "t", 0, '{"access_token":"a","access_token":"b","token_type":"Bearer","expires_in":60}')
token_seed("hostile-extra-scope", "t", 0, j({"access_token": "x", "token_type": "Bearer", "expires_in": 60,
                                             "scope": "https://mail.google.com/ https://www.googleapis.com/auth/calendar.readonly"}))
token_seed("error-in-200", "t", 0, j({"error": "invalid_grant", "error_description": "Bad Request"}))
token_seed("google-invalid-grant", "t", 1, j({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
token_seed("microsoft-aadsts", "t", 1, j({"error": "invalid_grant", "error_description":
                                          "AADSTS70008: The provided authorization code or refresh token has expired.\r\nTrace ID: 0a1b\r\nCorrelation ID: 2c3d",
                                          "error_codes": [70008], "timestamp": "2026-01-01 00:00:00Z", "trace_id": "0a1b", "correlation_id": "2c3d"}))
token_seed("zoom-reason", "t", 1, j({"reason": "Invalid Token!", "error": "invalid_request"}))
token_seed("echoed-secret", "t", 2, j({"error": "invalid_client", "error_description":
                                       "client_secret fuzz-client-secret/0123+xyz or fuzz-client-secret%2F0123%2Bxyz is wrong"}))
token_seed("rate-limited", "t", 5, j({"error": "rate_limit_exceeded"}), retry_after="30")
token_seed("unavailable-date", "t", 7, "<html>503</html>", retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
token_seed("redirect", "t", 8, "")
token_seed("google-device", "d", 0, j({"device_code": "AH-1NgFuzz", "user_code": "GQVQ-JKEC", "expires_in": 1800, "interval": 5,
                                       "verification_url": "https://www.google.com/device"}))
token_seed("microsoft-device", "d", 0, j({"user_code": "FGKLMNPQR", "device_code": "DAQABAAEAAAfuzz", "verification_uri": "https://microsoft.com/devicelogin",
                                          "verification_uri_complete": "https://microsoft.com/devicelogin?code=FGKLMNPQR",
                                          "expires_in": 900, "interval": 5, "message": "To sign in, use a web browser"}))
token_seed("device-pending", "d", 1, j({"error": "authorization_pending"}))
token_seed("device-slow-down", "e", 1, j({"error": "slow_down", "error_description": "Slow down"}))

# --- vault-record: payload-type and tamper byte, then the plaintext --------------------
# Low two bits: 0 provider app, 1 grant, 2 service account, 3 internal key; the next three
# bits pick the alteration (0 none ... 7 nonce and ciphertext swapped).

def record_seed(name, kind, tamper, payload):
    data = bytes([kind | (tamper << 2)]) + (payload.encode() if isinstance(payload, str) else payload)
    write("vault-record", name, data)


APP_PAYLOAD = {"v": 1, "type": "google", "client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-fuzz",
               "endpoints": {"token": "https://oauth2.googleapis.com/token"}, "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
               "previous_client_secret": "GOCSPX-old"}
GRANT_PAYLOAD = {"v": 1, "app": "google", "account": "me@example.com", "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
                 "refresh_token": "1//0fuzz", "obtained_at": "2026-01-01T00:00:00Z", "state": "active", "access_token": "ya29.fuzz",
                 "access_token_expires_at": "2026-01-01T01:00:00Z", "access_token_scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
                 "refresh_token_obtained_at": "2026-01-01T00:00:00Z", "last_refresh_at": "2026-01-01T00:30:00Z",
                 "last_error": "HTTP 400 invalid_grant", "last_error_at": "2026-01-02T00:00:00Z"}
SA_PAYLOAD = {"v": 1, "client_email": "bot@project.iam.gserviceaccount.com", "private_key": SERVICE_ACCOUNT["private_key"],
              "private_key_id": "abc123", "token_uri": "https://oauth2.googleapis.com/token"}
record_seed("app", 0, 0, j(APP_PAYLOAD))
record_seed("app-minimal", 0, 0, j({"v": 1, "type": "generic", "client_id": "c", "endpoints": {}}))
record_seed("grant", 1, 0, j(GRANT_PAYLOAD))
record_seed("grant-dead", 1, 0, j({"v": 1, "app": "microsoft", "account": "default", "scopes": [], "obtained_at": "1970-01-01T00:00:00Z",
                                   "state": "dead", "flow": "client_credentials"}))
record_seed("grant-version-2", 1, 0, j({**GRANT_PAYLOAD, "v": 2}))
record_seed("service-account", 2, 0, j(SA_PAYLOAD))
record_seed("internal-key", 3, 0, bytes(range(32)))
record_seed("not-json", 0, 0, "v=1")
record_seed("flip", 1, 1, j(GRANT_PAYLOAD))
record_seed("truncate", 0, 2, j(APP_PAYLOAD))
record_seed("extend", 2, 3, j(SA_PAYLOAD))
record_seed("move", 1, 4, j(GRANT_PAYLOAD))
record_seed("generation", 0, 5, j(APP_PAYLOAD))
record_seed("nonce", 3, 6, bytes(32))
record_seed("swap", 1, 7, "")

# --- provider-answer: a parser letter, then a Google batch, a Graph $batch or an error -----

def google_part(content_id, status, body, headers="Content-Type: application/json; charset=UTF-8\r\n", length=True):
    head = f"Content-Type: application/http\r\nContent-ID: <{content_id}>\r\n\r\nHTTP/1.1 {status} X\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body.encode())}\r\n"
    return head + "\r\n" + body


def google_batch(parts, boundary="batch_abc", close=True, content_type=None):
    text = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    if close:
        text += f"--{boundary}--\r\n"
    return "g" + (content_type or f"multipart/mixed; boundary={boundary}") + "\n" + text


EVENT = j({"kind": "calendar#event", "id": "e1", "status": "confirmed", "summary": "Standup"})
GOOGLE_ERROR = j({"error": {"code": 403, "message": "Rate Limit Exceeded", "status": "PERMISSION_DENIED",
                            "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}],
                            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}]}})
GRAPH_ERROR = j({"error": {"code": "TooManyRequests", "message": "Please retry again later.",
                           "innerError": {"date": "2026-01-01T00:00:00", "request-id": "r"}}})
provider = {
    "google-two": google_batch([google_part("response-1", 200, EVENT), google_part("response-2", 409, GOOGLE_ERROR)]),
    "google-lf-only": google_batch([google_part("response-1", 200, EVENT)]).replace("\r\n", "\n"),
    "google-quoted-boundary": google_batch([google_part("response-x", 204, "")], boundary="a b",
                                           content_type='multipart/mixed; boundary="a b"'),
    "google-truncated": google_batch([google_part("response-1", 200, EVENT), google_part("response-2", 200, EVENT)], close=False)[:-9],
    "google-duplicate": google_batch([google_part("response-1", 200, EVENT), google_part("response-1", 500, "")]),
    "google-no-length": google_batch([google_part("response-7", 200, EVENT, length=False)]),
    "google-folded": google_batch([google_part("response-1", 429, GOOGLE_ERROR, headers="Retry-After:\r\n 7\r\nX-A: b\r\n")]),
    "google-padding": "gmultipart/mixed; boundary=b\n--b   \r\n" + google_part("response-1", 200, "{}") + "\r\n--b--",
    "graph-two": "m" + j({"responses": [{"id": "1", "status": 201, "headers": {"Content-Type": "application/json"}, "body": {"id": "x"}},
                                        {"id": "2", "status": 429, "headers": {"Retry-After": "3"}, "body": json.loads(GRAPH_ERROR)}]}),
    "graph-binary": "m" + j({"responses": [{"id": "a", "status": 200, "headers": {"Content-Type": "image/jpeg"}, "body": b64("jpeg")}]}),
    "graph-duplicate": "m" + j({"responses": [{"id": "3", "status": 200}, {"id": "3", "status": 200}, {"id": "9", "status": 200}]}),
    "graph-odd-status": "m" + j({"responses": [{"id": "1", "status": 1e300}, {"id": "2", "status": -1}, {"id": "3", "status": "200"}]}),
    "graph-not-batch": "m" + j([1, 2, 3]),
    "error-google-scope": "e\x02WWW-Authenticate: Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", "
                          "scope=\"https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/calendar.events\"\n"
                          + j({"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                                         "status": "PERMISSION_DENIED",
                                         "details": [{"reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}),
    "error-google-rate": "e\x02" + GOOGLE_ERROR,
    "error-graph-retry": "e\x07Retry-After: 12\n" + GRAPH_ERROR,
    "error-graph-date": "e\x09Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\n" + GRAPH_ERROR,
    "error-empty": "e\x00",
}
for name, data in provider.items():
    write("provider-answer", name, data)


# --- audit-verify: a mode byte (bit 0 the file, bit 1 live, bit 2 raw), then edits -------
# Each genuine file (AuditFixture, 3 epochs of 3 events) has 12 lines; epoch lines are 0, 4
# and 8. An edit is three bytes: operation (low 3 bits: 0 remove, 1 duplicate, 2 swap,
# 3 flip a byte, 4 move, 5 insert a line of the other file, 6 cut short, 7 join; the flip's
# mask is made of the operation's five high bits h: h << 3 | h >> 2 | 1), then a and b.

def edits(*ops):
    return bytes(b for op in ops for b in op)

SEALED, UNSEALED, LIVE, RAW = 0, 1, 2, 4
audit = {
    "sealed": bytes([SEALED]),
    "sealed-live": bytes([SEALED | LIVE]),
    "unsealed-first": bytes([UNSEALED]),
    "unsealed-first-live": bytes([UNSEALED | LIVE]),
    "remove-line": bytes([SEALED | LIVE]) + edits((0, 2, 0)),
    "swap-lines": bytes([SEALED]) + edits((2, 1, 2)),
    "flip-byte": bytes([SEALED]) + edits((3 | 0x40, 5, 40)),
    # Still JSON, still in order: only the MAC (the hash chain, unsealed) tells. Byte 20 of an
    # event line is the year's last digit ('6' becomes '7').
    "flip-time-digit": bytes([SEALED]) + edits((3, 5, 20)),
    "flip-unsealed-time-digit": bytes([UNSEALED]) + edits((3, 1, 20)),
    "duplicate-line": bytes([UNSEALED]) + edits((1, 3, 4)),
    "move-epoch": bytes([SEALED]) + edits((4, 4, 9)),
    "insert-other-file": bytes([SEALED]) + edits((5, 6, 6)),
    "cut-line": bytes([SEALED]) + edits((6, 11, 3)),
    "join-lines": bytes([UNSEALED]) + edits((7, 1, 0)),
    "no-final-newline": bytes([SEALED]) + edits((7, 11, 0)),
    # Accepted: the head cut at an epoch line (rotation looks the same) ...
    "head-cut-at-epoch": bytes([SEALED]) + edits((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)),
    # ... but not as the live file once its tail is cut, nor unsealed lines left unvouched.
    "tail-cut-live": bytes([SEALED | LIVE]) + edits((0, 11, 0)),
    "unsealed-unvouched": bytes([UNSEALED]) + edits((0, 4, 0)),
    "unsealed-then-other-sealed": bytes([UNSEALED]) + edits((0, 4, 0), (5, 4, 4)),
    "raw-not-json": bytes([RAW]) + b"not an audit line\n{\"seq\":1}\n",
    "raw-empty-live": bytes([RAW | LIVE]),
}
for name, data in audit.items():
    write("audit-verify", name, data)


# --- import-file: a --provider byte (0 none, 1 google, 2 microsoft, 3 zoom, 4 generic), then
# a token file as credbroker import reads it (docs/migrating.md) --------------------------

import sqlite3
import tempfile

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
ESC = "\u001b]0;owned\u0007\u001b[2J\n"


def gcloud_db(rows):
    """gcloud's credentials.db: credentials (account_id TEXT PRIMARY KEY, value BLOB)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "credentials.db")
        db = sqlite3.connect(path)
        db.execute("PRAGMA page_size = 512")
        db.execute("CREATE TABLE credentials (account_id TEXT PRIMARY KEY, value BLOB)")
        for account, value in rows:
            db.execute("INSERT INTO credentials VALUES (?, ?)", (account, value))
        db.commit()
        db.close()
        with open(path, "rb") as f:
            return f.read()


AUTHORIZED = {"type": "authorized_user", "client_id": "c.apps.googleusercontent.com", "client_secret": "GOCSPX-s",
              "refresh_token": "1//r", "account": "me@example.com", "universe_domain": "googleapis.com"}
SERVICE = {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": PEM,
           "client_email": "bot@p.iam.gserviceaccount.com", "client_id": "1234",
           "token_uri": "https://oauth2.googleapis.com/token"}
MSAL = {"Account": {"h-login.microsoftonline.com-t": {"home_account_id": "h", "environment": "login.microsoftonline.com",
                                                       "realm": "t", "username": "me@contoso.com"}},
        "RefreshToken": {"h-rt": {"home_account_id": "h", "environment": "login.microsoftonline.com", "client_id": "app",
                                  "secret": "0.AR", "credential_type": "RefreshToken"}},
        "AccessToken": {"h-at": {"home_account_id": "h", "client_id": "app", "secret": "eyJ0",
                                 "target": "Calendars.Read Mail.Read", "expires_on": "1790003600"}}}
imports = {
    "authorized-user": bytes([0]) + j(AUTHORIZED).encode(),
    "oauthlib-token": bytes([1]) + j({"token": "ya29.a", "refresh_token": "1//r", "token_uri": "https://oauth2.googleapis.com/token",
                                      "client_id": "c", "client_secret": "s", "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
                                      "expiry": "2026-09-21T13:00:00.123456Z"}).encode(),
    "oauthlib-other-token-uri": bytes([0]) + j({"refresh_token": "1//r", "client_id": "c", "token_uri": "https://evil.example/t" + ESC}).encode(),
    "service-account": bytes([0]) + j(SERVICE).encode(),
    "service-account-other-type": bytes([0]) + j(dict(SERVICE, type="installed" + ESC)).encode(),
    "msal-cache": bytes([2]) + j(MSAL).encode(),
    "msal-escape-username": bytes([0]) + j(dict(MSAL, Account={"a": dict(MSAL["Account"]["h-login.microsoftonline.com-t"], username="me" + ESC)})).encode(),
    "generic-expires-at": bytes([3]) + j({"access_token": "a", "refresh_token": "r", "expires_at": 1790003600, "client_id": "z",
                                          "scope": "meeting:read", "email": "me@example.com"}).encode(),
    # An expiry within the second after "now" (1790000000): stored in whole seconds, it would be now.
    "oauthlib-expiry-within-the-second": bytes([1]) + j({"token": "ya29.a", "refresh_token": "1//r", "client_id": "c",
                                                         "expiry": "2026-09-21T14:13:20.5Z"}).encode(),
    "generic-no-provider": bytes([0]) + j({"access_token": "a", "expires_at": "2026-09-21T14:00:00Z"}).encode(),
    "universe-escape": bytes([0]) + j(dict(AUTHORIZED, universe_domain="x" + ESC)).encode(),
    "not-json": bytes([0]) + b"refresh_token=1//r\n",
    "gcloud-db": bytes([1]) + gcloud_db([("me@example.com", j(AUTHORIZED).encode()),
                                         ("bot@p.iam.gserviceaccount.com", j(SERVICE))]),
    "gcloud-db-escape-account": bytes([0]) + gcloud_db([("me" + ESC, 42)]),
}
for name, data in imports.items():
    write("import-file", name, data)

print("wrote the seed corpora under", ROOT, file=sys.stderr)
