// A later-generation mkio JavaScript client (0.1.x–1.x) against a real server, driven by a harness
// (not a node:test file). The client is mkio.js in its later mode ({protocol: "later"}), which
// behaves as the later JavaScript clients: subscribe(service, protocol, opts) with client-made
// subids, txnid on every send, maxcount paging with automatic getmore (onSnapshot once with every
// row), request() for reqrep, identify() for _mkio, nacks remove the subscription, and after a
// reconnect every subscription is sent again with its subid, protocol and last ref.
//
// Usage:  MKIO_URL=ws://127.0.0.1:5123/ws node tests/js/later_client.mjs
// Server: tests/later/later.mkio.toml on a database file; after READY the harness restarts it on
//         the same URL and file.
//
// Stdout lines for the harness: "OK <step>" after each checked step, READY before the restart,
// RESUMED after it was survived. Any failure: "FAILED: <reason>" on stderr, exit code 1.

import {
  MKIO_URL, loadClient, recordingWebSocket, uid, waitFor, withTimeout,
} from "./_support.mjs";

const fail = (why) => {
  process.stderr.write(`FAILED: ${why}\n`);
  process.exit(1);
};
const check = (ok, step, detail) => {
  if (!ok) fail(`${step}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  process.stdout.write(`OK ${step}\n`);
};
if (!MKIO_URL) fail("MKIO_URL is not set");

const T = 10000;
const { MkioClient } = await loadClient();
const rec = recordingWebSocket();
let connects = 0;
let disconnects = 0;
const client = new MkioClient(MKIO_URL, {
  protocol: "later",
  WebSocket: rec.WebSocket,
  backoffBase: 100,
  backoffMax: 1000, // the later clients' ceiling (0.1.8+)
  onConnect() { connects += 1; },
  onDisconnect() { disconnects += 1; },
});
const sent = (pred) => rec.log.sent.filter(pred);

try {
  await withTimeout(client.connect(), T, `connect to ${MKIO_URL}`);

  // _mkio: identity and compatibility
  const me = await withTimeout(client.identify({ version: "1.4", protocol: "1.0" }), T, "identify");
  check(me.name === "later-shop" && me.version === "1.4.2" && me.compatible === true && me.services.items === "query",
    "identify", me);
  const old = await withTimeout(client.identify({ version: "2.0" }), T, "identify 2.0");
  check(old.compatible === false && old.compatibility.version === false, "identify-incompatible", old);

  // send with txnid (and a ref, as every JS send)
  const p = uid("p");
  for (let i = 0; i < 5; i++) {
    const r = await withTimeout(client.send("put", { id: `${p}${i}`, name: "n", qty: i }), T, "put");
    if (r.type !== "result") fail(`put: ${JSON.stringify(r)}`);
  }
  const puts = sent((m) => m.service === "put");
  check(puts.every((m) => typeof m.txnid === "string" && m.txnid.startsWith("_mkio_t") && typeof m.ref === "string"), "send-txnid", puts[0]);

  // subscribe with paging: getmore until hasmore is false, onSnapshot once with all rows
  let snapshot = null;
  const updates = [];
  const pagedId = client.subscribe("items", "query", {
    filter: `name == 'n'`, maxcount: 2,
    onSnapshot(rows) { snapshot = rows; },
    onUpdate(op, row) { updates.push({ op, row }); },
  });
  await waitFor(() => snapshot, T, "paged snapshot");
  const mine = snapshot.filter((r) => String(r.id).startsWith(p)).map((r) => r.id);
  const getmores = sent((m) => m.type === "getmore" && m.subid === pagedId);
  check(mine.length === 5 && getmores.length >= 2 && /^_mkio_s\d+$/.test(pagedId), "subscribe-paging", { mine, getmores: getmores.length, pagedId });
  const sub = sent((m) => m.type === "subscribe" && m.subid === pagedId)[0];
  check(sub.protocol === "query" && sub.maxcount === 2, "subscribe-shape", sub);

  // filter-out delete: the row leaving the filter arrives as a delete
  let big = null;
  const bigUpdates = [];
  client.subscribe("items", { protocol: "query", filter: "qty > 3", onSnapshot(rows) { big = rows; }, onUpdate(op, row) { bigUpdates.push({ op, row }); } });
  await waitFor(() => big, T, "filtered snapshot");
  await client.send("put", { id: `${p}4`, name: "n", qty: 1 });
  await waitFor(() => bigUpdates.some((u) => u.op === "delete" && u.row._mkio_row === `${p}4`), T, "filter-out delete");
  check(true, "filter-out-delete");

  // reqrep
  const reply = await withTimeout(client.request("stock", { item: `${p}3`.toUpperCase() }), T, "request");
  check(reply.type === "reply" && reply.value === 6 && typeof reply.reqid === "string", "request", reply);
  const refused = await withTimeout(client.request("items", {}), T, "request to a query service");
  check(refused.type === "error" && refused.message === "Service 'items' uses protocol 'query', not 'reqrep'", "request-error", refused);
  const unknown = await withTimeout(client.request("nope", {}), T, "request to an unknown service");
  check(unknown.type === "nack" && unknown.message.startsWith("Unknown service: 'nope'"), "request-unknown", unknown);

  // nack removes the subscription
  let nacked = null;
  const badId = client.subscribe("items", "stream", { onNack(msg) { nacked = msg; } });
  await waitFor(() => nacked, T, "protocol mismatch nack");
  check(nacked.subid === badId && nacked.message.includes("Protocol mismatch") && !client._subscriptions.has(badId), "nack", nacked);

  // stream: a cursor to resume from after the restart
  const feed = [];
  const feedId = client.subscribe("feed", "stream", {
    onSnapshot(rows) { feed.push(...rows); },
    onUpdate(op, row) { feed.push(row); },
  });
  const before = uid("before");
  await client.send("log", { text: before });
  await waitFor(() => feed.some((r) => r.text === before), T, "stream update before the restart");
  const cursor = client._subscriptions.get(feedId).ref;
  check(typeof cursor === "string" && cursor.length > 0, "stream-cursor", cursor);
  process.stdout.write("READY\n");

  const deadline = Date.now() + 30000;
  const left = () => Math.max(1, deadline - Date.now());
  await waitFor(() => disconnects > 0, left(), "onDisconnect (server restart)");
  await waitFor(() => connects >= 2, left(), "second onConnect");
  const resub = sent((m) => m.type === "subscribe" && m.subid === feedId);
  check(resub.length === 2 && resub[1].ref === cursor && resub[1].protocol === "stream", "resubscribe", resub);
  const after = uid("after");
  const r = await withTimeout(client.send("log", { text: after }), left(), "log after the restart");
  if (r.type !== "result") fail(`log after the restart: ${JSON.stringify(r)}`);
  await waitFor(() => feed.some((row) => row.text === after), left(), "stream update after the restart");
  check(feed.filter((row) => row.text === before).length === 1, "no-duplicate", feed);
  process.stdout.write("RESUMED\n");
  client.close();
  setTimeout(() => process.exit(0), 2000).unref();
} catch (e) {
  client.close();
  fail(e && e.message ? e.message : String(e));
}
