"""Scenarios that drive the mkio 0.1.0 Python client emulation against a running server.

Usage: python3 tests/python/scenarios.py <ws-url> <scenario>

The server must run tests/python/python_client.mkio.toml. Each scenario prints one JSON object
per line (key "step" names the observation; the last line is {"step": "done"}) and exits 0; on a
failure or timeout it prints "FAILED: <reason>" on stderr and exits 1. Every wait is bounded by an
asyncio timeout. tests/Mkio.Browser.Tests/PythonClientTests.cs runs them and asserts on the
observations.

Scenarios:
  send       send without ref, with a make_ref() ref, with op/msgid extras; an error reply;
             a send to a query service (error, FIFO correlation stays aligned).
  subscribe  snapshot first and the cursor; an update from our own send; check of a known and of
             an unknown ref; a send with an explicit ref while subscribed (CLIENTS.md 2.5 rule 1).
  reconnect  subscribe, see two updates, print the "ready" step, then wait while the harness
             restarts the server (and commits changes while the client is away); print what
             the client received after it reconnected and resubscribed with its cursor.
"""

import asyncio
import json
import sys
import uuid

from mkio_client_0_1_0 import MkioClient, make_ref

STEP_TIMEOUT = 10    # seconds, for one request/reply or one subscription message
AWAY_TIMEOUT = 20    # seconds, for the harness to restart the server (reconnect scenario)


class ScenarioError(Exception):
    """A wait that timed out."""


def emit(step, **observations):
    print(json.dumps({"step": step, **observations}), flush=True)


async def bounded(awaitable, what, timeout=STEP_TIMEOUT):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise ScenarioError(f"timed out after {timeout} s: {what}") from None


def last_frame(client):
    return client.sent_frames[-1]


def order(order_id, symbol="PYC", qty=1):
    return {"id": order_id, "symbol": symbol, "qty": qty}


async def new_order(client, what, order_id, symbol="PYC", qty=1, **extra):
    """Send an ``orders`` transaction with op "new" and return the reply."""
    reply = client.send("orders", order(order_id, symbol, qty), op="new", **extra)
    return await bounded(reply, what)


def cursor_of(client, service="all_orders"):
    return client._subscriptions[service].ref


async def scenario_send(url):
    run = uuid.uuid4().hex[:8]
    async with MkioClient(url, reconnect=False) as client:
        reply = await new_order(client, "send without ref", f"{run}-1")
        emit("send_no_ref", frame=last_frame(client), reply=reply)

        ref = make_ref()
        reply = await new_order(client, "send with ref", f"{run}-2", ref=ref)
        emit("send_with_ref", ref=ref, frame=last_frame(client), reply=reply)

        reply = await new_order(client, "send with msgid", f"{run}-3", msgid="req-42")
        emit("send_extras", frame=last_frame(client), reply=reply)

        reply = await new_order(client, "duplicate id", f"{run}-1", msgid="dup")
        emit("send_error", frame=last_frame(client), reply=reply)

        # A transaction sent to a query service is answered with an error (F15); the next
        # ref-less send must still get its own reply (FIFO correlation, CLIENTS.md 2.5 rule 2).
        reply = await bounded(client.send("all_orders", {}), "send to a query service")
        emit("send_to_query", frame=last_frame(client), reply=reply)
        reply = await new_order(client, "send after the error", f"{run}-4", msgid="after")
        emit("send_after_error", frame=last_frame(client), reply=reply)

        emit("frames", received_kinds=sorted(set(client.received_kinds)),
             received=len(client.received_kinds))
    emit("done")


async def scenario_subscribe(url):
    run = uuid.uuid4().hex[:8]
    async with MkioClient(url, reconnect=False) as client:
        first = await new_order(client, "first order", f"{run}-1")
        emit("first_order", reply=first)

        events = client.subscribe("all_orders")
        snapshot = await bounded(anext(events), "snapshot")
        emit("snapshot", frame=last_frame(client), message=snapshot, cursor=cursor_of(client))

        reply = await new_order(client, "second order", f"{run}-2", qty=2)
        update = await bounded(anext(events), "update of the second order")
        emit("update", reply=reply, message=update, cursor=cursor_of(client))

        known = await bounded(client.check("orders", reply["ref"]), "check of a committed ref")
        emit("check_known", frame=last_frame(client), reply=known)
        unknown_ref = make_ref()
        unknown = await bounded(client.check("orders", unknown_ref), "check of an unknown ref")
        emit("check_unknown", ref=unknown_ref, frame=last_frame(client), reply=unknown)

        # Rule 1 quirk: with an explicit ref, whichever of update/result carries it first wins.
        ref = make_ref()
        reply = await new_order(client, "send with ref while subscribed", f"{run}-3", ref=ref)
        emit("send_with_ref_subscribed", ref=ref, reply=reply)
    emit("done")


async def scenario_reconnect(url):
    run = uuid.uuid4().hex[:8]
    symbol = "RC" + run[:4].upper()
    client = MkioClient(url, backoff_base=0.1, backoff_max=1.0)
    await bounded(client.connect(), "connect")
    try:
        events = client.subscribe("all_orders", filter=f"symbol == '{symbol}'")
        snapshot = await bounded(anext(events), "snapshot")
        emit("snapshot", frame=last_frame(client), message=snapshot)
        updates = []
        replies = []
        for i in (1, 2):
            replies.append(await new_order(client, f"order {i}", f"{run}-before-{i}", symbol, i))
            updates.append(await bounded(anext(events), f"update {i}"))
        sent_before = len(client.sent_frames)
        emit("ready", run=run, symbol=symbol, replies=replies, updates=updates,
             cursor=cursor_of(client), connects=client.connects)

        # The harness now stops the server, commits changes while we are away, and starts it again
        # on the same port and database file. The next subscription message comes after the
        # reconnect and the resubscribe with our cursor.
        resumed = await bounded(anext(events), "the first message after the reconnect",
                                AWAY_TIMEOUT)
        emit("resumed", connects=client.connects, resubscribe=client.sent_frames[sent_before:],
             message=resumed, cursor=cursor_of(client))

        reply = await new_order(client, "order after the reconnect", f"{run}-after", symbol, 3)
        update = await bounded(anext(events), "update after the reconnect")
        emit("live", reply=reply, message=update, cursor=cursor_of(client))

        old = await bounded(client.check("orders", replies[0]["ref"]),
                            "check of a ref committed before the restart")
        emit("check_before_restart", reply=old)
    finally:
        await client.close()
    emit("done")


SCENARIOS = {
    "send": scenario_send,
    "subscribe": scenario_subscribe,
    "reconnect": scenario_reconnect,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in SCENARIOS:
        print(f"usage: {argv[0]} <ws-url> <{'|'.join(SCENARIOS)}>", file=sys.stderr)
        return 2
    try:
        asyncio.run(SCENARIOS[argv[2]](argv[1]))
    except ScenarioError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - report anything else the same way
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
