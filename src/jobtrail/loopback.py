"""Whether an address or host name reaches only this machine: the test behind binding an open
server (`jobtrail serve`) and answering one (`web.guards.LocalOnly`)."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine: 127.0.0.0/8, ::1 (also as
    "[::1]" or IPv4-mapped) or localhost. Anything else, including "" and 0.0.0.0, is exposed."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name (or "") may resolve to, or mean, any interface
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
