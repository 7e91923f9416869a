#!/usr/bin/env python3
"""A stand-in for credbrokerd's admin API, for the CLI's tests of setup, login, revoke,
secret rotate, providers and status before the daemon's OAuth handlers exist.

    fake_daemon.py SOCKET SCENARIO.json LOG.jsonl

It serves HTTP/1.1 on the Unix socket SOCKET and writes one JSON line per request to LOG
({"method", "path", "body"}); "browser" lines record what the simulated browser got. The
scenario (JSON) may set:

  "profiles": ["dev"]             profiles that exist at start
  "apps": {"dev": [["google", "google"]]}   apps that exist at start (name, type)
  "status": {...}                 the whole GET /v1/admin/status answer
  "browser": ["/favicon.ico", "/callback?code=..."]   requests the simulated browser sends
                                  to the redirect URI's host and port after login/start;
                                  "{state}" is replaced by the login's state, "{path}" by
                                  the redirect URI's path
  "state_in_url": true            put the state into the authorization URL (default)
  "device_polls": 2               login/poll answers pending this often, then done
  "error": {"route": "/v1/admin/login/start", "status": 423, "code": "locked", "message": "..."}

Expected code: "good-code". The login's state is "state-1234".
"""
import http.client
import json
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

SOCKET, SCENARIO, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
with open(SCENARIO) as f:
    scenario = json.load(f)
lock = threading.Lock()
profiles = list(scenario.get("profiles", []))
apps = {p: [list(a) for a in v] for p, v in scenario.get("apps", {}).items()}
polls = {"n": 0}
STATE = "state-1234"
LOGIN_ID = "login-1"


def log(entry):
    with lock:
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")


def browser(redirect_uri):
    parts = urllib.parse.urlsplit(redirect_uri)
    time.sleep(0.3)
    for target in scenario.get("browser", []):
        target = target.replace("{state}", STATE).replace("{path}", parts.path)
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
            conn.request("GET", target)
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            log({"browser": target, "status": response.status, "body": body,
                 "content_type": response.getheader("Content-Type")})
            conn.close()
        except Exception as e:  # the listener closed: that is an answer too
            log({"browser": target, "status": 0, "error": type(e).__name__})
        time.sleep(0.1)


def status_body():
    if "status" in scenario:
        return scenario["status"]
    return {"state": "ok", "vault": "/tmp/vault.db", "mode": "user", "policies": [], "audit": "ok",
            "profiles": [{"name": p, "apps": [{"name": a[0], "type": a[1], "configured": True} for a in apps.get(p, [])],
                          "grants": []} for p in profiles]}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode()
        if not line:
            return
        method, path, _ = line.split(" ", 2)
        length = 0
        while True:
            header = self.rfile.readline().decode()
            if header in ("\r\n", "\n", ""):
                break
            name, _, value = header.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        log({"method": method, "path": path, "body": body})
        status, answer = self.route(method, path, body)
        data = json.dumps(answer).encode()
        self.wfile.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)

    def route(self, method, path, body):
        error = scenario.get("error")
        if error and error["route"] == path:
            return error["status"], {"error": {"code": error["code"], "message": error["message"]}}
        segments = [urllib.parse.unquote(s) for s in path.split("?")[0].split("/")[1:]]
        if path == "/v1/health":
            return 200, {"status": "ok", "version": "fake", "uptime_seconds": 7}
        if path == "/v1/admin/profiles" and method == "GET":
            return 200, {"profiles": profiles}
        if segments[:3] == ["v1", "admin", "profiles"] and len(segments) == 4 and method == "PUT":
            if segments[3] in profiles:
                return 400, {"error": {"code": "bad_request", "message": f'profile "{segments[3]}" already exists'}}
            profiles.append(segments[3])
            return 201, {"ok": True, "message": f'created profile "{segments[3]}"'}
        if segments[:3] == ["v1", "admin", "profiles"] and len(segments) == 6 and segments[4] == "apps" and method == "PUT":
            apps.setdefault(segments[3], []).append([segments[5], body["type"]])
            return 200, {"ok": True, "message": "stored"}
        if segments[:3] == ["v1", "admin", "profiles"] and len(segments) == 7 and segments[4] == "grants" and method == "PUT":
            return 200, {"ok": True, "message": "stored"}
        if path == "/v1/admin/status":
            return 200, status_body()
        if path == "/v1/admin/login/start":
            if body.get("device"):
                return 200, {"login_id": LOGIN_ID, "expires_at": "2099-01-01T00:00:00Z",
                             "device": {"verification_uri": "https://example.test/device", "user_code": "ABCD-EFGH",
                                        "interval": 1, "expires_in": 30}}
            redirect = body["redirect_uri"]
            query = {"client_id": "cid", "redirect_uri": redirect}
            if scenario.get("state_in_url", True):
                query["state"] = STATE
            url = "https://accounts.example.test/auth?" + urllib.parse.urlencode(query)
            threading.Thread(target=browser, args=(redirect,), daemon=True).start()
            return 200, {"login_id": LOGIN_ID, "authorization_url": url, "redirect_uri": redirect,
                         "expires_at": "2099-01-01T00:00:00Z"}
        if path == "/v1/admin/login/complete":
            if body.get("error"):
                return 200, {"status": "failed", "profile": "", "app": "", "message": "the provider refused"}
            if body.get("login_id") is not None and (body.get("login_id") != LOGIN_ID or body.get("state") != STATE):
                return 400, {"error": {"code": "bad_request", "message": "no pending login with this state"}}
            if body.get("code") != "good-code":
                return 400, {"error": {"code": "bad_request", "message": "the provider refused the code"}}
            return 200, {"status": "done", "profile": body.get("profile") or "dev", "app": body.get("app") or "google",
                         "account": "alice@sandbox.test", "scopes": ["https://www.googleapis.com/auth/calendar.readonly"]}
        if path == "/v1/admin/login/poll":
            polls["n"] += 1
            if polls["n"] <= scenario.get("device_polls", 2):
                return 200, {"status": "pending", "profile": "dev", "app": "google"}
            return 200, {"status": "done", "profile": "dev", "app": "google", "account": "alice@sandbox.test",
                         "scopes": ["https://www.googleapis.com/auth/calendar.readonly"]}
        if path == "/v1/admin/revoke":
            return 200, {"account": body.get("account") or "alice@sandbox.test", "revoked_at_provider": True, "message": "revoked"}
        if path == "/v1/admin/secret/rotate":
            return 200, {"ok": True, "message": f'replaced the client secret of "{body["app"]}"'}
        return 404, {"error": {"code": "not_found", "message": "no route " + path}}


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCKET):
    os.unlink(SOCKET)
with Server(SOCKET, Handler) as server:
    print("listening", flush=True)  # bound and listening: FakeDaemon waits for this line
    server.serve_forever()
