"""`PLATFORM_ROUTES`: the routes resolved to URLs, in the platform's JSON shape.

Locally `{default}` and `{all}` become the project's default domain (`<project>.localhost` unless
given), and an absolute host becomes `<host>.<default domain>`, as on a preview environment, so no
route ever points at a production host. Every https route gets its generated http redirect twin,
and the first upstream route is primary when none says so.
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


def _resolve_target(to: str, domain: str) -> str:
    return resolve_url(to, domain) if _SPLIT.match(to) else to


def routes_json(routes: tuple[Route, ...], domain: str) -> dict[str, dict[str, Any]]:
    explicit_primary = any(r.primary for r in routes)
    primary_url = next((r.url for r in routes if r.primary), None) if explicit_primary else \
        next((r.url for r in routes if r.type == "upstream"), None)
    result: dict[str, dict[str, Any]] = {}
    for route in routes:
        url = resolve_url(route.url, domain)
        common = {"primary": route.url == primary_url, "id": route.id, "production_url": url,
                  "attributes": route.attributes, "original_url": route.url}
        if route.type == "upstream":
            result[url] = {
                "type": "upstream", "upstream": route.upstream, **common,
                "cache": {**CACHE_DEFAULTS, **route.cache}, "ssi": {"enabled": False, **route.ssi},
                "restrict_robots": True, "http_access": {"addresses": [], "basic_auth": {}},
                "tls": {"min_version": route.tls.get("min_version"),
                        "client_authentication": route.tls.get("client_authentication"),
                        "client_certificate_authorities": route.tls.get("client_certificate_authorities") or [],
                        "strict_transport_security": {"enabled": None, "include_subdomains": None, "preload": None,
                                                      **(route.tls.get("strict_transport_security") or {})}},
            }
        else:
            result[url] = {"type": route.type, "to": _resolve_target(route.to or "", domain), **common}
    for route in routes:
        if not route.url.startswith("https://"):
            continue
        twin_template = "http://" + route.url[len("https://"):]
        twin = resolve_url(twin_template, domain)
        if twin not in result:
            result[twin] = {"type": "redirect", "to": resolve_url(route.url, domain), "original_url": twin_template,
                            "primary": False, "id": None, "attributes": {}}
    return result
