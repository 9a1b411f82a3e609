// Shared helpers for the mkio.js tests (not a test file itself: the leading "_" keeps it out of
// `node --test` discovery).
//
// Environment:
//   MKIO_URL  WebSocket URL of a running mkio server with fixture A (e.g. ws://127.0.0.1:5123/ws).
//             Tests that need the server are skipped when it is not set.
//   MKIO_JS   Which mkio.js to test: a file path (default: src/Mkio.AspNetCore/Static/mkio.js in
//             this repo) or "served" to download it from the server's /mkio.js.
//   MKIO_WS   "native" to require Node's global WebSocket (Node 22+, or Node 20 run with
//             --experimental-websocket), "mini" to force the bundled minimal client. Default:
//             the global WebSocket when there is one, otherwise the bundled client.

import { createRequire } from "node:module";
import path from "node:path";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { MiniWebSocket } from "./_miniws.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const MKIO_URL = process.env.MKIO_URL || "";
export const DEFAULT_JS = path.resolve(here, "../../src/Mkio.AspNetCore/Static/mkio.js");

/** The WebSocket constructor handed to MkioClient through opts.WebSocket. */
export const BaseWebSocket = (() => {
  const mode = process.env.MKIO_WS || "";
  if (mode === "mini") return MiniWebSocket;
  if (typeof globalThis.WebSocket === "function") return globalThis.WebSocket;
  if (mode === "native") throw new Error("MKIO_WS=native but this Node has no global WebSocket (use Node 22+ or --experimental-websocket)");
  return MiniWebSocket;
})();

/** http(s) base of the server behind MKIO_URL, e.g. http://127.0.0.1:5123 */
export function httpBase(wsUrl = MKIO_URL) {
  const u = new URL(wsUrl);
  return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
}

/** Load { MkioClient, makeRef } from the mkio.js selected by MKIO_JS. */
export async function loadClient() {
  const which = process.env.MKIO_JS || DEFAULT_JS;
  if (which !== "served") return createRequire(import.meta.url)(path.resolve(which));
  const res = await withTimeout(fetch(httpBase() + "/mkio.js"), 5000, "GET /mkio.js");
  return evalScript(await withTimeout(res.text(), 5000, "body of /mkio.js"));
}

/** Evaluate the text of mkio.js as a CommonJS module and return its exports. */
export function evalScript(text) {
  const module = { exports: {} };
  new Function("module", "exports", text)(module, module.exports);
  return module.exports;
}

/** Reject with a clear message when `promise` has not settled within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `predicate` every 10 ms until it returns a truthy value (resolved) or `ms` elapse. */
export async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A WebSocket class that records what goes over the wire: `sent` (parsed outgoing messages) and
 * `received` ({binary, msg}) of every socket it creates are appended to the `log` object.
 */
export function recordingWebSocket(log = { sent: [], received: [], sockets: 0 }, Base = BaseWebSocket) {
  class RecordingWebSocket extends Base {
    constructor(url, ...rest) {
      super(url, ...rest);
      log.sockets += 1;
      this.addEventListener("message", (ev) => {
        const binary = typeof ev.data !== "string";
        const text = binary ? new TextDecoder().decode(ev.data) : ev.data;
        let msg; try { msg = JSON.parse(text); } catch { msg = text; }
        log.received.push({ binary, msg });
      });
    }
    send(data) {
      log.sent.push(JSON.parse(data));
      return super.send(data);
    }
  }
  return { WebSocket: RecordingWebSocket, log };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound then released). */
export function closedPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A prefix unique to this process, so that ids do not collide on a shared server. */
export const RUN = `js${process.pid}-${Date.now().toString(36)}`;
let seq = 0;
export const uid = (tag = "o") => `${RUN}-${tag}${++seq}`;

/** Regex of a JS client ref: `YYYYMMDD HH:MM:SS.mmm` + 9-digit counter. */
export const REF_RE = /^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$/;
