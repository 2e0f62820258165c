"""The SQLite store: migrations, CRUD of every table, durability settings."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xo.store.interface import Conflict
from xo.store.migrations import Migration, load_migrations
from xo.store.records import PluginConfig, Server, Token
from xo.store.sqlite import SqliteStore
from xo.store.sqlite_db import Database, SchemaTooNew


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "xo.sqlite3")
    yield store
    await store.aclose()


def test_migrations_are_shipped_and_numbered() -> None:
    migrations = load_migrations()
    assert migrations[0].version == 1 and migrations[0].name == "init"
    assert "CREATE TABLE users" in migrations[0].sql


async def test_open_applies_migrations_once_with_wal_and_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = await SqliteStore.open(path)
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(load_migrations())
    await store.create_user("a@b", None)
    await store.aclose()
    again = await SqliteStore.open(path)  # no migration re-run: the user is still there
    assert (await again.get_user_by_email("a@b")) is not None
    await again.aclose()


async def test_a_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    good = load_migrations()
    bad = [*good, Migration(len(good) + 1, "broken", "CREATE TABLE x (a);\nNOT SQL;")]
    with pytest.raises(sqlite3.Error):
        await Database.open(path, bad)
    db = await Database.open(path, good)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == len(good)
    assert db.conn.execute("SELECT name FROM sqlite_master WHERE name = 'x'").fetchone() is None
    await db.aclose()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    db.conn.execute("PRAGMA user_version = 999")
    await db.aclose()
    with pytest.raises(SchemaTooNew):
        await Database.open(path)


async def test_users(store: SqliteStore) -> None:
    user = await store.create_user("a@b", "hash", "admin")
    assert user.public() == {
        "id": user.id,
        "email": "a@b",
        "groups": [],
        "permission": "admin",
        "preferences": {},
    }
    with pytest.raises(Conflict):
        await store.create_user("a@b", "other")
    updated = await store.update_user(user.id, preferences={"lang": "fr"}, permission="read")
    assert (
        updated is not None
        and updated.preferences == {"lang": "fr"}
        and updated.permission == "read"
    )
    assert [u.id for u in await store.list_users()] == [user.id]
    assert await store.count_users() == 1
    assert await store.delete_user(user.id)
    assert await store.get_user(user.id) is None
    assert not await store.delete_user(user.id)


async def test_groups_and_membership(store: SqliteStore) -> None:
    a = await store.create_user("a@x", None)
    b = await store.create_user("b@x", None)
    group = await store.create_group("ops")
    await store.set_group_users(group.id, [b.id, a.id])
    got = await store.get_group(group.id)
    assert got is not None and got.users == (b.id, a.id)
    assert (await store.get_user(a.id)).groups == (group.id,)  # type: ignore[union-attr]
    await store.remove_group_user(group.id, b.id)
    await store.add_group_user(group.id, b.id)
    assert (await store.get_group(group.id)).users == (a.id, b.id)  # type: ignore[union-attr]
    await store.delete_user(a.id)
    assert (await store.get_group(group.id)).users == (b.id,)  # type: ignore[union-attr]
    assert (await store.update_group(group.id, name="dev")).name == "dev"  # type: ignore[union-attr]
    assert await store.delete_group(group.id)
    assert await store.list_groups() == []


async def test_acls_are_idempotent_and_die_with_their_subject(store: SqliteStore) -> None:
    user = await store.create_user("a@x", None)
    first = await store.add_acl(user.id, "vm-1", "viewer")
    second = await store.add_acl(user.id, "vm-1", "viewer")
    assert first.id == second.id
    await store.add_acl("group-1", "vm-2", "admin")
    assert len(await store.list_acls()) == 2
    assert [a.object for a in await store.list_acls([user.id])] == ["vm-1"]
    await store.delete_user(user.id)
    assert [a.subject for a in await store.list_acls()] == ["group-1"]
    assert await store.remove_acl("group-1", "vm-2", "admin")
    assert not await store.remove_acl("group-1", "vm-2", "admin")


async def test_tokens(store: SqliteStore) -> None:
    user = await store.create_user("a@x", None)
    token = Token("t1", user.id, created_at=1, expiration=100, description="d", client={"id": "c"})
    await store.create_token(token)
    assert await store.get_token("t1") == token
    await store.create_token(Token("t2", user.id, created_at=2, expiration=5))
    assert [t.id for t in await store.list_tokens(user.id)] == ["t1", "t2"]
    updated = await store.update_token("t1", last_uses={"1.2.3.4": {"timestamp": 9}})
    assert updated is not None and updated.last_uses == {"1.2.3.4": {"timestamp": 9}}
    assert await store.delete_expired_tokens(now_ms=50) == 1
    assert await store.delete_tokens(["t1", "nope"]) == 1
    await store.create_token(Token("t3", user.id, created_at=3, expiration=500))
    await store.delete_user(user.id)
    assert await store.get_token("t3") is None  # tokens die with their user


async def test_servers_keep_passwords_out_of_repr(store: SqliteStore) -> None:
    server = Server("s1", "10.0.0.1", "root", "secret", label="pool")
    await store.create_server(server)
    assert "secret" not in repr(server)
    with pytest.raises(Conflict):
        await store.create_server(Server("s2", "10.0.0.1", "root", "x"))
    await store.create_server(Server("s3", "10.0.0.3", "root", "x", enabled=False))
    assert [s.id for s in await store.list_servers()] == ["s1", "s3"]
    updated = await store.update_server("s1", read_only=True, label=None)
    assert updated is not None and updated.read_only and updated.label is None
    assert updated.password == "secret"
    assert await store.delete_server("s1")
    assert await store.get_server("s1") is None


async def test_plugins_and_settings(store: SqliteStore) -> None:
    assert await store.get_plugin_config("p") is None
    await store.set_plugin_config(PluginConfig("p", autoload=False, configuration={"a": 1}))
    await store.set_plugin_config(PluginConfig("p", autoload=True, configuration={"a": 2}))
    assert await store.get_plugin_config("p") == PluginConfig("p", True, {"a": 2})
    assert await store.get_setting("k", "default") == "default"
    await store.set_setting("k", [1, "two"])
    assert await store.get_setting("k") == [1, "two"]
