"""`current_operations[task] = op` on a VM for the duration of an HTTP transfer.

xapi holds the operation on the VM while an export streams (`Export.with_vm_locked`: the
operation is checked first, so a running VM fails with VM_BAD_POWER_STATE) and on new VMs while
an import writes their disks; clients (XO) link tasks to VMs through it. `allowed_operations` is
recomputed on both edges, as xapi does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from xo.sim import vm_ops


@contextmanager
def vm_operation(
    pool: Any, vm_ref: str, task_ref: str, op: str, *, check: bool = True
) -> Iterator[None]:
    """Check `op` is allowed now (raises the API error), then hold it on the VM."""
    if check:
        vm_ops.check(pool.db, vm_ref, op)
    set_operation(pool, vm_ref, task_ref, op)
    try:
        yield
    finally:
        set_operation(pool, vm_ref, task_ref, None)


def set_operation(pool: Any, vm_ref: str, task_ref: str, op: str | None) -> None:
    """Add (or with None remove) `task_ref -> op` in the VM's current_operations."""
    record = pool.db.tables["VM"].get(vm_ref)
    if record is None:
        return  # the VM is gone (a rolled-back import): nothing to release
    operations = dict(record["current_operations"])
    if op is None:
        if operations.pop(task_ref, None) is None:
            return
    else:
        operations[task_ref] = op
    pool.db.update("VM", vm_ref, current_operations=operations)
    vm_ops.refresh(pool.db, vm_ref)
