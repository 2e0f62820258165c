"""The call pipeline, through the real registry, store (SQLite in a temp dir) and ObjectStore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from xo.api import errors as E
from xo.api.context import CallContext, Services
from xo.api.dispatcher import Dispatcher
from xo.api.errors import JsonRpcError, XoApiError
from xo.api.namespaces import build_registry
from xo.api.oneshot import OneShotUrls
from xo.api.registry import Namespace
from xo.auth.authenticator import Authenticator
from xo.auth.session import Session
from xo.objects.store import ObjectStore
from xo.store.sqlite import SqliteStore
from xo.xapi.errors import XapiError

VM = {
    "id": "vm-1",
    "type": "VM",
    "uuid": "vm-1",
    "_xapiRef": "OpaqueRef:vm1",
    "power_state": "Halted",
}
HOST = {"id": "host-1", "type": "host", "uuid": "host-1", "_xapiRef": "OpaqueRef:h1"}

test_ns = Namespace("thing")
calls: list[tuple[str, dict[str, Any]]] = []


@test_ns.method(
    params={"id": {"type": "string"}, "force": {"type": "boolean", "optional": True}},
    resolve={"vm": ("id", "VM", "operate")},
)
async def start(ctx: CallContext, *, vm: dict[str, Any], force: bool | None = None) -> None:
    calls.append(("thing.start", {"vm": vm, "force": force}))


@test_ns.method(
    params={"id": {"type": "string"}}, resolve={"vm": ("id", ["VM", "VM-template"], "")}
)
async def peek(ctx: CallContext, *, vm: dict[str, Any]) -> str:
    return vm["id"]


@test_ns.method(params={"id": {"type": "string"}})
async def fail(ctx: CallContext, *, id: str) -> None:
    if id == "xapi-power":
        raise XapiError("VM_BAD_POWER_STATE", ["OpaqueRef:vm1", "running", "halted"])
    if id == "xapi-other":
        raise XapiError("SR_FULL", ["OpaqueRef:sr", "password=hunter2"])
    raise RuntimeError("boom with a detail")


@pytest.fixture
async def env(tmp_path: Any) -> AsyncIterator[tuple[Dispatcher, SqliteStore]]:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    auth = Authenticator(store)
    await auth.ensure_default_admin()
    objects = ObjectStore()
    objects.replace_pool("pool", {VM["id"]: VM, HOST["id"]: HOST})
    registry = build_registry((test_ns,))
    services = Services(store, auth, OneShotUrls(), registry, objects)
    calls.clear()
    yield Dispatcher(registry, services), store
    await store.aclose()


async def admin_session(dispatcher: Dispatcher) -> Session:
    session = Session("127.0.0.1")
    await dispatcher.call(
        session, "session.signIn", {"email": "admin@admin.net", "password": "admin"}
    )
    return session


async def user_session(dispatcher: Dispatcher, email: str = "u@x") -> Session:
    admin = await admin_session(dispatcher)
    await dispatcher.call(admin, "user.create", {"email": email, "password": "pw"})
    session = Session("127.0.0.2")
    await dispatcher.call(session, "session.signIn", {"username": email, "password": "pw"})
    return session


async def call_error(
    dispatcher: Dispatcher, session: Session, name: str, params: Any
) -> dict[str, Any]:
    with pytest.raises((XoApiError, JsonRpcError)) as info:
        await dispatcher.call(session, name, params)
    return info.value.to_wire()


async def test_unknown_method(env: Any) -> None:
    dispatcher, _ = env
    assert await call_error(dispatcher, Session(), "foo.bar", {}) == {
        "code": -32601,
        "data": "foo.bar",
        "message": "method not found: foo.bar",
    }


async def test_not_signed_in_gets_code_2_with_xo_data(env: Any) -> None:
    dispatcher, _ = env
    anonymous = Session()
    assert await call_error(dispatcher, anonymous, "user.getAll", {}) == {
        "message": "not enough permissions",
        "code": 2,
        "data": {"permission": "admin", "object": {}},
    }
    assert await call_error(dispatcher, anonymous, "token.create", {}) == {
        "message": "not enough permissions",
        "code": 2,
        "data": {"object": {}},
    }


async def test_admin_only_method_refused_to_a_plain_user(env: Any) -> None:
    dispatcher, _ = env
    session = await user_session(dispatcher)
    error = await call_error(dispatcher, session, "server.getAll", {})
    assert error["code"] == 2 and error["data"]["permission"] == "admin"


async def test_void_methods_answer_true_and_sign_out_works(env: Any) -> None:
    dispatcher, _ = env
    session = await admin_session(dispatcher)
    assert await dispatcher.call(session, "session.signOut", []) is True
    assert not session.signed_in
    assert (await call_error(dispatcher, session, "session.signOut", None))["code"] == 2


async def test_params_array_and_absent_are_empty_objects(env: Any) -> None:
    dispatcher, _ = env
    assert await dispatcher.call(Session(), "system.getVersion", []) == "0.1"
    assert await dispatcher.call(Session(), "system.getVersion", None) == "0.1"
    error = await call_error(dispatcher, Session(), "system.getVersion", [1])
    assert error["code"] == 10


async def test_resolve_by_id_or_opaque_ref_and_admin_bypass(env: Any) -> None:
    dispatcher, _ = env
    session = await admin_session(dispatcher)
    assert await dispatcher.call(session, "thing.start", {"id": "vm-1", "force": True}) is True
    assert await dispatcher.call(session, "thing.start", {"id": "OpaqueRef:vm1"}) is True
    assert [c[1]["vm"]["id"] for c in calls] == ["vm-1", "vm-1"]
    assert calls[0][1]["force"] is True


async def test_namespace_param_becomes_id(env: Any) -> None:
    dispatcher, _ = env
    session = await admin_session(dispatcher)
    assert await dispatcher.call(session, "thing.start", {"thing": "vm-1"}) is True


async def test_ignorable_params(env: Any) -> None:
    dispatcher, _ = env
    session = await admin_session(dispatcher)
    assert (
        await dispatcher.call(session, "thing.start", {"id": "vm-1", "force?": True, "nope?": 1})
        is True
    )
    assert calls[-1][1]["force"] is True
    error = await call_error(
        dispatcher, session, "thing.start", {"id": "vm-1", "force": True, "force?": 1}
    )
    assert error["code"] == 10


async def test_no_such_object_and_wrong_type(env: Any) -> None:
    dispatcher, _ = env
    session = await admin_session(dispatcher)
    assert await call_error(dispatcher, session, "thing.start", {"id": "nope"}) == {
        "message": "no such VM nope",
        "code": 1,
        "data": {"id": "nope", "type": "VM"},
    }
    error = await call_error(dispatcher, session, "thing.start", {"id": "host-1"})
    assert error["message"] == "no such VM host-1"
    error = await call_error(dispatcher, session, "thing.peek", {"id": "x"})
    assert error["message"] == "no such VM,VM-template x"


async def test_non_admin_object_rights_are_denied_for_now(env: Any) -> None:
    dispatcher, _ = env
    session = await user_session(dispatcher)
    assert await call_error(dispatcher, session, "thing.start", {"id": "vm-1"}) == {
        "message": "not enough permissions",
        "code": 2,
        "data": {"permission": "operate", "object": {"id": "vm-1"}},
    }
    assert calls == []
    # A resolve without action only resolves.
    assert await dispatcher.call(session, "thing.peek", {"id": "vm-1"}) == "vm-1"


async def test_xapi_errors_map_to_xo_errors_with_xo_ids(env: Any) -> None:
    dispatcher, _ = env
    session = await admin_session(dispatcher)
    assert await call_error(dispatcher, session, "thing.fail", {"id": "xapi-power"}) == {
        "message": "VM state is halted but should be running",
        "code": 13,
        "data": {"objectId": "vm-1", "expected": "running", "actual": "halted"},
    }


async def test_unknown_errors_are_masked_for_non_admins_and_detailed_for_admins(env: Any) -> None:
    dispatcher, _ = env
    user = await user_session(dispatcher)
    assert await call_error(dispatcher, user, "thing.fail", {"id": "x"}) == {
        "code": -32000,
        "message": "unknown error from the peer",
    }
    admin = await admin_session(dispatcher)
    detailed = await call_error(dispatcher, admin, "thing.fail", {"id": "x"})
    assert detailed["code"] == -32000
    assert detailed["message"] == "boom with a detail"
    assert detailed["data"]["name"] == "RuntimeError"
    assert "stack" not in detailed["data"]
    xapi = await call_error(dispatcher, admin, "thing.fail", {"id": "xapi-other"})
    assert xapi["data"]["code"] == "SR_FULL"


async def test_wrong_password_then_throttled(env: Any) -> None:
    dispatcher, _ = env
    session = Session("10.0.0.1")
    wrong = {"email": "admin@admin.net", "password": "nope"}
    assert await call_error(dispatcher, session, "session.signIn", wrong) == {
        "message": "invalid credentials",
        "code": 3,
    }
    right = {"email": "admin@admin.net", "password": "admin"}
    throttled = await call_error(dispatcher, session, "session.signIn", right)
    assert throttled["code"] == 5
    assert "retry in" in throttled["data"]["reason"]


async def test_deleted_user_is_signed_out(env: Any) -> None:
    dispatcher, store = env
    session = await user_session(dispatcher, "gone@x")
    user = await store.get_user_by_email("gone@x")
    await store.delete_user(user.id)
    assert (await call_error(dispatcher, session, "session.signOut", {}))["code"] == 2
    assert not session.signed_in


def test_error_factories_have_xo_wire_form() -> None:
    assert E.object_already_exists("id1", "server").to_wire() == {
        "message": "server already exists",
        "code": 16,
        "data": {"objectId": "id1", "objectType": "server"},
    }
    assert E.unknown_error().to_wire() == {"code": -32000, "message": "unknown error from the peer"}
    assert list(E.invalid_credentials().to_wire()) == ["message", "code"]
    assert list(E.method_not_found("x").to_wire()) == ["code", "data", "message"]
