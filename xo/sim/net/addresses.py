"""Where each simulated host listens: its own loopback IP, every host on the same port.

A real XAPI host has one IP; `host.address` is that bare IP, `HOST_IS_SLAVE` carries it, and
clients (XO's `xen-api`, our `xo.xapi`) reach another host of the pool by swapping the host name
of the URL they already use, keeping its scheme and port. The simulator does the same on
127.0.0.0/8 (every address of it is local on Linux): host `h` of pool `p` gets
`base + p * stride + h` (base 127.0.0.1: 127.0.0.1, 127.0.0.2... for pool 0, 127.0.1.1...
for pool 1; `stride` is 256 unless a pool has more hosts), and all of them listen on one port P.
The first socket is bound with the requested port (0: the kernel picks a free one), the others
on P; if one of them is taken (another simulator, another process), everything is closed and we
retry with a new port. Other simulators in the same or other processes use the same IPs but
their own ports.

A base that is not an IPv4 loopback address (`0.0.0.0`, a LAN IP, `::1`, a host name) cannot be
multiplied: then every host gets its own port on that address and `host.address` is
`ip:port` (xo.xapi and the simulator understand it; the npm `xen-api` client does not).
"""

from __future__ import annotations

import ipaddress

import trio

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# Attempts at finding a port free on every host IP before giving up.
BIND_ATTEMPTS = 32


def plan_host_ips(base: str, pool_sizes: list[int]) -> list[list[str]] | None:
    """One IP per host of each pool, or None when `base` is not an IPv4 loopback address."""
    try:
        first = ipaddress.ip_address(base)
    except ValueError:
        return None
    if first.version != 4 or first not in LOOPBACK:
        return None
    widest = max([1, *pool_sizes])
    stride = 256 * -(-widest // 256)
    plan = [
        [str(first + p * stride + h) for h in range(size)] for p, size in enumerate(pool_sizes)
    ]
    last = max((ipaddress.ip_address(ip) for ips in plan for ip in ips), default=first)
    if last not in LOOPBACK:
        raise ValueError(f"{len(pool_sizes)} pools of up to {widest} hosts do not fit after {base}")
    return plan


async def bind_shared_port(
    ips: list[str], port: int = 0
) -> tuple[int, list[list[trio.SocketListener]]]:
    """Listen on `port` (0: any free port) on every IP; returns (port, listeners per IP).

    With port 0 a clash on one IP is retried with another port; an explicit port that is taken
    raises OSError.
    """
    for attempt in range(BIND_ATTEMPTS):
        opened: list[list[trio.SocketListener]] = []
        try:
            first = await trio.open_tcp_listeners(port, host=ips[0])
            opened.append(first)
            chosen = first[0].socket.getsockname()[1]
            for ip in ips[1:]:
                opened.append(await trio.open_tcp_listeners(chosen, host=ip))
            return chosen, opened
        except OSError:
            for group in opened:
                for listener in group:
                    await listener.aclose()
            if port or attempt == BIND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def netloc(ip: str, port: int) -> str:
    """`ip:port`, IPv6 in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
