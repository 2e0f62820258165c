"""Fixtures that run xapi-sim on real sockets (one loopback IP per host, 127.0.0.1, 127.0.0.2...,
all on one ephemeral port) for integration tests.

Stable interface (other suites rely on these names):

- ``sim`` -> ``xo.sim.serve.RunningSim``: 1 pool ("xenserver" flavour), 3 hosts, 10 VMs, seed 1,
  ``Timing.fast()`` (operations take milliseconds), plain HTTP. ``sim.pools[0]`` is a
  ``RunningPool`` with ``.pool`` (SimPool), ``.master_url``, ``.host_urls``, ``.username``,
  ``.password``; fault controls: ``await sim.stop_host(i)``, ``await sim.start_host(i)``,
  ``await sim.promote(i)``, ``sim.cut_event_connections()``, ``sim.set_latency(s)``,
  ``sim.set_bandwidth(bps)``, ``sim.invalidate_sessions()``, ``sim.corrupt_next_export()``,
  ``sim.truncate_next_export(n)``.
- ``sim_pool`` -> ``sim.pools[0]`` (``RunningPool``).
- ``sim_tls`` -> like ``sim`` but HTTPS with the simulator's self-signed certificate
  (``xo.sim.net.tls.certificate_pem()`` / ``client_ssl_context()`` to trust it).
- ``sim_xcpng`` -> like ``sim`` but flavoured XCP-ng (updater plugin, XCP-ng brand).
- ``sim_factory`` -> ``open_sim`` itself with test timings as default: ``async with
  sim_factory(pools=2, hosts=1, vms=3) as other: ...``.
- ``xenapi`` -> a ``ThreadedXenAPI`` logged in to ``sim_pool``'s master with the real ``XenAPI``
  package: ``await xenapi.call("VM.get_all")`` runs the blocking client in a worker thread
  (calling XenAPI directly from a trio test would block the loop the simulator runs on).

Helpers (plain callables, exposed as fixtures so test modules need no imports from here):

- ``http_request`` -> ``async (method, url, *, body=b"", headers=None, socket_timeout=60) ->
  HttpReply(status, headers (lowercased names), body, version)`` over ``http.client`` in a
  thread (an independent HTTP client; HTTPS without verification; redirects not followed;
  an iterable body is sent with chunked encoding).
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
import XenAPI

from xo.sim.serve import RunningPool, RunningSim, open_sim
from xo.sim.timing import Timing

SIM_DEFAULTS: dict[str, Any] = {"pools": 1, "hosts": 3, "vms": 10, "seed": 1}


def _test_sim(**overrides: Any) -> Any:
    options = {**SIM_DEFAULTS, "timing": Timing.fast(), **overrides}
    return open_sim(**options)


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with _test_sim() as running:
        yield running


@pytest.fixture
def sim_pool(sim: RunningSim) -> RunningPool:
    return sim.pools[0]


@pytest.fixture
async def sim_tls() -> AsyncIterator[RunningSim]:
    async with _test_sim(tls=True) as running:
        yield running


@pytest.fixture
async def sim_xcpng() -> AsyncIterator[RunningSim]:
    async with _test_sim(flavour="xcp-ng") as running:
        yield running


@pytest.fixture
def sim_factory() -> Callable[..., Any]:
    return _test_sim


class ThreadedXenAPI:
    """The real XenAPI client, each call in a worker thread."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self._credentials = (username, password)
        self.session: Any = None

    async def login(self) -> ThreadedXenAPI:
        def login() -> Any:
            session = XenAPI.Session(self.url, ignore_ssl=True)
            session.xenapi.login_with_password(*self._credentials, "1.0", "xo-tests")
            return session

        self.session = await trio.to_thread.run_sync(login)
        return self

    async def call(self, method: str, *args: Any) -> Any:
        target = self.session.xenapi
        for part in method.split("."):
            target = getattr(target, part)
        return await trio.to_thread.run_sync(partial(target, *args))

    async def logout(self) -> None:
        if self.session is not None:
            await trio.to_thread.run_sync(self.session.xenapi.session.logout)
            self.session = None


@pytest.fixture
async def xenapi(sim_pool: RunningPool) -> AsyncIterator[ThreadedXenAPI]:
    client = await ThreadedXenAPI(sim_pool.master_url, sim_pool.username, sim_pool.password).login()
    yield client
    # no logout: a test may have stopped the host or invalidated the sessions on purpose


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]  # lowercased names
    body: bytes
    version: int  # 10 or 11, as http.client reports it


def _blocking_request(
    method: str, url: str, body: bytes | Iterable[bytes], headers: dict[str, str], timeout: float
) -> HttpReply:
    parts = urlsplit(url)
    if parts.scheme == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return HttpReply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            data,
            response.version,
        )
    finally:
        conn.close()


async def _http_request(
    method: str,
    url: str,
    *,
    body: bytes | Iterable[bytes] = b"",
    headers: dict[str, str] | None = None,
    socket_timeout: float = 60.0,
) -> HttpReply:
    return await trio.to_thread.run_sync(
        _blocking_request, method, url, body, dict(headers or {}), socket_timeout
    )


@pytest.fixture
def http_request() -> Callable[..., Any]:
    return _http_request
