"""Every record of a simulated pool goes through load() and gives sane objects."""

from __future__ import annotations

from collections import Counter

import orjson

from xo.objects.pool_records import PoolRecords
from xo.objects.store import ObjectStore
from xo.sim.scenario import build_world


def sim_records(pool) -> dict:
    return {cls: dict(pool.db.all(cls)) for cls in PoolRecords.CLASSES}


def test_sim_world_loads_into_sane_objects():
    world = build_world(pools=1, hosts=2, vms=50)
    pool = world.pools[0]
    records = sim_records(pool)
    objects = PoolRecords().load(records)
    types = Counter(obj["type"] for obj in objects.values())
    assert types["VM"] == 50
    assert types["host"] == 2 and types["pool"] == 1 and types["VM-controller"] == 2
    pool_obj = next(o for o in objects.values() if o["type"] == "pool")
    assert pool_obj["id"] == pool.uuid
    for obj in objects.values():
        assert obj["$pool"] == pool.uuid and obj["_xapiRef"]
        if obj["type"] in ("VM", "VM-controller", "SR"):
            assert obj["$container"] in objects, obj
        if obj["type"] == "VM":
            for vbd in obj["$VBDs"]:
                assert objects[vbd]["VM"] == obj["id"]
            assert obj["power_state"] in ("Running", "Halted", "Paused", "Suspended")
            if obj["power_state"] == "Running":
                assert objects[obj["$container"]]["type"] == "host"
    # JSON-safe, and the same world loaded twice publishes nothing the second time
    orjson.dumps(objects)
    store = ObjectStore()
    store.replace_pool("sim", objects)
    with store.subscribe() as sub:
        store.replace_pool("sim", PoolRecords().load(sim_records(pool)))
        assert sub.pending_count == 0


def test_sim_records_through_json_give_the_same_objects():
    """JSON-RPC gives date strings where the simulator hands datetimes: same objects."""
    pool = build_world(pools=1, hosts=2, vms=20).pools[0]
    records = sim_records(pool)
    wire = orjson.loads(orjson.dumps(records, default=_xapi_datetime))
    assert PoolRecords().load(wire) == PoolRecords().load(records)


def _xapi_datetime(value):
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%dT%H:%M:%SZ")
    raise TypeError(type(value))
