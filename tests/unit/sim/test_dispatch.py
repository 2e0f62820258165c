"""Call dispatch: sessions, arity, unknown methods, unmarshalling, implicit messages, tasks."""

from __future__ import annotations

import pytest
import trio
from sim_client import Client, find_vm

from xo.formats.xmlrpc import parse_value_fragment
from xo.sim.errors import XapiFailure
from xo.sim.pool import SimPool
from xo.sim.schema import SCHEMAS


async def _fails(coro) -> list[str]:  # noqa: ANN001
    with pytest.raises(XapiFailure) as error:
        await coro
    return error.value.description


async def test_login_errors(pool: SimPool) -> None:
    master = pool.master_ref
    slave = next(h for h in pool.host_refs if h != master)
    assert await _fails(pool.rpc("session.login_with_password", ["root", "bad"], on_host=master)) == [
        "SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure",
    ]  # fmt: skip
    assert await _fails(pool.rpc("session.login_with_password", ["root", "password"], on_host=slave)) == [
        "HOST_IS_SLAVE", pool.host_address(master),
    ]  # fmt: skip
    session = await pool.rpc("session.login_with_password", ["root", "password", "1.1", "test"], on_host=master)
    assert session.startswith("OpaqueRef:")
    await pool.rpc("session.logout", [session], on_host=master)
    assert await _fails(pool.rpc("VM.get_all", [session], on_host=master)) == ["SESSION_INVALID", session]


async def test_promote_moves_the_master(pool: SimPool) -> None:
    old = pool.master_ref
    new = next(h for h in pool.host_refs if h != old)
    pool.faults.promote(new)
    assert await _fails(pool.rpc("session.login_with_password", ["root", "password"], on_host=old)) == [
        "HOST_IS_SLAVE", pool.host_address(new),
    ]  # fmt: skip
    assert await pool.rpc("session.login_with_password", ["root", "password"], on_host=new)


async def test_invalidate_sessions(xapi: Client) -> None:
    xapi.pool.faults.invalidate_sessions()
    assert await _fails(xapi("VM.get_all")) == ["SESSION_INVALID", xapi.session]


async def test_arity_unknown_method_and_bad_types(xapi: Client) -> None:
    assert await _fails(xapi("VM.get_record")) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "2", "1"]
    assert await _fails(xapi("VM.get_record", "a", "b")) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "2", "3"]
    assert await _fails(xapi("VM.frobnicate")) == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert await _fails(xapi("nonsense")) == ["MESSAGE_METHOD_UNKNOWN", "nonsense"]
    ref = find_vm(xapi.pool, "Halted")
    description = await _fails(xapi("VM.start", ref, "false", False))
    assert description[0] == "INTERNAL_ERROR"
    description = await _fails(xapi("VM.set_VCPUs_max", ref, "many"))
    assert description[0] == "INTERNAL_ERROR"


async def test_lenient_int_and_float_unmarshalling(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Halted")
    await xapi("VM.set_VCPUs_max", ref, "6")
    assert xapi.pool.db.get("VM", ref)["VCPUs_max"] == 6
    await xapi("VM.set_HVM_shadow_multiplier", ref, 2)
    assert xapi.pool.db.get("VM", ref)["HVM_shadow_multiplier"] == 2.0
    await xapi("VM.set_actions_after_crash", ref, "DESTROY")
    assert xapi.pool.db.get("VM", ref)["actions_after_crash"] == "destroy"


async def test_implicit_messages(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Halted")
    vm = db.get("VM", ref)
    record = await xapi("VM.get_record", ref)
    assert set(record) == set(SCHEMAS["VM"].fields)
    assert await xapi("VM.get_by_uuid", vm["uuid"]) == ref
    assert ref in await xapi("VM.get_by_name_label", vm["name_label"])
    assert await xapi("VM.get_power_state", ref) == "Halted"
    assert set(await xapi("VM.get_all")) == set(db.all("VM"))
    assert set(await xapi("VM.get_all_records")) == set(db.all("VM"))
    assert await _fails(xapi("VM.get_by_uuid", "nope")) == ["UUID_INVALID", "VM", "nope"]
    assert await _fails(xapi("VM.get_record", "OpaqueRef:nope")) == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    await xapi("VM.add_tags", ref, "blue")
    await xapi("VM.add_tags", ref, "blue")
    assert db.get("VM", ref)["tags"].count("blue") == 1
    await xapi("VM.remove_tags", ref, "blue")
    assert "blue" not in db.get("VM", ref)["tags"]
    await xapi("VM.add_to_platform", ref, "cores-per-socket-x", "2")
    platform = await xapi("VM.get_platform", ref)
    assert platform["cores-per-socket-x"] == "2"
    await xapi("VM.set_platform", ref, {**platform, "cores-per-socket": "4"})
    assert db.get("VM", ref)["platform"]["cores-per-socket"] == "4"
    await xapi("VM.remove_from_platform", ref, "cores-per-socket-x")
    assert "cores-per-socket-x" not in db.get("VM", ref)["platform"]
    hm = db.get("host", xapi.pool.master_ref)["metrics"]
    assert "memory_free" in await xapi("host_metrics.get_record", hm)


async def test_removed_fields_are_still_serialised(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Running")
    gm = xapi.pool.db.get("VM", ref)["guest_metrics"]
    assert "memory" in await xapi("VM_guest_metrics.get_record", gm)


async def test_list_methods_and_is_alive(pool: SimPool) -> None:
    names = await pool.rpc("system.listMethods", [], on_host=pool.master_ref)
    for cls in SCHEMAS:
        assert f"{cls}.get_all_records" in names
    assert "event.from" in names and "session.login_with_password" in names
    assert not any(n.startswith("Async.") for n in names)
    assert await pool.rpc("system.isAlive", ["x"], on_host=pool.master_ref) == "x"


async def test_async_call_success_task_fields(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Halted")
    task = await xapi("Async.VM.clone", ref, "async clone")
    rec = db.get("task", task)
    assert rec["name_label"] == "Async.VM.clone" and rec["status"] == "pending"
    progress = []
    with trio.fail_after(5):
        while db.get("task", task)["status"] == "pending":
            progress.append(db.get("task", task)["progress"])
            await db.changed().wait()
    rec = db.get("task", task)
    assert rec["status"] == "success" and rec["progress"] == 1.0
    assert rec["finished"] != "19700101T00:00:00Z"
    assert max(progress) > 0.0
    clone = parse_value_fragment(rec["result"])
    assert db.get("VM", clone)["name_label"] == "async clone"


async def test_async_call_failure_lands_in_error_info(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Running")
    task = await xapi("Async.VM.start", ref, False, False)
    with trio.fail_after(5):
        while db.get("task", task)["status"] == "pending":
            await db.changed().wait()
    rec = db.get("task", task)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["VM_BAD_POWER_STATE", ref, "halted", "running"]


async def test_task_cancel(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Halted")
    task = await xapi("Async.VM.copy", ref, "slow", "OpaqueRef:NULL")
    await xapi("task.cancel", task)
    with trio.fail_after(5):
        while db.get("task", task)["status"] in ("pending", "cancelling"):
            await db.changed().wait()
    rec = db.get("task", task)
    assert rec["status"] == "cancelled"
    assert rec["error_info"] == ["TASK_CANCELLED", task]
    assert db.get("VM", ref)["current_operations"] == {}
    assert await _fails(xapi("task.cancel", task)) == ["OPERATION_NOT_ALLOWED", f"Task {task} is not cancellable in its current state"]


async def test_no_async_mode_for_task_event_session(xapi: Client) -> None:
    description = await _fails(xapi("Async.task.create", "a", "b"))
    assert description[0] == "Fault" and "No async mode" in description[1]
    description = await _fails(xapi("Async.event.from", ["*"], "", 1.0))
    assert description[0] == "Fault"


async def test_sync_call_runs_in_a_transient_task(xapi: Client) -> None:
    db = xapi.pool.db
    token = (await xapi("event.from", ["task"], "", 0.0))["token"]
    seen = []

    async def watch() -> None:
        nonlocal token
        while True:
            result = await xapi("event.from", ["task"], token, 5.0)
            token = result["token"]
            seen.extend((e["operation"], e.get("snapshot", {}).get("name_label")) for e in result["events"])
            if any(op == "del" for op, _ in seen):
                return

    ref = find_vm(xapi.pool, "Halted")
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            await xapi("VM.start", ref, False, False)
    assert ("add", "VM.start") in seen or ("mod", "VM.start") in seen
    assert seen[-1][0] == "del"
    assert not db.all("task")


async def test_certificate_list_and_message_records(xapi: Client) -> None:
    assert await xapi("pool.certificate_list") == []
    await xapi("pool.certificate_install", "sdn-controller-ca.pem", "PEM")
    assert await xapi("pool.certificate_list") == ["sdn-controller-ca.pem"]
    messages = await xapi("message.get_all_records")
    assert messages and all("obj_uuid" in m for m in messages.values())
