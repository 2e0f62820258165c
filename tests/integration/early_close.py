"""XO's upload of a body of unknown size, as the simulator must take it: announce 1 PiB
(``content-length: 1125899906842624``), send the data, close the sending side."""

from __future__ import annotations

from urllib.parse import urlsplit

import trio

ONE_PIB = 1 << 50


async def put_announcing_1_pib(master_url: str, target: str, body: bytes) -> str:
    """PUT ``body`` to ``target`` on the host, then close; return the answer's task id."""
    url = urlsplit(master_url)
    head = f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {ONE_PIB}\r\n\r\n"
    answer = b""
    with trio.fail_after(30):
        async with await trio.open_tcp_stream(url.hostname, url.port) as stream:
            await stream.send_all(head.encode() + body)
            await stream.send_eof()
            while chunk := await stream.receive_some(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    return next(
        line.split(b":", 1)[1].strip().decode()
        for line in answer.split(b"\r\n")
        if line.lower().startswith(b"task-id:")
    )
