"""Helpers for simulator unit tests: a client calling SimPool.rpc like one on the master."""

from __future__ import annotations

from typing import Any

from xo.sim.pool import SimPool


class Client:
    """Calls a pool the way a client on the master would (session prepended)."""

    def __init__(self, pool: SimPool) -> None:
        self.pool = pool
        self.session = ""

    async def login(self) -> str:
        self.session = await self.pool.rpc(
            "session.login_with_password",
            [self.pool.username, self.pool.password],
            on_host=self.pool.master_ref,
        )
        return self.session

    async def __call__(self, method: str, *params: Any) -> Any:
        return await self.pool.rpc(method, [self.session, *params], on_host=self.pool.master_ref)

    def db(self) -> Any:
        return self.pool.db


def find_vm(pool: SimPool, power_state: str, **extra: Any) -> str:
    for ref, vm in pool.db.all("VM").items():
        if (
            vm["power_state"] == power_state
            and not vm["is_a_template"]
            and not vm["is_a_snapshot"]
            and not vm["is_control_domain"]
            and all(vm[k] == v for k, v in extra.items())
        ):
            return ref
    raise LookupError(power_state)
