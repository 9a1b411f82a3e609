"""Emulation of the mkio 0.1.0 Python client (``mkio.client.MkioClient``), for tests.

This is NOT the original source. It was written from the behavioural description in
CLIENTS.md section 2 (and PROTOCOL.md section 3.2 for ``make_ref``) so that the C# server can be
tested against what the original client sends, expects and how it recovers. It deliberately keeps
the original's documented quirks (CLIENTS.md section 2.5): a pending ``send`` with an explicit ref
can be resolved by an ``update`` carrying that ref, any ``result``/``error`` without a pending ref
resolves the oldest ref-less request, and pending requests are neither failed nor retried when the
connection drops.

Like the original it uses asyncio and aiohttp: the WebSocket is opened through an
``aiohttp.ClientSession`` with ``ws_connect``'s default options (no compression, no heartbeat).
Messages are sent as text frames; received text and binary frames are both accepted.

Test instrumentation that the original does not have (it changes no behaviour):
``sent_frames`` (the exact text of every frame sent), ``received_kinds`` (``"text"`` or
``"binary"`` per received message) and ``connects`` (successful WebSocket handshakes).
"""

import asyncio
import json
import threading
import time

import aiohttp

__all__ = ["MkioClient", "make_ref"]

_ref_lock = threading.Lock()
_last_ns = 0
_counter = 0


def make_ref():
    """Return a ref like ``20260404 15:30:45.123456789012`` (PROTOCOL.md section 3.2).

    Nanosecond UTC wall clock; a counter goes up while the clock does not advance past the last
    value and resets to 0 when it does. The time part is always the current time (reference
    algorithm, not the monotonic C# variant).
    """
    global _last_ns, _counter
    with _ref_lock:
        now = time.time_ns()
        if now <= _last_ns:
            _counter += 1
        else:
            _counter = 0
            _last_ns = now
        counter = _counter
    seconds, nanos = divmod(now, 1_000_000_000)
    stamp = time.strftime("%Y%m%d %H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{nanos:09d}{counter % 1000:03d}"


class _Subscription:
    """One subscription record: service, filter, recovery cursor and an unbounded queue."""

    def __init__(self, service, filter, ref):
        self.service = service
        self.filter = filter
        self.ref = ref
        self.queue = asyncio.Queue()

    def message(self):
        """The subscribe message: filter when truthy, ref (the cursor) when there is one."""
        msg = {"service": self.service, "type": "subscribe"}
        if self.filter:
            msg["filter"] = self.filter
        if self.ref is not None:
            msg["ref"] = self.ref
        return msg


class MkioClient:
    """asyncio client for one mkio WebSocket (CLIENTS.md section 2)."""

    def __init__(self, url, reconnect=True, backoff_base=0.1, backoff_max=30):
        self.url = url
        self.reconnect = reconnect
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._session = None
        self._ws = None
        self._receive_task = None
        self._pending = {}        # ref -> future
        self._refless = []        # futures of ref-less requests, oldest first
        self._subscriptions = {}  # service -> _Subscription
        # Test instrumentation (not in the original).
        self.sent_frames = []
        self.received_kinds = []
        self.connects = 0

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.close()

    async def connect(self):
        """Open the WebSocket and start the background receive loop."""
        await self._open()
        self._receive_task = asyncio.create_task(self._receive_loop())

    async def close(self):
        """Cancel the receive loop, close the socket and the HTTP client."""
        task, self._receive_task = self._receive_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self._close_transport()

    async def send(self, service, data, ref=None, **extra):
        """Send a transaction; return the reply (``result`` or ``error``) as received."""
        msg = {"service": service, "data": data}
        msg.update(extra)
        future = asyncio.get_running_loop().create_future()
        if ref is not None:
            msg["ref"] = ref
            self._pending[ref] = future
        else:
            self._refless.append(future)
        await self._send_json(msg)
        return await future

    async def check(self, service, ref):
        """Ask whether the transaction ``ref`` committed; return the reply."""
        future = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        await self._send_json({"service": service, "type": "check", "ref": ref})
        return await future

    async def subscribe(self, service, filter=None, ref=None):
        """Yield every message routed to ``service`` (snapshot, delta, update, ...) forever.

        The record is registered (replacing any previous one for ``service``) and the subscribe
        message sent when iteration starts. Leaving the loop does not unsubscribe.
        """
        sub = _Subscription(service, filter, ref)
        self._subscriptions[service] = sub
        await self._send_json(sub.message())
        while True:
            yield await sub.queue.get()

    async def _open(self):
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self.url)
        self.connects += 1

    async def _close_transport(self):
        ws, session = self._ws, self._session
        if ws is not None:
            await ws.close()
        if session is not None:
            await session.close()

    async def _send_json(self, msg):
        text = json.dumps(msg)
        self.sent_frames.append(text)
        await self._ws.send_str(text)

    def _dispatch(self, msg):
        """Route one received message: the first matching rule of CLIENTS.md section 2.5."""
        ref = msg.get("ref")
        # 1. A pending request with this ref, whatever the message type.
        if ref and ref in self._pending:
            self._resolve(self._pending.pop(ref), msg)
            return
        # 2. Any result/error goes to the oldest ref-less request.
        if msg.get("type") in ("result", "error") and self._refless:
            self._resolve(self._refless.pop(0), msg)
            return
        # 3. A subscription of this service: remember the cursor, queue the message.
        service = msg.get("service")
        if service and service in self._subscriptions:
            sub = self._subscriptions[service]
            if ref:
                sub.ref = ref
            sub.queue.put_nowait(msg)
        # 4. Otherwise dropped.

    @staticmethod
    def _resolve(future, msg):
        if not future.done():
            future.set_result(msg)

    async def _receive_loop(self):
        backoff = self.backoff_base
        try:
            async for frame in self._ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    self.received_kinds.append("text")
                elif frame.type == aiohttp.WSMsgType.BINARY:
                    self.received_kinds.append("binary")
                else:  # ERROR: the socket failed
                    break
                self._dispatch(json.loads(frame.data))
                backoff = self.backoff_base
        except (aiohttp.ClientError, OSError, ValueError):
            pass  # socket error or unreadable frame: handled like a close
        if not self.reconnect:
            return
        while True:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max)
            try:
                await self._close_transport()
                await self._open()
                break
            except Exception:  # connection failure: try again after the next backoff
                continue
        for sub in list(self._subscriptions.values()):
            await self._send_json(sub.message())
        self._receive_task = asyncio.create_task(self._receive_loop())
