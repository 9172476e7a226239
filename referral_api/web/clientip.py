"""The client's IP address for rate limits, trusting `X-Forwarded-For` only from the proxies
named in TRUSTED_PROXIES (issue 17, item 2).

Uvicorn runs with `proxy_headers=False` (referral_api/__main__.py): its default trusts the
header from any 127.0.0.1 peer, which let anyone on the host rotate it and spray passwords. Here
the header counts only when the peer itself is a trusted proxy, and the client is the rightmost
address in it that is not one (what each trusted proxy appended); anything unreadable falls
back to the peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def trusted_networks(spec: str) -> tuple[Network, ...]:
    """"10.0.0.0/8, 127.0.0.1" → networks; raises ValueError on a bad entry (at start-up)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in spec.split(",") if part.strip())


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: Request, networks: Sequence[Network]) -> str:
    peer = request.client.host if request.client else "unknown"
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if _trusted(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer
    return peer
