"""Backoff schedule and status errors (pure)."""

from __future__ import annotations

import random

from xo.pools import Backoff, PoolAlreadyConnected
from xo.pools.status import error_dict
from xo.xapi import XapiError, XapiTimeout, XapiUnreachable


def test_schedule_doubles_from_1s_and_caps_at_60s_without_jitter():
    backoff = Backoff(jitter=0)
    assert [backoff.next() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_jitter_stays_below_the_nominal_delay_and_spreads_clients():
    delays = []
    for seed in range(20):
        backoff = Backoff(rng=random.Random(seed))
        schedule = [backoff.next() for _ in range(8)]
        for got, nominal in zip(schedule, [1, 2, 4, 8, 16, 32, 60, 60], strict=True):
            assert nominal * 0.8 <= got <= nominal
        delays.append(schedule[0])
    assert len(set(delays)) > 10  # clients that failed together do not retry together


def test_reset_starts_over():
    backoff = Backoff(jitter=0)
    for _ in range(5):
        backoff.next()
    backoff.reset()
    assert backoff.next() == 1


def test_error_dicts():
    assert error_dict(XapiError("SESSION_AUTHENTICATION_FAILED", ["root", "x"])) == {
        "message": "SESSION_AUTHENTICATION_FAILED(root, x)",
        "code": "SESSION_AUTHENTICATION_FAILED",
        "params": ["root", "x"],
    }
    refused = error_dict(XapiUnreachable("connection refused", "h:443"))
    assert refused == {"message": "h:443: connection refused", "code": "UNREACHABLE", "params": []}
    assert error_dict(XapiTimeout("slow", "h"))["code"] == "TIMEOUT"
    already = error_dict(PoolAlreadyConnected("uuid", "s1"))
    assert already["message"] == "this pool is already connected"
