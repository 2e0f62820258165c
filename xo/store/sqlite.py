"""The SQLite implementation of :class:`xo.store.interface.Store` (the SQL lives here)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xo.store.interface import Conflict, MissingReference
from xo.store.records import Acl, Group, PluginConfig, RightsData, Server, Token, User
from xo.store.sqlite_db import Database
from xo.store.sqlite_rows import (
    SERVER_FIELDS,
    TOKEN_FIELDS,
    USER_FIELDS,
    acl_id,
    dump,
    group_of,
    load,
    now_ms,
    server_of,
    token_of,
    update_row,
    user_of,
)


class SqliteStore:
    """Users, groups, ACLs, tokens, servers, plugin configs and settings in one SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        return cls(await Database.open(path))

    async def aclose(self) -> None:
        await self.db.aclose()

    # -- users ----------------------------------------------------------------------------------

    async def create_user(
        self, email: str, password_hash: str | None, permission: str = "none"
    ) -> User:
        user_id = str(uuid.uuid4())

        def create(conn: sqlite3.Connection) -> User | None:
            try:
                conn.execute(
                    "INSERT INTO users (id, email, password_hash, permission, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (user_id, email, password_hash, permission, now_ms()),
                )
            except sqlite3.IntegrityError:
                raise Conflict("email", email) from None
            return user_of(
                conn, conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            )

        user = await self.db.write(create)
        assert user is not None
        return user

    async def get_user(self, user_id: str) -> User | None:
        return await self.db.read(
            lambda c: user_of(
                c, c.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            )
        )

    async def get_user_by_email(self, email: str) -> User | None:
        return await self.db.read(
            lambda c: user_of(
                c, c.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
            )
        )

    async def list_users(self) -> list[User]:
        def list_all(conn: sqlite3.Connection) -> list[User]:
            rows = conn.execute("SELECT * FROM users ORDER BY created_at, rowid").fetchall()
            return [u for u in (user_of(conn, r) for r in rows) if u is not None]

        return await self.db.read(list_all)

    async def count_users(self) -> int:
        return await self.db.read(lambda c: c.execute("SELECT COUNT(*) FROM users").fetchone()[0])

    async def update_user(self, user_id: str, **fields: Any) -> User | None:
        def update(conn: sqlite3.Connection) -> User | None:
            try:
                update_row(conn, "users", user_id, USER_FIELDS, fields)
            except sqlite3.IntegrityError:
                raise Conflict("email", str(fields.get("email"))) from None
            return user_of(
                conn, conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
            )

        return await self.db.write(update)

    async def delete_user(self, user_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            # Tokens and group memberships cascade; ACLs name subjects loosely (user or group).
            conn.execute("DELETE FROM acls WHERE subject = ?", (user_id,))
            return conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount > 0

        return await self.db.write(delete)

    # -- groups ---------------------------------------------------------------------------------

    async def create_group(self, name: str, provider: str | None = None) -> Group:
        group_id = str(uuid.uuid4())

        def create(conn: sqlite3.Connection) -> Group | None:
            conn.execute(
                "INSERT INTO groups (id, name, provider) VALUES (?, ?, ?)",
                (group_id, name, provider),
            )
            return group_of(
                conn, conn.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
            )

        group = await self.db.write(create)
        assert group is not None
        return group

    async def get_group(self, group_id: str) -> Group | None:
        return await self.db.read(
            lambda c: group_of(
                c, c.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
            )
        )

    async def list_groups(self) -> list[Group]:
        def list_all(conn: sqlite3.Connection) -> list[Group]:
            rows = conn.execute("SELECT * FROM groups ORDER BY rowid").fetchall()
            return [g for g in (group_of(conn, r) for r in rows) if g is not None]

        return await self.db.read(list_all)

    async def update_group(self, group_id: str, *, name: str) -> Group | None:
        def update(conn: sqlite3.Connection) -> Group | None:
            conn.execute("UPDATE groups SET name = ? WHERE id = ?", (name, group_id))
            return group_of(
                conn, conn.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
            )

        return await self.db.write(update)

    async def delete_group(self, group_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM acls WHERE subject = ?", (group_id,))
            return conn.execute("DELETE FROM groups WHERE id = ?", (group_id,)).rowcount > 0

        return await self.db.write(delete)

    async def set_group_users(self, group_id: str, user_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(user_ids))

        def replace(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            try:
                conn.executemany(
                    "INSERT INTO group_members (group_id, user_id, position) VALUES (?, ?, ?)",
                    [(group_id, user_id, i) for i, user_id in enumerate(ids)],
                )
            except sqlite3.IntegrityError:
                raise MissingReference("a group member is not a user") from None

        await self.db.write(replace)

    async def add_group_user(self, group_id: str, user_id: str) -> None:
        def add(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT OR IGNORE INTO group_members (group_id, user_id, position) VALUES"
                    " (?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM group_members"
                    " WHERE group_id = ?))",
                    (group_id, user_id, group_id),
                )
            except sqlite3.IntegrityError:
                raise MissingReference("no such group or user") from None

        await self.db.write(add)

    async def remove_group_user(self, group_id: str, user_id: str) -> None:
        await self.db.write(
            lambda c: c.execute(
                "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
        )

    # -- acls -----------------------------------------------------------------------------------

    async def add_acl(self, subject: str, object: str, action: str) -> Acl:
        acl = Acl(acl_id(subject, object, action), subject, object, action)
        await self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO acls (id, subject, object, action) VALUES (?, ?, ?, ?)",
                (acl.id, subject, object, action),
            )
        )
        return acl

    async def remove_acl(self, subject: str, object: str, action: str) -> bool:
        return await self.db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM acls WHERE subject = ? AND object = ? AND action = ?",
                    (subject, object, action),
                ).rowcount
                > 0
            )
        )

    async def remove_object_acls(self, object: str) -> int:
        """Every entry on ``object`` (a deleted VM's), whoever it was granted to."""
        return await self.db.write(
            lambda c: c.execute("DELETE FROM acls WHERE object = ?", (object,)).rowcount
        )

    async def list_acls(self, subjects: Iterable[str] | None = None) -> list[Acl]:
        wanted = None if subjects is None else list(subjects)

        def list_some(conn: sqlite3.Connection) -> list[Acl]:
            if wanted is None:
                rows = conn.execute("SELECT * FROM acls ORDER BY rowid").fetchall()
            else:
                marks = ",".join("?" * len(wanted))
                rows = conn.execute(
                    f"SELECT * FROM acls WHERE subject IN ({marks}) ORDER BY rowid", wanted
                ).fetchall()
            return [Acl(r["id"], r["subject"], r["object"], r["action"]) for r in rows]

        return await self.db.read(list_some)

    async def load_rights(self) -> RightsData:
        def load(conn: sqlite3.Connection) -> RightsData:
            # One read transaction: users, memberships and ACLs from the same instant.
            conn.execute("BEGIN")
            try:
                permissions = {
                    r["id"]: r["permission"]
                    for r in conn.execute("SELECT id, permission FROM users")
                }
                groups: dict[str, list[str]] = {}
                for r in conn.execute("SELECT user_id, group_id FROM group_members ORDER BY rowid"):
                    groups.setdefault(r["user_id"], []).append(r["group_id"])
                acls = tuple(
                    Acl(r["id"], r["subject"], r["object"], r["action"])
                    for r in conn.execute("SELECT * FROM acls ORDER BY rowid")
                )
            finally:
                conn.execute("COMMIT")
            return RightsData(permissions, {k: tuple(v) for k, v in groups.items()}, acls)

        return await self.db.read(load)

    # -- tokens ---------------------------------------------------------------------------------

    async def create_token(self, token: Token) -> Token:
        client_id = None if token.client is None else token.client.get("id")
        await self.db.write(
            lambda c: c.execute(
                "INSERT INTO tokens (id, user_id, client_id, client, description, created_at,"
                " expiration, last_uses) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    token.user_id,
                    client_id,
                    dump(token.client),
                    token.description,
                    token.created_at,
                    token.expiration,
                    dump(token.last_uses),
                ),
            )  # fmt: skip
        )
        return token

    async def get_token(self, token_id: str) -> Token | None:
        return await self.db.read(
            lambda c: token_of(
                c.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
            )
        )

    async def list_tokens(self, user_id: str | None = None) -> list[Token]:
        def list_some(conn: sqlite3.Connection) -> list[Token]:
            if user_id is None:
                rows = conn.execute("SELECT * FROM tokens ORDER BY created_at, rowid").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at, rowid", (user_id,)
                ).fetchall()
            return [t for t in map(token_of, rows) if t is not None]

        return await self.db.read(list_some)

    async def update_token(self, token_id: str, **fields: Any) -> Token | None:
        def update(conn: sqlite3.Connection) -> Token | None:
            update_row(conn, "tokens", token_id, TOKEN_FIELDS, fields)
            if "client" in fields:
                client = fields["client"]
                conn.execute(
                    "UPDATE tokens SET client_id = ? WHERE id = ?",
                    (None if client is None else client.get("id"), token_id),
                )
            return token_of(
                conn.execute("SELECT * FROM tokens WHERE id = ?", (token_id,)).fetchone()
            )

        return await self.db.write(update)

    async def delete_tokens(self, token_ids: Iterable[str]) -> int:
        ids = [(token_id,) for token_id in token_ids]
        return await self.db.write(
            lambda c: c.executemany("DELETE FROM tokens WHERE id = ?", ids).rowcount
        )

    async def delete_expired_tokens(self, now_ms: int) -> int:
        return await self.db.write(
            lambda c: c.execute("DELETE FROM tokens WHERE expiration <= ?", (now_ms,)).rowcount
        )

    # -- servers --------------------------------------------------------------------------------

    async def create_server(self, server: Server) -> Server:
        def create(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO servers (id, host, username, password, label, allow_unauthorized,"
                    " read_only, enabled, http_proxy, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " (SELECT COALESCE(MAX(position), -1) + 1 FROM servers))",
                    (
                        server.id, server.host, server.username, server.password, server.label,
                        int(server.allow_unauthorized), int(server.read_only), int(server.enabled),
                        server.http_proxy,
                    ),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise Conflict("host", server.host) from None

        await self.db.write(create)
        return server

    async def get_server(self, server_id: str) -> Server | None:
        return await self.db.read(
            lambda c: server_of(
                c.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
            )
        )

    async def list_servers(self) -> list[Server]:
        def list_all(conn: sqlite3.Connection) -> list[Server]:
            rows = conn.execute("SELECT * FROM servers ORDER BY position").fetchall()
            return [s for s in map(server_of, rows) if s is not None]

        return await self.db.read(list_all)

    async def update_server(self, server_id: str, **fields: Any) -> Server | None:
        values = {k: int(v) if isinstance(v, bool) else v for k, v in fields.items()}

        def update(conn: sqlite3.Connection) -> Server | None:
            try:
                update_row(conn, "servers", server_id, SERVER_FIELDS, values)
            except sqlite3.IntegrityError:
                raise Conflict("host", str(fields.get("host"))) from None
            return server_of(
                conn.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
            )

        return await self.db.write(update)

    async def delete_server(self, server_id: str) -> bool:
        return await self.db.write(
            lambda c: c.execute("DELETE FROM servers WHERE id = ?", (server_id,)).rowcount > 0
        )

    # -- plugins and settings -------------------------------------------------------------------

    async def get_plugin_config(self, plugin_id: str) -> PluginConfig | None:
        def get(conn: sqlite3.Connection) -> PluginConfig | None:
            row = conn.execute("SELECT * FROM plugin_configs WHERE id = ?", (plugin_id,)).fetchone()
            if row is None:
                return None
            return PluginConfig(row["id"], bool(row["autoload"]), load(row["configuration"]))

        return await self.db.read(get)

    async def set_plugin_config(self, config: PluginConfig) -> None:
        await self.db.write(
            lambda c: c.execute(
                "INSERT INTO plugin_configs (id, autoload, configuration) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET autoload = excluded.autoload,"
                " configuration = excluded.configuration",
                (config.id, int(config.autoload), dump(config.configuration)),
            )
        )

    async def get_setting(self, key: str, default: Any = None) -> Any:
        row = await self.db.read(
            lambda c: c.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        )
        return default if row is None else json.loads(row[0])

    async def set_setting(self, key: str, value: Any) -> None:
        await self.db.write(
            lambda c: c.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
        )
