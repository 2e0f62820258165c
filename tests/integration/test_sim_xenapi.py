"""The real XenAPI package (PyPI) drives xapi-sim over real sockets.

XenAPI is blocking: every call runs in a worker thread (the ``xenapi`` fixture) so the simulator,
which runs on this test's trio loop, keeps serving.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import XenAPI


def _guest(records: dict[str, dict], power_state: str) -> str:
    return next(
        ref
        for ref, vm in sorted(records.items())
        if vm["power_state"] == power_state
        and not vm["is_a_template"]
        and not vm["is_a_snapshot"]
        and not vm["is_control_domain"]
    )


async def _login(url: str, user: str, password: str) -> Any:
    def login() -> Any:
        session = XenAPI.Session(url)
        session.xenapi.login_with_password(user, password, "1.0", "xo-tests")
        return session

    return await trio.to_thread.run_sync(login)


async def test_login_and_list_vms(xenapi, sim_pool) -> None:  # noqa: ANN001
    records = await xenapi.call("VM.get_all_records")
    db = sim_pool.pool.db
    assert set(records) == set(db.all("VM"))
    some = next(iter(records.values()))
    assert isinstance(some["memory_static_max"], str)  # int64 travels untyped, as from xapi
    assert isinstance(some["is_a_template"], bool)
    pool_ref = (await xenapi.call("pool.get_all"))[0]
    assert await xenapi.call("pool.get_master", pool_ref) == sim_pool.pool.master_ref
    methods = await trio.to_thread.run_sync(xenapi.session.system.listMethods)
    assert "VM.get_all_records" in methods


async def test_login_on_a_slave_is_host_is_slave(sim_pool) -> None:  # noqa: ANN001
    slave_url = sim_pool.host_urls[1]
    with pytest.raises(XenAPI.Failure) as error:
        await _login(slave_url, sim_pool.username, sim_pool.password)
    code, master_address = error.value.details
    assert code == "HOST_IS_SLAVE"
    assert master_address in sim_pool.master_url
    # the address in the error is where the client must go: logging in there works
    session = await _login(sim_pool.master_url, sim_pool.username, sim_pool.password)
    assert session.handle.startswith("OpaqueRef:")


async def test_wrong_password(sim_pool) -> None:  # noqa: ANN001
    with pytest.raises(XenAPI.Failure) as error:
        await _login(sim_pool.master_url, sim_pool.username, "wrong")
    assert error.value.details[0] == "SESSION_AUTHENTICATION_FAILED"


async def _vm_events_until(xenapi, token: str, ref: str, power_state: str) -> tuple[list[dict], str]:  # noqa: ANN001
    seen: list[dict] = []
    with trio.fail_after(10):
        while True:
            batch = await xenapi.call("event.from", ["vm"], token, 5.0)
            token = batch["token"]
            seen.extend(e for e in batch["events"] if e["ref"] == ref)
            if any(e["snapshot"]["power_state"] == power_state for e in seen if "snapshot" in e):
                return seen, token


async def test_start_and_stop_are_seen_through_event_from(xenapi, sim_pool) -> None:  # noqa: ANN001
    records = await xenapi.call("VM.get_all_records")
    ref = _guest(records, "Halted")
    first = await xenapi.call("event.from", ["vm"], "", 0.0)
    assert first["valid_ref_counts"]["vm"] == len(records)
    token = first["token"]
    await xenapi.call("VM.start", ref, False, False)
    seen, token = await _vm_events_until(xenapi, token, ref, "Running")
    running = [e for e in seen if e["snapshot"]["power_state"] == "Running"][-1]
    assert running["class"] == "vm" and running["operation"] == "mod"
    assert running["snapshot"]["resident_on"] in sim_pool.pool.host_refs
    assert int(running["snapshot"]["domid"]) > 0
    await xenapi.call("VM.clean_shutdown", ref)
    seen, token = await _vm_events_until(xenapi, token, ref, "Halted")
    assert seen[-1]["snapshot"]["resident_on"] == "OpaqueRef:NULL"
    assert await xenapi.call("VM.get_power_state", ref) == "Halted"


async def test_async_call_returns_a_task_that_completes(xenapi) -> None:  # noqa: ANN001
    records = await xenapi.call("VM.get_all_records")
    ref = _guest(records, "Halted")
    task = await xenapi.call("Async.VM.clone", ref, "cloned by XenAPI")
    assert task.startswith("OpaqueRef:")
    token = ""
    with trio.fail_after(10):
        while (await xenapi.call("task.get_status", task)) == "pending":
            batch = await xenapi.call("event.from", [f"task/{task}"], token, 5.0)
            token = batch["token"]
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "success"
    assert record["name_label"] == "Async.VM.clone"
    assert float(record["progress"]) == 1.0
    assert record["result"].startswith("<value>OpaqueRef:")
    clone = record["result"][len("<value>") : -len("</value>")]
    assert await xenapi.call("VM.get_name_label", clone) == "cloned by XenAPI"
    await xenapi.call("task.destroy", task)

    running = _guest(records, "Running")
    failing = await xenapi.call("Async.VM.start", running, False, False)
    with trio.fail_after(10):
        while (await xenapi.call("task.get_status", failing)) == "pending":
            await xenapi.call("event.from", [f"task/{failing}"], "", 1.0)
    assert await xenapi.call("task.get_error_info", failing) == ["VM_BAD_POWER_STATE", running, "halted", "running"]


async def test_error_codes(xenapi) -> None:  # noqa: ANN001
    async def failure(method: str, *args: Any) -> list[str]:
        with pytest.raises(XenAPI.Failure) as error:
            await xenapi.call(method, *args)
        return error.value.details

    assert await failure("VM.get_record", "OpaqueRef:nope") == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    assert await failure("VM.get_record") == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "2", "1"]
    assert await failure("VM.no_such_call") == ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_call"]
    assert await failure("VM.get_by_uuid", "nope") == ["UUID_INVALID", "VM", "nope"]
    records = await xenapi.call("VM.get_all_records")
    running = _guest(records, "Running")
    assert await failure("VM.destroy", running) == ["VM_BAD_POWER_STATE", running, "halted, suspended", "running"]
    template = next(r for r, v in records.items() if v["is_default_template"])
    assert await failure("VM.start", template, False, False) == ["VM_IS_TEMPLATE", template, "start"]
    # the simulator keeps serving after every one of these
    assert await xenapi.call("VM.get_power_state", running) == "Running"
