"""VM guest-metrics ``networks`` -> XO's ``addresses`` and ``mainIpAddress``.

The guest agent reports ``{"0/ip": "10.0.0.2", "0/ipv4/0": "10.0.0.2", "0/ipv6/0": "fe80::1"}``
(old agents: several space-separated addresses in ``N/ip``). XO normalises to
``{"0/ipv4/0": ..., "0/ipv6/0": ...}``: per device and protocol, distinct addresses numbered in
key order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_KEY_RE = re.compile(r"(\d+)/(?:ip|(ipv[46])/.+)\Z")
_IPV4_KEY_RE = re.compile(r"\d+/ip(?:v4/\d+)?\Z")
_IPV6_KEY_RE = re.compile(r"\d+/ipv6/\d+\Z")


def normalize_addresses(networks: Mapping[str, str]) -> dict[str, str]:
    """XO's ``addresses``: ``"<device>/<ipv4|ipv6>/<n>" -> address``."""
    if not networks:
        return {}
    # device -> protocol -> addresses (dicts keep insertion order and dedupe, like JS Sets)
    by_device: dict[str, dict[str, dict[str, None]]] = {}
    for key in sorted(networks):
        value = networks[key]
        if not isinstance(value, str):
            continue
        address = value.strip()
        if address == "":
            continue
        match = _KEY_RE.match(key)
        if match is None:
            continue
        device, protocol = match.group(1), match.group(2)
        found = by_device.setdefault(device, {})
        if protocol is None:
            for one in address.split():
                found.setdefault("ipv4", {})[one] = None
        else:
            found.setdefault(protocol, {})[address] = None
    addresses: dict[str, str] = {}
    for device, by_protocol in by_device.items():
        for protocol, values in by_protocol.items():
            for index, address in enumerate(values):
                addresses[f"{device}/{protocol}/{index}"] = address
    return addresses


def main_ip_address(networks: Mapping[str, str] | None) -> str | None:
    """First IPv4 (``N/ip`` or ``N/ipv4/M``) in key order, else the first IPv6, else None."""
    if not networks:
        return None
    ipv6 = None
    for key in sorted(networks):
        if _IPV4_KEY_RE.match(key):
            return networks[key]
        if ipv6 is None and _IPV6_KEY_RE.match(key):
            ipv6 = networks[key]
    return ipv6
