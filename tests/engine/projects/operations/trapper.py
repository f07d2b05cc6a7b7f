"""Logs SIGTERM when it gets it, then exits 0."""

import signal
import sys
import time

name = sys.argv[1]


def on_term(signum, frame):
    print(f"{name}: got SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print(f"{name}: started", flush=True)
while True:
    time.sleep(0.2)
