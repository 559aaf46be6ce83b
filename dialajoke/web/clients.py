"""Who is at the other end: the client's address, seen through the reverse proxies we trust.

Behind nginx or Caddy every connection comes from the proxy, so the sign-in limits per
address would count every client as one (five strangers' typos would lock everyone
out), and a request from the internet would look as if it came from this machine. The
proxy names the client in X-Forwarded-For; the header is believed only from a peer in
``http.trusted_proxies``, and only up to the first hop that is not one of them, since a
client can write anything it likes to the left of what its proxies append.

Hand-written rather than aiohttp-remotes: its XForwardedFiltered believes the header
from any peer, and XForwardedStrict refuses every client that is not behind a proxy,
while this service must serve both ways.
"""

from __future__ import annotations

import functools
import ipaddress

from aiohttp import web

from .. import keys

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 16
"""Hops of X-Forwarded-For looked at, from the right: no real chain of proxies is longer."""


def client_address(request: web.Request) -> str:
    """The client's IP address as the nearest proxy we do not trust (or the peer itself) saw it."""
    peer = request.remote or ""
    trusted = _networks(request.app[keys.CONFIG].http.trusted_proxies)
    if not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    address = peer
    for hop in reversed([hop for hop in hops if hop][-MAX_HOPS:]):
        if not _is_address(hop):
            break
        address = hop
        if not _within(hop, trusted):
            break
    return address


def is_this_machine(request: web.Request) -> bool:
    """Whether the client (not merely a proxy in front of it) is on this machine."""
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


@functools.cache
def _networks(settings: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in settings)


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
