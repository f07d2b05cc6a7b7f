"""Stops gracefully: on SIGTERM it notes `sigterm <hostname>` in its mount, takes STOP_SECONDS to finish,
then notes `stopped <hostname>`; a SIGKILL leaves only the first line. Serves HTTP on $PORT (web)."""

import http.server
import os
import signal
import socket
import sys
import threading
import time

name = sys.argv[1]


def note(text: str) -> None:
    with open("/app/marks/stops.log", "a") as handle:
        handle.write(f"{text} {socket.gethostname()}\n")


def on_term(signum, frame):
    note("sigterm")
    time.sleep(float(os.environ.get("STOP_SECONDS", "3")))
    note("stopped")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
if os.environ.get("PORT"):
    server = http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
note("started")
print(f"{name}: started", flush=True)
while True:
    time.sleep(0.2)
