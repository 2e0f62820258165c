"""Async XAPI client over Trio (see xo.xapi.client for the overview, xo.xapi.errors for the
exception tree)."""

from .client import XapiClient
from .errors import (
    XapiError,
    XapiException,
    XapiHttpError,
    XapiProtocolError,
    XapiTimeout,
    XapiUnreachable,
)
from .events import ContinuityLost, EventWatcher, follow_events
from .http11 import HttpTransport
from .origin import Origin
from .timeouts import Timeouts
from .transport import MockTransport, Request, Response, Transport

__all__ = [
    "ContinuityLost",
    "EventWatcher",
    "HttpTransport",
    "MockTransport",
    "Origin",
    "Request",
    "Response",
    "Timeouts",
    "Transport",
    "XapiClient",
    "XapiError",
    "XapiException",
    "XapiHttpError",
    "XapiProtocolError",
    "XapiTimeout",
    "XapiUnreachable",
    "follow_events",
]
