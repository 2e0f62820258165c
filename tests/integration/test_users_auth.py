"""Users, groups, tokens and sessions over real sockets: XO's rules for user.* and group.*,
browser sign-in with the ``token`` cookie, Origin checks, throttling, and authentications that
end (deleted user or token, new password, sign-out) closing the connections that use them."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from acl_server import PASSWORD, Client, Server, open_server
from trio_websocket import ConnectionRejected

VM = {"id": "vm", "type": "VM", "$container": "host", "_xapiRef": "OpaqueRef:vm"}
HOST = {"id": "host", "type": "host", "$pool": "pool", "_xapiRef": "OpaqueRef:host"}
POOL = {"id": "pool", "type": "pool", "_xapiRef": "OpaqueRef:pool"}
OTHER_HOST = {"id": "host2", "type": "host", "$pool": "pool2", "_xapiRef": "OpaqueRef:host2"}
DISK = {"id": "disk", "type": "VDI", "$SR": "sr", "$VBDs": ["vbd"], "_xapiRef": "OpaqueRef:d"}
VBD = {"id": "vbd", "type": "VBD", "VDI": "disk", "VM": "vm", "_xapiRef": "OpaqueRef:vbd"}


def form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


async def admin_of(server: Server) -> tuple[str, str]:
    return await server.user("admin@example.net", "admin")


async def test_user_rules(http_request: Any) -> None:
    async with open_server() as server:
        admin_id, token = await admin_of(server)
        async with server.signed_in(token) as admin:
            user = await admin.result("user.create", {"email": "a@example.net", "password": "pw"})
            assert (await admin.error("user.create", {"email": "a@example.net", "password": "x"}))[
                "code"
            ] == 16
            bad = await admin.error(
                "user.create", {"email": "b@example.net", "password": "x", "permission": "root"}
            )
            assert bad["code"] == 10 and bad["data"]["errors"][0]["instancePath"] == "/permission"
            missing = await admin.error("user.create", {"password": "x"})
            assert missing["data"]["errors"][0]["params"] == {"missingProperty": "email"}
            assert (await admin.error("user.delete", {"id": admin_id}))["code"] == 10
            assert (await admin.error("user.set", {"id": admin_id, "permission": "none"}))[
                "code"
            ] == 10
            assert (await admin.error("user.delete", {"id": "nope"}))["code"] == 1
            assert await admin.result(
                "user.set", {"id": user, "permission": "write", "preferences": {"a": 1}}
            )
            users = {u["id"]: u for u in await admin.result("user.getAll")}
            assert users[user] == {
                "id": user, "email": "a@example.net", "groups": [], "permission": "write",
                "preferences": {"a": 1},
            }  # fmt: skip
            assert "password" not in str(users) and "hash" not in str(users)


async def test_group_rules_and_group_acls_grant_members() -> None:
    objects_graph = {"pool": POOL, "host": HOST, "vm": VM}
    async with open_server() as server:
        server.objects.replace_pool("p", objects_graph)
        _, token = await admin_of(server)
        user_id, user_token = await server.user("u@example.net")
        async with server.signed_in(token) as admin, server.signed_in(user_token) as user:
            group = await admin.result("group.create", {"name": "ops"})
            assert (await admin.error("group.addUser", {"id": group, "userId": "nope"}))[
                "code"
            ] == 1
            assert (await admin.error("group.setUsers", {"id": group, "userIds": "x"}))[
                "code"
            ] == 10
            assert (await admin.error("group.addUser", {"id": "nope", "userId": user_id}))[
                "code"
            ] == 1
            await admin.result("acl.add", {"subject": group, "object": "host", "action": "viewer"})
            assert await user.result("xo.getAllObjects") == {}
            await admin.result("group.addUser", {"id": group, "userId": user_id})
            assert set(await user.result("xo.getAllObjects")) == {"host", "vm"}
            assert (await user.result("session.getUser"))["groups"] == [group]
            groups = await admin.result("group.getAll")
            assert groups == [{"id": group, "name": "ops", "users": [user_id], "aclRoleIds": []}]
            await admin.result("group.removeUser", {"id": group, "userId": user_id})
            assert await user.result("xo.getAllObjects") == {}
            await admin.result("group.setUsers", {"id": group, "userIds": [user_id]})
            assert set(await user.result("xo.getAllObjects")) == {"host", "vm"}
            await admin.result("group.delete", {"id": group})
            assert await user.result("xo.getAllObjects") == {}
            assert await admin.result("acl.get") == []
            bad = await admin.error(
                "acl.add", {"subject": user_id, "object": "vm", "action": "god"}
            )
            assert bad["code"] == 10 and bad["data"]["errors"][0]["instancePath"] == "/action"
            assert (
                await admin.error(
                    "acl.add", {"subject": "nope", "object": "vm", "action": "viewer"}
                )
            )["code"] == 1


async def test_notifications_follow_acls_and_moves_live() -> None:
    async with open_server() as server:
        server.objects.replace_pool(
            "p",
            {"pool": POOL, "host": HOST, "host2": OTHER_HOST, "vm": VM, "disk": DISK, "vbd": VBD},
        )
        _, token = await admin_of(server)
        user_id, user_token = await server.user("u@example.net")
        async with server.signed_in(token) as admin, server.signed_in(user_token) as user:
            loaded = await user.call("xo.getAllObjects")
            assert loaded["result"] == {}
            await admin.result(
                "acl.add", {"subject": user_id, "object": "host", "action": "operator"}
            )
            await user.wait(lambda: set(user.view_after(loaded)) == {"host", "vm", "disk", "vbd"})
            # The VM migrates to a host the user cannot see: it leaves, with its disk.
            server.objects.apply("p", {"vm": {**VM, "$container": "host2"}}, [])
            await user.wait(lambda: set(user.view_after(loaded)) == {"host"})
            server.objects.apply("p", {"vm": VM}, [])
            await user.wait(lambda: set(user.view_after(loaded)) == {"host", "vm", "disk", "vbd"})
            assert user.view_after(loaded)["vm"] == VM
            await admin.result(
                "acl.remove", {"subject": user_id, "object": "host", "action": "operator"}
            )
            await user.wait(lambda: user.view_after(loaded) == {})
            assert user.entered() <= {"host", "vm", "disk", "vbd"}
            # Exits of objects the user never saw are not sent either.
            exits = [
                m for m in user.log if m.get("method") == "all" and m["params"]["type"] == "exit"
            ]
            assert all(set(m["params"]["items"]) <= {"host", "vm", "disk", "vbd"} for m in exits)


async def test_ndjson_objects_are_filtered_too(http_request: Any) -> None:
    async with open_server() as server:
        server.objects.replace_pool(
            "p", {"pool": POOL, "host": HOST, "host2": OTHER_HOST, "vm": VM}
        )
        _, token = await admin_of(server)
        user_id, user_token = await server.user("u@example.net")
        async with server.signed_in(token) as admin, server.signed_in(user_token) as user:
            await admin.result("acl.add", {"subject": user_id, "object": "vm", "action": "viewer"})
            url = (await user.result("xo.getAllObjects", {"ndjson": True}))["$getFrom"]
            reply = await http_request("GET", server.url + url)
            assert [line for line in reply.body.decode().splitlines()] == [
                '{"id":"vm","type":"VM","$container":"host","_xapiRef":"OpaqueRef:vm"}'
            ]
            refused = await user.error("vm.start", {"id": "host2"})
            assert refused == {
                "message": "not enough permissions",
                "code": 2,
                "data": {"permission": "operate", "object": {}},
            }
            refused = await user.error("vm.start", {"id": "vm"})
            assert refused["code"] == 2 and refused["data"]["object"] == {"id": "vm"}


async def test_browser_sign_in_sets_an_httponly_cookie_that_signs_websockets_in(
    http_request: Any,
) -> None:
    async with open_server() as server:
        await server.user("u@example.net")
        origin = server.url
        page = await http_request("GET", server.url + "/signin")
        assert page.status == 200 and b'action="/signin/local"' in page.body
        reply = await http_request(
            "POST",
            server.url + "/signin/local",
            body=form(username="u@example.net", password=PASSWORD),
            headers={"content-type": "application/x-www-form-urlencoded", "origin": origin},
        )
        assert reply.status == 303 and reply.headers["location"] == "/"
        cookie = reply.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age" not in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
        async with server.client(cookie=f"token={token}", origin=origin) as browser:
            assert (await browser.result("session.getUser"))["email"] == "u@example.net"
        async with server.client(cookie=f"token={token}") as script:  # no Origin: not a page
            assert (await script.result("session.getUser"))["email"] == "u@example.net"
        for evil in ("http://evil.example", "null", origin.replace("127.0.0.1", "localhost")):
            with pytest.raises(ConnectionRejected) as rejected:
                async with server.client(cookie=f"token={token}", origin=evil):
                    pass
            assert rejected.value.status_code == 403
        # A cross-origin page may still connect without the cookie and sign in explicitly.
        async with server.client(origin="http://evil.example") as anonymous:
            assert (await anonymous.error("session.getUser"))["code"] == 2
        remember = await http_request(
            "POST",
            server.url + "/signin/local",
            body=form(username="u@example.net", password=PASSWORD, **{"remember-me": "on"}),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        max_age = remember.headers["set-cookie"].split("Max-Age=")[1].split(";")[0]
        assert 2592000 - 5 <= int(max_age) <= 2592000  # 30 days, the token's validity


async def test_sign_in_refusals(http_request: Any) -> None:
    async with open_server() as server:
        await server.user("u@example.net")
        headers = {"content-type": "application/x-www-form-urlencoded"}
        wrong = await http_request(
            "POST",
            server.url + "/signin/local",
            body=form(username="u@example.net", password="no"),
            headers=headers,
        )
        assert wrong.status == 401 and "set-cookie" not in wrong.headers
        again = await http_request(
            "POST",
            server.url + "/signin/local",
            body=form(username="u@example.net", password=PASSWORD),
            headers=headers,
        )
        assert again.status == 429 and b"retry in" in again.body
        cross = await http_request(
            "POST",
            server.url + "/signin/local",
            body=form(username="u@example.net", password=PASSWORD),
            headers={**headers, "origin": "http://evil.example"},
        )
        assert cross.status == 403
        async with server.client() as client:
            throttled = await client.error(
                "session.signIn", {"email": "u@example.net", "password": PASSWORD}
            )
            assert throttled["code"] == 5 and "retry in" in throttled["data"]["reason"]
            assert (await client.error("session.signIn", {"token": "bogus"}))["code"] == 3


async def closed(client: Client) -> int | None:
    return await client.wait(lambda: client.closed)


async def test_ended_authentications_close_their_connections(http_request: Any) -> None:
    async with open_server() as server:
        _, token = await admin_of(server)
        user_id, user_token = await server.user("u@example.net")
        _, other_token = await server.user("v@example.net")
        async with server.signed_in(token) as admin:
            # A deleted token closes its connection.
            async with server.signed_in(other_token) as victim:
                await admin.result("token.delete", {"tokens": [other_token]})
                assert await closed(victim) == 1008
            # A new password kills the user's tokens and their connections, not the password one.
            async with server.signed_in(user_token) as by_token, server.client() as by_password:
                await by_password.result(
                    "session.signIn", {"email": "u@example.net", "password": PASSWORD}
                )
                await by_password.result(
                    "user.changePassword", {"oldPassword": PASSWORD, "newPassword": "new one"}
                )
                assert await closed(by_token) == 1008
                assert (await by_password.result("session.getUser"))["id"] == user_id
                assert await by_password.result("user.getAuthenticationTokens") == []
                # Deleting the user closes all of its connections.
                await admin.result("user.delete", {"id": user_id})
                assert await closed(by_password) == 1008
            assert (await admin.error("session.signIn", {"token": user_token}))["code"] == 3
        # Signing out of the browser deletes the token and closes its WebSocket.
        await server.user("w@example.net")
        reply = await http_request(
            "POST",
            server.url + "/signin/local",
            body=form(username="w@example.net", password=PASSWORD),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        cookie = reply.headers["set-cookie"].split(";")[0]
        async with server.client(cookie=cookie) as browser:
            assert (await browser.result("session.getUser"))["email"] == "w@example.net"
            out = await http_request("GET", server.url + "/signout", headers={"cookie": cookie})
            assert out.status == 303 and "Max-Age=0" in out.headers["set-cookie"]
            assert await closed(browser) == 1008
        async with server.client(cookie=cookie) as stale:
            assert (await stale.error("session.getUser"))["code"] == 2


async def test_non_xo_errors_reach_non_admins_without_details() -> None:
    async def boom(ctx: Any) -> None:
        raise RuntimeError("disk /secret/path exploded")

    async with open_server() as server:
        server.services.registry.add_method("test.boom", boom, params={})  # as a plugin would
        _, token = await admin_of(server)
        _, user_token = await server.user("u@example.net")
        async with server.signed_in(token) as admin, server.signed_in(user_token) as user:
            assert await user.error("test.boom") == {
                "code": -32000,
                "message": "unknown error from the peer",
            }
            detailed = await admin.error("test.boom")
            assert detailed["code"] == -32000 and "exploded" in detailed["message"]
            assert "stack" not in str(detailed) and "Traceback" not in str(detailed)
            with trio.fail_after(5):
                assert (await user.result("session.getUser"))["email"] == "u@example.net"
