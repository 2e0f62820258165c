"""Helpers for simulator unit tests: a client calling SimPool.rpc like one on the master."""

from __future__ import annotations

from typing import Any

from xo.formats.xmlrpc import DateTime
from xo.sim.datamodel import ENUMS
from xo.sim.pool import SimPool
from xo.sim.schema import SCHEMAS, TypeInfo


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


def _check_type(t: TypeInfo, value: Any, where: str) -> None:
    kind = t.kind
    if kind == "int":
        assert type(value) is int, where
    elif kind == "float":
        assert type(value) is float, where
    elif kind == "bool":
        assert type(value) is bool, where
    elif kind == "datetime":
        assert isinstance(value, DateTime) and len(value) == 18, where
    elif kind == "enum":
        assert value in ENUMS[t.arg], (where, value)
    elif kind == "ref":
        assert isinstance(value, str) and value.startswith("OpaqueRef:"), where
    elif kind == "set":
        assert isinstance(value, list), where
        for item in value:
            _check_type(t.value, item, where)  # type: ignore[arg-type]
    elif kind == "map":
        assert isinstance(value, dict), where
        for key, item in value.items():
            assert isinstance(key, str), where
            _check_type(t.value, item, where)  # type: ignore[arg-type]
    else:
        assert isinstance(value, str), where


def assert_well_typed(pool: SimPool) -> None:
    """Every field of every record holds a value of its datamodel type, and no field is missing."""
    for cls, rows in pool.db.tables.items():
        fields = SCHEMAS[cls].fields
        for ref, record in rows.items():
            assert set(record) == set(fields), cls
            for name, value in record.items():
                _check_type(fields[name].type, value, f"{cls}.{name} of {ref}")
