"""HTTPS hosts: a self-signed certificate for 127.0.0.1/localhost, real clients on top."""

from __future__ import annotations

import ssl
import xmlrpc.client
from urllib.parse import urlsplit

import trio
import XenAPI
from cryptography import x509

from xo.sim.net.tls import certificate_pem, client_ssl_context


async def test_xenapi_logs_in_over_https_without_verification(sim_tls):
    pool = sim_tls.pools[0]
    assert pool.master_url.startswith("https://127.0.0.1:")

    def work() -> int:
        session = XenAPI.Session(pool.master_url, ignore_ssl=True)
        session.xenapi.login_with_password(pool.username, pool.password, "1.0", "tls-test")
        try:
            return len(session.xenapi.VM.get_all())
        finally:
            session.xenapi.session.logout()

    assert await trio.to_thread.run_sync(work) > 0


async def test_certificate_verifies_for_every_host_ip_and_localhost(sim_tls):
    pool = sim_tls.pools[0]
    cert = x509.load_pem_x509_certificate(certificate_pem())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    host_ips = [urlsplit(url).hostname for url in pool.host_urls]
    assert host_ips == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= set(host_ips)
    targets = [(url, urlsplit(url).hostname) for url in pool.host_urls]
    targets.append((pool.master_url, "localhost"))
    for url, hostname in targets:
        ip, port = urlsplit(url).hostname, urlsplit(url).port
        tcp = await trio.open_tcp_stream(ip, port)
        stream = trio.SSLStream(tcp, client_ssl_context(), server_hostname=hostname)
        async with stream:
            await stream.do_handshake()  # raises if the name or the chain does not verify
            body = xmlrpc.client.dumps(
                (pool.username, pool.password), "session.login_with_password"
            )
            await stream.send_all(
                f"POST / HTTP/1.1\r\nHost: {hostname}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body.encode()
            )
            answer = b""
            with trio.fail_after(10):
                while b"</methodResponse>" not in answer:
                    answer += await stream.receive_some(65536)
            assert b"Success" in answer or b"HOST_IS_SLAVE" in answer


async def test_plain_http_client_on_a_tls_port_is_dropped_and_the_host_survives(
    sim_tls, http_request
):
    pool = sim_tls.pools[0]
    ip, port = urlsplit(pool.master_url).hostname, urlsplit(pool.master_url).port
    async with await trio.open_tcp_stream(ip, port) as stream:
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(10):
            try:
                data = await stream.receive_some(1024)
            except trio.BrokenResourceError:
                data = b""
        assert not data.startswith(b"HTTP/1.1 200")
    reply = await http_request(
        "POST",
        pool.master_url + "/",
        body=xmlrpc.client.dumps(
            (pool.username, pool.password), "session.login_with_password"
        ).encode(),
    )
    assert reply.status == 200


async def test_verifying_client_without_the_certificate_refuses(sim_tls):
    pool = sim_tls.pools[0]
    ip, port = urlsplit(pool.master_url).hostname, urlsplit(pool.master_url).port
    tcp = await trio.open_tcp_stream(ip, port)
    stream = trio.SSLStream(tcp, ssl.create_default_context(), server_hostname="localhost")
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        assert isinstance(exc.__cause__, ssl.SSLCertVerificationError)
    else:
        raise AssertionError("an untrusted self-signed certificate was accepted")
    finally:
        await trio.aclose_forcefully(stream)
