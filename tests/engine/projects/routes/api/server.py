"""Answers on the unix socket $SOCKET (as gunicorn -b unix:$SOCKET does) with the path it was asked for."""

import json
import os
import socketserver
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"app": "api", "path": self.path, "host": self.headers.get("Host"),
                           "proto": self.headers.get("X-Forwarded-Proto")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:  # a unix socket has no client address
        return "unix"


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


path = os.environ["SOCKET"]
if os.path.exists(path):
    os.unlink(path)
Server(path, Handler).serve_forever()
