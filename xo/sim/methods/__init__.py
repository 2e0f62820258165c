"""API method handlers, one module per XAPI class; importing this package registers them."""

from xo.sim.methods import (  # noqa: F401
    event,
    host,
    message,
    patching,
    pool,
    session,
    storage,
    task,
    vm,
)
from xo.sim.methods.implicit import implicit_handler
from xo.sim.methods.registry import HANDLERS, Call, handler

__all__ = ["HANDLERS", "Call", "handler", "implicit_handler"]
