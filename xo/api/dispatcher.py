"""The call pipeline of an API method (xo-server's ``callApiMethod``), transport-agnostic.

For ``name(params)`` from a connection's :class:`~xo.auth.session.Session`:

1. unknown method -> ``-32601 method not found: <name>``;
2. the caller's user is re-read from the store (a deleted user is signed out);
3. method permission: ``None`` = anyone, ANY_USER = signed in, a level = at least that;
4. params: ``[]``/absent -> ``{}``; ``foo?`` ignorable keys; ``params[<namespace>]`` -> ``id``
   when the method declares ``id``; validation (code 10 with Ajv-like errors, defaults filled);
5. resolve: object params looked up by XO id or OpaqueRef and type-checked (code 1), then every
   collected ``(object id, action)``, with the method's ``requires`` rights on related objects,
   checked at once against the ACLs (:mod:`xo.auth.rights`; admins bypass). A non-admin asking
   for an object it may not even view gets ``not enough permissions``, never ``no such
   object``: the answer does not tell which ids exist;
6. the handler runs with the params as keywords; ``None`` becomes ``true``;
7. any exception becomes an XO / JSON-RPC error (:mod:`xo.api.translate`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from xo.api import errors as E
from xo.api.context import CallContext, Services
from xo.api.errors import JsonRpcError, XoApiError
from xo.api.registry import ANY_USER, ApiMethod, Registry
from xo.api.translate import to_api_error
from xo.auth.authenticator import InvalidCredentials, SignInThrottled
from xo.auth.permissions import (
    ObjectRights,
    PermissionDenied,
    check_permissions,
    has_level,
)
from xo.auth.session import Session
from xo.store.records import User

log = logging.getLogger(__name__)

# XO's params are at most a handful of levels deep (vm.create's VDIs[].…); deeper input is
# hostile and would make the recursive validators and matchers deepen the Python stack.
MAX_PARAMS_DEPTH = 32


def _too_deep(params: Any) -> str | None:
    """The JSON pointer of a value nested deeper than MAX_PARAMS_DEPTH, or None."""
    stack: list[tuple[Any, str, int]] = [(params, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_PARAMS_DEPTH:
            return path
        if isinstance(value, dict):
            stack.extend((v, f"{path}/{k}", depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}/{i}", depth + 1) for i, v in enumerate(value))
    return None


def _check_depth(params: dict[str, Any]) -> None:
    path = _too_deep(params)
    if path is not None:
        raise E.invalid_parameters(
            errors=[
                {
                    "instancePath": path,
                    "schemaPath": "#/maxDepth",
                    "keyword": "maxDepth",
                    "params": {"limit": MAX_PARAMS_DEPTH},
                    "message": f"must NOT be nested more than {MAX_PARAMS_DEPTH} levels deep",
                }
            ]
        )


def _normalize_params(params: Any) -> dict[str, Any]:
    if params is None or params == []:
        return {}
    if isinstance(params, dict):
        return dict(params)
    raise E.invalid_parameters(
        errors=[
            {
                "instancePath": "",
                "schemaPath": "#/type",
                "keyword": "type",
                "params": {"type": "object"},
                "message": "must be object",
            }
        ]
    )


def _apply_ignorable(method: ApiMethod, params: dict[str, Any]) -> dict[str, Any]:
    """``foo?`` keys: kept as ``foo`` when the method knows ``foo``, silently dropped otherwise."""
    if not any(key.endswith("?") for key in params):
        return params
    result: dict[str, Any] = {}
    for key, value in params.items():
        if not key.endswith("?"):
            result[key] = value
            continue
        base = key[:-1]
        if base in params:
            raise E.invalid_parameters(
                errors=[
                    {
                        "instancePath": "",
                        "schemaPath": "#/ignorable",
                        "keyword": "ignorable",
                        "params": {"property": base},
                        "message": f"must not have both '{base}' and '{key}'",
                    }
                ]
            )
        if method.validator.accepts_key(base):
            result[base] = value
    return result


def _standardize_id(method: ApiMethod, params: dict[str, Any]) -> None:
    spec = method.params
    if "id" in params or spec is None or "id" not in spec:
        return
    namespace = method.namespace
    if namespace in spec:
        return
    value = params.get(namespace)
    if isinstance(value, str):
        del params[namespace]
        params["id"] = value


class Dispatcher:
    def __init__(
        self, registry: Registry, services: Services, rights: ObjectRights | None = None
    ) -> None:
        self.registry = registry
        self.services = services
        self.rights: ObjectRights = services.rights if rights is None else rights

    def ref_to_id(self, ref: str) -> str:
        objects = self.services.objects
        obj = objects.get_by_ref(ref) if objects is not None else None
        return obj["id"] if obj is not None else ref

    def lookup(self, id: str) -> dict[str, Any] | None:
        objects = self.services.objects
        if objects is None:
            return None
        return objects.get(id) or objects.get_by_ref(id)

    async def current_user(self, session: Session) -> User | None:
        if session.user_id is None:
            return None
        user = await self.services.store.get_user(session.user_id)
        if user is None:
            session.sign_out()
        return user

    async def call(self, session: Session, name: str, params: Any) -> Any:
        """The result of ``name(params)``; raises :class:`XoApiError`/:class:`JsonRpcError`."""
        method = self.registry.get(name)
        if method is None:
            raise E.method_not_found(name)
        await self.services.rights.ensure_loaded(self.services.store)
        user = await self.current_user(session)
        if user is not None and not user.is_admin:
            await self.services.rights.prepare(user.id)  # the ACL index, built on first need
        started = time.monotonic()
        try:
            result = await self._call(method, session, user, params)
        except (XoApiError, JsonRpcError) as exc:
            log.info("%s | %s(...) =!> %r", user.email if user else "-", name, exc)
            raise
        except Exception as exc:
            error = self.translate(exc, user)
            if isinstance(exc, PermissionDenied | InvalidCredentials | SignInThrottled):
                log.info("%s | %s(...) =!> %s", user.email if user else "-", name, exc)
            else:
                log.warning(
                    "%s | %s(...) [%.0f ms] =!> %s",
                    user.email if user else "-", name, (time.monotonic() - started) * 1000, exc,
                    exc_info=not isinstance(error, XoApiError),
                )  # fmt: skip
            raise error from exc
        return True if result is None else result

    def translate(self, exc: BaseException, user: User | None) -> XoApiError | JsonRpcError:
        if isinstance(exc, PermissionDenied):
            return E.unauthorized(exc.action, exc.object_id)
        if isinstance(exc, InvalidCredentials):
            return E.invalid_credentials()
        if isinstance(exc, SignInThrottled):
            return E.forbidden_operation("signIn", str(exc))
        return to_api_error(
            exc, is_admin=user is not None and user.is_admin, ref_to_id=self.ref_to_id
        )

    async def _call(
        self, method: ApiMethod, session: Session, user: User | None, params: Any
    ) -> Any:
        self._check_method_permission(method, user)
        params = _apply_ignorable(method, _normalize_params(params))
        _check_depth(params)
        _standardize_id(method, params)
        errors = method.validator.validate(params)
        if errors:
            raise E.invalid_parameters(errors=errors)
        params = self._resolve(method, user, params)
        if method.accepts is not None:
            params = {k: v for k, v in params.items() if k in method.accepts}
        ctx = CallContext(self.services, session, user, method)
        return await method.handler(ctx, **params)

    def _check_method_permission(self, method: ApiMethod, user: User | None) -> None:
        permission = method.permission
        if permission is None:
            return
        level = None if permission is ANY_USER else permission
        if user is None or (level is not None and not has_level(user, level)):
            raise E.unauthorized(level)

    def _resolve(
        self, method: ApiMethod, user: User | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        if not method.resolve and method.requires is None:
            return params
        if user is None:
            raise E.unauthorized()
        params = dict(params)
        checks: list[tuple[str, str]] = []
        for key, entry in method.resolve.items():
            value = params.get(entry.param)
            if value is None:
                continue
            obj = self.lookup(value) if isinstance(value, str) else None
            if obj is None or obj.get("type") not in entry.types:
                self._deny_unless_visible(user, obj, entry.action)
                raise E.no_such_object(
                    value, entry.types[0] if len(entry.types) == 1 else entry.types
                )
            del params[entry.param]
            params[key] = obj
            if entry.action:
                checks.append((obj["id"], entry.action))
        if method.requires is not None and not user.is_admin:
            for object_id, action in method.requires(self.lookup, params):
                if object_id is None:
                    raise PermissionDenied(action, None)
                checks.append((object_id, action))
        check_permissions(user, checks, self.rights)
        return params

    def _deny_unless_visible(self, user: User, obj: dict[str, Any] | None, action: str) -> None:
        """A non-admin learns nothing of an object it may not view, not even that it exists
        (an unknown id is refused the same way)."""
        if user.is_admin or not action:
            return
        if obj is None or not self.rights.allows(user, obj["id"], "view"):
            raise PermissionDenied(action, None)
