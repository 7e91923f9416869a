#!/usr/bin/env python3
"""A loopback HTTP(S) server for BrokerHTTPTests (standard library only).

Listens on 127.0.0.1 on an ephemeral port and prints "PORT <n>" once it accepts
connections. With --cert and --key it speaks TLS. It counts TCP connections and requests
and records CONNECT targets, so tests can see connection reuse and proxy use (GET /stats).

Routes (any method):
  /echo              200, JSON: method, path, headers (in order), body (base64)
  /status/N          status N, body "status N"
  /redirect          302 to /echo
  /bytes/N           N bytes with a Content-Length
  /stream/N          N bytes, chunked (no Content-Length)
  /drop              announces 1000 bytes, sends 10, closes the connection
  /stall/S           sleeps S seconds, then 200
  /headers           repeated and folded header fields
  /manyheaders/N     N header fields of 100 bytes each, then a 2-byte body
  /interim           a 100 Continue with its own header, then the final response
  /trailers          a chunked body followed by a trailer field
  /stats             JSON: connections, requests, paths, connects (not counting the
                     stats request and its connection)
CONNECT host:port    recorded, answered 403

With --blackhole it serves nothing: it listens with a full accept queue and never
accepts, so the kernel drops new connection attempts and clients hang in connect.
"""

import argparse
import base64
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
stats = {"connections": 0, "requests": 0, "paths": [], "connects": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1

    def log_message(self, format, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        route = parts[0]
        with lock:
            stats["requests"] += 1
            if route != "stats":
                stats["paths"].append(path)

        if route == "echo":
            answer = {
                "method": self.command,
                "path": self.path,
                "headers": [[name, value] for name, value in self.headers.items()],
                "body": base64.b64encode(body).decode(),
            }
            self.reply(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])
        elif route == "status":
            code = int(parts[1])
            self.reply(code, f"status {code}".encode())
        elif route == "redirect":
            self.reply(302, b"moved", [("Location", "/echo")])
        elif route == "bytes":
            self.reply(200, b"x" * int(parts[1]))
        elif route == "stream":
            remaining = int(parts[1])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while remaining > 0:
                size = min(remaining, 4000)
                self.wfile.write(b"%x\r\n" % size + b"y" * size + b"\r\n")
                remaining -= size
            self.raw(b"0\r\n\r\n")
        elif route == "drop":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"z" * 10)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif route == "stall":
            time.sleep(float(parts[1]))
            self.reply(200, b"late")
        elif route == "headers":
            self.raw(
                b"HTTP/1.1 200 OK\r\n"
                b"X-Multi: one\r\n"
                b"X-Case-Name:  spaced value \r\n"
                b"X-Multi: two\r\n"
                b"X-Folded: first\r\n"
                b"  second\r\n"
                b"X-Empty:\r\n"
                b"Content-Length: 2\r\n\r\nok"
            )
        elif route == "manyheaders":
            fields = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 80) for i in range(int(parts[1])))
            self.raw(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok")
        elif route == "interim":
            self.raw(b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n")
            self.raw(b"HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok")
        elif route == "trailers":
            self.raw(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n"
                b"2\r\nok\r\n0\r\nX-Trailer: late\r\n\r\n"
            )
        elif route == "stats":
            with lock:
                # A stats request comes on a connection of its own (curl's CLI): count
                # neither, so the figures are the tested client's alone.
                stats["connections"] -= 1
                stats["requests"] -= 1
                answer = json.dumps(stats).encode()
            self.reply(200, answer, [("Content-Type", "application/json")])
        else:
            self.reply(404, b"no such route")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    def do_CONNECT(self):
        with lock:
            stats["requests"] += 1
            stats["connects"].append(self.path)
        self.close_connection = True
        self.reply(403, b"no tunnels here")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    context = None

    def finish_request(self, request, client_address):
        # The TLS handshake runs on the connection's own thread, so a client that rejects
        # the certificate cannot block the accept loop.
        if self.context is not None:
            request = self.context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # failed handshakes and dropped connections are what some tests do


def blackhole():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    time.sleep(0.3)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        time.sleep(60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--blackhole", action="store_true")
    args = parser.parse_args()
    if args.blackhole:
        return blackhole()
    server = Server(("127.0.0.1", 0), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.context = context
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
