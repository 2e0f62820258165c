"""The table of methods a simulated host answers: wire name -> parameter types and handler.

Built once from the datamodel facts: every message of every simulated class is listed by
``system.listMethods``; implicit messages are served generically, explicit ones by the handlers of
:mod:`xo.sim.methods`. Listed messages without a handler answer ``MESSAGE_METHOD_UNKNOWN``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xo.sim import datamodel
from xo.sim.methods import HANDLERS, implicit_handler
from xo.sim.methods.registry import Handler
from xo.sim.schema import SCHEMAS

# Classes whose messages have no ``Async.`` form (xapi datamodel.ml ``no_task_id_for``).
NO_ASYNC_CLASSES = frozenset({"session", "task", "event"})

# Trailing parameters xapi lets clients omit (versioned parameters with defaults):
# wire name -> minimum number of parameters (session included).
MIN_PARAMS: dict[str, int] = {
    "session.login_with_password": 2,
    "VM.snapshot": 3,
    "VDI.snapshot": 2,
    "VDI.clone": 2,
    "host.evacuate": 2,
    "VDI.copy": 3,
}

# Defaults given to omitted trailing parameters (same keys as MIN_PARAMS).
OPTIONAL_DEFAULTS: dict[str, list] = {
    "session.login_with_password": ["1.1", ""],
    "VM.snapshot": [[]],
    "VDI.snapshot": [{}],
    "VDI.clone": [{}],
    "host.evacuate": ["OpaqueRef:NULL", 0],
    "VDI.copy": ["OpaqueRef:NULL", "OpaqueRef:NULL"],
}


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[str, ...]  # parameter types, session included when it takes one
    result: str
    implicit: bool
    handler: Handler | None

    @property
    def takes_session(self) -> bool:
        return bool(self.params) and self.params[0] == "session ref"

    @property
    def async_capable(self) -> bool:
        cls, msg = self.name.split(".", 1)
        if cls in NO_ASYNC_CLASSES or msg.startswith("get_"):
            return False
        return not self.implicit or msg in ("create", "destroy")

    @property
    def min_params(self) -> int:
        return MIN_PARAMS.get(self.name, len(self.params))


def _build() -> dict[str, Method]:
    methods: dict[str, Method] = {}
    for cls, messages in datamodel.MESSAGES.items():
        if cls not in SCHEMAS and cls not in ("session", "event"):
            continue
        for msg, (params, result, implicit) in messages.items():
            name = f"{cls}.{msg}"
            fn = HANDLERS.get(name)
            if fn is None and cls in SCHEMAS:
                fn = implicit_handler(cls, msg, params)
            methods[name] = Method(name, tuple(params), result, implicit, fn)
    extra = set(HANDLERS) - set(methods)
    for name in extra:
        raise RuntimeError(f"handler {name} is not a message of the datamodel")
    return methods


METHODS: dict[str, Method] = _build()

LIST_METHODS: list[str] = sorted(METHODS)
"""What ``system.listMethods`` answers: every sync wire name."""
