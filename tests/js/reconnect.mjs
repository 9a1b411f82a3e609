// Reconnect test of mkio.js across a server restart, driven by a harness (not a node:test file).
//
// Usage:  MKIO_URL=ws://127.0.0.1:5123/ws node tests/js/reconnect.mjs
// Server: fixture A (see the header of client.test.mjs); after the restart it must listen on the
//         same URL again (an in-memory database that starts empty is fine).
//
// Protocol with the harness (stdout lines; diagnostics go to stderr):
//   1. The script connects, subscribes to all_orders, inserts an order "<run>-before" and waits
//      for its update, so that the subscription has a non-empty cursor. Then it prints READY.
//   2. The harness restarts the server (stop, start again on the same URL).
//   3. Within 30 s of READY the script must see: onDisconnect, a second onConnect, a resubscribe
//      that carried the filter-less subscription with the last cursor, and a snapshot/delta/update
//      containing a row with id "after-restart". After the second onConnect the script inserts
//      that row itself through add_order (set MKIO_RECONNECT_INSERT=0 if the harness inserts it;
//      a duplicate-id error from doing both is ignored). Then it prints RESUMED and exits 0.
//   Any failure or timeout: "FAILED: <reason>" on stderr, exit code 1.

import {
  MKIO_URL, loadClient, recordingWebSocket, uid, waitFor, withTimeout,
} from "./_support.mjs";

const fail = (why) => {
  process.stderr.write(`FAILED: ${why}\n`);
  process.exit(1);
};
if (!MKIO_URL) fail("MKIO_URL is not set");

const AFTER_ID = "after-restart";
const selfInsert = process.env.MKIO_RECONNECT_INSERT !== "0";
const { MkioClient } = await loadClient();
const rec = recordingWebSocket();
let connects = 0;
let disconnects = 0;
let seenAfter = false;
const hasAfter = (rows) => Array.isArray(rows) && rows.some((r) => r && r.id === AFTER_ID);

const client = new MkioClient(MKIO_URL, {
  WebSocket: rec.WebSocket,
  backoffBase: 100,
  backoffMax: 1000, // reconnect promptly once the server is back (the 0.1.8+ ceiling)
  onConnect() { connects += 1; process.stderr.write(`onConnect #${connects}\n`); },
  onDisconnect() { disconnects += 1; if (disconnects === 1) process.stderr.write("onDisconnect\n"); },
});

try {
  // 1. connect, subscribe, get a cursor
  await withTimeout(client.connect(), 10000, `connect to ${MKIO_URL}`);
  const updates = [];
  client.subscribe("all_orders", {
    onSnapshot(rows) { if (hasAfter(rows)) seenAfter = true; },
    onDelta(changes) { if (hasAfter((changes || []).map((ch) => ch.row))) seenAfter = true; },
    onUpdate(op, row) { updates.push(row); if (hasAfter([row])) seenAfter = true; },
  });
  const beforeId = uid("before");
  const reply = await withTimeout(client.send("add_order", { id: beforeId, symbol: "AAPL", qty: 1 }), 10000, "insert before restart");
  if (reply.type !== "result") fail(`insert before restart: ${JSON.stringify(reply)}`);
  await waitFor(() => updates.some((r) => r && r.id === beforeId), 10000, "update before restart");
  const cursor = client._subscriptions.get("all_orders").ref;
  if (!cursor) fail("no cursor before the restart");
  process.stderr.write(`cursor before restart: ${cursor}\n`);
  process.stdout.write("READY\n");

  // 3. wait for the restart to be survived (30 s in total)
  const deadline = Date.now() + 30000;
  const left = () => Math.max(1, deadline - Date.now());
  await waitFor(() => disconnects > 0, left(), "onDisconnect (server restart)");
  await waitFor(() => connects >= 2, left(), "second onConnect");

  const resub = rec.log.sent.filter((m) => m.type === "subscribe" && m.service === "all_orders");
  const last = resub.at(-1);
  if (resub.length < 2 || last.ref !== cursor) {
    fail(`resubscribe did not carry the last cursor ${cursor}: ${JSON.stringify(last)}`);
  }
  if (selfInsert) {
    const r = await withTimeout(client.send("add_order", { id: AFTER_ID, symbol: "MSFT", qty: 2 }), left(), "insert after-restart");
    if (r.type !== "result") process.stderr.write(`insert after-restart answered ${JSON.stringify(r)} (ignored)\n`);
  }
  await waitFor(() => seenAfter, left(), `a row with id '${AFTER_ID}' after the restart`);
  process.stdout.write("RESUMED\n");
  client.close();
  process.exitCode = 0;
  setTimeout(() => process.exit(0), 2000).unref(); // in case a socket lingers
} catch (e) {
  client.close();
  fail(e && e.message ? e.message : String(e));
}
