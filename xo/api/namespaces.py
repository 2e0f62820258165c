"""The built-in API namespaces, registered at start-up (plugins add theirs at runtime)."""

from __future__ import annotations

from xo.api import (
    acl,
    group,
    host,
    pool,
    server,
    session,
    sr,
    system,
    task,
    token,
    user,
    vdi,
    vm,
    vm_copies,
    vm_create,
    vm_delete,
    vm_set,
    xo,
)
from xo.api.registry import Namespace, Registry

BUILTIN: tuple[Namespace, ...] = (
    session.api,
    system.api,
    xo.api,
    token.api,
    user.api,
    group.api,
    acl.acl_api,
    acl.role_api,
    server.api,
    vm.api,
    vm_copies.api,
    vm_delete.api,
    vm_set.api,
    vm_create.api,
    host.api,
    pool.api,
    sr.api,
    vdi.api,
    task.api,
)


def build_registry(extra: tuple[Namespace, ...] = ()) -> Registry:
    """A registry holding every built-in method; raises RegistryError on any bad declaration."""
    registry = Registry()
    for namespace in (*BUILTIN, *extra):
        registry.add_namespace(namespace)
    return registry
