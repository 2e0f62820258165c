"""Run simulated pools on the network: `open_sim(...)` and the fault-injection control surface.

```python
async with open_sim(pools=1, hosts=3, vms=10, timing=Timing.fast()) as sim:
    pool = sim.pools[0]
    session = XenAPI.Session(pool.master_url)          # (in a thread: XenAPI is blocking)
    await sim.stop_host(1)                             # host 1 refuses connections
    await sim.start_host(1)                            # same port again
    await sim.promote(1)                               # host 1 is master, host 0 HOST_IS_SLAVE
```

Each host of each pool gets its own loopback IP (127.0.0.1, 127.0.0.2... for pool 0, 127.0.1.1...
for pool 1), all on one port, and `host.address` is that bare IP, as on real hosts (see
`xo.sim.net.addresses`; a non-loopback `bind` falls back to one port per host). The same controls are reachable over HTTP on every host
(`POST /sim/faults`, JSON, see `RunningSim.apply_fault`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from xo.sim.console_session import ConsoleSessions
from xo.sim.net.addresses import bind_shared_port, plan_host_ips
from xo.sim.net.fault_endpoint import FaultError
from xo.sim.net.host import HostServer
from xo.sim.net.tls import server_ssl_context
from xo.sim.scenario import World, build_world, load_world
from xo.sim.timing import Timing

log = logging.getLogger(__name__)


@dataclass
class RunningPool:
    """One simulated pool and its host servers (host index = position in `pool.host_refs`)."""

    pool: Any  # xo.sim.pool.SimPool
    hosts: list[HostServer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.pool.name

    @property
    def username(self) -> str:
        return self.pool.username

    @property
    def password(self) -> str:
        return self.pool.password

    @property
    def host_urls(self) -> list[str]:
        return [host.url for host in self.hosts]

    @property
    def master_index(self) -> int:
        return self.pool.host_refs.index(self.pool.master_ref)

    @property
    def master_url(self) -> str:
        """The current master's URL (changes after `promote`)."""
        return self.hosts[self.master_index].url

    def host_index(self, host: int | str) -> int:
        """A host index from an index or a host ref / uuid / URL."""
        if isinstance(host, int) and not isinstance(host, bool):
            if 0 <= host < len(self.hosts):
                return host
            raise FaultError(f"no host #{host} in pool {self.name}")
        for i, server in enumerate(self.hosts):
            if host in (server.host_ref, server.url, server.address):
                return i
            if self.pool.db.get("host", server.host_ref).get("uuid") == host:
                return i
        raise FaultError(f"no host {host!r} in pool {self.name}")

    def describe(self) -> dict:
        """The JSON line `xo-sim` prints for this pool."""
        return {
            "pool": self.name,
            "master": self.master_url,
            "hosts": self.host_urls,
            "username": self.username,
            "password": self.password,
        }

    # -- fault injection -----------------------------------------------------------------

    def on_host_state(self, host_ref: str, up: bool) -> None:
        """Faults hook: open or close the listener of a host the model started or stopped."""
        listener = self.hosts[self.pool.host_refs.index(host_ref)].listener
        if up:
            listener.request_start()
        else:
            listener.request_stop()

    async def stop_host(self, host: int | str) -> None:
        """The host dies: listener closed (connection refused), open connections closed."""
        index = self.host_index(host)
        self.pool.faults.stop_host(self.pool.host_refs[index])  # the host hook closes it
        await self.hosts[index].listener.wait_stopped()

    async def start_host(self, host: int | str) -> None:
        """The host comes back on the same port; returns once it accepts connections."""
        index = self.host_index(host)
        self.pool.faults.start_host(self.pool.host_refs[index])  # the host hook reopens it
        await self.hosts[index].listener.wait_listening()

    async def promote(self, host: int | str) -> None:
        """Make `host` the master; the old master answers HOST_IS_SLAVE from now on."""
        self.pool.faults.promote(self.pool.host_refs[self.host_index(host)])

    def cut_event_connections(self) -> int:
        """Drop every connection carrying an event.from / event.next call; returns how many."""
        return self.pool.faults.cut_event_connections()  # runs each host's cut hook

    def set_latency(self, seconds: float) -> None:
        self.pool.faults.latency = max(0.0, float(seconds))

    def set_bandwidth(self, bytes_per_second: float | None) -> None:
        self.pool.faults.bandwidth = float(bytes_per_second) if bytes_per_second else None

    def invalidate_sessions(self) -> None:
        self.pool.faults.invalidate_sessions()

    def corrupt_next_export(self) -> None:
        self.pool.faults.corrupt_next_export = True

    def truncate_next_export(self, nbytes: int) -> None:
        self.pool.faults.truncate_next_export = int(nbytes)

    def fault_status(self) -> dict:
        faults = self.pool.faults
        return {
            "pool": self.name,
            "master": self.master_index,
            "hosts_down": [i for i, s in enumerate(self.hosts) if not s.listener.listening],
            "latency": faults.latency,
            "bandwidth": faults.bandwidth,
            "corrupt_next_export": faults.corrupt_next_export,
            "truncate_next_export": faults.truncate_next_export,
        }


class RunningSim:
    """Every running pool; fault controls default to pool 0."""

    def __init__(self, world: World, *, tls: bool) -> None:
        self.world = world
        self.tls = tls
        self.pools: list[RunningPool] = []

    def pool(self, index: int = 0) -> RunningPool:
        return self.pools[index]

    async def stop_host(self, host: int | str, *, pool: int = 0) -> None:
        await self.pools[pool].stop_host(host)

    async def start_host(self, host: int | str, *, pool: int = 0) -> None:
        await self.pools[pool].start_host(host)

    async def promote(self, host: int | str, *, pool: int = 0) -> None:
        await self.pools[pool].promote(host)

    def cut_event_connections(self, *, pool: int | None = None) -> int:
        return sum(p.cut_event_connections() for p in self._select(pool))

    def set_latency(self, seconds: float, *, pool: int | None = None) -> None:
        for p in self._select(pool):
            p.set_latency(seconds)

    def set_bandwidth(self, bytes_per_second: float | None, *, pool: int | None = None) -> None:
        for p in self._select(pool):
            p.set_bandwidth(bytes_per_second)

    def invalidate_sessions(self, *, pool: int | None = None) -> None:
        for p in self._select(pool):
            p.invalidate_sessions()

    def corrupt_next_export(self, *, pool: int = 0) -> None:
        self.pools[pool].corrupt_next_export()

    def truncate_next_export(self, nbytes: int, *, pool: int = 0) -> None:
        self.pools[pool].truncate_next_export(nbytes)

    def _select(self, pool: int | None) -> list[RunningPool]:
        return self.pools if pool is None else [self.pools[pool]]

    async def apply_fault(
        self,
        command: dict,
        *,
        default_pool: int = 0,
        deferred: list[Callable[[], Awaitable[None]]] | None = None,
    ) -> dict:
        """Apply one JSON fault command (the body of `POST /sim/faults`).

        `{"action": A, "pool": <index|name>?, ...}` with A one of: `stop_host` / `start_host` /
        `promote` (`host`: index, ref, uuid or URL), `cut_event_connections`, `latency`
        (`seconds`), `bandwidth` (`bytes_per_second`, null = unlimited), `invalidate_sessions`,
        `corrupt_next_export`, `truncate_next_export` (`bytes`), `status`. Raises FaultError.
        With `deferred`, a `stop_host` is appended there instead of being run, for the HTTP
        endpoint to run once its answer is written (the host may be the one answering).
        """
        action = command.get("action")
        target = self._pool_from(command.get("pool", default_pool))
        if action == "status":
            return {"pools": [p.fault_status() for p in self.pools]}
        if action in ("stop_host", "start_host", "promote"):
            if "host" not in command:
                raise FaultError(f"{action} needs a host")
            index = target.host_index(command["host"])
            if action == "stop_host":
                if deferred is not None:
                    deferred.append(partial(target.stop_host, index))
                else:
                    await target.stop_host(index)
            elif action == "start_host":
                await target.start_host(index)
            else:
                await target.promote(index)
            return {"pool": target.name, "host": index, "master": target.master_url}
        simple = {
            "cut_event_connections": lambda: {"cut": target.cut_event_connections()},
            "latency": lambda: target.set_latency(float(command.get("seconds", 0))),
            "bandwidth": lambda: target.set_bandwidth(command.get("bytes_per_second")),
            "invalidate_sessions": target.invalidate_sessions,
            "corrupt_next_export": target.corrupt_next_export,
            "truncate_next_export": lambda: target.truncate_next_export(int(command["bytes"])),
        }
        if action not in simple:
            raise FaultError(f"unknown fault action {action!r}")
        try:
            result = simple[action]()
        except (KeyError, TypeError, ValueError) as exc:
            raise FaultError(f"bad arguments for {action}: {exc}") from exc
        return {"pool": target.name, **(result or {})}

    def _pool_from(self, value: Any) -> RunningPool:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(self.pools):
            return self.pools[value]
        for p in self.pools:
            if value in (p.name, p.pool.uuid):
                return p
        raise FaultError(f"no pool {value!r}")


@asynccontextmanager
async def open_sim(
    pools: int = 1,
    hosts: int = 2,
    vms: int = 10,
    seed: int = 1,
    flavour: str = "xenserver",
    tls: bool = False,
    timing: Timing | None = None,
    *,
    bind: str = "127.0.0.1",
    port: int = 0,
    scenario: str | Path | None = None,
    world: World | None = None,
) -> AsyncIterator[RunningSim]:
    """Build (or load) a world, serve every host of every pool, yield a RunningSim.

    `bind` is the base address: on 127.0.0.0/8 every host gets its own IP from it, all on one
    port (`port`, 0 = a free one) and `host.address` is the bare IP as on real hosts (see
    `xo.sim.net.addresses`); any other address serves each host on its own port of it
    (`port` is the first, the next hosts take the following ones; 0 = ephemeral ports) and
    `host.address` is `ip:port`. `scenario` loads a JSON scenario file instead of generating; `world` serves
    an already built World. Everything stops when the block exits.
    """
    if world is None:
        if scenario is not None:
            world = load_world(scenario)
        else:
            world = build_world(
                pools=pools,
                hosts=hosts,
                vms=vms,
                seed=seed,
                flavour=flavour,
                timing=timing or Timing(),
            )
    sizes = [len(sim_pool.host_refs) for sim_pool in world.pools]
    plan = plan_host_ips(bind, sizes)
    shared_port = plan is not None
    prebound: list[list[Any]] = []
    if plan is not None:
        port, prebound = await bind_shared_port([ip for ips in plan for ip in ips], port)
    else:
        plan = [[bind] * size for size in sizes]
    ssl_context = server_ssl_context({ip for ips in plan for ip in ips}) if tls else None
    running = RunningSim(world, tls=tls)
    scheme = "https" if tls else "http"
    async with trio.open_nursery() as nursery:
        next_port = port
        for pool_index, sim_pool in enumerate(world.pools):
            await nursery.start(sim_pool.run)
            running_pool = RunningPool(sim_pool)
            consoles = ConsoleSessions()

            async def fault_action(
                command: dict,
                deferred: list[Callable[[], Awaitable[None]]],
                _index: int = pool_index,
            ) -> dict:
                return await running.apply_fault(command, default_pool=_index, deferred=deferred)

            for host_ref, ip in zip(sim_pool.host_refs, plan[pool_index], strict=True):
                server = HostServer(
                    sim_pool,
                    host_ref,
                    bind=ip,
                    port=next_port,
                    ssl_context=ssl_context,
                    fault_action=fault_action,
                    consoles=consoles,
                    own_ip=shared_port,
                    prebound=prebound.pop(0) if prebound else None,
                )
                await nursery.start(server.run)
                running_pool.hosts.append(server)
                sim_pool.faults.cut_hooks.append(server.cut_long_polls)
                if next_port and not server.own_ip:
                    next_port += 1
            sim_pool.set_endpoints(
                scheme, {s.host_ref: (s.address, s.netloc) for s in running_pool.hosts}
            )
            sim_pool.faults.host_hooks.append(running_pool.on_host_state)
            running.pools.append(running_pool)
        try:
            yield running
        finally:
            nursery.cancel_scope.cancel()
