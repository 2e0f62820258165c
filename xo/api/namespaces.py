"""The built-in API namespaces, registered at start-up (plugins add theirs at runtime)."""

from __future__ import annotations

from xo.api import server, session, system, token, user, vm, xo
from xo.api.registry import Namespace, Registry

BUILTIN: tuple[Namespace, ...] = (
    session.api,
    system.api,
    xo.api,
    token.api,
    user.api,
    server.api,
    vm.api,
)


def build_registry(extra: tuple[Namespace, ...] = ()) -> Registry:
    """A registry holding every built-in method; raises RegistryError on any bad declaration."""
    registry = Registry()
    for namespace in (*BUILTIN, *extra):
        registry.add_namespace(namespace)
    return registry
