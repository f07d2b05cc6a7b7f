"""The example's workers: do units of real work in a loop; on SIGTERM finish the current unit, say so, exit 0.

`queue` hashes a block of data per unit and keeps a running digest in its scratch mount;
`mail` renders a message per unit and counts what it has "sent".
"""

import hashlib
import os
import signal
import sys
import time

stopping = False


def on_sigterm(signum, frame) -> None:
    global stopping
    stopping = True
    print(f"{sys.argv[1]}: got SIGTERM, finishing the current unit", flush=True)


def queue_unit(number: int, state: dict) -> str:
    block = f"unit-{number}".encode() * 4096
    state["digest"] = hashlib.sha256(state.get("digest", b"") + block).digest()
    scratch = os.path.join(os.environ.get("PLATFORM_APP_DIR", "."), "scratch")
    if os.path.isdir(scratch):
        with open(os.path.join(scratch, "digest"), "w") as handle:
            handle.write(state["digest"].hex())
    return state["digest"].hex()[:16]


def mail_unit(number: int, state: dict) -> str:
    message = f"To: user{number}@example.invalid\nSubject: report {number}\n\nTYPE={os.environ.get('TYPE')}\n"
    state["sent"] = state.get("sent", 0) + 1
    return f"{len(message)} bytes, {state['sent']} sent"


def main() -> None:
    kind = sys.argv[1]
    work = {"queue": queue_unit, "mail": mail_unit}[kind]
    signal.signal(signal.SIGTERM, on_sigterm)
    unit_seconds = float(os.environ.get("UNIT_SECONDS", "1"))
    print(f"{kind}: TYPE={os.environ.get('TYPE')} started", flush=True)
    state: dict = {}
    number = 0
    while not stopping:
        number += 1
        deadline = time.monotonic() + unit_seconds
        result = work(number, state)
        while time.monotonic() < deadline:  # a unit takes a while; a signal does not cut it short
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        print(f"{kind}: unit {number} done: {result}", flush=True)
    print(f"{kind}: stopped cleanly after {number} unit(s)", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
