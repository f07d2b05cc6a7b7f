"""The nginx configuration of a web instance, from its app's `web` section: a pure function of the config.

On the platform every web instance runs nginx in front of the app; so does every web instance here.
It listens on port 80 inside the container (where the router and other apps' relationships reach it)
and applies `web.locations` as the platform does:
- `root`: the location's static files, served by nginx (`index` for directories, `expires` and
  `headers` on them); without `root`, every request of the location goes to the app;
- `passthru`: what is not a file goes to the app's upstream (`true`), or to that script (a path,
  for PHP: FastCGI with that script); `false`: 404;
- `allow: false`: the location's files are not served (the request goes to `passthru`, else 404);
- `scripts`: PHP files under `root` run through FastCGI, or are refused (403) with `scripts: false`;
- `rules`: regular-expression locations inside the location, each with its own `allow`, `passthru`,
  `expires`, `scripts`, `headers` (and `to`, a rewrite);
- `request_buffering`: `enabled: false` streams request bodies to the app, `max_request_size` bounds
  them (the platform's default is 250 MB).
The app's upstream is `$PORT` over TCP or `$SOCKET` (a unix socket), speaking `http` or `fastcgi`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import overload

from orchestrator.config.model import Web, WebLocation

WEB_PORT = 80
APP_DIR = "/app"
DEFAULT_MAX_BODY = "250m"
_DURATION = re.compile(r"^\d+(ms|[smhdwMy])?$|^(epoch|max|off)$")


@dataclass(frozen=True)
class Upstream:
    """Where the app listens inside its container, and what it speaks."""

    socket_family: str  # tcp | unix
    protocol: str  # http | fastcgi
    port: int
    socket: str

    @property
    def server(self) -> str:
        return f"unix:{self.socket}" if self.socket_family == "unix" else f"127.0.0.1:{self.port}"


def _quote(text: str) -> str:
    """A string as one nginx token."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _expires(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if text in ("-1", "0", ""):  # the platform's default: no caching headers at all
        return None
    return text if _DURATION.match(text) else None


@overload
def _directory(root: str) -> str: ...
@overload
def _directory(root: None) -> None: ...
def _directory(root: str | None) -> str | None:
    if root is None:
        return None
    cleaned = root.strip().strip("/")
    return f"{APP_DIR}/{cleaned}" if cleaned else APP_DIR


def _static_headers(expires: str | None, headers: dict[str, str], indent: str) -> list[str]:
    lines = []
    if expires:
        lines.append(f"{indent}expires {expires};")
    for name, value in sorted(headers.items()):
        lines.append(f"{indent}add_header {_quote(name)} {_quote(value)} always;")
    return lines


def _fastcgi(script: str, indent: str) -> list[str]:
    """FastCGI to the app with SCRIPT_FILENAME `script` (an nginx expression)."""
    return [f"{indent}include /etc/nginx/fastcgi_params;",
            f"{indent}fastcgi_param SCRIPT_FILENAME {script};",
            f"{indent}fastcgi_param HTTPS $forwarded_https if_not_empty;",
            f"{indent}fastcgi_pass app;"]


def _proxy(indent: str) -> list[str]:
    return [f"{indent}proxy_pass http://app;"]


class _Writer:
    def __init__(self, web: Web, upstream: Upstream, php: bool) -> None:
        self.web, self.upstream, self.php = web, upstream, php
        self.lines: list[str] = []
        self.named: list[list[str]] = []
        root_location = next((loc for loc in web.locations if loc.path == "/"), None)
        self.document_root = _directory(root_location.root) if root_location and root_location.root else APP_DIR

    def passthru_target(self, passthru: bool | str, number: int) -> str | None:
        """A named location that hands the request to the app (None: no passthru, 404)."""
        if passthru is False or passthru is None:
            return None
        name = f"@passthru{number}"
        body = [f"    location {name} {{"]
        if self.upstream.protocol == "fastcgi":
            script = passthru if isinstance(passthru, str) else "/index.php"
            script = "/" + script.lstrip("/")
            body += _fastcgi(_quote(self.document_root + script), "        ")
            body.append(f"        fastcgi_param SCRIPT_NAME {_quote(script)};")
        else:
            body += _proxy("        ")
        body.append("    }")
        self.named.append(body)
        return name

    def php_scripts(self, allowed: bool | None, fallback: str | None, indent: str) -> list[str]:
        """The nested location that runs (or refuses) PHP files of a location with a root."""
        if not self.php or self.upstream.protocol != "fastcgi":
            return []
        lines = [f"{indent}location ~ [^/]\\.php(/|$) {{"]
        if allowed is False:
            lines.append(f"{indent}    return 403;")
        else:
            lines.append(f"{indent}    try_files $uri {fallback or '=404'};")
            lines += _fastcgi("$request_filename", indent + "    ")
        lines.append(f"{indent}}}")
        return lines

    def rule(self, pattern: str, settings: dict, location: WebLocation, number: str) -> list[str]:
        indent = "        "
        lines = [f"    location ~ {_quote(pattern)} {{"]
        if not isinstance(settings, dict):
            settings = {}
        allow = settings.get("allow", location.allow)
        passthru = settings.get("passthru", False)
        if "to" in settings and isinstance(settings["to"], str):
            lines.append(f"{indent}rewrite ^ {_quote(settings['to'])} last;")
            lines.append("    }")
            return lines
        target = self.passthru_target(passthru, int(number.replace("-", "0"))) if passthru else None
        if allow is False and not target:
            lines.append(f"{indent}return 403;")
        elif allow is False:
            lines.append(f"{indent}try_files /.orchestrator-never {target};")
        else:
            lines += _static_headers(_expires(settings.get("expires", location.expires)),
                                     {**location.headers, **(settings.get("headers") or {})}, indent)
            scripts = settings.get("scripts", location.scripts)
            lines += self.php_scripts(scripts, target, indent)
            lines.append(f"{indent}try_files $uri {target or '=404'};")
        lines.append("    }")
        return lines

    def location(self, location: WebLocation, number: int) -> None:
        directory = _directory(location.root)
        target = self.passthru_target(location.passthru, number)
        prefix = location.path if location.path == "/" else location.path.rstrip("/")
        indent = "        "
        body: list[str] = []
        if directory is None:
            # no static files here: the whole location is the app's (or a 404 without passthru)
            if target is None:
                body.append(f"{indent}return 404;")
            elif self.upstream.protocol == "fastcgi":
                body.append(f"{indent}try_files /.orchestrator-never {target};")
            else:
                body += _proxy(indent)
        else:
            body.append(f"{indent}{'root' if prefix == '/' else 'alias'} {_quote(directory)};")
            if not location.allow:
                # no file is served unless a rule allows it; a directory still finds its index file, which
                # the rules then judge (the platform's static sites: allow: false, rules for .html, .css...)
                body.append(f"{indent}index {' '.join(_quote(i) for i in location.index or ('index.html',))};")
                body.append(f"{indent}try_files $uri/ {target or '=404'};")
            else:
                body += _static_headers(_expires(location.expires), location.headers, indent)
                body += self.php_scripts(location.scripts, target, indent)
                if self.php:  # `index` redirects internally, so an index.php runs as a script
                    body.append(
                        f"{indent}index {' '.join(_quote(i) for i in location.index or ('index.php', 'index.html'))};")
                    body.append(f"{indent}try_files $uri $uri/ {target or '=404'};")
                else:  # a directory without an index file is the app's (passthru), not a 403
                    indexes = " ".join(f"$uri/{i}" for i in location.index or ("index.html",))
                    body.append(f"{indent}try_files $uri {indexes} {target or '=404'};")
        if location.request_buffering and location.request_buffering.get("enabled") is False:
            body += [f"{indent}proxy_request_buffering off;", f"{indent}fastcgi_request_buffering off;"]
        if location.request_buffering and location.request_buffering.get("max_request_size"):
            size = str(location.request_buffering["max_request_size"]).strip().lower().rstrip("b")
            body.append(f"{indent}client_max_body_size {size};")
        self.lines.append(f"    location {_quote(prefix)} {{")
        self.lines += body
        self.lines.append("    }")
        for index, (pattern, settings) in enumerate(sorted(location.rules.items())):
            rule_lines = self.rule(pattern, settings, location, f"{number}{index + 1:02d}")
            # a rule applies inside its location only: nest it there
            self.lines[-1:-1] = ["    " + line for line in rule_lines]


def nginx_config(web: Web, upstream: Upstream, php: bool, user: str) -> str:
    """The whole nginx.conf of a web instance; its workers run as `user` (the app's). Without locations,
    everything goes to the app."""
    writer = _Writer(web, upstream, php)
    locations = web.locations or (WebLocation("/", None, True, True, None, None, None, {}, {}, None),)
    for number, location in enumerate(sorted(locations, key=lambda loc: loc.path)):
        writer.location(location, number + 1)
    head = [
        "# Generated by orchestrator from the app's `web` section; served on port 80 of the web instance.",
        f"user {user};",
        "worker_processes 2;",
        "pid /run/orchestrator-root/nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 512; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    access_log off;",
        "    sendfile on;",
        "    server_tokens off;",
        f"    client_max_body_size {DEFAULT_MAX_BODY};",
        "    client_body_temp_path /tmp/nginx-body;",
        "    proxy_temp_path /tmp/nginx-proxy;",
        "    fastcgi_temp_path /tmp/nginx-fastcgi;",
        "    uwsgi_temp_path /tmp/nginx-uwsgi;",
        "    scgi_temp_path /tmp/nginx-scgi;",
        "    map $http_x_forwarded_proto $forwarded_proto { default $http_x_forwarded_proto; \"\" $scheme; }",
        "    map $forwarded_proto $forwarded_https { default \"\"; https on; }",
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $forwarded_proto;",
        "    proxy_set_header X-Client-IP $remote_addr;",
        "    proxy_set_header Connection \"\";",
        "    proxy_read_timeout 600s;",
        "    fastcgi_read_timeout 600s;",
        f"    upstream app {{ server {upstream.server}; }}",
        "    server {",
        f"        listen {WEB_PORT} default_server;",
        "        server_name _;",
        "        absolute_redirect off;",
    ]
    body = ["    " + line for line in writer.lines]
    named = ["    " + line for block in writer.named for line in block]
    return "\n".join(head + body + named + ["    }", "}"]) + "\n"
