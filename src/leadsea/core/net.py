"""The client's address behind trusted proxies (settings.TRUSTED_PROXIES, from LEADSEA_TRUSTED_PROXIES)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, proxies: Sequence[_Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_ip(request: HttpRequest) -> str:
    """The peer address, unless the peer is a trusted proxy: then the nearest X-Forwarded-For hop that is not
    one (walking from the right, as each proxy appends the address it saw). A client can prepend anything
    to the header, so nothing left of the first untrusted hop counts; a malformed hop ends the walk at the
    proxy that passed it on."""
    remote = request.META.get("REMOTE_ADDR") or ""
    proxies: Sequence[_Network] = getattr(settings, "TRUSTED_PROXIES", [])
    if not proxies or not _trusted(remote, proxies):
        return remote or "unknown"
    client = remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:
            break
        if not _trusted(client, proxies):
            break
    return client
