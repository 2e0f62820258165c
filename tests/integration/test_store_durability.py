"""Every write the store acknowledged survives ``kill -9`` of the process in the middle of a
burst of writes, and the database file passes SQLite's integrity check afterwards."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import trio

from xo.store.records import Token
from xo.store.sqlite import SqliteStore

WRITER = """
import json, sys, trio
from xo.store.records import Token
from xo.store.sqlite import SqliteStore

async def main(path):
    store = await SqliteStore.open(path)
    group = await store.create_group("burst")
    print(json.dumps({"group": group.id}), flush=True)
    i = 0
    while True:
        user = await store.create_user(f"u{i}@example.net", "hash", "none")
        print(json.dumps({"user": user.id, "email": user.email}), flush=True)
        acl = await store.add_acl(user.id, f"object-{i}", "viewer")
        print(json.dumps({"acl": [acl.subject, acl.object, acl.action]}), flush=True)
        await store.add_group_user(group.id, user.id)
        print(json.dumps({"member": user.id}), flush=True)
        token = Token(id=f"token-{i}", user_id=user.id, created_at=0, expiration=2**40)
        await store.create_token(token)
        print(json.dumps({"token": token.id}), flush=True)
        if i % 3 == 0:
            await store.remove_acl(user.id, f"object-{i}", "viewer")
            print(json.dumps({"acl-removed": [user.id, f"object-{i}", "viewer"]}), flush=True)
        i += 1

trio.run(main, sys.argv[1])
"""


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "xo-server.sqlite3"
    process = await trio.lowlevel.open_process([sys.executable, "-c", WRITER, str(path)], stdout=-1)
    acked: list[dict[str, object]] = []
    buffer = b""
    assert process.stdout is not None
    with trio.fail_after(30):
        while len(acked) < 400:  # well into the burst: the writer is busy writing now
            chunk = await process.stdout.receive_some()
            assert chunk, "the writer died"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            acked += [json.loads(line) for line in lines]
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert process.returncode == -signal.SIGKILL
    # Acknowledgements printed after our last read are acknowledged too: read them all.
    rest = buffer
    while chunk := await process.stdout.receive_some():
        rest += chunk
    acked += [json.loads(line) for line in rest.split(b"\n")[:-1]]

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    store = await SqliteStore.open(path)
    try:
        acls = {(a.subject, a.object, a.action) for a in await store.list_acls()}
        tokens = {t.id for t in await store.list_tokens()}
        group_id = next(a["group"] for a in acked if "group" in a)
        group = await store.get_group(str(group_id))
        assert group is not None
        removed = {tuple(a["acl-removed"]) for a in acked if "acl-removed" in a}  # type: ignore[arg-type]
        for ack in acked:
            if "user" in ack:
                user = await store.get_user_by_email(str(ack["email"]))
                assert user is not None and user.id == ack["user"]
            elif "acl" in ack and tuple(ack["acl"]) not in removed:  # type: ignore[arg-type]
                assert tuple(ack["acl"]) in acls  # type: ignore[arg-type]
            elif "acl-removed" in ack:
                assert tuple(ack["acl-removed"]) not in acls  # type: ignore[arg-type]
            elif "member" in ack:
                assert ack["member"] in group.users
            elif "token" in ack:
                assert ack["token"] in tokens
        assert sum("user" in a for a in acked) >= 80
        # The store still takes writes.
        await store.create_token(
            Token(id="after", user_id=group.users[0], created_at=0, expiration=1)
        )
    finally:
        await store.aclose()
