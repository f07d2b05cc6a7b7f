"""Validate `routes` into `Route`: URL templates, types, and upstreams that must name an app or service.

A project without routes gets the platform's default, `https://{default}/` to the first app.
"""

from __future__ import annotations

import re

from orchestrator.config.checks import Node, plain
from orchestrator.config.model import Origin, Route, Service

ROUTE_KEYS = ("type", "upstream", "to", "id", "primary", "attributes")
ROUTE_NO_EFFECT = {
    "cache": "router cache (no router runs locally)",
    "ssi": "server-side includes (no router runs locally)",
    "redirects": "partial redirects (no router runs locally)",
    "tls": "TLS settings (no router runs locally)",
    "sticky": "sticky sessions (no router runs locally)",
}
URL_TEMPLATE = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/\s:]+)(?::(?P<port>\d+))?(?P<path>/\S*)?$")


def normalise_url(url: str) -> str | None:
    """The template with a path that ends in '/', or None when it is not an http(s) URL template."""
    match = URL_TEMPLATE.match(url.strip())
    if not match:
        return None
    path = match.group("path") or "/"
    if not path.endswith("/"):
        path += "/"
    port = match.group("port")
    return f"{match.group('scheme')}://{match.group('host')}{':' + port if port else ''}{path}"


def parse_routes(entries: list[tuple[str, Node]], apps: list[str], services: dict[str, Service]) -> tuple[Route, ...]:
    """`entries` are (URL template as written, its node)."""
    routes: list[Route] = []
    primaries: list[Node] = []
    for written, node in entries:
        url = normalise_url(written)
        if url is None:
            node.error(f"route '{written}' is not an http:// or https:// URL template",
                       "e.g. \"https://{default}/\" or \"https://www.{default}/\"")
            continue
        match = URL_TEMPLATE.match(url)
        assert match is not None
        if match.group("port") and match.group("port") not in ("80", "443"):
            node.error(f"route port {match.group('port')} is not allowed", "routes use ports 80 and 443 only")
            continue
        if not node.is_map(allow_null=False):
            continue
        node.check_keys(ROUTE_KEYS, no_effect=ROUTE_NO_EFFECT)
        kind = node.choice("type", ("upstream", "redirect", "proxy"))
        if kind is None:
            if node.child("type") is None:
                node.missing("type", "upstream, redirect or proxy")
            continue
        upstream = to = None
        if kind == "upstream":
            text = node.string("upstream", required=True)
            if text is not None:
                target, _, endpoint = text.partition(":")
                upstream_node = node.child("upstream")
                assert upstream_node is not None
                if target in apps:
                    upstream = target
                elif target in services and "http" in [e.name for e in services[target].endpoints]:
                    upstream = target
                else:
                    upstream_node.error(f"upstream '{text}' names no app",
                                        f"apps: {', '.join(apps) or '(none)'}; write `<app>:http`")
                if endpoint and endpoint != "http":
                    upstream_node.error(f"upstream endpoint must be 'http', not '{endpoint}'")
        else:
            to = node.string("to", required=True)
        primary = node.boolean("primary")
        if primary:
            primaries.append(node)
        attributes = node.mapping("attributes")
        routes.append(Route(url=url, type=kind, upstream=upstream, to=to, id=node.string("id", numbers_ok=True),
                            primary=primary, attributes=plain(attributes.value) if attributes else {},
                            cache=_plain_map(node, "cache"), ssi=_plain_map(node, "ssi"),
                            redirects=_plain_map(node, "redirects"), tls=_plain_map(node, "tls"),
                            origin=node.origin))
    for extra in primaries[1:]:
        extra.child("primary").error(  # type: ignore[union-attr]
            f"a second primary route (the first is {primaries[0].file}:{primaries[0].line})",
            "at most one route may be `primary: true`")
    return tuple(routes)


def _plain_map(node: Node, key: str) -> dict:
    child = node.get(key)
    return plain(child.value) if child is not None and isinstance(child.value, dict) else {}


def default_route(first_app: str) -> Route:
    return Route(url="https://{default}/", type="upstream", upstream=first_app, to=None, id=None, primary=True,
                 attributes={}, cache={}, ssi={}, redirects={}, tls={}, origin=Origin("", 0, "routes"))
