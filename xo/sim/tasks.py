"""XAPI tasks: records whose progress/status/result/error_info evolve like xapi's (§4.3).

- ``Async.<cls>.<msg>`` creates a task named after the call, returns its ref at once and runs the
  operation in the pool's nursery; on success ``status=success``, ``progress=1.0``, ``result`` =
  the XML-RPC fragment of the result; on failure ``status=failure`` and ``error_info``;
  ``TASK_CANCELLED`` gives ``status=cancelled``.
- A sync call of an async-capable method runs inside a transient task (created, then destroyed).
- ``task.cancel`` marks a cancellable pending task ``cancelling``; the operation notices at its
  next progress point and fails with ``TASK_CANCELLED [task]``.
"""

from __future__ import annotations

import time

from xo.formats.xmlrpc import DateTime
from xo.sim.db import Database
from xo.sim.errors import XapiFailure
from xo.sim.schema import EPOCH, NULL_REF


def now() -> DateTime:
    return DateTime.from_timestamp(time.time())


class TaskTable:
    """Task records of one pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        name_label: str,
        *,
        host: str = NULL_REF,
        description: str = "",
        cancellable: bool = True,
    ) -> str:
        return self.db.create(
            "task",
            {
                "name_label": name_label,
                "name_description": description,
                "status": "pending",
                "progress": 0.0,
                "created": now(),
                "finished": EPOCH,
                "resident_on": host,
                "allowed_operations": ["cancel"] if cancellable else [],
            },
        )

    def exists(self, ref: str) -> bool:
        return self.db.exists("task", ref)

    def is_pending(self, ref: str) -> bool:
        rec = self.db.tables["task"].get(ref)
        return rec is not None and rec["status"] in ("pending", "cancelling")

    def set_progress(self, ref: str, progress: float) -> None:
        if self.is_pending(ref):
            self.db.update("task", ref, progress=max(0.0, min(1.0, float(progress))))

    def complete(self, ref: str, result: str) -> None:
        if not self.is_pending(ref):
            return
        self.db.update(
            "task",
            ref,
            status="success",
            progress=1.0,
            result=result,
            finished=now(),
            allowed_operations=[],
            current_operations={},
        )

    def fail(self, ref: str, description: list[str]) -> None:
        if not self.is_pending(ref):
            return
        status = "cancelled" if description and description[0] == "TASK_CANCELLED" else "failure"
        self.db.update(
            "task",
            ref,
            status=status,
            error_info=[str(x) for x in description],
            finished=now(),
            allowed_operations=[],
            current_operations={},
        )

    def cancel(self, ref: str) -> None:
        rec = self.db.get("task", ref)
        if "cancel" not in rec["allowed_operations"] or rec["status"] != "pending":
            raise XapiFailure(
                "OPERATION_NOT_ALLOWED", f"Task {ref} is not cancellable in its current state"
            )
        self.db.update("task", ref, status="cancelling", current_operations={ref: "cancel"})

    def is_cancelling(self, ref: str) -> bool:
        rec = self.db.tables["task"].get(ref)
        return rec is not None and rec["status"] == "cancelling"

    def check_cancelled(self, ref: str) -> None:
        """Raise TASK_CANCELLED if someone cancelled the task."""
        if self.is_cancelling(ref):
            raise XapiFailure("TASK_CANCELLED", ref)

    def destroy(self, ref: str) -> None:
        if self.db.exists("task", ref):
            self.db.destroy("task", ref)
