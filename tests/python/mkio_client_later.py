"""Emulation of a later-generation mkio Python client (mkio 0.1.x - 1.x), for tests.

This is NOT an original source. It was written from the description of the later clients (the
later-client changes of the mkio client history: subids, protocol on subscribe, fields and
snapshot/updates flags, nack handling, maxcount paging with automatic getmore, reqrep requests
correlated by reqid, txnid instead of msgid, the 1 s backoff ceiling) so that the C# server can be
tested against what such a client sends, expects and how it recovers. Like the 0.1.0 emulation it
uses asyncio and aiohttp with ``ws_connect``'s default options and sends text frames.

Behaviour:
* ``send(service, data, ref=None, txnid=None, **extra)``: every transaction carries a ``txnid``
  (``_mkio_t<n>`` unless given) and a ref only when given. The reply is matched by ref, then by
  txnid when the server echoes it, else it is the oldest unanswered ref-less send (replies come in
  request order).
* ``subscribe(service, protocol, ...)`` returns an async iterator over the subscription's
  messages; subscriptions are keyed by ``subid`` (``_mkio_s<n>`` unless given), several per
  service. A snapshot with ``hasmore`` is followed by an automatic ``getmore``. A ``nack`` is
  yielded once, then the subscription is removed (not resubscribed) and the iterator ends.
* ``request(service, data, reqid=None)``: reqrep; ``reqid`` defaults to ``make_ref()``. A reply
  or error is matched by reqid; a nack or error without one settles the oldest pending request.
* ``identify(**versions)``: ``request("_mkio", versions)`` and returns its ``row``.
* Reconnect: on a lost socket, wait the backoff (doubling, at most ``backoff_max`` = 1 s), open a
  new socket and send every subscription again with its subid, protocol, options and last ref.
  Pending requests stay pending.

It reuses the 0.1.0 emulation's transport, receive loop and reconnect. Test instrumentation:
``sent`` (every message sent, parsed), ``sent_frames`` and ``connects``.
"""

import asyncio
import itertools
import json

from mkio_client_0_1_0 import MkioClient, make_ref

__all__ = ["LaterMkioClient", "make_ref"]


class _Subscription:
    def __init__(self, service, protocol, subid, options):
        self.service = service
        self.protocol = protocol
        self.subid = subid
        self.options = options  # filter, fields, snapshot, updates, topic, maxcount
        self.ref = options.pop("ref", None)
        self.queue = asyncio.Queue()

    def message(self):
        msg = {"service": self.service, "type": "subscribe", "protocol": self.protocol, "subid": self.subid}
        for key in ("filter", "fields", "topic", "maxcount"):
            if self.options.get(key) is not None:
                msg[key] = self.options[key]
        for key in ("snapshot", "updates"):
            if self.options.get(key) is False:
                msg[key] = False
        if self.ref:
            msg["ref"] = self.ref
        return msg


class LaterMkioClient(MkioClient):
    """The later client: the 0.1.0 emulation's transport, receive loop and reconnect, later messages and routing."""

    def __init__(self, url, reconnect=True, backoff_base=0.1, backoff_max=1.0):
        super().__init__(url, reconnect, backoff_base, backoff_max)
        self._ids = itertools.count(1)
        self._by_ref = {}         # ref -> future (sends with a ref)
        self._by_txnid = {}       # txnid -> future
        self._sends = []          # (txnid, future) of sends in order, for replies without a match
        self._requests = {}       # reqid -> future, in send order
        self._subscriptions = {}  # subid -> _Subscription

    @property
    def sent(self):
        """Every message sent, parsed."""
        return [json.loads(f) for f in self.sent_frames]

    async def send(self, service, data, ref=None, txnid=None, **extra):
        msg = {"service": service, "data": data}
        msg.update(extra)
        msg["txnid"] = txnid or f"_mkio_t{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        if ref is not None:
            msg["ref"] = ref
            self._by_ref[ref] = future
        self._by_txnid[msg["txnid"]] = future
        self._sends.append((msg["txnid"], future))
        await self._send_json(msg)
        return await future

    async def request(self, service, data=None, reqid=None):
        reqid = reqid or make_ref()
        future = asyncio.get_running_loop().create_future()
        self._requests[reqid] = future
        await self._send_json({"service": service, "type": "request", "reqid": reqid, "data": data or {}})
        return await future

    async def identify(self, **versions):
        reply = await self.request("_mkio", versions)
        if reply.get("type") != "reply":
            raise RuntimeError(reply.get("message", "no identity"))
        return reply["row"]

    def subscribe(self, service, protocol, subid=None, **options):
        sub = _Subscription(service, protocol, subid or f"_mkio_s{next(self._ids)}", dict(options))
        self._subscriptions[sub.subid] = sub
        return self._iterate(sub)

    async def unsubscribe(self, subid):
        sub = self._subscriptions.pop(subid, None)
        if sub is not None:
            await self._send_json({"service": sub.service, "type": "unsubscribe", "subid": subid})

    async def _iterate(self, sub):
        await self._send_json(sub.message())
        while True:
            msg = await sub.queue.get()
            yield msg
            if msg.get("type") == "nack":
                return

    @staticmethod
    def _settle(future, msg):
        if future is not None:
            MkioClient._resolve(future, msg)

    def _take_send(self, txnid=None):
        for i, (t, future) in enumerate(self._sends):
            if txnid is None or t == txnid:
                del self._sends[i]
                self._by_txnid.pop(t, None)
                return future
        return None

    def _dispatch(self, msg):
        kind = msg.get("type")
        reqid = msg.get("reqid")
        if kind in ("reply", "error", "nack") and reqid in self._requests:
            self._settle(self._requests.pop(reqid), msg)
            return
        if kind in ("result", "error"):
            ref, txnid = msg.get("ref"), msg.get("txnid")
            if ref and ref in self._by_ref:
                future = self._by_ref.pop(ref)
                self._sends = [s for s in self._sends if s[1] is not future]
                self._settle(future, msg)
                return
            if txnid and txnid in self._by_txnid:
                self._settle(self._take_send(txnid), msg)
                return
        sub = self._subscriptions.get(msg.get("subid"))
        if sub is not None:
            if msg.get("ref"):
                sub.ref = msg["ref"]
            if kind == "nack":
                del self._subscriptions[sub.subid]
            elif kind == "snapshot" and msg.get("hasmore"):
                asyncio.get_running_loop().create_task(
                    self._send_json({"service": sub.service, "type": "getmore", "subid": sub.subid}))
            sub.queue.put_nowait(msg)
            return
        if kind == "result" and self._sends:
            self._settle(self._take_send(), msg)
        elif kind in ("error", "nack") and self._requests:
            self._settle(self._requests.pop(next(iter(self._requests))), msg)
        elif kind == "error" and self._sends:
            self._settle(self._take_send(), msg)
