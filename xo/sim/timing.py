"""How long simulated operations take. Tests use :meth:`Timing.fast`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Durations in seconds, multiplied by ``scale`` (except ``event_batch`` and the login delay).

    Defaults are roughly what a small real pool shows, shortened where waiting teaches nothing.
    """

    scale: float = 1.0
    # xapi waits 50 ms before and between event.from collection loops (event_from_delay).
    event_batch: float = 0.05
    # xapi sleeps 5 s before answering a failed login; 0 keeps clients snappy in demos and tests.
    login_failure_delay: float = 0.0
    vm_start: float = 0.2
    vm_shutdown: float = 0.2
    vm_reboot: float = 0.3
    vm_suspend: float = 0.3
    vm_resume: float = 0.2
    vm_pause: float = 0.05
    vm_clone: float = 0.1
    vm_copy: float = 0.3
    vm_snapshot: float = 0.1
    vm_migrate: float = 0.3
    vm_destroy: float = 0.02
    vdi_op: float = 0.05
    device_plug: float = 0.02
    patch_apply: float = 0.5
    plugin_call: float = 0.1
    # Number of progress steps reported while an operation runs.
    progress_steps: int = 4

    def delay(self, name: str) -> float:
        return float(getattr(self, name)) * self.scale

    @classmethod
    def fast(cls, **overrides: Any) -> Timing:
        """Tiny delays for tests: operations still take (a little) time, so they can overlap."""
        return replace(cls(scale=0.01, event_batch=0.005), **overrides)
