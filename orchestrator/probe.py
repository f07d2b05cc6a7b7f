"""Ask a route whether it answers: one HTTP(S) GET of a local route URL, the way a browser or curl does it.

Route hosts are `*.localhost`, which browsers and curl send to the loopback address themselves while
the C library's resolver may not; so the connection always goes to 127.0.0.1, and the host travels
in the TLS SNI and the Host header. Standard library only: `up` checks its routes without extra imports.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer at all
    headers: dict[str, str]
    body: bytes
    error: str = ""


def get(url: str, ca_file: str | None = None, timeout: float = 5.0, headers: dict[str, str] | None = None) -> Answer:
    """GET `url` on 127.0.0.1 (any host name), without following redirects. HTTPS is verified against
    `ca_file` when given (the host name included), else not verified at all."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl._create_unverified_context()
            raw = context.wrap_socket(raw, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = raw
        try:
            connection.request("GET", path, headers={"Host": parts.netloc, **(headers or {})})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        return Answer(0, {}, b"", f"{type(error).__name__}: {error}")


def wait_for_answer(url: str, timeout: float, ca_file: str | None = None,
                    hopeless: Callable[[], bool] | None = None) -> Answer:
    """GET `url` until it answers with anything but a server error (5xx), `timeout` passes or `hopeless()`
    says waiting longer cannot help (the app behind it crashed, say); the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get(url, ca_file, timeout=min(5.0, max(0.5, deadline - time.monotonic())))
        if 0 < answer.status < 500 or time.monotonic() >= deadline or (hopeless is not None and hopeless()):
            return answer
        time.sleep(0.25)
