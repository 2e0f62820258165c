"""event.from / inject / legacy events: tokens, coalescing, long poll, scale."""

from __future__ import annotations

import pytest
import trio
from sim_client import Client, find_vm

from xo.formats.xmlrpc import Int32
from xo.sim.db import DELETION_QUEUE_MAX, DELETION_QUEUE_TRIM, Database
from xo.sim.errors import XapiFailure
from xo.sim.events import EventService, Subscription, format_token
from xo.sim.schema import SCHEMAS
from xo.sim.timing import Timing


async def test_empty_token_returns_every_object_as_add(xapi: Client) -> None:
    result = await xapi("event.from", ["vm", "host"], "", 1.0)
    db = xapi.pool.db
    assert {e["operation"] for e in result["events"]} == {"add"}
    refs = {e["ref"] for e in result["events"]}
    assert refs == set(db.all("VM")) | set(db.all("host"))
    vm_event = next(e for e in result["events"] if e["class"] == "vm")
    assert vm_event["snapshot"] == db.get("VM", vm_event["ref"])
    assert vm_event["timestamp"] == "0.0" and int(vm_event["id"]) > 0


async def test_token_format_and_ordering(xapi: Client) -> None:
    result = await xapi("event.from", ["*"], "", 1.0)
    token = result["token"]
    a, b = token.split(",")
    assert len(a) == 20 and len(b) == 20 and a.isdigit() and b.isdigit()
    await xapi("VM.set_name_label", find_vm(xapi.pool, "Halted"), "renamed")
    later = await xapi("event.from", ["*"], token, 1.0)
    assert later["token"] > token


async def test_valid_ref_counts_cover_every_table_as_int32(xapi: Client) -> None:
    result = await xapi("event.from", ["vm"], "", 1.0)
    counts = result["valid_ref_counts"]
    assert set(counts) == {cls.lower() for cls in SCHEMAS}
    assert all(type(v) is Int32 for v in counts.values())
    assert counts["vm"] == len(xapi.pool.db.all("VM"))
    assert "task" in counts


async def test_mod_is_coalesced_and_create_delete_in_window_vanishes(xapi: Client) -> None:
    start = await xapi("event.from", ["*"], "", 1.0)
    ref = find_vm(xapi.pool, "Halted")
    for n in range(5):
        await xapi("VM.set_name_label", ref, f"name {n}")
    temp = await xapi("task.create", "temp", "")
    await xapi("task.destroy", temp)
    result = await xapi("event.from", ["vm", "task"], start["token"], 1.0)
    vm_events = [e for e in result["events"] if e["ref"] == ref]
    assert len(vm_events) == 1
    assert vm_events[0]["operation"] == "mod"
    assert vm_events[0]["snapshot"]["name_label"] == "name 4"
    assert not [e for e in result["events"] if e["ref"] == temp]


async def test_delete_has_no_snapshot_and_add_after_token_is_add(xapi: Client) -> None:
    start = await xapi("event.from", ["*"], "", 1.0)
    created = await xapi("task.create", "made", "")
    mid = await xapi("event.from", ["task"], start["token"], 1.0)
    assert [(e["operation"], e["ref"]) for e in mid["events"]] == [("add", created)]
    await xapi("task.destroy", created)
    end = await xapi("event.from", ["task"], mid["token"], 1.0)
    assert len(end["events"]) == 1
    event = end["events"][0]
    assert event["operation"] == "del" and event["class"] == "task" and "snapshot" not in event


async def test_object_subscription_filters_by_ref(xapi: Client) -> None:
    start = await xapi("event.from", ["*"], "", 1.0)
    one, two = [r for r, v in xapi.pool.db.all("VM").items() if not v["is_a_template"]][:2]
    await xapi("VM.set_name_description", one, "x")
    await xapi("VM.set_name_description", two, "y")
    result = await xapi("event.from", [f"vm/{two}"], start["token"], 1.0)
    assert [e["ref"] for e in result["events"]] == [two]


async def test_inject_returns_token_just_before_and_pool_mod_follows(xapi: Client) -> None:
    pool_ref = xapi.pool.pool_ref
    token = await xapi("event.inject", "pool", pool_ref)
    result = await xapi("event.from", ["pool"], token, 1.0)
    assert [(e["class"], e["operation"], e["ref"]) for e in result["events"]] == [("pool", "mod", pool_ref)]
    with pytest.raises(XapiFailure) as error:
        await xapi("event.inject", "pool", "OpaqueRef:nope")
    assert error.value.description == ["HANDLE_INVALID", "pool", "OpaqueRef:nope"]


async def test_add_to_other_config_emits_pool_mod_with_the_key(xapi: Client) -> None:
    token = (await xapi("event.from", ["pool"], "", 1.0))["token"]
    await xapi("pool.add_to_other_config", xapi.pool.pool_ref, "xo:barrier:1", "x")
    result = await xapi("event.from", ["pool"], token, 1.0)
    assert result["events"][0]["snapshot"]["other_config"]["xo:barrier:1"] == "x"
    with pytest.raises(XapiFailure) as error:
        await xapi("pool.add_to_other_config", xapi.pool.pool_ref, "xo:barrier:1", "y")
    assert error.value.description == ["MAP_DUPLICATE_KEY", "pool", "other_config", xapi.pool.uuid, "xo:barrier:1"]


async def test_long_poll_returns_when_a_change_arrives(xapi: Client) -> None:
    token = (await xapi("event.from", ["*"], "", 1.0))["token"]
    ref = find_vm(xapi.pool, "Halted")
    result = {}

    async def poll() -> None:
        result["r"] = await xapi("event.from", ["vm"], token, 30.0)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            await trio.sleep(0.02)
            await xapi("VM.set_name_label", ref, "wake up")
    assert [e["ref"] for e in result["r"]["events"]] == [ref]


async def test_timeout_returns_empty_batch_with_fresh_token(xapi: Client) -> None:
    token = (await xapi("event.from", ["*"], "", 1.0))["token"]
    await xapi("task.create", "not watched", "")  # a change of a class not subscribed
    with trio.fail_after(5):
        result = await xapi("event.from", ["vm"], token, 0.05)
    assert result["events"] == []
    assert result["token"] > token


async def test_bad_token_and_subscription(xapi: Client) -> None:
    with pytest.raises(XapiFailure) as error:
        await xapi("event.from", ["*"], "garbage", 1.0)
    assert error.value.description == ["EVENT_FROM_TOKEN_PARSE_FAILURE", "garbage"]
    with pytest.raises(XapiFailure) as error:
        await xapi("event.from", ["a/b/c"], "", 1.0)
    assert error.value.description == ["EVENT_SUBSCRIPTION_PARSE_FAILURE", "a/b/c"]


async def test_messages_come_from_their_own_generation(xapi: Client) -> None:
    first = await xapi("event.from", ["message"], "", 1.0)
    assert {e["class"] for e in first["events"]} == {"message"}
    msg_gen = first["token"].split(",")[1]
    ref = await xapi("message.create", "TEST", "3", "VM", "uuid", "body")
    second = await xapi("event.from", ["message"], first["token"], 1.0)
    assert [(e["operation"], e["ref"]) for e in second["events"]] == [("add", ref)]
    assert second["token"].split(",")[1] > msg_gen


async def test_logout_wakes_blocked_event_from_with_session_invalid(xapi: Client) -> None:
    token = (await xapi("event.from", ["*"], "", 1.0))["token"]
    errors = []

    async def poll() -> None:
        try:
            await xapi("event.from", ["vm"], token, 30.0)
        except XapiFailure as failure:
            errors.append(failure.description)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            await trio.sleep(0.02)
            await xapi("session.logout")
    assert errors == [["SESSION_INVALID", xapi.session]]


async def test_legacy_register_next_and_events_lost() -> None:
    db = Database(legacy_queue_max=4)
    service = EventService(db, Timing.fast())
    service.register("s", ["vm"])
    ref = db.create("VM", {"name_label": "a"})
    events = await service.next("s")
    assert [(e["class"], e["operation"], e["ref"]) for e in events] == [("vm", "add", ref)]
    for n in range(10):
        db.update("VM", ref, name_label=str(n))
    with pytest.raises(XapiFailure) as error:
        await service.next("s")
    assert error.value.description == ["EVENTS_LOST"]
    service.unregister("s", ["vm"])
    with pytest.raises(XapiFailure) as error:
        await service.next("s")
    assert error.value.description == ["SESSION_NOT_REGISTERED", "s"]


def test_deletion_queue_is_bounded() -> None:
    db = Database()
    refs = [db.create("task", {"name_label": str(n)}) for n in range(DELETION_QUEUE_MAX + 1)]
    for ref in refs:
        db.destroy("task", ref)
    deleted = [c for c in db.log.since(0) if c.deleted]
    assert len(deleted) == DELETION_QUEUE_TRIM
    assert {c.ref for c in deleted} == set(refs[-DELETION_QUEUE_TRIM:])


async def test_thousand_subscribers_are_woken_by_one_change() -> None:
    db = Database()
    service = EventService(db, Timing.fast())
    ref = db.create("VM", {"name_label": "x"})
    token = format_token(db.log.generation, 0)
    results: list[dict] = []

    async def subscriber() -> None:
        results.append(await service.from_("s", ["vm"], token, 60.0))

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for _ in range(1000):
                nursery.start_soon(subscriber)
            await trio.testing.wait_all_tasks_blocked()
            db.update("VM", ref, name_label="changed")
    assert len(results) == 1000
    assert all(r["events"][0]["snapshot"]["name_label"] == "changed" for r in results)


def test_collect_costs_only_changes_since_token() -> None:
    db = Database()
    service = EventService(db, Timing.fast())
    refs = [db.create("VM", {"name_label": str(n)}) for n in range(20_000)]
    token_gen = db.log.generation
    db.update("VM", refs[5], name_label="late")
    seen = list(db.log.since(token_gen))
    assert [c.ref for c in seen] == [refs[5]]
    sub = Subscription.parse(["*"])
    events = service.collect(sub, token_gen, 0)
    assert [e["ref"] for e in events] == [refs[5]]
