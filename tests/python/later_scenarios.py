"""Drives the later-generation Python client emulation against a running server.

Usage: python3 tests/python/later_scenarios.py <ws-url>

The server must run tests/later/later.mkio.toml (a config written the later way) on a database
file. The scenario prints one JSON object per line (key "step" names the observation; the last line
is {"step": "done"}) and exits 0; on a failure or timeout it prints "FAILED: <reason>" on stderr and
exits 1. After the "ready" step the harness restarts the server on the same URL and file.
tests/Mkio.Browser.Tests/PythonClientTests.Later.cs runs it and asserts on the observations.

Steps: identify (with a compatible and an incompatible version), send (txnid), paged (a query
subscription with maxcount 2: the pages and the getmores sent), filtered (a row leaving the
filter), request (value, error, unknown service), nack (protocol mismatch), ready (a stream
subscription with its cursor), resumed (the resubscribe and the rows after the restart), done.
"""

import asyncio
import json
import sys
import uuid

from mkio_client_later import LaterMkioClient
from scenarios import ScenarioError, bounded, emit

AWAY_TIMEOUT = 30


async def until(iterator, predicate, what, timeout=10):
    """Messages of a subscription until one satisfies predicate (returned with those before it)."""
    seen = []
    while True:
        msg = await bounded(iterator.__anext__(), what, timeout)
        seen.append(msg)
        if predicate(msg):
            return seen


async def run(url):
    run_id = uuid.uuid4().hex[:8]
    client = LaterMkioClient(url)
    await bounded(client.connect(), "connect")
    try:
        ok = await bounded(client.identify(version="1.4", protocol="1.0"), "identify")
        bad = await bounded(client.identify(version="2.0"), "identify 2.0")
        emit("identify", name=ok["name"], version=ok["version"], compatible=ok.get("compatible"),
             services=ok["services"], incompatible=bad.get("compatible"), compatibility=bad.get("compatibility"))

        ids = [f"{run_id}{i}" for i in range(5)]
        replies = [await bounded(client.send("put", {"id": i, "name": run_id, "qty": n}), "put") for n, i in enumerate(ids)]
        puts = [m for m in client.sent if m.get("service") == "put"]
        emit("send", types=[r["type"] for r in replies], txnids=[m["txnid"] for m in puts], keys=list(puts[0].keys()))

        paged = client.subscribe("items", "query", filter=f"name == '{run_id}'", maxcount=2)
        pages = await until(paged, lambda m: m["type"] == "snapshot" and not m["hasmore"], "pages")
        sub_id = pages[0]["subid"]
        emit("paged", subscribe=next(m for m in client.sent if m.get("subid") == sub_id and m.get("type") == "subscribe"),
             pages=[[r["_mkio_row"] for r in p["rows"]] for p in pages],
             getmores=len([m for m in client.sent if m.get("type") == "getmore" and m["subid"] == sub_id]))

        filtered = client.subscribe("items", "query", filter="qty > 3", fields=["qty"])
        snapshot = await bounded(filtered.__anext__(), "filtered snapshot")
        await bounded(client.send("put", {"id": ids[4], "name": run_id, "qty": 1}), "put qty 1")
        gone = await until(filtered, lambda m: m["type"] == "update", "filter-out delete")
        emit("filtered", snapshot=snapshot["rows"], update=gone[-1])

        value = await bounded(client.request("stock", {"item": ids[3].upper()}), "request")
        error = await bounded(client.request("items", {}), "request to a query service")
        unknown = await bounded(client.request("nope"), "request to an unknown service")
        emit("request", value=value, error=error, unknown=unknown)

        wrong = client.subscribe("items", "stream")
        nack = await bounded(wrong.__anext__(), "protocol mismatch nack")
        emit("nack", nack=nack, removed=nack["subid"] not in client._subscriptions)

        feed = client.subscribe("feed", "stream")
        before = f"{run_id}-before"
        await bounded(client.send("log", {"text": before}), "log before")
        seen = await until(feed, lambda m: any(r.get("text") == before for r in m.get("rows", [m.get("row") or {}])), "stream before")
        feed_sub = next(iter(s for s in client._subscriptions.values() if s.service == "feed"))
        emit("ready", cursor=feed_sub.ref, connects=client.connects)

        resumed = await until(feed, lambda m: m["type"] == "snapshot", "the resubscribe's snapshot", AWAY_TIMEOUT)
        after = f"{run_id}-after"
        reply = await bounded(client.send("log", {"text": after}), "log after", timeout=AWAY_TIMEOUT)
        live = await until(feed, lambda m: m["type"] == "update" and m["row"].get("text") == after, "stream after")
        resubscribes = [m for m in client.sent if m.get("type") == "subscribe" and m.get("subid") == feed_sub.subid]
        emit("resumed", connects=client.connects, resubscribe=resubscribes[-1], snapshot=resumed[-1],
             reply=reply["type"], live=live[-1], before_seen=len(seen))
    finally:
        await client.close()
    emit("done")


def main():
    url = sys.argv[1]
    try:
        asyncio.run(run(url))
    except (ScenarioError, Exception) as e:  # noqa: BLE001 - report any failure to the harness
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
