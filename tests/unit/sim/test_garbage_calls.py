"""Every method, called with wrong arities and ill-typed or dangling arguments, answers an XAPI
error (or a result) and never raises anything else: the simulator must keep serving."""

from __future__ import annotations

import random

import trio

from xo.sim.datamodel import ENUMS
from xo.sim.dispatch import METHODS
from xo.sim.errors import XapiFailure
from xo.sim.scenario import build_world
from xo.sim.schema import parse_type
from xo.sim.timing import Timing

# Calls that may block until something happens (bounded by the move_on below).
BLOCKING = {"event.from", "event.next"}


def _garbage(rng: random.Random, refs: list[str]) -> object:
    return rng.choice(
        [
            "",
            "OpaqueRef:NULL",
            "OpaqueRef:dangling",
            rng.choice(refs),
            -1,
            2**40,
            1.5,
            True,
            None,
            [],
            ["x", 1],
            {"a": 1},
            {"name_label": 3, "VM": rng.choice(refs), "SR": rng.choice(refs), "virtual_size": "-5"},
            "<value>",
        ]
    )


async def test_garbage_never_crashes() -> None:
    pool = build_world(pools=1, hosts=2, vms=4, seed=11, timing=Timing.fast()).pools[0]
    rng = random.Random(6)
    unexpected: list[tuple[str, list, BaseException]] = []
    async with pool.running():
        session = await pool.rpc("session.login_with_password", ["root", "password"], on_host=pool.master_ref)
        refs = [ref for table in pool.db.tables.values() for ref in table]
        for name in sorted(METHODS):
            if name in ("session.logout", "session.local_logout"):
                continue
            spec = METHODS[name]
            for arity in sorted({0, len(spec.params) - 1, len(spec.params), len(spec.params) + 1} - {-1}):
                for _ in range(3):
                    params = [_garbage(rng, refs) for _ in range(arity)]
                    if spec.takes_session and params:
                        params[0] = session
                    try:
                        with trio.move_on_after(0.2 if name in BLOCKING else 5):
                            await pool.rpc(name, params, on_host=pool.master_ref)
                    except XapiFailure as failure:
                        assert failure.description and all(isinstance(x, str) for x in failure.description)
                    except Exception as exc:  # noqa: BLE001 - this is what the test looks for
                        unexpected.append((name, params, exc))
        # still serving
        assert await pool.rpc("VM.get_all", [session], on_host=pool.master_ref)
    assert not unexpected, sorted({f'{name}: {exc!r}' for name, _, exc in unexpected})


def _typed(rng: random.Random, type_text: str, pool) -> object:  # noqa: ANN001
    t = parse_type(type_text)
    if t.kind == "ref":
        table = pool.db.tables.get(t.arg, {})
        return rng.choice([*table, "OpaqueRef:NULL"]) if table else "OpaqueRef:NULL"
    if t.kind == "int":
        return rng.choice([0, 1, -1, 2**33])
    if t.kind == "float":
        return rng.choice([0.0, 1.0, -2.5])
    if t.kind == "bool":
        return rng.choice([True, False])
    if t.kind == "set":
        return [_typed(rng, "string", pool)] if t.value and t.value.kind != "ref" else []
    if t.kind in ("map", "record"):
        return rng.choice([{}, {"name_label": "x", "virtual_size": "1048576"}])
    if t.kind == "enum":
        return rng.choice(ENUMS.get(t.arg, ("x",)))
    if t.kind == "datetime":
        return "20250101T00:00:00Z"
    return rng.choice(["", "x", "updater.py", "check_update"])


async def test_well_typed_calls_never_crash() -> None:
    pool = build_world(pools=1, hosts=2, vms=6, seed=12, timing=Timing.fast()).pools[0]
    rng = random.Random(6)
    unexpected: list[str] = []
    async with pool.running():
        session = await pool.rpc("session.login_with_password", ["root", "password"], on_host=pool.master_ref)
        for name in sorted(METHODS):
            spec = METHODS[name]
            if name in ("session.logout", "session.local_logout") or spec.handler is None:
                continue
            for _ in range(4):
                params = [_typed(rng, t, pool) for t in spec.params]
                if spec.takes_session:
                    params[0] = session
                try:
                    with trio.move_on_after(0.2 if name in BLOCKING else 5):
                        await pool.rpc(name, params, on_host=pool.master_ref)
                except XapiFailure:
                    pass
                except Exception as exc:  # noqa: BLE001 - this is what the test looks for
                    unexpected.append(f"{name}: {exc!r}")
        assert await pool.rpc("VM.get_all", [session], on_host=pool.master_ref)
    assert not unexpected, sorted(set(unexpected))
