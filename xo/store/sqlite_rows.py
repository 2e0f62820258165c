"""Rows of the SQLite store <-> records (xo/store/records.py), and the few SQL helpers the
store's methods share. Pure functions over a connection; no transactions opened here."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
from typing import Any

from xo.store.records import Group, Server, Token, User

USER_FIELDS = {"email", "password_hash", "permission", "preferences", "auth_providers"}
TOKEN_FIELDS = {"description", "expiration", "last_uses", "client"}
SERVER_FIELDS = {
    "host", "username", "password", "label", "allow_unauthorized", "read_only", "enabled",
    "http_proxy",
}  # fmt: skip
JSON_COLUMNS = {"preferences", "auth_providers", "last_uses", "client"}


def now_ms() -> int:
    return int(time.time() * 1000)


def dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def acl_id(subject: str, object: str, action: str) -> str:
    """A stable id for an ACL triple (so adding the same entry twice is idempotent)."""
    digest = hashlib.sha256("\0".join((subject, object, action)).encode()).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")


def user_of(conn: sqlite3.Connection, row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    groups = tuple(
        r[0]
        for r in conn.execute(
            "SELECT group_id FROM group_members WHERE user_id = ? ORDER BY rowid", (row["id"],)
        )
    )
    return User(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        permission=row["permission"],
        preferences=load(row["preferences"]) or {},
        groups=groups,
        auth_providers=load(row["auth_providers"]),
        created_at=row["created_at"],
    )


def group_of(conn: sqlite3.Connection, row: sqlite3.Row | None) -> Group | None:
    if row is None:
        return None
    users = tuple(
        r[0]
        for r in conn.execute(
            "SELECT user_id FROM group_members WHERE group_id = ? ORDER BY position", (row["id"],)
        )
    )
    return Group(row["id"], row["name"], users, row["provider"], row["provider_group_id"])


def token_of(row: sqlite3.Row | None) -> Token | None:
    if row is None:
        return None
    return Token(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        expiration=row["expiration"],
        description=row["description"],
        client=load(row["client"]),
        last_uses=load(row["last_uses"]) or {},
    )


def server_of(row: sqlite3.Row | None) -> Server | None:
    if row is None:
        return None
    return Server(
        id=row["id"],
        host=row["host"],
        username=row["username"],
        password=row["password"],
        label=row["label"],
        allow_unauthorized=bool(row["allow_unauthorized"]),
        read_only=bool(row["read_only"]),
        enabled=bool(row["enabled"]),
        http_proxy=row["http_proxy"],
    )


def update_row(
    conn: sqlite3.Connection, table: str, key: str, allowed: set[str], fields: dict[str, Any]
) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {table} field(s) {sorted(unknown)}")
    if not fields:
        return
    columns = ", ".join(f"{name} = ?" for name in fields)
    values = [dump(v) if name in JSON_COLUMNS else v for name, v in fields.items()]
    conn.execute(f"UPDATE {table} SET {columns} WHERE id = ?", (*values, key))
