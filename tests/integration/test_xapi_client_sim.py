"""XapiClient against the real simulator over sockets: login, calls, redirects, re-login,
Async tasks, event.from, /export streaming, XML-RPC, TLS."""

from __future__ import annotations

import pytest
import trio

from xo.formats.xva import End, OvaXml, XvaReader
from xo.xapi import EventWatcher, XapiClient, XapiError, XapiUnreachable


def client_for(pool, url: str | None = None, **kwargs) -> XapiClient:
    return XapiClient(url or pool.master_url, pool.username, pool.password, **kwargs)


def is_plain_vm(vm: dict) -> bool:
    return not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"])


async def halted_vm(xapi: XapiClient) -> str:
    records = await xapi.call("VM.get_all_records")
    for ref, vm in sorted(records.items()):
        if vm["power_state"] == "Halted" and is_plain_vm(vm):
            return ref
    raise AssertionError("no halted VM in the simulated pool")


async def test_login_and_calls(sim_pool):
    async with client_for(sim_pool) as xapi:
        pools = await xapi.call("pool.get_all")
        assert len(pools) == 1
        vms = await xapi.call("VM.get_all_records")
        real = [v for v in vms.values() if is_plain_vm(v)]
        assert len(real) == 10
        assert xapi.protocol == "json"
        # JSON-RPC: int64 as numbers
        assert all(isinstance(v["memory_static_max"], int) for v in real)
        with pytest.raises(XapiError) as info:
            await xapi.call("VM.get_record", "OpaqueRef:nope")
        assert info.value.code == "HANDLE_INVALID"
        assert info.value.method == "VM.get_record"


async def test_xml_rpc_path_against_the_sim(sim_pool):
    async with client_for(sim_pool) as xapi:
        xapi.protocol = "xml"  # as if the host had not answered application/json
        vm = await halted_vm(xapi)
        record = await xapi.call("VM.get_record", vm)
        assert record["power_state"] == "Halted"
        assert isinstance(record["memory_static_max"], str)  # XML-RPC int64 is untyped
        assert xapi.protocol == "xml"


async def test_a_member_redirects_to_the_master(sim_pool):
    member = next(url for url in sim_pool.host_urls if url != sim_pool.master_url)
    async with client_for(sim_pool, member) as xapi:
        await xapi.call("pool.get_all")
        assert xapi.origin.url == sim_pool.master_url


async def test_session_invalid_relogs_in(sim, sim_pool):
    async with client_for(sim_pool) as xapi:
        await xapi.call("pool.get_all")
        first = xapi.session
        sim.invalidate_sessions()
        await xapi.call("pool.get_all")
        assert xapi.session != first


async def test_call_async_success_and_failure(sim_pool):
    async with client_for(sim_pool) as xapi:
        vm = await halted_vm(xapi)
        clone = await xapi.call_async("VM.clone", vm, "clone-of-halted")
        assert clone.startswith("OpaqueRef:")
        assert await xapi.call("VM.get_name_label", clone) == "clone-of-halted"
        await xapi.call_async("VM.start", vm, False, False)
        assert await xapi.call("VM.get_power_state", vm) == "Running"
        with pytest.raises(XapiError) as info:
            await xapi.call_async("VM.start", vm, False, False)
        assert info.value.code == "VM_BAD_POWER_STATE"
        # tasks are destroyed after use
        tasks = await xapi.call("task.get_all_records")
        assert not [t for t in tasks.values() if t["name_label"].startswith("Async.VM.start")]


async def test_event_watcher_sees_a_change_made_with_xenapi(sim_pool, xenapi):
    async with client_for(sim_pool) as xapi:
        watcher = EventWatcher(xapi, ["pool", "host", "VM", "task"])
        records = await watcher.load()
        vm = await halted_vm(xapi)
        assert vm in records["VM"]
        await xenapi.call("VM.set_name_label", vm, "renamed by XenAPI")
        with trio.fail_after(1):
            while True:
                batch = await watcher.next_batch()
                mods = [e for e in batch if e["class"] == "VM" and e["ref"] == vm]
                if mods:
                    break
        assert mods[-1]["snapshot"]["name_label"] == "renamed by XenAPI"


async def test_streaming_export_is_an_xva(sim_pool):
    async with client_for(sim_pool) as xapi:
        vm = await halted_vm(xapi)
        response = await xapi.get("/export", {"ref": vm})
        reader = XvaReader()
        events = []
        total = 0
        async with response:
            async for chunk in response:
                total += len(chunk)
                events += reader.feed(chunk)
        reader.close()  # raises if the stream was cut short
        assert total > 0
        assert isinstance(events[0], OvaXml)
        assert b"<struct>" in events[0].xml
        assert isinstance(events[-1], End)


async def test_tls_with_allow_unauthorized(sim_tls):
    pool = sim_tls.pools[0]
    assert pool.master_url.startswith("https://")
    async with client_for(pool, allow_unauthorized=True) as xapi:
        assert len(await xapi.call("pool.get_all")) == 1
    strict = client_for(pool)
    with pytest.raises(XapiUnreachable) as info:
        await strict.login()
    assert "certificate" in str(info.value).lower()
