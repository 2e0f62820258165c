"""API method handlers, one module per XAPI class; importing this package registers them."""

from xo.sim.methods import event, host, message, pool, session, storage, task, vm  # noqa: F401
from xo.sim.methods.implicit import implicit_handler
from xo.sim.methods.registry import HANDLERS, Call, handler

__all__ = ["HANDLERS", "Call", "handler", "implicit_handler"]
