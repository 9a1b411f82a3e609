// Login test of mkio.js across a server restart, driven by a harness (not a node:test file).
//
// Usage:  MKIO_URL=ws://127.0.0.1:5123/ws node tests/js/login.mjs
// Server: fixture A with the mkio login: user alice / alice-pw holding the right `view`, which
//         all_orders requires; after the restart it must listen on the same URL again.
//
// Protocol with the harness (stdout lines; diagnostics go to stderr):
//   1. A wrong password: connect() rejects with "login refused", onAuthFailed is called and the
//      client closes (one socket, no retry). An anonymous client is refused all_orders (nack) until
//      it calls login(); then it is served. The main client ({auth}) connects, logs in, subscribes
//      and gets its snapshot. Then the script prints READY.
//   2. The harness restarts the server.
//   3. The script must see a second onConnect, the `auth` message as the first frame on the new
//      socket with the resubscribe after it, and a delta/snapshot (not a nack). Prints RESUMED, exit 0.
//   Any failure or timeout: "FAILED: <reason>" on stderr, exit code 1.

import { MKIO_URL, loadClient, recordingWebSocket, waitFor, withTimeout } from "./_support.mjs";

const fail = (why) => {
  process.stderr.write(`FAILED: ${why}\n`);
  process.exit(1);
};
if (!MKIO_URL) fail("MKIO_URL is not set");
const { MkioClient } = await loadClient();

try {
  // A refused login: a clear rejection, the callback, no retry loop.
  const wrongRec = recordingWebSocket();
  const refusals = [];
  const wrong = new MkioClient(MKIO_URL, {
    WebSocket: wrongRec.WebSocket, backoffBase: 10, backoffMax: 20,
    auth: { username: "alice", password: "nope" },
    onAuthFailed(message) { refusals.push(message); },
  });
  let rejected = null;
  await withTimeout(wrong.connect().catch((e) => { rejected = e; }), 10000, "refused connect");
  if (!rejected || !/login refused: invalid credentials/.test(rejected.message)) fail(`connect() did not reject with the refusal: ${rejected}`);
  if (refusals.length !== 1 || refusals[0] !== "invalid credentials") fail(`onAuthFailed: ${JSON.stringify(refusals)}`);
  if (wrong.user !== null) fail("user set after a refused login");

  // An anonymous client is refused, then logs in with login().
  const nacks = [];
  const later = new MkioClient(MKIO_URL, { backoffBase: 100 });
  await withTimeout(later.connect(), 10000, "anonymous connect");
  later.subscribe("all_orders", { onNack(m) { nacks.push(m.message); } });
  await waitFor(() => nacks.length === 1, 10000, "nack before login");
  if (nacks[0] !== "authentication required") fail(`anonymous nack: ${nacks[0]}`);
  const reply = await withTimeout(later.login("alice", "alice-pw"), 10000, "login()");
  if (!reply || reply.ok !== true || later.user !== "alice") fail(`login() reply: ${JSON.stringify(reply)}`);
  let laterRows = null;
  later.subscribe("all_orders", { onSnapshot(rows) { laterRows = rows; } });
  await waitFor(() => laterRows !== null, 10000, "snapshot after login()");
  later.close();

  // The main client: logs in on connect, and again on every reconnect before resubscribing.
  const rec = recordingWebSocket();
  let connects = 0;
  const main = new MkioClient(MKIO_URL, {
    WebSocket: rec.WebSocket, backoffBase: 100, backoffMax: 1000,
    auth: { username: "alice", password: "alice-pw" },
    onConnect() { connects += 1; },
  });
  await withTimeout(main.connect(), 10000, "login on connect");
  if (main.user !== "alice" || main.role !== "trader") fail(`user/role: ${main.user}/${main.role}`);
  const events = [];
  main.subscribe("all_orders", {
    onSnapshot() { events.push("snapshot"); },
    onDelta() { events.push("delta"); },
    onUpdate() { events.push("update"); },
    onNack(m) { events.push("nack:" + m.message); },
  });
  await waitFor(() => events.length === 1, 10000, "first snapshot");
  if (events[0] !== "snapshot") fail(`first event: ${events[0]}`);
  if (wrongRec.log.sockets !== 1) fail(`the refused client opened ${wrongRec.log.sockets} sockets`);
  const sentBefore = rec.log.sent.length;
  process.stdout.write("READY\n");

  await waitFor(() => connects === 2 && events.length >= 2, 30000, "reconnect and resume");
  const after = rec.log.sent.slice(sentBefore);
  if (after.length < 2 || after[0].type !== "auth" || after[1].type !== "subscribe") fail(`frames after the restart: ${JSON.stringify(after.map((m) => m.type))}`);
  if (JSON.stringify(after[0].data) !== JSON.stringify({ username: "alice", password: "alice-pw" })) fail("auth data");
  if (events[1].startsWith("nack")) fail(`resubscribe refused: ${events[1]}`);
  main.close();
  process.stdout.write("RESUMED\n");
  process.exit(0);
} catch (e) {
  fail(e && e.stack ? e.stack : String(e));
}
