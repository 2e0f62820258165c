"""The registry checks declarations at registration and feeds system.getMethodsInfo."""

from __future__ import annotations

from typing import Any

import pytest

from xo.api.namespaces import build_registry
from xo.api.registry import ANY_USER, Namespace, Registry, RegistryError, build_method


async def handler(ctx: Any, *, id: str, force: bool | None = None) -> None:
    return None


def test_registering_returns_a_remover() -> None:
    registry = Registry()
    remove = registry.add_method("vm.start", handler, params={"id": {"type": "string"}})
    assert "vm.start" in registry
    remove()
    assert "vm.start" not in registry
    remove()  # idempotent


def test_duplicate_names_fail_and_nothing_is_added() -> None:
    registry = Registry()
    registry.add_method("vm.start", handler, params={"id": {"type": "string"}})
    ns = Namespace("vm")
    ns.method(params={"id": {"type": "string"}})(handler)  # registers "vm.handler"
    ns.method("start", params={"id": {"type": "string"}})(handler)
    with pytest.raises(RegistryError, match="already exist"):
        registry.add_namespace(ns)
    assert registry.names() == ["vm.start"]


def test_unknown_properties_fail() -> None:
    with pytest.raises(RegistryError, match="unknown method properties"):
        build_method("vm.start", handler, params={"id": {"type": "string"}}, permisson="admin")


def test_bad_schema_fails() -> None:
    with pytest.raises(RegistryError, match="unknown type"):
        build_method("vm.start", handler, params={"id": {"type": "str"}})


def test_unknown_permission_fails() -> None:
    with pytest.raises(RegistryError, match="unknown permission"):
        build_method("vm.start", handler, params={"id": {"type": "string"}}, permission="root")


def test_resolve_must_name_a_declared_param_and_a_known_action() -> None:
    async def start(ctx: Any, *, vm: dict) -> None: ...

    with pytest.raises(RegistryError, match="undeclared param"):
        build_method(
            "vm.start", start, params={"id": {"type": "string"}}, resolve={"vm": ("uuid", "VM")}
        )
    with pytest.raises(RegistryError, match="unknown action"):
        build_method(
            "vm.start",
            start,
            params={"id": {"type": "string"}},
            resolve={"vm": ("id", "VM", "run")},
        )
    method = build_method(
        "vm.start",
        start,
        params={"id": {"type": "string"}},
        resolve={"vm": ["id", "VM", "operate"]},
    )
    assert method.resolve["vm"].types == ("VM",)
    assert method.accepts == frozenset({"vm"})


def test_handler_signature_must_match_the_params() -> None:
    async def missing(ctx: Any) -> None: ...

    async def undeclared(ctx: Any, *, id: str, other: str) -> None: ...

    def not_async(ctx: Any, *, id: str) -> None: ...

    with pytest.raises(RegistryError, match="does not accept"):
        build_method("vm.start", missing, params={"id": {"type": "string"}})
    with pytest.raises(RegistryError, match="not declared"):
        build_method("vm.start", undeclared, params={"id": {"type": "string"}})
    with pytest.raises(RegistryError, match="async"):
        build_method("vm.start", not_async, params={"id": {"type": "string"}})  # type: ignore[arg-type]


def test_names_come_from_functions_and_aliases() -> None:
    ns = Namespace("vm")

    @ns.method(params={"id": {"type": "string"}})
    async def delete_(ctx: Any, *, id: str) -> None: ...

    ns.alias("destroy", "delete")
    assert [m.name for m in ns.build()] == ["vm.delete", "vm.destroy"]


def test_info_is_xo_shaped() -> None:
    method = build_method(
        "server.remove",
        handler,
        params={"id": {"type": "string"}},
        permission="admin",
        description="d",
    )
    assert method.info() == {
        "description": "d",
        "params": {"id": {"type": "string"}},
        "permission": "admin",
    }
    any_user = build_method("vm.x", handler, params={"id": {"type": "string"}})
    assert any_user.permission is ANY_USER and "permission" not in any_user.info()
    public = build_method("system.y", handler, params={"id": {"type": "string"}}, permission=None)
    assert public.info()["permission"] is None


# Facts from xo-methods.json (system.getMethodsInfo of the real xo-server) for the methods we
# implement: params and permission must be the same (descriptions may differ).
REFERENCE: dict[str, dict[str, Any]] = {
    "session.signIn": {"params": {}, "permission": None},
    "session.signInWithPassword": {
        "params": {"email": {"type": "string"}, "password": {"type": "string"}},
        "permission": None,
    },
    "session.signInWithToken": {"params": {"token": {"type": "string"}}, "permission": None},
    "session.getUser": {"params": {}, "permission": None},
    "session.signOut": {"params": {}},
    "system.getMethodsInfo": {"params": {}, "permission": None},
    "system.listMethods": {"params": {}, "permission": None},
    "system.methodSignature": {"params": {"method": {"type": "string"}}, "permission": None},
    "system.getVersion": {"params": {}, "permission": None},
    "system.getServerVersion": {"params": {}, "permission": None},
    "system.getServerTimezone": {"params": {}},
    "xo.getAllObjects": {
        "params": {
            "filter": {"type": ["object", "string"], "optional": True},
            "limit": {"type": "number", "optional": True},
            "ndjson": {"type": "boolean", "optional": True},
        }
    },
    "token.delete": {
        "params": {
            "tokens": {"type": "array", "optional": True, "items": {"type": "string"}},
            "pattern": {"type": "object", "optional": True},
        },
        "permission": "admin",
    },
    "token.set": {
        "params": {
            "description": {"type": ["null", "string"], "minLength": 0, "optional": True},
            "id": {"type": "string"},
        }
    },
    "user.create": {
        "params": {
            "email": {"type": "string"},
            "password": {"type": "string"},
            "permission": {"type": "string", "optional": True},
        },
        "permission": "admin",
    },
    "user.getAll": {"params": {}, "permission": "admin"},
    "user.getAuthenticationTokens": {"params": {}},
    "user.changePassword": {
        "params": {"oldPassword": {"type": "string"}, "newPassword": {"type": "string"}}
    },
    "server.add": {
        "params": {
            "label": {"optional": True, "type": "string"},
            "host": {"type": "string"},
            "username": {"type": "string"},
            "password": {"type": "string"},
            "autoConnect": {"optional": True, "type": "boolean"},
            "allowUnauthorized": {"optional": True, "type": "boolean"},
            "httpProxy": {"optional": True, "type": "string"},
        },
        "permission": "admin",
    },
    "server.getAll": {"params": {}, "permission": "admin"},
    "server.enable": {"params": {"id": {"type": "string"}}, "permission": "admin"},
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_builtin_methods_declare_what_xo_declares(name: str) -> None:
    info = build_registry().methods_info()[name]
    info.pop("description", None)
    assert info == REFERENCE[name]


def test_every_builtin_method_has_a_declared_permission_and_schema() -> None:
    for method in build_registry():
        assert method.permission is ANY_USER or method.permission in (None, "admin")
        assert method.name.count(".") == 1
