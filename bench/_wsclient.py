"""A JSON-RPC WebSocket client for benchmarks (JSON text frames or the msgpack subprotocol).

Its pump task timestamps every frame on arrival (``time.perf_counter``) before decoding, and
hands notifications to an optional callback with that timestamp.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgpack
import orjson
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

MAX_MESSAGE = 1 << 30
RECEIVE_BUFFER = 256 * 1024

OnNotification = Callable[[float, dict[str, Any]], None]


class RpcError(Exception):
    pass


class WsClient:
    def __init__(self, ws: WebSocketConnection, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.next_id = 0
        self._waiting: dict[int, trio.MemorySendChannel] = {}
        self.on_notification: OnNotification | None = None
        self.last_frame_bytes = 0
        self._raw: trio.MemorySendChannel | None = None

    def encode(self, message: dict[str, Any]) -> str | bytes:
        if self.binary:
            return msgpack.packb(message, use_bin_type=True)
        return orjson.dumps(message).decode()

    def decode(self, frame: str | bytes) -> Any:
        if self.binary:
            return msgpack.unpackb(frame, raw=False)
        return orjson.loads(frame)

    async def pump(self) -> None:
        while True:
            frame = await self.ws.get_message()
            arrived = time.perf_counter()
            if self._raw is not None:  # raw mode: arrival times only, nothing decoded
                self._raw.send_nowait(arrived)
                continue
            message = self.decode(frame)
            if "id" in message:
                channel = self._waiting.pop(message["id"], None)
                if channel is not None:
                    self.last_frame_bytes = len(frame)
                    channel.send_nowait((arrived, message))
            elif self.on_notification is not None:
                self.on_notification(arrived, message)

    async def call_timed(
        self, method: str, params: dict[str, Any] | None = None
    ) -> tuple[float, Any]:
        """(seconds from send to the answer's arrival, result); raises RpcError."""
        self.next_id += 1
        msg_id = self.next_id
        send, receive = trio.open_memory_channel[tuple[float, dict[str, Any]]](1)
        self._waiting[msg_id] = send
        frame = self.encode(
            {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}}
        )
        started = time.perf_counter()
        await self.ws.send_message(frame)
        arrived, answer = await receive.receive()
        if "error" in answer:
            raise RpcError(f"{method}: {answer['error']}")
        return arrived - started, answer["result"]

    async def next_raw_arrival(self) -> float:
        """Switch to raw mode (frames are timed, never decoded) and wait for the next frame."""
        if self._raw is None:
            self._raw, self._raw_receive = trio.open_memory_channel[float](100)
        return await self._raw_receive.receive()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return (await self.call_timed(method, params))[1]


@asynccontextmanager
async def connect(base_url: str, *, binary: bool = False) -> AsyncIterator[WsClient]:
    url = base_url.replace("http://", "ws://").rstrip("/") + "/api/"
    async with open_websocket_url(
        url,
        subprotocols=["msgpack"] if binary else None,
        max_message_size=MAX_MESSAGE,
        message_queue_size=0,
        receive_buffer_size=RECEIVE_BUFFER,
    ) as ws:
        client = WsClient(ws, binary)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.pump)
            yield client
            nursery.cancel_scope.cancel()
