"""Thousands of hostile frames: each gets one JSON-RPC answer (an error, or a result for the
few public methods junk may legitimately call), never an internal error (-32000) and never a
crash; meanwhile another client keeps being served and notified. An oversized frame closes
only its own connection."""

from __future__ import annotations

import json
import random
from typing import Any

import trio
from acl_server import Client, open_server

from xo.api.namespaces import build_registry

METHODS = sorted(m.name for m in build_registry())
KINDS = ("garbage", "not_object", "batch", "envelope", "unknown_method", "junk_params", "deep")


def junk(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value: odd numbers, long or weird strings, nested containers."""
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        return rng.choice(
            [
                None, True, False, 0, -1, 2**63, -(2**70), 1e308, -0.0, 3.5, "", "x",
                "\u0000\ud7ff\uffff", "é" * rng.randint(1, 50), "a" * rng.choice([1, 300, 70_000]),
                "OpaqueRef:NULL", "../../etc/passwd", "$getFrom", "__proto__",
            ]
        )  # fmt: skip
    if roll < 0.75:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["id", "email", "password", "token", "filter", "__proto__", "constructor", "x" * 40, ""]
    return {rng.choice(keys): junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def hostile(rng: random.Random, i: int) -> tuple[str | bytes, Any]:
    """A frame and the id its answer carries."""
    kind = KINDS[i % len(KINDS)]
    msg_id = f"h{i}"
    if kind == "garbage":
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
        text = raw.decode("latin-1")
        if text.strip().startswith(("{", "[", '"')) or text.strip().lstrip("-").isdigit():
            text = "}" + text
        return text, None
    if kind == "not_object":
        return json.dumps(rng.choice([1, "x", None, True, 3.5])), None
    if kind == "batch":
        return json.dumps([junk(rng) for _ in range(rng.randint(0, 5))]), None
    if kind == "envelope":
        frame = {"id": msg_id, "jsonrpc": "2.0", "method": "system.getVersion", "params": {}}
        broken = rng.choice(["jsonrpc", "method", "params"])
        frame[broken] = (
            rng.choice([1, None, [], {}, "1.0", "", True])
            if broken != "params"
            else rng.choice([1, "x", True])
        )
        if broken == "method" and frame["method"] is None:
            frame["method"] = 42
        return json.dumps(frame), msg_id
    if kind == "unknown_method":
        name = rng.choice(
            ["", "x" * 100_000, "vm.", ".start", "vm.start.now", "__proto__.x", "🙂.🙂"]
        )
        name = name or "nope"
        return json.dumps({"id": msg_id, "jsonrpc": "2.0", "method": name, "params": {}}), msg_id
    if kind == "deep":
        depth = rng.choice([40, 200, 900])
        nested: Any = 1
        for _ in range(depth):
            nested = {"a": nested} if rng.random() < 0.5 else [nested]
        method = rng.choice(["xo.getAllObjects", "token.deleteOwn", "user.set", "vm.start"])
        params = {"filter": nested, "pattern": nested, "id": "x", "preferences": nested}
        return json.dumps(
            {"id": msg_id, "jsonrpc": "2.0", "method": method, "params": params}
        ), msg_id
    method = rng.choice(
        [
            m
            for m in METHODS
            if m not in ("session.signOut", "session.signIn", "session.signInWithPassword")
        ]
    )
    params = (
        junk(rng) if rng.random() < 0.3 else {k: junk(rng) for k in ("id", "email", "filter", "x")}
    )
    if not isinstance(params, dict | list):
        params = {"value": params}
    return json.dumps({"id": msg_id, "jsonrpc": "2.0", "method": method, "params": params}), msg_id


async def fuzz(client: Client, rng: random.Random, count: int, offset: int) -> list[str]:
    """Send ``count`` hostile frames one at a time; problems found."""
    problems = []
    for i in range(offset, offset + count):
        frame, msg_id = hostile(rng, i)
        seen = len(client.log)
        await client.send(frame)
        answer = await client.wait(
            lambda: next((m for m in client.log[seen:] if m.get("id") == msg_id), None)  # noqa: B023
        )
        error = answer.get("error")
        if error is not None and error.get("code") == -32000:
            problems.append(f"internal error for {str(frame)[:200]!r}: {error}")
        if error is None and msg_id is None:
            problems.append(f"a result for an invalid frame {str(frame)[:200]!r}")
    return problems


async def test_hostile_frames_each_get_an_answer_and_others_keep_being_served() -> None:
    async with open_server() as server:
        _, user_token = await server.user("user@example.net")
        _, admin_token = await server.user("admin@example.net", "admin")
        async with (
            server.client() as anonymous,
            server.signed_in(user_token) as user,
            server.signed_in(admin_token) as bystander,
        ):
            served = 0
            done = trio.Event()

            async def keep_calling() -> None:
                nonlocal served
                while not done.is_set():
                    assert await bystander.result("system.getVersion") == "0.1"
                    served += 1
                    server.objects.replace_pool(
                        "p", {"vm": {"id": "vm", "type": "VM", "n": served}}
                    )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(keep_calling)
                rng = random.Random(4)
                problems = await fuzz(anonymous, rng, 1500, 0)
                problems += await fuzz(user, rng, 1500, 1500)
                done.set()
            assert problems == []
            assert served > 20

            # The bystander was notified all along, up to the last change.
            def last_n() -> Any:
                notes = [m for m in bystander.log if m.get("method") == "all"]
                return notes and notes[-1]["params"]["items"]["vm"]["n"] == served

            assert len([m for m in bystander.log if m.get("method") == "all"]) > 1
            await bystander.wait(last_n)
            # The fuzzed connections still work.
            assert await anonymous.result("system.getVersion") == "0.1"
            assert (await user.result("session.getUser"))["email"] == "user@example.net"


async def test_an_oversized_frame_closes_only_its_connection() -> None:
    async with open_server() as server:
        async with server.client() as other:
            async with server.client() as big:
                # Just over the limit: hypercorn answers 1009 (for frames many MiB over it, it
                # sends 1009 too but leaves closing the socket to the client).
                await big.send("[" + "1," * (2 * 1024 * 1024 + 1024) + "1]")
                await big.wait(lambda: big.closed is not None)
                assert big.closed == 1009
            assert await other.result("system.getVersion") == "0.1"
