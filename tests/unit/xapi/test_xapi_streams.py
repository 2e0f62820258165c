"""get/put/connect over MockTransport: session in the query, redirects, probe, 401, tunnels."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import trio
import trio.testing

from xo.xapi import MockTransport, Origin, Response, XapiClient, XapiHttpError


def query_of(target: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}


class Host:
    """Answers login over JSON-RPC and hands HTTP handler requests to ``on_http``."""

    def __init__(self, on_http):
        self.on_http = on_http
        self.http: list = []
        self.logins = 0

    async def handle(self, request):
        if request.target == "/jsonrpc":
            self.logins += 1
            body = b'{"jsonrpc": "2.0", "result": "OpaqueRef:s%d", "id": 0}' % self.logins
            return Response(200, [("content-type", "application/json")], body)
        self.http.append(request)
        return await self.on_http(request)


def client_for(host: Host) -> XapiClient:
    return XapiClient("https://h1:443", "root", "pw", transport=MockTransport(host.handle))


async def chunks(*parts: bytes):
    for part in parts:
        yield part


async def test_get_streams_the_body_and_follows_a_302():
    async def on_http(request):
        if request.origin.host == "h1":
            return Response(302, [("location", "https://h2/export?ref=OpaqueRef:vm&session_id=x")])
        return Response(200, [("task-id", "OpaqueRef:t")], chunks(b"abc", b"def"))

    host = Host(on_http)
    xapi = client_for(host)
    response = await xapi.get("/export", {"ref": "OpaqueRef:vm"})
    async with response:
        received = [chunk async for chunk in response]
    assert received == [b"abc", b"def"]
    assert response.header("task-id") == "OpaqueRef:t"
    assert query_of(host.http[0].target) == {"ref": "OpaqueRef:vm", "session_id": "OpaqueRef:s1"}
    assert host.http[1].origin == Origin("https", "h2", 443)


async def test_get_error_status_raises_http_error():
    async def on_http(request):
        return Response(404, [], b"not found", reason="Not Found")

    xapi = client_for(Host(on_http))
    with pytest.raises(XapiHttpError) as info:
        await xapi.get("/export_raw_vdi", {"vdi": "x", "format": "nope"})
    assert info.value.status == 404
    assert info.value.code == "HTTP_ERROR"
    assert info.value.params == ["404", "Not Found"]


async def test_401_gets_one_new_session():
    async def on_http(request):
        if query_of(request.target)["session_id"] == "OpaqueRef:s1":
            return Response(401, [], b"")
        return Response(200, [], b"ok")

    host = Host(on_http)
    xapi = client_for(host)
    response = await xapi.get("/rrd_updates", {"start": "0"})
    assert await response.aread() == b"ok"
    assert host.logins == 2


async def test_put_probes_then_streams_the_body_to_the_redirected_host():
    uploaded = []

    async def on_http(request):
        if request.origin.host == "h1":
            return Response(302, [("location", "https://h3:443/import_raw_vdi?vdi=x")])
        if request.content_length == 0:
            return Response(200, [], b"")
        assert "task_id" in query_of(request.target)
        uploaded.append(b"".join([chunk async for chunk in request.body]))
        return Response(200, [("task-id", "OpaqueRef:t")], b"")

    host = Host(on_http)
    xapi = client_for(host)
    body = chunks(b"x" * 10, b"y" * 5)
    response = await xapi.put("/import_raw_vdi", {"vdi": "x", "task_id": "OpaqueRef:t"}, body, 15)
    assert response.header("task-id") == "OpaqueRef:t"
    assert uploaded == [b"x" * 10 + b"y" * 5]
    probe = host.http[0]
    assert probe.body == b"" and "task_id" not in query_of(probe.target)
    assert host.http[-1].content_length == 15
    assert host.http[-1].origin.host == "h3"


async def test_connect_returns_the_tunnel():
    ours, theirs = trio.testing.memory_stream_pair()

    async def on_http(request):
        assert request.method == "CONNECT"
        assert ("Cookie", "session_id=OpaqueRef:s1") in request.headers
        return Response(200, [], tunnel=ours)

    xapi = client_for(Host(on_http))
    stream = await xapi.connect("/console", {"uuid": "u"})
    await theirs.send_all(b"RFB 003.008\n")
    assert await stream.receive_some(100) == b"RFB 003.008\n"


def test_origin_parsing_and_addresses():
    assert Origin.parse("h") == Origin("https", "h", 443)
    assert Origin.parse("http://h:8080/x") == Origin("http", "h", 8080)
    assert Origin.parse("[::1]:444") == Origin("https", "::1", 444)
    base = Origin.parse("https://h:8443")
    assert base.with_address("10.0.0.2") == Origin("https", "10.0.0.2", 8443)
    assert base.with_address("127.0.0.1:9000") == Origin("https", "127.0.0.1", 9000)
    assert base.with_address("fe80::1") == Origin("https", "fe80::1", 8443)
    assert base.with_address("[fe80::1]:1") == Origin("https", "fe80::1", 1)
    assert Origin("https", "fe80::1", 443).url == "https://[fe80::1]"
    with pytest.raises(ValueError):
        Origin.parse("ftp://h")
