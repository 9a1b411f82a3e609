// Offline tests of mkio.js: no mkio server needed. A scripted fake server (tests/js/_miniws.mjs)
// plays the server side so that the client's exact wire messages, dispatch rules, reconnect and
// backoff behaviour (CLIENTS.md §3) can be checked deterministically.
//
// Run: node --test tests/js/offline.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { MiniWebSocket, MiniWsServer } from "./_miniws.mjs";
import {
  BaseWebSocket, DEFAULT_JS, REF_RE, closedPort, evalScript, loadClient, recordingWebSocket, sleep,
  waitFor, withTimeout,
} from "./_support.mjs";

const { MkioClient, makeRef } = await loadClient();
const T = 5000; // per-await bound

/** Start a fake server; `reply(conn, msg)` scripts its answers. */
async function fake(reply = () => {}) {
  const server = new MiniWsServer({ onMessage: (conn, msg) => reply(conn, msg) });
  await server.listen();
  return server;
}

/** A client on `url` with a recording WebSocket; extra options merged in. */
function client(url, opts = {}) {
  const rec = recordingWebSocket();
  const c = new MkioClient(url, { WebSocket: rec.WebSocket, ...opts });
  return { c, log: rec.log };
}

test("exports, makeRef format and counter", () => {
  assert.equal(typeof MkioClient, "function");
  assert.equal(MkioClient.makeRef, makeRef);
  const r = makeRef();
  assert.match(r, REF_RE);
  const realNow = Date.now;
  try {
    Date.now = () => Date.UTC(2026, 3, 4, 15, 30, 45, 123);
    assert.equal(makeRef(), "20260404 15:30:45.123000000000");
    assert.equal(makeRef(), "20260404 15:30:45.123000000001");
    assert.equal(makeRef(), "20260404 15:30:45.123000000002");
    Date.now = () => Date.UTC(2026, 3, 4, 15, 30, 45, 124);
    assert.equal(makeRef(), "20260404 15:30:45.124000000000");
  } finally {
    Date.now = realNow;
  }
  const refs = Array.from({ length: 1000 }, () => makeRef());
  assert.equal(new Set(refs).size, 1000);
  for (let i = 1; i < refs.length; i++) assert.ok(refs[i - 1] < refs[i], "refs increase");
});

test("script text: identifiers, no imports, browser globals", () => {
  const text = fs.readFileSync(DEFAULT_JS, "utf8");
  assert.match(text, /MkioClient/);
  assert.match(text, /makeRef/);
  assert.doesNotMatch(text, /^\s*import\s/m);
  assert.doesNotMatch(text, /\brequire\s*\(/);
  const window = {};
  new Function("window", "module", text)(window, undefined); // as a browser <script>
  assert.equal(typeof window.MkioClient, "function");
  assert.equal(typeof window.mkioMakeRef, "function");
  assert.equal(window.MkioClient.makeRef, window.mkioMakeRef);
  const cjs = evalScript(text);
  assert.deepEqual(Object.keys(cjs).sort(), ["MkioClient", "makeRef"]);
});

test("constructor defaults", () => {
  const c = new MkioClient("ws://127.0.0.1:1/ws");
  assert.equal(c.reconnect, true);
  assert.equal(c.backoffBase, 100);
  assert.equal(c.backoffMax, 30000);
  assert.equal(c.connectTimeout, 10000);
  assert.ok(c._subscriptions instanceof Map);
  assert.ok(c._pending instanceof Map);
  assert.equal(new MkioClient("ws://x/ws", { reconnect: 0 }).reconnect, true, "only false disables");
  assert.equal(new MkioClient("ws://x/ws", { reconnect: false }).reconnect, false);
});

test("send: message shape, ref echo, error replies resolve", async () => {
  const server = await fake((conn, msg) => {
    if (msg.data && msg.data.bad) conn.send({ type: "error", message: "Missing field: 'symbol'", ref: msg.ref });
    else conn.send({ type: "result", service: msg.service, ref: msg.ref, ok: true });
  });
  const { c, log } = client(server.url);
  try {
    await withTimeout(c.connect(), T, "connect");
    const reply = await withTimeout(c.send("orders", { id: "1" }, { op: "new", msgid: "req-42" }), T, "send");
    assert.deepEqual(Object.keys(log.sent[0]), ["service", "data", "op", "msgid", "ref"]);
    assert.match(log.sent[0].ref, REF_RE);
    assert.deepEqual(reply, { type: "result", service: "orders", ref: log.sent[0].ref, ok: true });
    assert.equal(c._pending.size, 0);

    const own = await withTimeout(c.send("orders", { id: "2" }, { ref: "r-own" }), T, "send with ref");
    assert.equal(own.ref, "r-own");
    assert.deepEqual(log.sent[1], { service: "orders", data: { id: "2" }, ref: "r-own" });

    const err = await withTimeout(c.send("orders", { bad: true }), T, "send error");
    assert.equal(err.type, "error");
    assert.equal(err.message, "Missing field: 'symbol'");
    assert.ok(log.received.every((r) => r.binary), "fake server sends binary frames");
  } finally {
    c.close();
    await server.close();
  }
});

test("send/check while not connected reject with Error('not connected')", async () => {
  const c = new MkioClient("ws://127.0.0.1:1/ws", { WebSocket: BaseWebSocket });
  await assert.rejects(c.send("x", {}), { message: "not connected" });
  await assert.rejects(c.check("x", "r"), { message: "not connected" });
  assert.equal(c._pending.size, 0);
});

test("dispatch: only result/error resolve; cursor; callbacks; text frames", async () => {
  let conn0;
  const server = await fake((conn, msg) => {
    conn0 = conn;
    if (msg.type === "subscribe") {
      conn.send({ type: "snapshot", service: msg.service, ref: "", rows: [{ id: "a" }] });
    } else if (!msg.type) {
      // update with the transaction's ref first (as the reference server usually does), then result
      conn.send({ type: "update", service: "all_orders", ref: msg.ref, op: "insert", row: { id: msg.data.id } });
      conn.send({ type: "result", service: msg.service, ref: msg.ref, ok: true }, { text: true });
    }
  });
  const events = [];
  const { c, log } = client(server.url);
  try {
    await withTimeout(c.connect(), T, "connect");
    c.subscribe("all_orders", {
      onSnapshot(rows) { events.push(["snapshot", rows, this]); },
      onDelta(changes) { events.push(["delta", changes]); },
      onUpdate(op, row) { events.push(["update", op, row]); },
    });
    assert.deepEqual(log.sent[0], { service: "all_orders", type: "subscribe" });
    await waitFor(() => events.length === 1, T, "snapshot");
    assert.deepEqual(events[0].slice(0, 2), ["snapshot", [{ id: "a" }]]);
    assert.equal(events[0][2], c._subscriptions.get("all_orders"), "callbacks are called on the record");
    assert.equal(c._subscriptions.get("all_orders").ref, null, "empty snapshot ref is not a cursor");

    const reply = await withTimeout(c.send("add_order", { id: "n1" }, { ref: "r1" }), T, "send");
    assert.equal(reply.type, "result", "the update carrying the same ref does not resolve the send");
    assert.deepEqual(events[1], ["update", "insert", { id: "n1" }]);
    assert.equal(c._subscriptions.get("all_orders").ref, "r1");

    conn0.send({ type: "delta", service: "all_orders", ref: "r9", changes: [{ op: "delete", row: { id: "a" } }] });
    conn0.send({ type: "update", service: "other", ref: "zz", op: "insert", row: {} }); // not subscribed: ignored
    conn0.send("not json");
    conn0.send([1, 2]);
    await waitFor(() => events.length === 3, T, "delta");
    assert.deepEqual(events[2], ["delta", [{ op: "delete", row: { id: "a" } }]]);
    assert.equal(c._subscriptions.get("all_orders").ref, "r9");
    assert.deepEqual([...c._subscriptions.keys()], ["all_orders"]);
    const rec = c._subscriptions.get("all_orders");
    for (const k of ["service", "filter", "ref", "onSnapshot", "onDelta", "onUpdate"]) assert.ok(k in rec, k);
  } finally {
    c.close();
    await server.close();
  }
});

test("frames with Python's bare NaN / Infinity / -Infinity are parsed, not dropped", async () => {
  let conn0;
  const server = await fake((conn, msg) => {
    conn0 = conn;
    if (msg.type === "subscribe") {
      conn.send('{"type":"snapshot","service":"m","ref":"r1","rows":[{"id":"a","x":NaN}]}');
    }
  });
  const events = [];
  const { c } = client(server.url);
  try {
    await withTimeout(c.connect(), T, "connect");
    c.subscribe("m", {
      onSnapshot(rows) { events.push(["snapshot", rows]); },
      onUpdate(op, row) { events.push(["update", op, row]); },
    });
    await waitFor(() => events.length === 1, T, "snapshot");
    assert.ok(Number.isNaN(events[0][1][0].x), "NaN in a snapshot row");
    conn0.send('{"type":"update","service":"m","ref":"r2","op":"insert","row":{"id":"b","x":Infinity,"y":-Infinity,"s":"NaN \\" Infinity"}}');
    conn0.send('{"type":"update","service":"m","ref":"r3","op":"insert","row":{"id":"c","x":NaNa}}'); // still not JSON: ignored
    conn0.send('{"type":"update","service":"m","ref":"r4","op":"insert","row":{"id":"d","x":1}}');
    await waitFor(() => events.length === 3, T, "updates");
    assert.deepEqual(events[1], ["update", "insert", { id: "b", x: Infinity, y: -Infinity, s: 'NaN " Infinity' }]);
    assert.deepEqual(events[2], ["update", "insert", { id: "d", x: 1 }]);
    assert.equal(c._subscriptions.get("m").ref, "r4");
  } finally {
    c.close();
    await server.close();
  }
});

test("subscribe: filter and ref sent when truthy; unsubscribe; check", async () => {
  const server = await fake((conn, msg) => {
    if (msg.type === "check") conn.send({ type: "result", service: msg.service, ref: msg.ref, status: "unknown", ok: true });
  });
  const { c, log } = client(server.url);
  try {
    await withTimeout(c.connect(), T, "connect");
    c.subscribe("all_orders", { filter: "status == 'pending'", ref: "r5" });
    c.subscribe("audit_feed", { filter: "", ref: "" });
    c.unsubscribe("all_orders");
    const chk = await withTimeout(c.check("add_order", "r7"), T, "check");
    assert.deepEqual(chk, { type: "result", service: "add_order", ref: "r7", status: "unknown", ok: true });
    assert.deepEqual(log.sent[0], { service: "all_orders", type: "subscribe", filter: "status == 'pending'", ref: "r5" });
    assert.deepEqual(log.sent[1], { service: "audit_feed", type: "subscribe" });
    assert.equal(log.sent[2].service, "all_orders");
    assert.equal(log.sent[2].type, "unsubscribe");
    assert.match(log.sent[2].ref, REF_RE);
    assert.deepEqual(log.sent[3], { service: "add_order", type: "check", ref: "r7" });
    assert.deepEqual([...c._subscriptions.keys()], ["audit_feed"]);
  } finally {
    c.close();
    await server.close();
  }
});

test("nack removes the subscription it rejects and calls onNack", async () => {
  const server = await fake((conn, msg) => {
    if (msg.type !== "subscribe") return;
    if (msg.filter && msg.filter.includes("'open")) conn.send({ type: "nack", service: msg.service, message: "Unterminated string" });
    else conn.send({ type: "snapshot", service: msg.service, ref: "s1", rows: [] });
  });
  const nacks = [];
  const { c, log } = client(server.url, { onNack: (service, m) => nacks.push(["client", service, m.message]) });
  try {
    await withTimeout(c.connect(), T, "connect");
    c.subscribe("all_orders", { filter: "status == 'open", onNack: (m) => nacks.push(["sub", m.type]) });
    c.subscribe("last_trade", { filter: "status == 'open" });
    await waitFor(() => nacks.length === 2, T, "two nacks");
    assert.deepEqual(nacks, [["sub", "nack"], ["client", "last_trade", "Unterminated string"]]);
    assert.equal(c._subscriptions.size, 0);

    // A bad subscribe immediately replaced by a good one: the nack must not remove the good one.
    let snap = 0;
    c.subscribe("all_orders", { filter: "status == 'open" });
    c.subscribe("all_orders", { filter: "status == 'pending'", onSnapshot: () => snap++ });
    await waitFor(() => nacks.length === 3 && snap === 1, T, "nack then snapshot");
    assert.equal(c._subscriptions.get("all_orders").filter, "status == 'pending'");
    assert.equal(c._subscriptions.get("all_orders").ref, "s1");

    // Nacked subscriptions are not resubscribed after a reconnect.
    for (const conn of server.connections) conn.kill();
    await waitFor(() => log.sockets === 2 && log.sent.length === 5, T, "resubscribe");
    assert.deepEqual(log.sent[4], { service: "all_orders", type: "subscribe", filter: "status == 'pending'", ref: "s1" });
  } finally {
    c.close();
    await server.close();
  }
});

test("reconnect: backoff, resubscribe with filter and cursor, callbacks, pending survive", async () => {
  const server = await fake((conn, msg) => {
    if (msg.type === "subscribe") conn.send({ type: "snapshot", service: msg.service, ref: "c1", rows: [] });
  });
  const port = server.port;
  const starts = [];
  const rec = recordingWebSocket();
  class Timed extends rec.WebSocket { constructor(u) { starts.push(Date.now()); super(u); } }
  let connects = 0, disconnects = 0;
  const c = new MkioClient(server.url, {
    WebSocket: Timed, backoffBase: 50, backoffMax: 200,
    onConnect() { connects++; }, onDisconnect() { disconnects++; },
  });
  let restarted;
  try {
    await withTimeout(c.connect(), T, "connect");
    c.subscribe("all_orders", { filter: "qty > 1" });
    await waitFor(() => c._subscriptions.get("all_orders").ref === "c1", T, "cursor");
    const pending = c.send("add_order", { id: "p" }, { ref: "p1" }); // never answered by the first server
    await server.close(); // drops the socket and refuses new connections
    await waitFor(() => starts.length >= 6, T, "several reconnect attempts");
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    // delays 50, 100, 200, 200, 200 (+ connection-refused latency)
    assert.ok(gaps[0] >= 45 && gaps[1] >= 95 && gaps[2] >= 195 && gaps[3] >= 195, `gaps ${gaps}`);
    assert.ok(gaps[3] < 600 && gaps[4] < 600, `capped at backoffMax: ${gaps}`);
    assert.ok(disconnects >= 2, "onDisconnect on every close");
    assert.equal(connects, 1);

    restarted = new MiniWsServer({
      onMessage: (conn, msg) => {
        if (msg.type === "subscribe") {
          conn.send({ type: "delta", service: msg.service, ref: "c2", changes: [] });
          conn.send({ type: "result", service: "add_order", ref: "p1", ok: true }); // answer the old request
        }
      },
    });
    await restarted.listen(port);
    await waitFor(() => connects === 2, T, "second onConnect");
    const resub = rec.log.sent.filter((m) => m.type === "subscribe");
    assert.deepEqual(resub.at(-1), { service: "all_orders", type: "subscribe", filter: "qty > 1", ref: "c1" });
    assert.equal(c._backoff, 50, "backoff reset after a successful open");
    assert.equal((await withTimeout(pending, T, "old pending send")).type, "result");
    await waitFor(() => c._subscriptions.get("all_orders").ref === "c2", T, "cursor from delta");
  } finally {
    c.close();
    await server.close();
    if (restarted) await restarted.close();
  }
});

test("close() cancels a pending reconnect; no reconnect after close()", async () => {
  const server = await fake();
  const { c, log } = client(server.url, { backoffBase: 100 });
  let disconnects = 0;
  c.onDisconnect = () => disconnects++;
  try {
    await withTimeout(c.connect(), T, "connect");
    for (const conn of server.connections) conn.kill();
    await waitFor(() => disconnects === 1, T, "disconnect");
    c.close(); // reconnect timer is pending now
    await sleep(300);
    assert.equal(log.sockets, 1, "no reconnect attempt after close()");

    await withTimeout(c.connect(), T, "connect again after close()");
    c.close();
    await waitFor(() => disconnects === 2, T, "onDisconnect after close()");
    await sleep(250);
    assert.equal(log.sockets, 2);
  } finally {
    c.close();
    await server.close();
  }
});

test("a superseded socket's events are ignored", async () => {
  const server = await fake((conn, msg) => conn.send({ type: "result", service: msg.service, ref: msg.ref, ok: true }));
  let disconnects = 0;
  const { c, log } = client(server.url, { onDisconnect: () => disconnects++ });
  try {
    await withTimeout(c.connect(), T, "connect 1");
    await withTimeout(c.connect(), T, "connect 2"); // replaces (and closes) the first socket
    await sleep(200);
    assert.equal(disconnects, 0, "closing the superseded socket is not a disconnect");
    assert.equal(log.sockets, 2);
    assert.equal((await withTimeout(c.send("s", {}), T, "send")).type, "result");
  } finally {
    c.close();
    await server.close();
  }
});

test("a connect() still in progress is rejected when superseded; close() rejects the current one", async () => {
  const hang = new MiniWsServer({ hang: true });
  await hang.listen();
  const c = new MkioClient(hang.url, { WebSocket: BaseWebSocket, connectTimeout: 4000 });
  try {
    const first = c.connect();
    const second = c.connect();
    await assert.rejects(withTimeout(first, T, "first connect"), /superseded/);
    c.close();
    await assert.rejects(withTimeout(second, T, "second connect"), /mkio: cannot connect/);
  } finally {
    c.close();
    await hang.close();
  }
});

test("subscribe() before the socket is open is sent once it opens", async () => {
  const server = await fake();
  const { c, log } = client(server.url);
  try {
    c.subscribe("all_orders", { filter: "status == 'pending'" });
    assert.equal(log.sent.length, 0);
    await withTimeout(c.connect(), T, "connect");
    assert.deepEqual(log.sent, [{ service: "all_orders", type: "subscribe", filter: "status == 'pending'" }]);
  } finally {
    c.close();
    await server.close();
  }
});

test("connect() rejects: refused port, handshake timeout, bad URL, no WebSocket", async () => {
  const port = await closedPort();
  const t0 = Date.now();
  const refused = new MkioClient(`ws://127.0.0.1:${port}/ws`, { WebSocket: BaseWebSocket, reconnect: false });
  await assert.rejects(withTimeout(refused.connect(), T, "refused connect"), /mkio: cannot connect to ws:\/\/127\.0\.0\.1/);
  assert.ok(Date.now() - t0 < T);
  refused.close();

  const hang = new MiniWsServer({ hang: true });
  await hang.listen();
  const slow = new MkioClient(hang.url, { WebSocket: BaseWebSocket, connectTimeout: 300 });
  try {
    await assert.rejects(withTimeout(slow.connect(), T, "hanging connect"), /not open after 300 ms/);
  } finally {
    slow.close(); // also cancels the reconnect scheduled after the failed attempt
    await hang.close();
  }

  const bad = new MkioClient("not a url", { WebSocket: MiniWebSocket });
  await assert.rejects(withTimeout(bad.connect(), T, "bad url"), /mkio: cannot connect to not a url/);
  bad.close();

  const none = new MkioClient("ws://127.0.0.1:1/ws", { WebSocket: null });
  if (typeof globalThis.WebSocket !== "function") {
    await assert.rejects(none.connect(), /no WebSocket implementation/);
  }
  none.close();
});

test("later mode is opt-in: the default client sends the 0.1.0 subscribe", async () => {
  const server = await fake((conn, msg) => {
    if (msg.type === "subscribe") conn.send({ type: "snapshot", service: msg.service, ref: "", rows: [] });
  });
  const { c, log } = client(server.url);
  try {
    await withTimeout(c.connect(), T, "connect");
    assert.equal(c.later, false);
    assert.equal(c.subscribe("items", { filter: "qty > 1" }), undefined);
    await waitFor(() => log.sent.length === 1, T, "subscribe");
    assert.deepEqual(log.sent[0], { service: "items", type: "subscribe", filter: "qty > 1" });
    assert.ok(c._subscriptions.has("items"), "0.1.0: keyed by service");
  } finally {
    c.close();
    await server.close();
  }
});

test("later mode: subscribe(service, protocol, opts) with subid, auto getmore, onSnapshot once; request; send txnid; nack settles the oldest request", async () => {
  const pages = [[{ id: "a" }, { id: "b" }], [{ id: "c" }]];
  const server = await fake((conn, msg) => {
    if (msg.type === "subscribe" || msg.type === "getmore") {
      const rows = pages.shift();
      conn.send({ type: "snapshot", service: msg.service, rows, hasmore: pages.length > 0, subid: msg.subid });
    } else if (msg.type === "request" && msg.service === "nope") {
      conn.send({ type: "nack", service: "nope", message: "Unknown service: 'nope'. Available services: items" });
    } else if (msg.type === "request") {
      conn.send({ type: "reply", service: msg.service, reqid: msg.reqid, value: 42 });
    } else if (msg.data) {
      conn.send({ type: "result", service: msg.service, ref: msg.ref, txnid: msg.txnid });
    }
  });
  const { c, log } = client(server.url, { protocol: "later" });
  try {
    await withTimeout(c.connect(), T, "connect");
    const snapshots = [];
    const subid = c.subscribe("items", "query", { maxcount: 2, fields: ["id"], onSnapshot(rows) { snapshots.push(rows); } });
    await waitFor(() => snapshots.length === 1, T, "snapshot");
    assert.match(subid, /^_mkio_s\d+$/);
    assert.deepEqual(log.sent[0], { service: "items", type: "subscribe", protocol: "query", subid, fields: ["id"], maxcount: 2 });
    assert.deepEqual(log.sent[1], { service: "items", type: "getmore", subid });
    assert.deepEqual(snapshots, [[{ id: "a" }, { id: "b" }, { id: "c" }]], "pages gathered, onSnapshot once");

    const reply = await withTimeout(c.request("price", { item: "a" }), T, "request");
    assert.equal(reply.value, 42);
    assert.deepEqual(Object.keys(log.sent[2]), ["service", "type", "reqid", "data"]);
    const nack = await withTimeout(c.request("nope"), T, "request to an unknown service");
    assert.equal(nack.type, "nack");

    const result = await withTimeout(c.send("put", { id: "x" }), T, "send");
    assert.match(result.txnid, /^_mkio_t\d+$/);
    c.unsubscribe(subid);
    await waitFor(() => log.sent.some((m) => m.type === "unsubscribe"), T, "unsubscribe");
    assert.deepEqual(log.sent.at(-1), { service: "items", type: "unsubscribe", subid });
  } finally {
    c.close();
    await server.close();
  }
});
