// mkio.js against a REAL mkio server (CONFORMANCE item 144 and the client-facing parts of
// PROTOCOL.md §5–§7).
//
// Run:  MKIO_URL=ws://127.0.0.1:5123/ws node --test tests/js/client.test.mjs
// (tests that need the server are skipped when MKIO_URL is not set; see _support.mjs for
// MKIO_JS=served and MKIO_WS.) Every test uses its own ids, so the server may be shared with
// other tests, but it must be running this configuration ("fixture A", CONFORMANCE.md):
//
//   db_path = ":memory:"
//   batch_max_wait_ms = 1.0
//   [tables.orders]
//   columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'" }
//   [tables.audit_log]
//   columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", event = "TEXT", order_id = "TEXT" }
//   [services.add_order]
//   type = "transaction"
//   ops = [{ table = "orders", op_type = "insert", fields = ["id", "symbol", "qty"] }]
//   [services.all_orders]
//   type = "query"
//   primary_table = "orders"
//   filterable = ["status"]
//   change_log_size = 100
//   [services.audit_feed]
//   type = "stream"
//   primary_table = "audit_log"
//   buffer_size = 100
//   [services.last_trade]
//   type = "subpub"
//   primary_table = "orders"
//   key = "id"
//   filterable = ["status", "symbol"]
//   change_log_size = 100
//
// (Fixture A also has update_order / delete_order; these tests do not use them.)

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MKIO_URL, REF_RE, closedPort, evalScript, httpBase, loadClient, recordingWebSocket, sleep, uid,
  waitFor, withTimeout, BaseWebSocket,
} from "./_support.mjs";

const SKIP = MKIO_URL ? false : "MKIO_URL is not set (no mkio server to test against)";
const { MkioClient, makeRef } = SKIP && process.env.MKIO_JS === "served"
  ? { MkioClient: null, makeRef: null }
  : await loadClient();
const T = 5000;                                  // bound for each await
const OPTS = { skip: SKIP, timeout: 30000 };     // bound for each test

/** Connected client with a recording socket; closed when the test ends. */
async function open(t, opts = {}) {
  const rec = recordingWebSocket();
  const c = new MkioClient(MKIO_URL, { WebSocket: rec.WebSocket, reconnect: false, ...opts });
  t.after(() => c.close());
  await withTimeout(c.connect(), T, `connect to ${MKIO_URL}`);
  return { c, log: rec.log };
}

/** Subscribe and record every callback as an event; resolves after the first snapshot/delta. */
async function subscribe(c, service, opts = {}) {
  const events = [];
  c.subscribe(service, {
    ...opts,
    onSnapshot: (rows) => events.push({ type: "snapshot", rows }),
    onDelta: (changes) => events.push({ type: "delta", changes }),
    onUpdate: (op, row) => events.push({ type: "update", op, row }),
    onNack: (msg) => events.push({ type: "nack", msg }),
  });
  await waitFor(() => events.length > 0, T, `first reply to subscribe ${service}`);
  return events;
}

const order = (id, extra = {}) => ({ id, symbol: "AAPL", qty: 100, ...extra });
const updateFor = (events, id) => events.find((e) => e.type === "update" && e.row && e.row.id === id);

test("connect + send resolves with the result echoing the generated ref", OPTS, async (t) => {
  const { c, log } = await open(t);
  const id = uid();
  const reply = await withTimeout(c.send("add_order", order(id)), T, "send");
  const sent = log.sent[0];
  assert.deepEqual(Object.keys(sent), ["service", "data", "ref"]);
  assert.match(sent.ref, REF_RE);
  assert.equal(reply.type, "result");
  assert.equal(reply.service, "add_order");
  assert.equal(reply.ref, sent.ref, "client ref echoed verbatim");
  assert.equal(reply.ok, true);
  assert.equal(c._pending.size, 0);
  assert.ok(log.received.length > 0 && log.received.every((r) => r.binary), "server sends binary frames");

  const own = makeRef();
  const r2 = await withTimeout(c.send("add_order", order(uid()), { ref: own, msgid: "req-42" }), T, "send with ref+msgid");
  assert.deepEqual(Object.keys(log.sent[1]), ["service", "data", "msgid", "ref"]);
  assert.equal(r2.ref, own);
  assert.equal(r2.msgid, "req-42");
});

test("send resolves (does not reject) with the error for a duplicate id", OPTS, async (t) => {
  const { c } = await open(t);
  const id = uid();
  assert.equal((await withTimeout(c.send("add_order", order(id)), T, "first send")).type, "result");
  const ref = makeRef();
  const err = await withTimeout(c.send("add_order", order(id), { ref }), T, "duplicate send");
  assert.equal(err.type, "error");
  assert.equal(err.message, "UNIQUE constraint failed: orders.id");
  assert.equal(err.ref, ref);
  assert.equal(c._pending.size, 0);
});

test("send to a listener service or an unknown service resolves with an error", OPTS, async (t) => {
  const { c } = await open(t);
  const e1 = await withTimeout(c.send("all_orders", { id: "x" }), T, "send to query service (F15)");
  assert.equal(e1.type, "error");
  assert.ok(e1.message.length > 0);
  const e2 = await withTimeout(c.send("nosuch_js_service", {}), T, "send to unknown service");
  assert.equal(e2.type, "error");
  assert.equal(e2.message, "Unknown service: nosuch_js_service");
});

test("subscribe all_orders: snapshot, then an update after a send; cursor follows refs", OPTS, async (t) => {
  const { c, log } = await open(t);
  const events = await subscribe(c, "all_orders");
  assert.deepEqual(log.sent[0], { service: "all_orders", type: "subscribe" });
  assert.equal(events[0].type, "snapshot");
  assert.ok(Array.isArray(events[0].rows));
  const snap = log.received.find((r) => r.msg.type === "snapshot").msg;
  assert.equal(c._subscriptions.get("all_orders").ref, snap.ref || null, "snapshot ref (when non-empty) is the cursor");

  const id = uid();
  const reply = await withTimeout(c.send("add_order", order(id, { qty: 7 })), T, "send");
  assert.equal(reply.type, "result", "send is resolved by the result, not by the update with the same ref");
  const upd = await waitFor(() => updateFor(events, id), T, "update for the new order");
  assert.equal(upd.op, "insert");
  assert.equal(upd.row.symbol, "AAPL");
  assert.equal(upd.row.qty, 7);
  assert.equal(upd.row.status, "pending");
  const sub = c._subscriptions.get("all_orders");
  assert.equal(sub.ref, reply.ref, "cursor = ref of the last update (the transaction's ref)");
  assert.equal(sub.service, "all_orders");
  assert.ok(events.indexOf(upd) > 0, "snapshot came first");
});

test("resubscribe with the cursor yields onDelta with the missed change", OPTS, async (t) => {
  const { c, log } = await open(t);
  const id1 = uid();
  assert.equal((await withTimeout(c.send("add_order", order(id1)), T, "send 1")).type, "result");
  await subscribe(c, "all_orders");
  const cursor = c._subscriptions.get("all_orders").ref;
  assert.ok(cursor, "snapshot of a non-empty log carries a ref");

  c.unsubscribe("all_orders");
  assert.equal(c._subscriptions.has("all_orders"), false);
  const id2 = uid();
  const r2 = await withTimeout(c.send("add_order", order(id2)), T, "send 2 (while unsubscribed)");
  assert.equal(r2.type, "result");

  const events = await subscribe(c, "all_orders", { ref: cursor });
  const first = events[0];
  assert.equal(first.type, "delta", `expected a delta, got ${first.type}`);
  const change = first.changes.find((ch) => ch.row && ch.row.id === id2);
  assert.ok(change, "the delta contains the missed insert");
  assert.equal(change.op, "insert");
  assert.ok(!first.changes.some((ch) => ch.row && ch.row.id === id1), "nothing at or before the cursor");
  const delta = log.received.filter((r) => r.msg.type === "delta").at(-1).msg;
  assert.ok(delta.ref, "delta carries the newest log ref");
  assert.equal(c._subscriptions.get("all_orders").ref, delta.ref, "cursor advanced to the delta ref");
});

test("unsubscribe stops updates", OPTS, async (t) => {
  const { c, log } = await open(t);
  const { c: watcher } = await open(t);
  const events = await subscribe(c, "all_orders");
  const watched = await subscribe(watcher, "all_orders");
  c.unsubscribe("all_orders");
  const unsub = log.sent.at(-1);
  assert.equal(unsub.type, "unsubscribe");
  assert.equal(unsub.service, "all_orders");
  assert.match(unsub.ref, REF_RE);

  const id = uid();
  assert.equal((await withTimeout(c.send("add_order", order(id)), T, "send")).type, "result");
  await waitFor(() => updateFor(watched, id), T, "the other client's update");
  await sleep(200);
  assert.equal(updateFor(events, id), undefined, "no callback after unsubscribe");
  assert.ok(!log.received.some((r) => r.msg.type === "update" && r.msg.row && r.msg.row.id === id),
    "the server sent no update to the unsubscribed socket");
});

test("check returns the result for a known ref and status unknown otherwise", OPTS, async (t) => {
  const { c, log } = await open(t);
  const reply = await withTimeout(c.send("add_order", order(uid())), T, "send");
  const known = await withTimeout(c.check("add_order", reply.ref), T, "check known");
  assert.deepEqual(log.sent.at(-1), { service: "add_order", type: "check", ref: reply.ref });
  assert.equal(known.type, "result");
  assert.equal(known.ref, reply.ref);
  assert.equal(known.ok, true);
  assert.equal(known.status, undefined);
  const unknown = await withTimeout(c.check("add_order", "19700101 00:00:00.000000000000"), T, "check unknown");
  assert.equal(unknown.type, "result");
  assert.equal(unknown.status, "unknown");
  assert.equal(unknown.ok, true);
});

test("a bad filter gets a nack: onNack is called and the subscription removed", OPTS, async (t) => {
  const nacks = [];
  const { c, log } = await open(t, { onNack: (service, msg) => nacks.push({ service, msg }) });
  const before = await subscribe(c, "all_orders"); // an earlier subscription that the nack ends
  const events = await subscribe(c, "all_orders", { filter: "status == 'open" });
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "nack");
  assert.equal(events[0].msg.service, "all_orders");
  assert.ok(events[0].msg.message, "nack has a message");
  assert.equal(c._subscriptions.has("all_orders"), false, "nacked subscription removed");

  // client-level onNack when the subscription has none
  c.subscribe("last_trade", { filter: "symbol == 'x" });
  await waitFor(() => nacks.length === 1, T, "client-level onNack");
  assert.equal(nacks[0].service, "last_trade");
  assert.equal(nacks[0].msg.type, "nack");
  assert.equal(c._subscriptions.size, 0);

  // the socket keeps working and the earlier subscription really ended on the server
  const id = uid();
  assert.equal((await withTimeout(c.send("add_order", order(id)), T, "send after nack")).type, "result");
  await sleep(200);
  assert.equal(updateFor(before, id), undefined);
  assert.ok(!log.received.some((r) => r.msg.type === "update" && r.msg.row && r.msg.row.id === id));
  assert.ok(!log.received.some((r) => r.msg.type === "error"), "no error replies for a bad filter");
});

test("filters, subpub and stream subscriptions", OPTS, async (t) => {
  const { c } = await open(t);
  const pending = await subscribe(c, "all_orders", { filter: "status == 'pending'" });
  assert.equal(pending[0].type, "snapshot");
  assert.ok(pending[0].rows.every((r) => r.status === "pending"));
  const trades = await subscribe(c, "last_trade");
  assert.equal(trades[0].type, "snapshot");
  const audit = await subscribe(c, "audit_feed");
  assert.equal(audit[0].type, "snapshot");
  assert.ok(Array.isArray(audit[0].rows));
  const id = uid();
  await withTimeout(c.send("add_order", order(id, { symbol: "IBM" })), T, "send");
  await waitFor(() => updateFor(trades, id) && updateFor(pending, id), T, "subpub and filtered query updates");
  assert.equal(updateFor(trades, id).row.symbol, "IBM");
  assert.ok(c._subscriptions.get("last_trade").ref, "subpub cursor set from the update");
});

test("connect to a closed port rejects within the timeout", { timeout: 15000 }, async () => {
  const port = await closedPort();
  const c = new MkioClient(`ws://127.0.0.1:${port}/ws`, { WebSocket: BaseWebSocket, reconnect: false, connectTimeout: 3000 });
  try {
    const t0 = Date.now();
    await assert.rejects(withTimeout(c.connect(), 6000, "connect to a closed port"), /mkio: cannot connect/);
    assert.ok(Date.now() - t0 < 3500, "rejected no later than connectTimeout");
  } finally {
    c.close();
  }
});

test("the served /mkio.js is a working client", OPTS, async (t) => {
  const res = await withTimeout(fetch(httpBase() + "/mkio.js"), T, "GET /mkio.js");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") || "", /^application\/javascript/);
  const text = await withTimeout(res.text(), T, "body of /mkio.js");
  assert.match(text, /MkioClient/);
  assert.match(text, /makeRef/);
  const served = evalScript(text);
  assert.equal(served.MkioClient.makeRef, served.makeRef);
  const c = new served.MkioClient(MKIO_URL, { WebSocket: BaseWebSocket, reconnect: false });
  t.after(() => c.close());
  await withTimeout(c.connect(), T, "connect (served client)");
  const reply = await withTimeout(c.send("add_order", order(uid())), T, "send (served client)");
  assert.equal(reply.type, "result");
  assert.match(reply.ref, REF_RE);
});

test("a row holding Infinity arrives as a number (the server writes Python's bare token)", OPTS, async (t) => {
  const { c } = await open(t);
  const events = await subscribe(c, "all_orders");
  const id = uid();
  // 1e999 is valid JSON; bound as a float it is stored as a REAL +Infinity in the INTEGER column.
  // (JSON.stringify cannot write it, so the transaction goes over a plain socket.)
  const raw = new BaseWebSocket(MKIO_URL);
  t.after(() => raw.close());
  await withTimeout(new Promise((resolve, reject) => {
    raw.addEventListener("open", resolve);
    raw.addEventListener("error", reject);
  }), T, "raw socket open");
  raw.send(`{"service":"add_order","ref":"inf-${id}","data":{"id":"${id}","symbol":"AAPL","qty":1e999}}`);
  try {
    const upd = await waitFor(() => updateFor(events, id), T, "update with Infinity");
    assert.equal(upd.row.qty, Infinity);
    assert.equal(c._subscriptions.get("all_orders").ref, `inf-${id}`);
  } finally {
    // Keep later snapshots strict JSON for the recording logs of other tests.
    await withTimeout(c.send("delete_order", { id }), T, "delete");
  }
});
