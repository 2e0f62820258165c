"""The xo-server application: owns the root nursery and wires the parts together.

Start-up order (each part is started with ``nursery.start`` and reports when it is ready):

1. the store (SQLite, migrations) and the default admin on first start;
2. the ObjectStore and the PoolManager (the pools nursery);
3. in demo mode, the embedded xapi-sim, whose pools replace the previous demo's server entries;
4. the web server (quart-trio on hypercorn), which reports its bound addresses;
5. every enabled server entry is connected (in the background: pools load at their own pace).

Then the app announces itself (``listening on http://HOST:PORT``), tells systemd ``READY=1``
(listener bound, store open) and reports :class:`Ready` through ``task_status``.
:meth:`XoServerApp.stop` starts a graceful stop: WebSockets are closed with 1001, the listener
stops, then pools and the simulator are cancelled and the store is closed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import trio

from xo import sdnotify
from xo.api.context import ServerInfo, Services
from xo.api.dispatcher import Dispatcher
from xo.api.namespaces import build_registry
from xo.api.oneshot import OneShotUrls
from xo.api.server import entry_of
from xo.auth.authenticator import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, Authenticator
from xo.auth.passwords import verify_password
from xo.auth.throttle import SignInThrottle, ThrottlePolicy
from xo.auth.tokens import TokenPolicy
from xo.config import Config
from xo.objects.store import ObjectStore
from xo.pools.manager import PoolManager
from xo.store.records import Server
from xo.store.sqlite import SqliteStore
from xo.web.server import Listen, WebLimits, WebServer

log = logging.getLogger(__name__)

DEMO_SERVERS_SETTING = "demo.server_ids"
STOP_TIMEOUT = 10.0  # seconds the web server gets to close connections before being cancelled


def pools_status(pools: PoolManager) -> str:
    """systemd ``STATUS=`` text: how many pools are connected."""
    statuses = pools.statuses().values()
    connected = sum(status.status == "connected" for status in statuses)
    return sdnotify.pools_status(connected, len(statuses))


def server_version() -> str:
    try:
        return metadata.version("xo")
    except metadata.PackageNotFoundError:
        return "0.1.0"


@dataclass(frozen=True)
class Ready:
    """What a started app reports: its base URLs (``http://127.0.0.1:43123``)."""

    urls: list[str]
    default_credentials: bool

    @property
    def url(self) -> str:
        return self.urls[0]


class XoServerApp:
    def __init__(self, config: Config, *, announce: Callable[[str], None] = print) -> None:
        self.config = config
        self.announce = announce
        self._stop = trio.Event()
        self.store: SqliteStore | None = None
        self.objects: ObjectStore | None = None
        self.pools: PoolManager | None = None
        self.services: Services | None = None
        self.web: WebServer | None = None
        self.sim: Any = None

    def stop(self) -> None:
        """Begin a graceful stop (safe to call from a signal handler task)."""
        self._stop.set()

    async def run(self, *, task_status: trio.TaskStatus[Ready] = trio.TASK_STATUS_IGNORED) -> None:
        config = self.config
        store = await SqliteStore.open(config.database_path)
        self.store = store
        try:
            await self._run(store, task_status)
        finally:
            await store.aclose()

    async def _run(self, store: SqliteStore, task_status: trio.TaskStatus[Ready]) -> None:
        config = self.config
        auth = Authenticator(
            store,
            throttle=SignInThrottle(ThrottlePolicy(account_delay=config.auth.throttling_delay)),
            token_policy=TokenPolicy(
                default_validity_ms=config.auth.default_token_validity_ms,
                max_validity_ms=config.auth.max_token_validity_ms,
            ),
        )
        await auth.ensure_default_admin()
        objects = ObjectStore()
        self.objects = objects
        async with trio.open_nursery() as nursery:
            # Pings come from this loop, so a wedged loop stops them and systemd restarts us.
            await nursery.start(sdnotify.watchdog_task)
            pools = PoolManager(objects)
            self.pools = pools
            await nursery.start(pools.run)
            if config.demo.enabled:
                self.sim = await nursery.start(self._run_demo, store)
            registry = build_registry()
            urls = OneShotUrls(ttl=config.limits.http_url_ttl)
            services = Services(
                store, auth, urls, registry, objects, pools, ServerInfo(version=server_version())
            )
            self.services = services
            web = WebServer(
                Dispatcher(registry, services),
                urls,
                [Listen(a.hostname, a.port, a.cert, a.key) for a in config.listen],
                objects,
                WebLimits(
                    max_frame_bytes=config.limits.max_frame_bytes,
                    max_concurrent_calls=config.limits.max_concurrent_calls,
                ),
                trusted_origins=config.trusted_origins,
            )
            self.web = web
            web_done = trio.Event()

            async def serve_web(task_status: trio.TaskStatus[list[str]]) -> None:
                try:
                    await web.serve(task_status=task_status)
                finally:
                    web_done.set()

            bound: list[str] = await nursery.start(serve_web)
            for server in await store.list_servers():
                if server.enabled:
                    pools.connect(entry_of(server))
            default_credentials = await self._default_credentials_unchanged(store)
            self._announce(bound, default_credentials)
            sdnotify.ready(f"listening on {', '.join(bound)}")
            task_status.started(Ready(bound, default_credentials))
            nursery.start_soon(sdnotify.status_task, lambda: pools_status(pools))

            await self._stop.wait()
            log.info("stopping")
            sdnotify.stopping()
            await web.shutdown()
            with trio.move_on_after(STOP_TIMEOUT):
                await web_done.wait()
            nursery.cancel_scope.cancel()

    async def _default_credentials_unchanged(self, store: SqliteStore) -> bool:
        admin = await store.get_user_by_email(DEFAULT_ADMIN_EMAIL)
        return admin is not None and await verify_password(
            admin.password_hash, DEFAULT_ADMIN_PASSWORD
        )

    def _announce(self, bound: list[str], default_credentials: bool) -> None:
        for url in bound:
            self.announce(f"xo-server {server_version()} listening on {url}")
        if self.sim is not None:
            names = ", ".join(p.name for p in self.sim.pools)
            self.announce(f"demo: embedded xapi-sim pools registered as servers: {names}")
        if default_credentials:
            banner = "!" * 78
            self.announce(banner)
            self.announce(
                f"!! default credentials: {DEFAULT_ADMIN_EMAIL} / {DEFAULT_ADMIN_PASSWORD}"
                " -- CHANGE THIS PASSWORD NOW (user.set / user.changePassword)"
            )
            self.announce(banner)

    async def _run_demo(self, store: SqliteStore, *, task_status: trio.TaskStatus[Any]) -> None:
        """Serve the embedded simulator and register its pools, replacing the last demo's."""
        # The only place xo-server uses the simulator.
        from xo.sim.scenario import PoolSpec, build_world
        from xo.sim.serve import open_sim

        demo = self.config.demo
        # Both flavours, so a demo shows XCP-ng's updater as well as XenServer's pool updates.
        specs = [
            PoolSpec(hosts=demo.hosts, vms=demo.vms, flavour=("xcp-ng", "xenserver")[i % 2])
            for i in range(demo.pools)
        ]
        async with open_sim(world=build_world(seed=demo.seed, specs=specs)) as sim:
            for old_id in await store.get_setting(DEMO_SERVERS_SETTING, []):
                if self.pools is not None:
                    await self.pools.disconnect(old_id)
                await store.delete_server(old_id)
            new_ids = []
            for running_pool in sim.pools:
                server = Server(
                    id=str(uuid.uuid4()),
                    host=running_pool.master_url,
                    username=running_pool.username,
                    password=running_pool.password,
                    label=f"demo {running_pool.name}",
                )
                await store.create_server(server)
                new_ids.append(server.id)
            await store.set_setting(DEMO_SERVERS_SETTING, new_ids)
            task_status.started(sim)
            await trio.sleep_forever()
