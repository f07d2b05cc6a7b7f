"""The example's web instance: a small HTTP server on $PORT that reports what it is and what it can reach."""

import base64
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def relationships() -> dict:
    encoded = os.environ.get("PLATFORM_RELATIONSHIPS", "")
    return json.loads(base64.b64decode(encoded)) if encoded else {}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({
            "type": os.environ.get("TYPE"),
            "app": os.environ.get("PLATFORM_APPLICATION_NAME"),
            "relationships": sorted(relationships()),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        print(f"web: {self.address_string()} {format % args}", flush=True)


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler)

    def stop(signum, frame):
        print("web: got SIGTERM, shutting down", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"web: TYPE={os.environ.get('TYPE')} listening on {os.environ['PORT']}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
