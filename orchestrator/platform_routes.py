"""`PLATFORM_ROUTES`: the routes resolved to URLs, in the platform's JSON shape.

Locally `{default}` and `{all}` become the project's default domain (`<project>.localhost` unless
given), and an absolute host becomes `<host>.<default domain>`, as on a preview environment, so no
route ever points at a production host. A `{default}` route beats an `{all}` route for the same URL,
wherever each is written. Redirect and proxy targets on hosts the project does not route (another
site) are kept as written. Every https route gets its generated http redirect twin, and the first
upstream route is primary when none says so.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.config.model import Route

CACHE_DEFAULTS = {"enabled": True, "default_ttl": 0, "cookies": ["*"], "headers": ["Accept", "Accept-Language"]}
_SPLIT = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/]+)(?P<path>/.*)$")


def resolve_url(template: str, domain: str) -> str:
    match = _SPLIT.match(template)
    if not match:
        return template
    host = match.group("host")
    if "{default}" in host or "{all}" in host:
        host = host.replace("{default}", domain).replace("{all}", domain)
    elif not host.endswith(domain):
        host = f"{host}.{domain}"
    return f"{match.group('scheme')}://{host}{match.group('path')}"


def _host(template: str) -> str:
    match = _SPLIT.match(template)
    return match.group("host") if match else ""


def _has_placeholder(host: str) -> bool:
    return "{default}" in host or "{all}" in host


def _resolve_target(to: str, domain: str, own_hosts: set[str]) -> str:
    """A redirect or proxy target: a template (`{default}`, `{all}`) or a host the project routes itself is
    resolved as its route is; any other host is someone else's site (`https://github.com/...`), kept as written."""
    host = _host(to)
    return resolve_url(to, domain) if _has_placeholder(host) or host in own_hosts else to


def _on_default(route: Route) -> bool:
    return "{default}" in _host(route.url)


def _effective_routes(routes: tuple[Route, ...], domain: str) -> list[tuple[str, Route]]:
    """One route per resolved URL, in the order written. When a `{default}` and an `{all}` route resolve to the
    same URL the `{default}` one serves it wherever it is written; other clashes keep the later entry."""
    chosen: dict[str, tuple[int, Route]] = {}
    for index, route in enumerate(routes):
        url = resolve_url(route.url, domain)
        current = chosen.get(url)
        if current is None or _on_default(route) or not _on_default(current[1]):
            chosen[url] = (index, route)
    return [(url, route) for url, (_, route) in sorted(chosen.items(), key=lambda item: item[1][0])]


def _primary(routes: list[tuple[str, Route]]) -> Route | None:
    """The route marked `primary`, else the first upstream route."""
    marked = next((route for _, route in routes if route.primary), None)
    return marked or next((route for _, route in routes if route.type == "upstream"), None)


def _upstream_entry(route: Route, common: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "upstream", "upstream": route.upstream, **common,
        "cache": {**CACHE_DEFAULTS, **route.cache}, "ssi": {"enabled": False, **route.ssi},
        "restrict_robots": True, "http_access": {"addresses": [], "basic_auth": {}},
        "tls": {"min_version": route.tls.get("min_version"),
                "client_authentication": route.tls.get("client_authentication"),
                "client_certificate_authorities": route.tls.get("client_certificate_authorities") or [],
                "strict_transport_security": {"enabled": None, "include_subdomains": None, "preload": None,
                                              **(route.tls.get("strict_transport_security") or {})}},
    }


def routes_json(routes: tuple[Route, ...], domain: str) -> dict[str, dict[str, Any]]:
    effective = _effective_routes(routes, domain)
    primary = _primary(effective)
    own_hosts = {_host(route.url) for route in routes if not _has_placeholder(_host(route.url))}
    result: dict[str, dict[str, Any]] = {}
    for url, route in effective:
        common = {"primary": route is primary, "id": route.id, "production_url": url,
                  "attributes": route.attributes, "original_url": route.url}
        if route.type == "upstream":
            result[url] = _upstream_entry(route, common)
        else:
            result[url] = {"type": route.type, "to": _resolve_target(route.to or "", domain, own_hosts), **common}
    for url, route in effective:
        if not route.url.startswith("https://"):
            continue
        twin_template = "http://" + route.url[len("https://"):]
        twin = resolve_url(twin_template, domain)
        if twin not in result:
            result[twin] = {"type": "redirect", "to": url, "original_url": twin_template,
                            "primary": False, "id": None, "attributes": {}}
    return result
