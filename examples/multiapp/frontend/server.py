"""The frontend: asks the backend at its relationship's name (`http://backend.internal/`, port 80: the
backend's web server, as the platform's docs say), and serves both answers on $PORT."""

import base64
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def backend_url() -> str:
    endpoint = json.loads(base64.b64decode(os.environ["PLATFORM_RELATIONSHIPS"]))["backend"][0]
    port = "" if endpoint["port"] == 80 else f":{endpoint['port']}"
    return f"{endpoint['scheme']}://{endpoint['host']}{port}/"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            backend, status = json.loads(urllib.request.urlopen(backend_url(), timeout=5).read()), 200
        except OSError as error:
            backend, status = {"error": str(error)}, 502
        body = json.dumps({"app": os.environ["PLATFORM_APPLICATION_NAME"], "backend": backend,
                           "asked": backend_url()}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
