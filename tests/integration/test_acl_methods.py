"""Every registered API method, called by a signed-in user without the rights it needs, is
refused with ``not enough permissions`` (code 2) and changes nothing: not the store, not the
pool. The list of methods comes from the registry itself, so a new method is covered (or must
be classified as self-service below) the day it is registered."""

from __future__ import annotations

import copy
from typing import Any

import trio
from trio_websocket import open_websocket_url
from xo_harness import Xo, XoClient, open_xo

from xo.api.registry import ANY_USER, ApiMethod
from xo.auth.acl import allowed, explicit_permissions

# Methods any signed-in user may call on its own account or view (no object rights): checked
# by test_self_service_methods_touch_only_the_callers_own_things.
SELF_SERVICE = {
    "session.signOut", "system.getServerTimezone", "xo.getAllObjects", "token.create",
    "token.deleteOwn", "token.set", "user.set", "user.changePassword",
    "user.getAuthenticationTokens", "acl.getCurrentPermissions", "role.getAll",
}  # fmt: skip


def plausible(schema: dict[str, Any]) -> Any:
    """A small valid value for one param schema (XO's dialect)."""
    if "enum" in schema:
        return schema["enum"][0]
    types = schema.get("type", "string")
    type_ = types[0] if isinstance(types, list) else types
    if type_ == "string":
        return "x"
    if type_ in ("number", "integer"):
        return schema.get("minimum", 1)
    if type_ == "boolean":
        return False
    if type_ == "array":
        return []
    if type_ == "null":
        return None
    if type_ == "object":
        return {
            key: plausible(sub)
            for key, sub in (schema.get("properties") or {}).items()
            if not sub.get("optional") and key != "*"
        }
    return "x"


def params_for(method: ApiMethod, xo: Xo) -> dict[str, Any]:
    """Valid params naming existing objects of the types the method resolves."""
    params = {
        key: plausible(schema)
        for key, schema in (method.params or {}).items()
        if not schema.get("optional") and key != "*"
    }
    for entry in method.resolve.values():
        found = [o for o in xo.objects.values() if o.get("type") in entry.types]
        # No object of that type in the pool: an unknown id must be refused the same way.
        params[entry.param] = sorted(found, key=lambda o: o["id"])[0]["id"] if found else "nope"
    if method.name == "vm.create":
        params["name_label"] = "x"
    return params


async def state(xo: Xo) -> Any:
    """Everything a call could change: the store's tables and the pool's records."""
    store = xo.app.store
    assert store is not None
    tables = {
        "users": [u.public() for u in await store.list_users()],
        "groups": [g.public() for g in await store.list_groups()],
        "acls": [a.public() for a in await store.list_acls()],
        "tokens": sorted(t.id for t in await store.list_tokens()),
        "servers": [repr(s) for s in await store.list_servers()],
    }
    pool = {
        cls: copy.deepcopy(records) for cls, records in xo.db.tables.items() if cls != "session"
    }
    return tables, pool


async def sweep(xo: Xo, client: XoClient) -> tuple[int, list[str]]:
    """Call every method that needs rights: (how many, the ones not refused with code 2)."""
    wrong, called = [], 0
    for method in sorted(xo.app.services.registry, key=lambda m: m.name):  # type: ignore[union-attr]
        if method.permission is None or method.name in SELF_SERVICE:
            continue
        called += 1
        answer = await client.call(method.name, params_for(method, xo))
        if answer.get("error", {}).get("code") != 2:
            wrong.append(f"{method.name}: {answer}")
    return called, wrong


async def test_every_method_refuses_a_user_without_rights(sim_pool: Any, tmp_path: Any) -> None:
    async with open_xo(sim_pool, tmp_path) as xo:
        admin = xo.client
        await admin.result("user.create", {"email": "nobody@example.net", "password": "nobody-pw"})
        user_id = await admin.result(
            "user.create", {"email": "viewer@example.net", "password": "viewer-pw"}
        )
        await admin.result(
            "acl.add", {"subject": user_id, "object": xo.one(type="pool")["id"], "action": "viewer"}
        )
        classified = {
            m.name
            for m in xo.app.services.registry
            if m.permission is ANY_USER and not m.resolve  # type: ignore[union-attr]
        }
        assert classified == SELF_SERVICE, "classify new self-service methods"
        before = await state(xo)
        url = f"ws://127.0.0.1:{xo.client.ws.remote.port}/api/"  # type: ignore[union-attr]
        for email, password in (
            ("nobody@example.net", "nobody-pw"),
            ("viewer@example.net", "viewer-pw"),
        ):
            async with open_websocket_url(url) as ws, trio.open_nursery() as nursery:
                client = XoClient(ws)
                nursery.start_soon(client.pump)
                await client.result("session.signIn", {"email": email, "password": password})
                called, wrong = await sweep(xo, client)
                assert wrong == [] and called >= 50, (email, called, wrong)
                nursery.cancel_scope.cancel()
        assert await state(xo) == before


async def test_self_service_methods_touch_only_the_callers_own_things(
    sim_pool: Any, tmp_path: Any
) -> None:
    async with open_xo(sim_pool, tmp_path) as xo:
        admin = xo.client
        admin_id = (await admin.result("session.getUser"))["id"]
        admin_token = await admin.result("token.create", {"description": "admin's"})
        user_id = await admin.result("user.create", {"email": "u@example.net", "password": "u-pw"})
        pool_id = xo.one(type="pool")["id"]
        url = f"ws://127.0.0.1:{xo.client.ws.remote.port}/api/"
        async with open_websocket_url(url) as ws, trio.open_nursery() as nursery:
            me = XoClient(ws)
            nursery.start_soon(me.pump)
            await me.result("session.signIn", {"email": "u@example.net", "password": "u-pw"})
            assert await me.result("xo.getAllObjects") == {}
            assert await me.result("acl.getCurrentPermissions") == {}
            await admin.result(
                "acl.add", {"subject": user_id, "object": pool_id, "action": "viewer"}
            )
            assert await me.result("acl.getCurrentPermissions") == {pool_id: {"view": 1}}
            # XO's inheritance: what a pool contains, not objects of types that inherit nothing.
            explicit = explicit_permissions([(pool_id, "viewer")])
            expected = {
                o["id"]
                for o in xo.objects.values()
                if allowed(explicit, xo.objects.get, o["id"], "view")
            }
            seen = await me.result("xo.getAllObjects")
            assert set(seen) == expected
            types = {o["type"] for o in seen.values()}
            assert {"pool", "host", "VM", "SR", "VDI", "VBD", "network", "VIF", "PIF"} <= types
            assert [r["id"] for r in await me.result("role.getAll")] == [
                "viewer",
                "operator",
                "admin",
            ]
            assert await me.result("system.getServerTimezone")

            assert (await me.error("user.set", {"id": admin_id, "preferences": {"a": 1}}))[
                "code"
            ] == 2
            assert (await me.error("user.set", {"id": user_id, "permission": "admin"}))[
                "code"
            ] == 10
            assert (
                await me.result("user.set", {"id": user_id, "preferences": {"lang": "fr"}}) is True
            )
            own = await me.result("token.create", {"description": "mine"})
            assert [t["id"] for t in await me.result("user.getAuthenticationTokens")] == [own]
            assert (await me.error("token.set", {"id": admin_token, "description": "x"}))[
                "code"
            ] == 1
            assert await me.result("token.deleteOwn", {"pattern": {}}) is True
            assert await me.result("user.getAuthenticationTokens") == []
            assert [t["id"] for t in await admin.result("user.getAuthenticationTokens")] == [
                admin_token
            ]
            wrong = {"oldPassword": "nope", "newPassword": "other"}
            assert (await me.error("user.changePassword", wrong))["code"] == 3

            users = {u["id"]: u for u in await admin.result("user.getAll")}
            assert users[user_id]["permission"] == "none"
            assert users[user_id]["preferences"] == {"lang": "fr"}
            assert users[admin_id]["preferences"] == {}
            assert await me.result("session.signOut") is True
            assert (await me.error("xo.getAllObjects"))["code"] == 2
            nursery.cancel_scope.cancel()
