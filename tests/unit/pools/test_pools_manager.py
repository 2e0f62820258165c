"""PoolManager over MockTransport with the autojump clock: statuses, backoff retries, permanent
errors, duplicate pools, disconnect. (The same behaviours against the real simulator over
sockets are in tests/integration/test_pools_*.py.)"""

from __future__ import annotations

import orjson
import pytest
import trio

from xo.objects.store import ObjectStore
from xo.pools import Backoff, PoolAlreadyConnected, PoolManager, PoolNotConnected, ServerEntry
from xo.xapi import MockTransport, Response, XapiError

POOL_UUID = "3b1f6c1e-0000-4000-8000-000000000001"
HOST_UUID = "3b1f6c1e-0000-4000-8000-000000000002"


class MiniPool:
    """One host answering JSON-RPC with a pool and a host; event.from never returns."""

    def __init__(self) -> None:
        self.up = False
        self.broken = False  # answer records the transforms cannot read
        self.password = "pw"
        self.logins: list[float] = []

    def records(self) -> dict:
        return {
            "pool": {
                "OpaqueRef:pool": {
                    "uuid": POOL_UUID,
                    "name_label": "Mini",
                    "name_description": "a pool",
                    "master": "OpaqueRef:host",
                    "other_config": {},
                    "ha_statefiles": [],
                    "restrictions": {},
                    "tags": [],
                }
            },
            "host": {
                "OpaqueRef:host": {
                    "uuid": HOST_UUID,
                    "name_label": "host1",
                    "address": "mini:8080",
                    "software_version": {"platform_version": "3.4.0"},
                    "other_config": {},
                    "chipset_info": {},
                    "license_params": {},
                    "capabilities": [],
                }
            },
        }

    async def handle(self, request):
        if not self.up:
            raise ConnectionRefusedError(111, "Connection refused")
        message = orjson.loads(request.body)
        method, params = message["method"], message["params"]
        if method == "session.login_with_password":
            self.logins.append(trio.current_time())
            if params[1] != self.password:
                return self.error(message, "SESSION_AUTHENTICATION_FAILED", params[0], "bad")
            result = "OpaqueRef:session"
        elif method == "system.listMethods":
            result = ["pool.get_all_records", "host.get_all_records"]
        elif method == "pool.get_all":
            result = ["OpaqueRef:pool"]
        elif method == "event.inject":
            result = "1,0"
        elif method.endswith(".get_all_records"):
            result = self.records()[method.split(".")[0]]
            if self.broken and method == "host.get_all_records":
                result = {"OpaqueRef:host": "not a record"}
        elif method == "event.from":
            await trio.sleep_forever()
        elif method == "session.logout":
            result = ""
        else:
            return self.error(message, "MESSAGE_METHOD_UNKNOWN", method)
        body = orjson.dumps({"jsonrpc": "2.0", "result": result, "id": message["id"]})
        return Response(200, [("content-type", "application/json")], body)

    def error(self, message, code, *params):
        error = {"code": 1, "message": code, "data": list(params)}
        body = orjson.dumps({"jsonrpc": "2.0", "error": error, "id": message["id"]})
        return Response(200, [("content-type", "application/json")], body)


@pytest.fixture
async def setup(nursery):
    mini = MiniPool()
    store = ObjectStore()
    manager = PoolManager(
        store,
        transport_factory=lambda entry: MockTransport(mini.handle),
        backoff_factory=lambda: Backoff(jitter=0),
    )
    await nursery.start(manager.run)
    return mini, store, manager


def entry(server_id="s1", password="pw", **kwargs) -> ServerEntry:
    return ServerEntry(server_id, "http://mini:8080", "root", password, **kwargs)


async def wait_status(manager, predicate, seconds=600):
    with trio.fail_after(seconds):
        return await manager.wait_status("s1", predicate)


async def test_refused_host_is_disconnected_with_its_error_then_recovers(setup, autojump_clock):
    mini, store, manager = setup
    start = trio.current_time()
    manager.connect(entry())
    await wait_status(manager, lambda s: s.error is not None)
    status = manager.status("s1")
    assert status.status in ("disconnected", "connecting")
    assert status.error["code"] == "UNREACHABLE"
    assert "refused" in status.error["message"]
    # retries back off 1, 2, 4, 8 s: after ~15 s the 5th attempt starts
    await trio.sleep(15.5 - (trio.current_time() - start))
    mini.up = True
    await wait_status(manager, lambda s: s.status == "connected")
    elapsed = trio.current_time() - start
    assert 31 <= elapsed <= 31.5  # the attempt after 16 s more found the host up
    status = manager.status("s1")
    assert status.error is None
    assert status.pool_id == POOL_UUID
    assert status.master_id == HOST_UUID
    assert status.pool_name_label == "Mini"
    assert status.pool_members_addresses == ("mini:8080",)
    assert store.get(POOL_UUID) is not None
    assert manager.xapi_for_pool(POOL_UUID).session == "OpaqueRef:session"


async def test_wrong_password_raises_and_does_not_retry(setup, autojump_clock):
    mini, store, manager = setup
    mini.up = True
    with pytest.raises(XapiError) as info:
        await manager.connect_and_wait(entry(password="bad"))
    assert info.value.code == "SESSION_AUTHENTICATION_FAILED"
    await trio.sleep(300)
    assert len(mini.logins) == 1
    status = manager.status("s1")
    assert status.status == "disconnected"
    assert status.error["code"] == "SESSION_AUTHENTICATION_FAILED"
    assert "pw" not in str(status.error) and "bad" not in status.error["params"][:1]


async def test_second_server_of_a_connected_pool_is_refused(setup, autojump_clock):
    mini, store, manager = setup
    mini.up = True
    await manager.connect_and_wait(entry("s1"))
    with pytest.raises(PoolAlreadyConnected) as info:
        await manager.connect_and_wait(entry("s2"))
    assert str(info.value) == "this pool is already connected"
    assert manager.status("s2").error["message"] == "this pool is already connected"
    assert manager.server_for_pool(POOL_UUID) == "s1"
    assert manager.status("s1").status == "connected"
    assert store.get(POOL_UUID) is not None


async def test_disconnect_withdraws_objects_and_status(setup, autojump_clock):
    mini, store, manager = setup
    mini.up = True
    await manager.connect_and_wait(entry(read_only=True))
    assert manager.read_only(POOL_UUID)
    await manager.disconnect("s1")
    assert store.get(POOL_UUID) is None
    assert len(store) == 0
    assert manager.status("s1").status == "disconnected"
    assert manager.status("s1").error is None
    with pytest.raises(PoolNotConnected):
        manager.xapi_for_pool(POOL_UUID)
    # the pool can now be connected through another entry
    await manager.connect_and_wait(entry("s2"))
    assert manager.server_for_pool(POOL_UUID) == "s2"


async def test_connect_and_wait_times_out_but_keeps_retrying(setup, autojump_clock):
    mini, store, manager = setup
    with pytest.raises(Exception) as info:
        await manager.connect_and_wait(entry(), timeout=0.5)
    assert "refused" in str(info.value)  # the first attempt's error, raised at once
    mini.up = True
    await wait_status(manager, lambda s: s.status == "connected")


async def test_records_that_cannot_be_processed_are_an_error_status_not_a_crash(
    setup, autojump_clock
):
    mini, store, manager = setup
    mini.up = True
    mini.broken = True
    manager.connect(entry())
    status = await wait_status(manager, lambda s: s.error is not None)
    assert status.error["code"] == "SYNC_ERROR"
    assert status.status == "disconnected"
    mini.broken = False  # retried with backoff, like any transient error
    await wait_status(manager, lambda s: s.status == "connected")
    assert store.get(HOST_UUID) is not None
