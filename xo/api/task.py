"""``task.*``: XAPI tasks, as XO lists them (``type: "task"`` objects): cancel and destroy."""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of

api = Namespace("task")

_TASK = {"task": ("id", "task", "administrate")}


@api.method(params={"id": {"type": "string"}}, resolve=_TASK, description="cancel a XAPI task")
async def cancel(ctx: CallContext, *, task: dict[str, Any]) -> None:
    await xapi_of(ctx, task).call("task.cancel", task["_xapiRef"])


@api.method(params={"id": {"type": "string"}}, resolve=_TASK, description="forget a XAPI task")
async def destroy(ctx: CallContext, *, task: dict[str, Any]) -> None:
    await xapi_of(ctx, task).call("task.destroy", task["_xapiRef"])
