"""Errors raised by the XAPI client: one tree, named by whose fault it was.

::

    XapiException                    anything this package raises
    ├── XapiError(code, params)      a host answered, and the answer is an error
    │   │                            (XAPI ErrorDescription / JSON-RPC error; task error_info)
    │   └── XapiHttpError            a host answered an HTTP request with an unexpected status
    ├── XapiUnreachable              no host answered: refused, reset, DNS, TLS, closed mid-reply
    │   └── XapiTimeout              a phase of `Timeouts` ran out (connect, call, event.from)
    └── XapiProtocolError            a host answered something that is not XAPI (bad HTTP, garbage)

`XapiError.details` is ``[code, *params]``, the shape of ``XenAPI.Failure.details``, so code and
tests read the same against the XenAPI package and against this client. Errors that went through
`XapiClient`'s call choke point also carry ``method``, ``call_params`` (secrets obfuscated) and
``duration`` (seconds), set by `annotate`.

Translation from transport exceptions (OSError, ssl errors, h11 errors, trio stream errors) to this
tree happens in one place: `translate_transport_error`.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import h11
import trio

OBFUSCATED = "* obfuscated *"

# Methods whose positional parameters (after the session) carry secrets, by index in the wire
# params list. Everything else that looks like a session ref is obfuscated by `obfuscate_params`.
_SECRET_PARAMS: dict[str, tuple[int, ...]] = {
    "session.login_with_password": (1,),
    "session.change_password": (1, 2),
    "session.slave_login": (1,),
    "pool.join": (2, 3),
    "pool.join_force": (2, 3),
}


class XapiException(Exception):
    """Base of everything the XAPI client raises."""

    method: str | None = None
    call_params: list[Any] | None = None
    duration: float | None = None


class XapiError(XapiException):
    """A host answered with an error: ``code`` is XAPI's error code, ``params`` its parameters."""

    def __init__(self, code: str, params: Sequence[Any] = ()) -> None:
        self.code = str(code)
        self.params = [p if isinstance(p, str) else str(p) for p in params]
        super().__init__(self.code, self.params)

    @property
    def details(self) -> list[str]:
        """``[code, *params]``: what ``XenAPI.Failure.details`` holds."""
        return [self.code, *self.params]

    @classmethod
    def from_description(cls, description: Sequence[Any]) -> XapiError:
        """Build from an XAPI ErrorDescription / task ``error_info`` list."""
        if not description:
            return cls("INTERNAL_ERROR", ["empty error description"])
        return cls(str(description[0]), [str(p) for p in description[1:]])

    def __str__(self) -> str:
        params = self.params
        if self.code == "SESSION_INVALID":
            params = [OBFUSCATED for _ in params]
        text = f"{self.code}({', '.join(params)})"
        if self.method:
            text += f" [{self.method}]"
        return text


class XapiHttpError(XapiError):
    """An HTTP handler (export, import, console...) answered an unexpected status."""

    def __init__(self, status: int, reason: str = "", method: str = "", target: str = "") -> None:
        super().__init__("HTTP_ERROR", [str(status), reason])
        self.status = status
        self.target = target
        if method:
            self.method = method


class XapiUnreachable(XapiException):
    """No host answered (connection refused/reset/closed, DNS, TLS handshake, timeout)."""

    def __init__(self, message: str, address: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.address = address

    def __str__(self) -> str:
        text = self.message
        if self.address:
            text = f"{self.address}: {text}"
        if self.method:
            text += f" [{self.method}]"
        return text


class XapiTimeout(XapiUnreachable):
    """A timeout phase (see `Timeouts`) expired before the host answered."""


class XapiProtocolError(XapiException):
    """A host answered something that is neither XAPI JSON-RPC nor XML-RPC."""


def obfuscate_params(method: str, params: Sequence[Any], session: str | None) -> list[Any]:
    """Copy of ``params`` safe to log: passwords and session refs replaced."""
    secret = _SECRET_PARAMS.get(method.removeprefix("Async."), ())
    out: list[Any] = []
    for i, value in enumerate(params):
        if i in secret or (session is not None and value == session):
            out.append(OBFUSCATED)
        else:
            out.append(value)
    return out


def annotate(
    exc: XapiException, method: str, params: Sequence[Any], session: str | None, duration: float
) -> XapiException:
    """Attach ``{method, call_params, duration}`` to an error leaving the call choke point."""
    exc.method = method
    exc.call_params = obfuscate_params(method, params, session)
    exc.duration = duration
    return exc


def translate_transport_error(exc: BaseException, address: str) -> XapiException:
    """Map an exception from sockets/TLS/h11 to this package's tree (the one translation table)."""
    if isinstance(exc, XapiException):
        return exc
    exc = _root_cause(exc)
    if isinstance(exc, trio.TooSlowError):
        return XapiTimeout("timed out", address)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return XapiUnreachable(
            f"TLS certificate rejected: {getattr(exc, 'verify_message', None) or exc}", address
        )
    if isinstance(exc, ssl.SSLError | trio.BrokenResourceError | trio.ClosedResourceError):
        return XapiUnreachable(f"connection broken: {exc!r}", address)
    if isinstance(exc, ConnectionRefusedError):
        return XapiUnreachable("connection refused", address)
    if isinstance(exc, OSError):
        return XapiUnreachable(f"{type(exc).__name__}: {exc}", address)
    if isinstance(exc, h11.RemoteProtocolError):
        return XapiProtocolError(f"{address}: invalid HTTP from host: {exc}")
    if isinstance(exc, h11.LocalProtocolError):
        return XapiProtocolError(f"{address}: invalid HTTP request: {exc}")
    raise TypeError(f"not a transport error: {exc!r}") from exc


def _root_cause(exc: BaseException) -> BaseException:
    """The informative error behind trio's wrappers: SSLStream raises BrokenResourceError from
    the SSLError; open_tcp_stream raises OSError("all attempts failed") from a group of the
    per-address errors (the first one tells: refused, unreachable...)."""
    cause = exc.__cause__
    if isinstance(exc, trio.BrokenResourceError) and isinstance(cause, ssl.SSLError | OSError):
        return cause
    if isinstance(exc, OSError) and isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        first = cause.exceptions[0]
        if isinstance(first, OSError):
            return first
    return exc
