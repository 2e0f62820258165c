"""What every HTTP handler of a host shares (reference xapi.md §5): authentication and the task.

Authentication, as `Xapi_http.with_context`: `session_id` from a cookie or the query (the cookie
wins), else HTTP Basic credentials (a temporary session, logged out at the end), else
`401 Unauthorized` with `WWW-Authenticate` and the caller's task failed with
SESSION_AUTHENTICATION_FAILED.

Task: the caller's `task_id` (cookie or query) is adopted when it exists, else the handler creates
its own; its ref goes back in the `task-id` response header. Progress is published at most once
per `PROGRESS_INTERVAL`; the task is completed with the handler's result or failed with the API
error that stopped it (anything unexpected becomes INTERNAL_ERROR).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import trio

from xo.sim.errors import XapiFailure
from xo.sim.net.http import HttpError, Request
from xo.sim.net.server import CloseConnection

log = logging.getLogger(__name__)

AUTH_REALM = "xapi"
# xapi updates transfer progress at most every 10 s; the simulator is faster so that tests and
# demos see progress move, while a long stream still emits only one task event per second
# (scaled by the pool's Timing.scale: tests with Timing.fast() see it every 10 ms).
PROGRESS_INTERVAL = 1.0

# API errors that mean "what you named does not exist": answered 404 instead of 500.
NOT_FOUND_CODES = frozenset({"HANDLE_INVALID", "UUID_INVALID"})


def lookup_param(request: Request, name: str) -> str | None:
    """A handler parameter: the cookie wins over the query string (xapi_http.ml)."""
    value = request.cookies.get(name)
    return value if value is not None else request.query.get(name)


def unauthorized(message: str = "authentication required") -> HttpError:
    return HttpError(401, message, [("WWW-Authenticate", f'Basic realm="{AUTH_REALM}"')])


class Transfer:
    """The session and task of one HTTP handler call; use as an async context manager."""

    def __init__(self, pool: Any, host_ref: str, request: Request, label: str) -> None:
        self.pool = pool
        self.host_ref = host_ref
        self.request = request
        self.label = label
        self.session_ref = ""
        self.task_ref = ""
        self.own_task = False
        self._temporary_session = False
        self._finished = False
        self._last_progress = -1.0
        self._last_progress_time = float("-inf")

    # -- authentication and task ---------------------------------------------------------

    async def open(self) -> Transfer:
        """Authenticate and take (or create) the task; raises HttpError(401) when unauthenticated."""
        task_id = lookup_param(self.request, "task_id")
        session = await self._authenticate()
        if session is None:
            if task_id and self.pool.task_exists(task_id):
                self.pool.task_fail(task_id, ["SESSION_AUTHENTICATION_FAILED"])
            raise unauthorized()
        self.session_ref = session
        if task_id and self.pool.task_exists(task_id):
            self.task_ref = task_id
        else:
            self.task_ref = self.pool.task_create(self.label, session, host_ref=self.host_ref)
            self.own_task = True
        self.pool.task_set_progress(self.task_ref, 0.0)
        return self

    async def _authenticate(self) -> str | None:
        session = lookup_param(self.request, "session_id")
        if session:
            try:
                self.pool.check_session(session)
            except XapiFailure:
                return None
            return session
        credentials = self.request.basic_auth
        if credentials is None:
            return None
        try:
            session = await self.pool.login(*credentials, on_host=self.pool.master_ref)
        except XapiFailure:
            return None
        self._temporary_session = True
        return session

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [("task-id", self.task_ref)]

    # -- progress and outcome ------------------------------------------------------------

    def progress(self, fraction: float) -> None:
        now = trio.current_time()
        fraction = min(max(fraction, 0.0), 1.0)
        interval = PROGRESS_INTERVAL * self.pool.timing.scale
        if fraction > self._last_progress and now - self._last_progress_time >= interval:
            self._last_progress = fraction
            self._last_progress_time = now
            self.pool.task_set_progress(self.task_ref, fraction)

    def abandon(self) -> None:
        """Leave the task alone (xapi does not complete it when it redirects the request)."""
        self._finished = True
        if self.own_task:
            self.pool.tasks.destroy(self.task_ref)

    def succeed(self, result: str = "") -> None:
        if not self._finished:
            self._finished = True
            self.pool.task_complete(self.task_ref, result)

    def fail(self, description: list[str]) -> None:
        if not self._finished:
            self._finished = True
            if self.pool.task_exists(self.task_ref):
                self.pool.task_fail(self.task_ref, description)

    def is_cancelling(self) -> bool:
        return self.pool.task_exists(self.task_ref) and self.pool.task_is_cancelling(self.task_ref)

    def check_cancelled(self) -> None:
        """Raise TASK_CANCELLED if the client asked to cancel the task."""
        if self.is_cancelling():
            raise XapiFailure("TASK_CANCELLED", self.task_ref)

    async def __aenter__(self) -> Transfer:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            if exc is None:
                self.succeed("")
            else:
                self.fail(describe_failure(exc))
        finally:
            if self._temporary_session:
                self.pool.logout(self.session_ref)
        if isinstance(exc, XapiFailure) and not self.request.responded:
            status = 404 if exc.code in NOT_FOUND_CODES else 500
            raise HttpError(status, " ".join(exc.description), self.headers) from exc
        return False


def resolve_ref(pool: Any, cls: str, request: Request, ref_key: str, uuid_key: str) -> str:
    """The object named by `ref_key` (a ref, or a uuid as xapi also accepts) or `uuid_key`.

    Raises HANDLE_INVALID / UUID_INVALID like xapi, or HttpError(400) when neither is given.
    """
    value = lookup_param(request, ref_key) or lookup_param(request, uuid_key)
    if not value:
        raise HttpError(400, f"missing {ref_key} or {uuid_key} parameter")
    if pool.db.exists(cls, value):
        return value
    found = pool.db.find_by_uuid(cls, value)
    if found is not None:
        return found
    if value.startswith("OpaqueRef:"):
        raise XapiFailure("HANDLE_INVALID", cls, value)
    raise XapiFailure("UUID_INVALID", cls, value)


def describe_failure(exc: BaseException) -> list[str]:
    """The task error_info for an exception that ended a transfer."""
    if isinstance(exc, XapiFailure):
        return exc.description
    if isinstance(exc, CloseConnection):
        return ["INTERNAL_ERROR", "connection closed"]
    if isinstance(exc, HttpError):
        return ["INTERNAL_ERROR", exc.message]
    if isinstance(exc, trio.Cancelled):
        return ["INTERNAL_ERROR", "the host stopped during the transfer"]
    if isinstance(exc, (trio.BrokenResourceError, trio.ClosedResourceError)):
        return ["INTERNAL_ERROR", "Connection reset by peer"]
    return ["INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"]


def resolve_sr(pool: Any, request: Request) -> str:
    """`sr_id` (ref) or `sr_uuid`, else the pool's default SR (SR_NOT_FOUND-like error if none)."""
    sr_ref = lookup_param(request, "sr_id")
    if sr_ref:
        pool.db.get("SR", sr_ref)
        return sr_ref
    sr_uuid = lookup_param(request, "sr_uuid")
    if sr_uuid:
        found = pool.db.find_by_uuid("SR", sr_uuid)
        if found is None:
            raise XapiFailure("UUID_INVALID", "SR", sr_uuid)
        return found
    pool_record = next(iter(pool.db.all("pool").values()))
    default = pool_record.get("default_SR", "OpaqueRef:NULL")
    if not default or default == "OpaqueRef:NULL":
        raise XapiFailure("DEFAULT_SR_NOT_FOUND", default or "OpaqueRef:NULL")
    return default
