"""The project's router: `routes.yaml` served at a stable local address, as the platform's router does.

One router per project (a container running nginx), publishing two stable ports on 127.0.0.1: HTTP
and HTTPS. The ports follow from the project's name (so they survive redeploys, `down`/`up` and other
machines) unless chosen with `--router-port`. Routes are matched as on the platform: by host first
(`{default}` is `<project>.localhost`, which resolves to loopback; an explicit domain becomes
`<domain>.<project>.localhost`, as on a preview environment), then by the longest path prefix.
`upstream` routes go to the app's web server (port 80 of its web instance, by a name the engine's DNS
resolves at request time, so redeploys need no reload); `redirect` routes answer 301 with `to`; every
https route gets its http twin that redirects to it. HTTPS uses a certificate from a local CA, made
once per machine and kept in a volume all routers share.

Everything here is pure: the nginx config is a function of the resolved routes and the ports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Sequence

from orchestrator.webserver import WEB_PORT

PORT_BASE = 20000
PORT_SLOTS = 4000
CA_VOLUME = "orchestrator-local-ca"
_URL = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/:]+)(?::\d+)?(?P<path>/.*)?$")


def default_ports(project: str) -> tuple[int, int]:
    """The router's (http, https) host ports: stable for a project name, spread over 20000-27999."""
    slot = int(hashlib.sha256(project.encode()).hexdigest()[:8], 16) % PORT_SLOTS
    return PORT_BASE + 2 * slot, PORT_BASE + 2 * slot + 1


def web_alias(app: str) -> str:
    """The name a web instance answers to on the project's egress network, where the router is."""
    from orchestrator.names import safe
    return f"web-{safe(app)}"


@dataclass(frozen=True)
class LocalRoute:
    """One resolved route, with the local URL that reaches it through the router."""

    url: str  # as in PLATFORM_ROUTES
    local_url: str
    type: str
    upstream: str | None
    to: str | None
    scheme: str
    host: str
    path: str


def local_url(url: str, ports: tuple[int, int]) -> str:
    match = _URL.match(url)
    if not match:
        return url
    port = ports[1] if match.group("scheme") == "https" else ports[0]
    return f"{match.group('scheme')}://{match.group('host')}:{port}{match.group('path') or '/'}"


def local_routes(routes: dict[str, dict[str, Any]], ports: tuple[int, int]) -> list[LocalRoute]:
    result = []
    for url, entry in routes.items():
        match = _URL.match(url)
        if not match:
            continue
        result.append(LocalRoute(url=url, local_url=local_url(url, ports), type=entry.get("type", "upstream"),
                                 upstream=(entry.get("upstream") or "").split(":")[0] or None,
                                 to=entry.get("to"), scheme=match.group("scheme"), host=match.group("host"),
                                 path=match.group("path") or "/"))
    return result


def tls_names(routes: Sequence[LocalRoute], domain: str) -> list[str]:
    names = {domain, f"*.{domain}"} | {r.host for r in routes if r.scheme == "https"}
    return sorted(names)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _redirect_target(route: LocalRoute, routes: list[LocalRoute], ports: tuple[int, int], domain: str) -> str:
    """Where a redirect route sends the client, with the router's port where the target is local."""
    target = route.to or "/"
    match = _URL.match(target)
    if match and (match.group("host") == domain or match.group("host").endswith("." + domain)):
        return local_url(target, ports)
    return target


def _location(route: LocalRoute, routes: list[LocalRoute], ports: tuple[int, int], domain: str,
              number: int) -> list[str]:
    lines = [f"        location {_quote(route.path)} {{"]
    if route.type == "upstream" and route.upstream:
        lines += [f"            set $upstream{number} {web_alias(route.upstream)};",
                  f"            proxy_pass http://$upstream{number}:{WEB_PORT};"]
    elif route.type == "redirect" and route.to and route.to.startswith("https://") \
            and route.to.rstrip("/") == route.url.replace("http://", "https://", 1).rstrip("/"):
        # the http twin of an https route: same host and path, over TLS, the rest of the URL kept
        lines.append(f"            return 301 https://$host:{ports[1]}$request_uri;")
    elif route.type == "redirect":
        lines.append(f"            return 301 {_quote(_redirect_target(route, routes, ports, domain))};")
    elif route.type == "proxy" and route.to:
        lines.append(f"            proxy_pass {_quote(route.to)};")
    else:
        lines.append("            return 404;")
    lines.append("        }")
    return lines


def router_config(routes: list[LocalRoute], ports: tuple[int, int], domain: str) -> str:
    """nginx.conf of the project's router (listening on 80 and 443 inside its container)."""
    primary = next((r for r in routes if r.type == "upstream"), routes[0] if routes else None)
    by_server: dict[tuple[str, str], list[LocalRoute]] = {}
    for route in routes:
        by_server.setdefault((route.scheme, route.host), []).append(route)
    lines = [
        "# Generated by orchestrator from routes.yaml; the router of one project.",
        "worker_processes 1;",
        "pid /run/router/nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        "    server_tokens off;",
        "    client_max_body_size 0;",
        "    resolver 127.0.0.11 valid=2s ipv6=off;",
        "    resolver_timeout 3s;",
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Forwarded-Host $host;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Client-IP $remote_addr;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Connection $connection_upgrade;",
        "    proxy_read_timeout 600s;",
        "    proxy_buffering off;",
        "    map $http_upgrade $connection_upgrade { default upgrade; \"\" \"\"; }",
        "    ssl_certificate /run/router/chain.pem;",
        "    ssl_certificate_key /run/router/key.pem;",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    absolute_redirect off;",
    ]
    number = 0
    has_default = {"http": False, "https": False}
    for (scheme, host), entries in sorted(by_server.items()):
        # a request for a host no route names (127.0.0.1, say) is served as the primary route's host
        default = primary is not None and host == primary.host and not has_default[scheme]
        has_default[scheme] = has_default[scheme] or default
        listen = "443 ssl" if scheme == "https" else "80"
        lines += ["    server {", f"        listen {listen}{' default_server' if default else ''};",
                  f"        server_name {host};"]
        for route in sorted(entries, key=lambda r: r.path):
            number += 1
            lines += _location(route, routes, ports, domain, number)
        lines.append("    }")
    for scheme, listen in (("http", "80"), ("https", "443 ssl")):
        if not has_default[scheme]:
            lines += ["    server {", f"        listen {listen} default_server;", "        server_name _;",
                      "        return 404;", "    }"]
    lines.append("}")
    return "\n".join(lines) + "\n"
