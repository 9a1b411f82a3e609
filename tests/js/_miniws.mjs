// Minimal RFC 6455 WebSocket client and server on node:net / node:http, for the mkio.js tests.
//
// * MiniWebSocket: a browser-like WebSocket (readyState, binaryType, onopen/onmessage/onerror/
//   onclose, addEventListener, send, close). Used when Node has no global WebSocket (Node 20
//   without --experimental-websocket) and injected into MkioClient through `opts.WebSocket`.
// * MiniWsServer: a tiny WebSocket server for the offline tests (scripted fake mkio server).
//
// No extensions, no subprotocols, no TLS. Enough for tests, not for production.

import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const acceptKey = (key) => crypto.createHash("sha1").update(key + GUID).digest("base64");

/** Encode one frame (FIN set). Clients must mask, servers must not. */
function encodeFrame(opcode, payload, mask) {
  const len = payload.length;
  const head = [0x80 | opcode];
  const m = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126) head.push(m | len);
  else if (len < 65536) { head.push(m | 126); ext = Buffer.alloc(2); ext.writeUInt16BE(len); }
  else { head.push(m | 127); ext = Buffer.alloc(8); ext.writeBigUInt64BE(BigInt(len)); }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** Incremental frame parser; calls onFrame(opcode, payloadBuffer) for each complete message. */
class FrameParser {
  constructor(onFrame) { this.buf = Buffer.alloc(0); this.onFrame = onFrame; this.frag = null; }
  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = (this.buf[0] & 0x80) !== 0;
      const opcode = this.buf[0] & 0x0f;
      const masked = (this.buf[1] & 0x80) !== 0;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      const keyOff = off;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      let payload = Buffer.from(this.buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= this.buf[keyOff + (i & 3)];
      this.buf = this.buf.subarray(off + len);
      if (opcode >= 8) { this.onFrame(opcode, payload); continue; } // control frames are never fragmented
      if (opcode !== 0) this.frag = { opcode, parts: [payload] };
      else if (this.frag) this.frag.parts.push(payload);
      if (fin && this.frag) { const f = this.frag; this.frag = null; this.onFrame(f.opcode, Buffer.concat(f.parts)); }
    }
  }
}

/** Tiny EventTarget-ish base with on<event> properties, like the browser WebSocket. */
class Emitter {
  constructor() { this._listeners = {}; }
  addEventListener(type, f) { (this._listeners[type] ||= []).push(f); }
  removeEventListener(type, f) { this._listeners[type] = (this._listeners[type] || []).filter((g) => g !== f); }
  _emit(type, ev) {
    ev.type = type; ev.target = this;
    const h = this["on" + type];
    if (typeof h === "function") h.call(this, ev);
    for (const f of this._listeners[type] || []) f.call(this, ev);
  }
}

export class MiniWebSocket extends Emitter {
  static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;

  constructor(url) {
    super();
    const u = new URL(url); // throws on a malformed URL, like the browser
    if (u.protocol !== "ws:") throw new SyntaxError(`MiniWebSocket: unsupported URL scheme '${u.protocol}' (ws: only)`);
    this.url = url;
    this.readyState = 0;
    this.binaryType = "blob";
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    this._closeEmitted = false;
    const key = crypto.randomBytes(16).toString("base64");
    const sock = net.connect(Number(u.port || 80), u.hostname.replace(/^\[|\]$/g, ""));
    this._sock = sock;
    let head = Buffer.alloc(0);
    const parser = new FrameParser((op, payload) => this._frame(op, payload));
    sock.on("connect", () => {
      sock.write(`GET ${u.pathname || "/"}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on("data", (chunk) => {
      if (this.readyState !== 0) { parser.push(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = head.subarray(0, end).toString("latin1").split("\r\n");
      const ok = /^HTTP\/1\.1 101 /.test(lines[0]) &&
        lines.some((l) => l.toLowerCase().startsWith("sec-websocket-accept:") && l.slice(21).trim() === acceptKey(key));
      if (!ok) { this._fail(); return; }
      this.readyState = 1;
      this._emit("open", {});
      const rest = head.subarray(end + 4);
      if (rest.length) parser.push(rest);
    });
    sock.on("error", () => this._fail());
    sock.on("close", () => this._finish(1006));
  }

  send(data) {
    if (this.readyState === 0) throw new Error("InvalidStateError: still CONNECTING");
    if (this.readyState !== 1) return; // browsers silently drop data on a closing socket
    if (typeof data === "string") this._sock.write(encodeFrame(1, Buffer.from(data, "utf8"), true));
    else this._sock.write(encodeFrame(2, Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data), true));
  }

  close(code = 1000) {
    if (this.readyState === 0) { this._fail(); return; }
    if (this.readyState !== 1) return;
    this.readyState = 2;
    const p = Buffer.alloc(2); p.writeUInt16BE(code);
    this._sock.write(encodeFrame(8, p, true));
    setTimeout(() => this._sock.destroy(), 1000).unref(); // if the server never answers
  }

  _frame(opcode, payload) {
    if (opcode === 1) this._emit("message", { data: payload.toString("utf8") });
    else if (opcode === 2) {
      const data = this.binaryType === "arraybuffer"
        ? payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length)
        : new Blob([payload]);
      this._emit("message", { data });
    } else if (opcode === 8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (this.readyState === 1) { this.readyState = 2; this._sock.write(encodeFrame(8, payload.subarray(0, 2), true)); }
      this._sock.end();
      this._finish(code);
    } else if (opcode === 9) this._sock.write(encodeFrame(10, payload, true));
  }

  _fail() { // connection failure: error then close(1006), as browsers do
    if (this._closeEmitted) return;
    if (this.readyState !== 3) this._emit("error", {});
    this._sock.destroy();
    this._finish(1006);
  }

  _finish(code) {
    if (this._closeEmitted) return;
    this._closeEmitted = true;
    this.readyState = 3;
    queueMicrotask(() => this._emit("close", { code, reason: "", wasClean: code !== 1006 }));
  }
}

/** A server-side connection of MiniWsServer. */
class ServerConnection {
  constructor(sock, server) {
    this.sock = sock;
    this.server = server;
    this.open = true;
    this.received = []; // parsed JSON messages, in order
    const parser = new FrameParser((op, payload) => {
      if (op === 1 || op === 2) {
        const text = payload.toString("utf8");
        let msg; try { msg = JSON.parse(text); } catch { msg = text; }
        this.received.push(msg);
        server.onMessage(this, msg);
      } else if (op === 8) { this.close(); }
      else if (op === 9) sock.write(encodeFrame(10, payload, false));
    });
    sock.on("data", (c) => parser.push(c));
    sock.on("close", () => { this.open = false; server.connections.delete(this); });
    sock.on("error", () => {});
  }
  /** Send a message as a binary frame (like mkio), or as text with {text: true}. */
  send(msg, { text = false } = {}) {
    if (!this.open) return;
    this.sock.write(encodeFrame(text ? 1 : 2, Buffer.from(typeof msg === "string" ? msg : JSON.stringify(msg), "utf8"), false));
  }
  close(code = 1000) {
    if (!this.open) return;
    this.open = false;
    const p = Buffer.alloc(2); p.writeUInt16BE(code);
    this.sock.end(encodeFrame(8, p, false));
  }
  /** Drop the TCP connection without a close frame. */
  kill() { this.open = false; this.sock.destroy(); }
}

export class MiniWsServer {
  /**
   * @param {object} o onMessage(conn, msg), onConnection(conn); hang: accept TCP but never
   *   complete the WebSocket handshake (to test connect timeouts).
   */
  constructor(o = {}) {
    this.onMessage = o.onMessage || (() => {});
    this.onConnection = o.onConnection || (() => {});
    this.hang = !!o.hang;
    this.connections = new Set();
    this.sockets = new Set();
    this.http = http.createServer((req, res) => { res.writeHead(400); res.end(); });
    this.http.on("connection", (s) => { this.sockets.add(s); s.on("close", () => this.sockets.delete(s)); });
    this.http.on("upgrade", (req, sock) => {
      if (this.hang) return;
      sock.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptKey(req.headers["sec-websocket-key"])}\r\n\r\n`);
      const conn = new ServerConnection(sock, this);
      this.connections.add(conn);
      this.onConnection(conn);
    });
  }
  /** Listen on 127.0.0.1 (port 0 = any free port); resolves with the ws:// URL of /ws. */
  listen(port = 0) {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, "127.0.0.1", () => {
        this.port = this.http.address().port;
        this.url = `ws://127.0.0.1:${this.port}/ws`;
        resolve(this.url);
      });
    });
  }
  /** Stop listening and drop every connection (like a server crash). */
  close() {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.http.close(() => resolve()));
  }
}
