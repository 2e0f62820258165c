"""One-shot URLs: capability paths, removed on first use, expiring when unclaimed."""

from __future__ import annotations

from xo.api.oneshot import HttpRequest, HttpResponse, OneShotUrls


async def handler(request: HttpRequest) -> HttpResponse:
    return HttpResponse(body=b"ok")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_paths_are_unguessable_and_taken_once() -> None:
    urls = OneShotUrls()
    path = urls.register(handler, suffix="export file.xva")
    token = path.split("/")[2]
    assert path.startswith("/api/") and len(token) == 43 and path.endswith("/export file.xva")
    assert urls.take(path) is handler
    assert urls.take(path) is None


def test_unclaimed_urls_expire_and_release_what_they_held() -> None:
    clock = Clock()
    released = []
    urls = OneShotUrls(ttl=10, clock=clock)
    path = urls.register(handler, on_expire=lambda: released.append(True))
    clock.now = 9.9
    assert len(urls) == 1
    clock.now = 10
    assert urls.take(path) is None
    assert released == [True] and len(urls) == 0


def test_rpc_result_is_a_json_rpc_envelope() -> None:
    assert HttpResponse.rpc_result("uuid").body == b'{"id": 0, "jsonrpc": "2.0", "result": "uuid"}'
