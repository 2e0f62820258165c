"""``task.*``: create/destroy/cancel and the setters XO uses on HTTP transfer tasks."""

from __future__ import annotations

from xo.sim.methods.registry import Call, handler


@handler("task.create")
async def create(call: Call, label: str, description: str) -> str:
    return call.pool.tasks.create(label, description=description, host=call.host)


@handler("task.destroy")
async def destroy(call: Call, task: str) -> None:
    call.db.destroy("task", task)


@handler("task.cancel")
async def cancel(call: Call, task: str) -> None:
    call.pool.tasks.cancel(task)


@handler("task.set_progress")
async def set_progress(call: Call, task: str, value: float) -> None:
    call.db.get("task", task)
    call.db.update("task", task, progress=value)


@handler("task.set_status")
async def set_status(call: Call, task: str, value: str) -> None:
    call.db.get("task", task)
    call.db.update("task", task, status=value)


@handler("task.set_result")
async def set_result(call: Call, task: str, value: str) -> None:
    call.db.get("task", task)
    call.db.update("task", task, result=value)


@handler("task.set_error_info")
async def set_error_info(call: Call, task: str, value: list[str]) -> None:
    call.db.get("task", task)
    call.db.update("task", task, error_info=value)
