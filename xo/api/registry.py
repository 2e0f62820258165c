"""The method registry: XO API methods declared beside their code, checked when registered.

One module per namespace declares its methods on a :class:`Namespace`::

    api = Namespace("vm")

    @api.method(params={"id": {"type": "string"}, "force": {"type": "boolean", "optional": True}},
                resolve={"vm": ("id", "VM", "operate")})
    async def start(ctx: CallContext, *, vm: dict, force: bool | None = None) -> None: ...

The method's name is the function's name without a trailing ``_`` (``delete_`` -> ``delete``)
unless given. ``permission``: :data:`ANY_USER` (XO's ``undefined``, the default: any signed-in
user), ``None`` (no sign-in needed) or a global level (``"admin"``). ``resolve`` maps a new param
name to ``(param, type or types, action)``; the dispatcher replaces ``params[param]`` (an XO id or
an OpaqueRef) by the object, checks its type and collects ``(object id, action)`` for the
permission check (an empty action resolves without checking). The handler receives the
validated params as keyword arguments.

:meth:`Registry.add_namespace` checks everything once (duplicate names, unknown properties,
schemas, resolve entries, and that the handler's signature accepts the declared params) and
returns a remover, which plugins call to take their methods back.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from xo.api.schema import ParamsValidator, SchemaError
from xo.auth.permissions import ACTIONS, PERMISSION_LEVELS


class _AnyUser:
    def __repr__(self) -> str:
        return "ANY_USER"


ANY_USER: Any = _AnyUser()
"""Permission of a method any signed-in user may call (XO leaves ``permission`` undefined)."""

ALLOWED_PROPERTIES = frozenset(
    {"name", "params", "permission", "resolve", "description", "requires"}
)

Handler = Callable[..., Awaitable[Any]]
Lookup = Callable[[str], "dict[str, Any] | None"]
Requires = Callable[[Lookup, dict[str, Any]], Iterable[tuple["str | None", str]]]


class RegistryError(ValueError):
    """A method declaration that cannot be registered (raised at start-up)."""


@dataclass(frozen=True)
class Resolve:
    """``params[param]`` -> object of one of ``types``, requiring ``action`` on it ("" = none)."""

    param: str
    types: tuple[str, ...]
    action: str

    @classmethod
    def parse(cls, method: str, key: str, entry: Any) -> Resolve:
        if isinstance(entry, Resolve):
            return entry
        if not isinstance(entry, tuple | list) or not 2 <= len(entry) <= 3:
            raise RegistryError(f"{method}: resolve[{key!r}] must be (param, types[, action])")
        param, types, *rest = entry
        action = rest[0] if rest else "administrate"
        if isinstance(types, str):
            types = (types,)
        if not isinstance(param, str) or not types or not all(isinstance(t, str) for t in types):
            raise RegistryError(f"{method}: resolve[{key!r}] has an invalid param or types")
        if action is None:
            action = "administrate"  # as XO: None/undefined means the default
        if action and action not in ACTIONS:
            raise RegistryError(f"{method}: resolve[{key!r}] has unknown action {action!r}")
        return cls(param, tuple(types), action or "")


@dataclass(frozen=True)
class ApiMethod:
    name: str
    handler: Handler
    params: Mapping[str, Any] | None = None
    permission: Any = ANY_USER
    resolve: Mapping[str, Resolve] = field(default_factory=dict)
    description: str | None = None
    validator: ParamsValidator = field(default_factory=lambda: ParamsValidator(None))
    accepts: frozenset[str] | None = None  # keywords the handler takes (None: any), set by build
    requires: Requires | None = None

    @property
    def namespace(self) -> str:
        return self.name.partition(".")[0]

    def info(self) -> dict[str, Any]:
        """The ``system.getMethodsInfo`` entry (the original params spec, as XO lists it)."""
        info: dict[str, Any] = {}
        if self.description is not None:
            info["description"] = self.description
        info["params"] = dict(self.params) if self.params is not None else {}
        if self.permission is not ANY_USER:
            info["permission"] = self.permission
        return info


def accepted_keywords(method: ApiMethod) -> frozenset[str] | None:
    """Check the handler against the declaration; the keywords it accepts (None: any).

    The handler takes the call context, then the params as keywords: every declared param
    (renamed by ``resolve``) must be accepted, and every parameter without a default declared.
    Extra params a permissive schema lets through (no properties declared, as XO allows) are
    dropped by the dispatcher for handlers that do not take ``**kwargs``.
    """
    handler = method.handler
    if not inspect.iscoroutinefunction(handler):
        raise RegistryError(f"{method.name}: the handler must be an async function")
    parameters = list(inspect.signature(handler).parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise RegistryError(
            f"{method.name}: the handler's first parameter must be the call context"
        )
    rest = parameters[1:]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in rest)
    accepted = {p.name for p in rest if p.kind is not inspect.Parameter.VAR_KEYWORD}
    declared = set(method.params or ()) - {"*"}
    for key, entry in method.resolve.items():
        declared.discard(entry.param)
        declared.add(key)
    if not takes_any:
        missing = declared - accepted
        if missing:
            raise RegistryError(f"{method.name}: the handler does not accept {sorted(missing)}")
        if method.params is not None and "*" in method.params:
            raise RegistryError(f"{method.name}: a '*' params schema needs a **kwargs handler")
    required = {
        p.name
        for p in rest
        if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    undeclared = required - declared
    if undeclared:
        raise RegistryError(
            f"{method.name}: handler parameters {sorted(undeclared)} are not declared"
        )
    return None if takes_any else frozenset(accepted)


def build_method(name: str, handler: Handler, **properties: Any) -> ApiMethod:
    """Check one declaration and compile its params schema."""
    unknown = set(properties) - ALLOWED_PROPERTIES
    if unknown:
        raise RegistryError(f"{name}: unknown method properties {sorted(unknown)}")
    if not isinstance(name, str) or "." not in name or name.startswith(".") or name.endswith("."):
        raise RegistryError(f"invalid method name {name!r}: expected <namespace>.<name>")
    permission = properties.get("permission", ANY_USER)
    if (
        permission is not ANY_USER
        and permission is not None
        and permission not in PERMISSION_LEVELS
    ):
        raise RegistryError(f"{name}: unknown permission {permission!r}")
    params = properties.get("params")
    try:
        validator = ParamsValidator(params, where=f"{name} params")
    except SchemaError as exc:
        raise RegistryError(str(exc)) from None
    resolve = {
        key: Resolve.parse(name, key, entry)
        for key, entry in (properties.get("resolve") or {}).items()
    }
    for key, entry in resolve.items():
        if params is not None and entry.param not in params:
            raise RegistryError(f"{name}: resolve[{key!r}] names undeclared param {entry.param!r}")
    description = properties.get("description")
    if description is not None and not isinstance(description, str):
        raise RegistryError(f"{name}: description must be a string")
    requires = properties.get("requires")
    if requires is not None and not callable(requires):
        raise RegistryError(f"{name}: requires must be a function (lookup, params) -> rights")
    if requires is not None and (permission is None or permission == "admin"):
        raise RegistryError(f"{name}: requires needs a method that checks object rights")
    method = ApiMethod(
        name, handler, params, permission, resolve, description, validator, requires=requires
    )
    object.__setattr__(method, "accepts", accepted_keywords(method))
    return method


class Namespace:
    """The methods of one namespace, declared with :meth:`method` and registered together."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.declarations: list[tuple[str, Handler, dict[str, Any]]] = []
        self.aliases: list[tuple[str, str]] = []

    def method(self, name: str | None = None, **properties: Any) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            short = name or handler.__name__.rstrip("_")
            self.declarations.append((f"{self.name}.{short}", handler, properties))
            return handler

        return decorate

    def alias(self, name: str, target: str) -> None:
        """``name`` calls the method ``target`` of this namespace (XO's string exports)."""
        self.aliases.append((f"{self.name}.{name}", f"{self.name}.{target}"))

    def build(self) -> list[ApiMethod]:
        methods = [
            build_method(full, handler, **props) for full, handler, props in self.declarations
        ]
        by_name = {m.name: m for m in methods}
        for alias, target in self.aliases:
            if target not in by_name:
                raise RegistryError(f"alias {alias} -> unknown method {target}")
            methods.append(_renamed(by_name[target], alias))
        return methods


def _renamed(method: ApiMethod, name: str) -> ApiMethod:
    return dataclasses.replace(method, name=name)


class Registry:
    """Name -> :class:`ApiMethod`; the single source of ``system.getMethodsInfo``."""

    def __init__(self) -> None:
        self._methods: dict[str, ApiMethod] = {}

    def get(self, name: str) -> ApiMethod | None:
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[ApiMethod]:
        return iter(list(self._methods.values()))

    def __len__(self) -> int:
        return len(self._methods)

    def names(self) -> list[str]:
        return list(self._methods)

    def add_methods(self, methods: list[ApiMethod]) -> Callable[[], None]:
        """Register all of ``methods`` or none of them; returns the remover."""
        names = [m.name for m in methods]
        duplicates = {n for n in names if names.count(n) > 1} | {
            n for n in names if n in self._methods
        }
        if duplicates:
            raise RegistryError(f"API method(s) already exist: {sorted(duplicates)}")
        for m in methods:
            self._methods[m.name] = m
        added = {m.name: m for m in methods}

        def remove() -> None:
            for name, m in added.items():
                if self._methods.get(name) is m:
                    del self._methods[name]
            added.clear()

        return remove

    def add_namespace(self, namespace: Namespace) -> Callable[[], None]:
        return self.add_methods(namespace.build())

    def add_method(self, name: str, handler: Handler, **properties: Any) -> Callable[[], None]:
        """Register one method from loose properties (what plugins call)."""
        return self.add_methods([build_method(name, handler, **properties)])

    def methods_info(self) -> dict[str, dict[str, Any]]:
        return {m.name: m.info() for m in self._methods.values()}
