"""Fixtures for the simulator's brain: a small pool driven through SimPool.rpc (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sim_client import Client

from xo.sim.pool import SimPool
from xo.sim.scenario import build_world
from xo.sim.timing import Timing


@pytest.fixture
async def pool() -> AsyncIterator[SimPool]:
    world = build_world(pools=1, hosts=2, vms=12, seed=7, timing=Timing.fast())
    async with world.pools[0].running() as running:
        yield running


@pytest.fixture
async def xapi(pool: SimPool) -> Client:
    client = Client(pool)
    await client.login()
    return client
