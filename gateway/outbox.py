"""A websocket's bounded send queue and the task that drains it: the dashboard's sockets
(``gateway.ws_hub``) and KiteTicker's (``gateway.kite.ticker``) both queue what producers offer
and drop a client whose queue is full, rather than let a slow reader grow memory."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

# A frame: text as ``str``, binary as ``bytes``.
Frame = str | bytes


class Outbox:
    """Frames waiting for one websocket. With ``heartbeat``, that frame goes out whenever
    nothing else did for ``heartbeat_s``."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        queue_max: int,
        *,
        heartbeat: Frame | None = None,
        heartbeat_s: float = 0.0,
    ) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=queue_max)
        self.heartbeat = heartbeat
        self.heartbeat_s = heartbeat_s
        self._pump: asyncio.Task[None] | None = None

    def offer(self, frame: Frame) -> bool:
        """Queue a frame; False when the client is too slow (its queue is full)."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def start_pump(self) -> None:
        """Start sending queued frames, until :meth:`stop_pump` or the socket closes."""
        self._pump = asyncio.create_task(self._send_queued())

    async def stop_pump(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _next(self) -> Frame:
        if self.heartbeat is None:
            return await self.queue.get()
        try:
            async with asyncio.timeout(self.heartbeat_s):
                return await self.queue.get()
        except TimeoutError:
            return self.heartbeat  # nothing went out for a heartbeat's interval

    async def _send_queued(self) -> None:
        with contextlib.suppress(ConnectionError):  # the socket closed under us: nothing to send
            while True:
                frame = await self._next()
                if isinstance(frame, str):
                    await self.ws.send_str(frame)
                else:
                    await self.ws.send_bytes(frame)
