/*
 * mkio.js — JavaScript client for mkio (mkio for .NET), served at /mkio.js.
 *
 * Dependency-free: load it with <script src="/mkio.js"></script> in a browser (globals
 * `MkioClient`, `makeRef`, plus `window.MkioClient` / `window.mkioMakeRef`), or load it as a
 * CommonJS module under Node (module.exports = { MkioClient, makeRef }).
 *
 * Public API (compatible with the mkio 0.1.0 JavaScript client):
 *
 *   const client = new MkioClient("ws://" + location.host + "/ws", {
 *     reconnect: true,        // reconnect automatically (only `false` disables)
 *     backoffBase: 100,       // ms; first reconnect delay, restored after every successful open
 *     backoffMax: 30000,      // ms; backoff ceiling
 *     onConnect() {},         // after every (re)connect, once subscriptions were re-sent
 *     onDisconnect() {},      // on every socket close
 *     // additions (not in 0.1.0):
 *     onNack(service, msg) {},// a subscription was rejected (e.g. invalid filter)
 *     WebSocket: Ctor,        // WebSocket constructor to use instead of globalThis.WebSocket
 *     connectTimeout: 10000,  // ms; connect() rejects if the socket is not open by then (0 = none)
 *     auth: {username, password}, // log in with this `auth` data on every (re)connect, before resubscribing
 *     accessToken: "…" | () => "…", // bearer token sent as ?access_token= on every upgrade (host authentication)
 *     onAuthFailed(message) {},   // a login on (re)connect was refused: the client closes (no retry)
 *   });
 *   await client.connect();
 *   const reply = await client.send("add_order", {id: "1", symbol: "AAPL", qty: 100}, {op: "new"});
 *   if (reply.type === "error") console.log(reply.message);
 *   client.subscribe("all_orders", {filter: "status == 'pending'", onSnapshot(rows) {},
 *                                   onDelta(changes) {}, onUpdate(op, row) {}, onNack(msg) {}});
 *   client.unsubscribe("all_orders");
 *   await client.check("add_order", reply.ref);
 *   client.close();
 *   const r = await client.login("alice", "secret"); // {type:"auth", ok, user, role} or {ok:false, message};
 *                                                     // kept and sent again first after every reconnect
 *   client.user / client.role                         // what the server accepted, or null
 *
 * Later mode (the later mkio protocol: subids, paging, reqrep, _mkio). Without it the client
 * sends and behaves exactly as the mkio 0.1.0 client; ask for it at construction:
 *
 *   const client = new MkioClient(url, { protocol: "later" });
 *   await client.connect();
 *   const subid = client.subscribe("items", "query", {   // protocol: 2nd argument or opts.protocol
 *     filter: "qty > 5", fields: ["id", "qty"],          // optional: subid, snapshot, updates, topic, ref
 *     maxcount: 100,                                     // page the snapshot; pages are fetched with
 *     onSnapshot(rows) {}, onUpdate(op, row) {},         //   getmore and onSnapshot gets all rows once,
 *     onPage(rows, {hasmore, subid}) {},                 //   unless onPage is given: then call getmore(subid)
 *     onNack(msg) {} });
 *   // A row that stops matching the filter arrives as onUpdate("delete", row) (row._mkio_row = its key).
 *   client.unsubscribe(subid);                           // one subscription (or a service name: all of it)
 *   const reply = await client.request("price", {item: "a1"});   // reqrep: {type:"reply", value|row|rows} or error
 *   const me = await client.identify({version: "1.4"});          // _mkio row, with `compatible` when asked
 *   await client.send("put", {id: "A"});                          // carries txnid (opts.txnid or _mkio_t<n>)
 *
 * Wire protocol: see PROTOCOL.md (§5 dispatch, §6 transactions, §7 subscriptions).
 */

/**
 * Make a client-side ref: `YYYYMMDD HH:MM:SS.mmm` (UTC, millisecond clock) followed by a
 * 9-digit counter that counts up while the millisecond stays the same and restarts at 0 when
 * it changes, e.g. "20260404 15:30:45.123000000000", then "20260404 15:30:45.123000000001".
 * (This is the mkio 0.1.0 JavaScript format; the state lives on the function object so the
 * script adds no other globals.)
 */
function makeRef() {
  const now = Date.now();
  if (now === makeRef._lastMs) {
    makeRef._counter += 1;
  } else {
    makeRef._lastMs = now;
    makeRef._counter = 0;
  }
  const d = new Date(now);
  const p = (n, w) => String(n).padStart(w, "0");
  return (
    p(d.getUTCFullYear(), 4) + p(d.getUTCMonth() + 1, 2) + p(d.getUTCDate(), 2) + " " +
    p(d.getUTCHours(), 2) + ":" + p(d.getUTCMinutes(), 2) + ":" + p(d.getUTCSeconds(), 2) + "." +
    p(d.getUTCMilliseconds(), 3) + p(makeRef._counter % 1000000000, 9)
  );
}
makeRef._lastMs = -1;
makeRef._counter = 0;

class MkioClient {
  /**
   * @param {string} url  full WebSocket URL, normally "ws://host:port/ws"
   * @param {object} [opts] see the header comment
   */
  constructor(url, opts) {
    opts = opts || {};
    const num = (v, dflt) => (typeof v === "number" && v >= 0 ? v : dflt);
    const fn = (f) => (typeof f === "function" ? f : function () {});
    this.url = url;
    this.reconnect = opts.reconnect !== false;
    this.backoffBase = num(opts.backoffBase, 100);
    this.backoffMax = num(opts.backoffMax, 30000);
    this.onConnect = fn(opts.onConnect);
    this.onDisconnect = fn(opts.onDisconnect);
    this.onNack = typeof opts.onNack === "function" ? opts.onNack : null;
    this.connectTimeout = num(opts.connectTimeout, 10000);
    this.WebSocket = opts.WebSocket || null;
    this.later = opts.protocol === "later";  // addition: speak the later protocol (see the header)

    this.ws = null;                  // the current socket; events from any other socket are ignored
    this._subscriptions = new Map(); // service -> {service, filter, ref, onSnapshot, onDelta, onUpdate, onNack}
    this._pending = new Map();       // ref -> {ref, service, message, resolve, reject}
    this._awaiting = new Map();      // service -> subscription records whose subscribe is unanswered
    this._backoff = this.backoffBase;
    this._closed = false;            // set by close(): no more reconnects
    this._reconnectTimer = null;
    this._failAttempt = null;        // rejects the connect attempt in progress, if any
    this._decoder = null;            // TextDecoder, created on the first binary frame
    // later mode: _subscriptions is keyed by subid; requests wait in _requests by reqid
    this._requests = new Map();      // reqid -> pending request (as in _pending)
    this._protocols = null;          // service -> protocol, from identify()
    this._seq = 0;                   // for _mkio_s<n> / _mkio_t<n> ids
    // login (addition): the auth data is resent first on every (re)connect, before resubscribing
    this._authData = opts.auth || null;
    this._authWaiters = [];          // resolvers of sent auth messages, in order (replies carry no id)
    this.accessToken = opts.accessToken || null;
    this.onAuthFailed = fn(opts.onAuthFailed);
    this.user = null;
    this.role = null;
  }

  /** Log in as `username` (the mkio `auth` message); see auth(). */
  login(username, password) {
    return this.auth({ username: username, password: password });
  }

  /**
   * Log in with `data` (sent as {type:"auth", data}). Resolves with the server's reply,
   * {type:"auth", ok:true, user, role} or {type:"auth", ok:false, message} (a refusal does not
   * reject). The data is kept and sent again first after every reconnect, before resubscribing.
   * Not connected: the data is kept for the next connect() and null is returned.
   */
  auth(data) {
    this._authData = data;
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return Promise.resolve(null);
    return this._sendAuth(ws);
  }

  _sendAuth(ws) {
    return new Promise((resolve) => {
      this._authWaiters.push(resolve);
      ws.send(JSON.stringify({ type: "auth", data: this._authData }));
    });
  }

  /** The URL of the next upgrade: with ?access_token= when opts.accessToken gives one. */
  _connectUrl() {
    const token = typeof this.accessToken === "function" ? this.accessToken() : this.accessToken;
    if (!token) return this.url;
    return this.url + (this.url.indexOf("?") >= 0 ? "&" : "?") + "access_token=" + encodeURIComponent(token);
  }

  /**
   * Open the socket. Resolves once it is open, every stored subscription was re-sent and
   * onConnect was called; rejects with an Error when the socket cannot be opened (refused,
   * bad URL, closed before open, or not open within `connectTimeout`).
   */
  connect() {
    this._closed = false;
    this._cancelReconnect();
    return this._open();
  }

  /** Stop for good: no reconnect (a pending reconnect is cancelled); closes the socket. */
  close() {
    this._closed = true;
    this._cancelReconnect();
    const ws = this.ws;
    if (ws) {
      try { ws.close(); } catch (e) { /* already closed */ }
    }
  }

  /**
   * Send a transaction. The message is {service, data, ...opts (except ref), ref}; a ref is
   * always sent (opts.ref or a fresh makeRef()). Resolves with the reply — a `result` or an
   * `error` message (error replies do not reject). Rejects with Error("not connected") when the
   * socket is not open. Pending requests survive a reconnect; recover them with check().
   */
  send(service, data, opts) {
    opts = opts || {};
    const ref = opts.ref || makeRef();
    const message = { service: service, data: data };
    for (const key of Object.keys(opts)) {
      if (key !== "ref") message[key] = opts[key];
    }
    if (this.later && message.txnid === undefined) message.txnid = "_mkio_t" + (++this._seq);
    message.ref = ref;
    return this._request(ref, message);
  }

  /**
   * Later mode: call a reqrep service. Resolves with the `reply` ({value} | {row} | {rows}) or the
   * `error` / `nack` message (they do not reject); rejects when not connected.
   */
  request(service, data, reqid) {
    reqid = reqid || makeRef();
    const message = { service: service, type: "request", reqid: reqid, data: data || {} };
    return this._request(reqid, message, this._requests);
  }

  /**
   * Later mode: ask the server's _mkio service who it is. `versions` (optional) is
   * {version, protocol, mkio}; the row then carries `compatible` and `compatibility`. Resolves with
   * the row; rejects with an Error carrying the server's message when the server has no _mkio.
   */
  identify(versions) {
    return this.request("_mkio", versions || {}).then((reply) => {
      if (reply.type !== "reply" || !reply.row) throw new Error(reply.message || "mkio: no identity reply");
      if (reply.row.services) this._protocols = reply.row.services;
      return reply.row;
    });
  }

  /** Later mode: ask for the next page of a paged subscription (for subscriptions with onPage). */
  getmore(subid) {
    const sub = this._subscriptions.get(subid);
    if (sub && this._isOpen()) this._write({ service: sub.service, type: "getmore", subid: subid });
  }

  /**
   * Ask a transaction service about a ref (post-disconnect recovery). Resolves with the
   * `result` (carrying `status: "unknown"` when the server has no record) or an `error`.
   */
  check(service, ref) {
    if (ref === undefined || ref === null) ref = "";
    return this._request(ref, { service: service, type: "check", ref: ref });
  }

  /**
   * Subscribe to a subpub/stream/query service (one subscription per service; a new one
   * replaces the old). opts: filter, ref (recovery cursor), onSnapshot(rows),
   * onDelta(changes), onUpdate(op, row), onNack(message) (addition).
   * If the socket is not open yet, the subscription is stored and sent when it opens.
   */
  subscribe(service, opts, later) {
    if (this.later) return this._subscribeLater(service, opts, later);
    opts = opts || {};
    const sub = {
      service: service,
      filter: opts.filter || null,
      ref: opts.ref || null,
      onSnapshot: opts.onSnapshot,
      onDelta: opts.onDelta,
      onUpdate: opts.onUpdate,
      onNack: opts.onNack,
    };
    this._subscriptions.set(service, sub);
    if (this._isOpen()) this._sendSubscribe(sub);
  }

  /**
   * Later mode: subscribe(service, protocol?, opts) with opts as in 0.1.0 plus protocol, subid,
   * fields, snapshot, updates, topic, maxcount, onPage. Several subscriptions per service; returns
   * the subid (opts.subid or _mkio_s<n>). The protocol defaults to what identify() reported.
   */
  _subscribeLater(service, protocol, opts) {
    if (protocol && typeof protocol === "object") { opts = protocol; protocol = undefined; }
    opts = opts || {};
    protocol = protocol || opts.protocol || (this._protocols && this._protocols[service]) || null;
    const subid = opts.subid || "_mkio_s" + (++this._seq);
    const sub = {
      service: service, subid: subid, protocol: protocol,
      filter: opts.filter || null, ref: opts.ref || null,
      fields: Array.isArray(opts.fields) ? opts.fields : null,
      snapshot: opts.snapshot !== false, updates: opts.updates !== false,
      topic: opts.topic === undefined ? null : opts.topic,
      maxcount: typeof opts.maxcount === "number" && opts.maxcount > 0 ? opts.maxcount : null,
      onSnapshot: opts.onSnapshot, onUpdate: opts.onUpdate, onNack: opts.onNack, onPage: opts.onPage,
      _rows: null, // pages gathered so far (auto paging)
    };
    this._subscriptions.set(subid, sub);
    if (this._isOpen()) this._sendSubscribe(sub);
    return subid;
  }

  /** Forget the subscription of `service` (later mode: a subid, or every subscription of a service) and tell the server (when connected). */
  unsubscribe(service) {
    if (this.later) {
      const subs = this._subscriptions.has(service) ? [this._subscriptions.get(service)]
        : Array.from(this._subscriptions.values()).filter((s) => s.service === service);
      for (const sub of subs) {
        this._subscriptions.delete(sub.subid);
        if (this._isOpen()) this._write({ service: sub.service, type: "unsubscribe", subid: sub.subid });
      }
      return;
    }
    this._subscriptions.delete(service);
    if (this._isOpen()) {
      this._write({ service: service, type: "unsubscribe", ref: makeRef() });
    }
  }

  // ---------------------------------------------------------------- internals

  _isOpen() {
    return !!this.ws && this.ws.readyState === 1; // WebSocket.OPEN
  }

  _write(message) {
    this.ws.send(JSON.stringify(message));
  }

  /** Register a pending request under `ref` (in `_pending`, or `_requests` by reqid) and send it; resolved by dispatch rule 1 (or by reqid). */
  _request(ref, message, pending) {
    pending = pending || this._pending;
    return new Promise((resolve, reject) => {
      if (!this._isOpen()) {
        reject(new Error("not connected"));
        return;
      }
      pending.set(ref, { ref: ref, service: message.service, message: message, resolve: resolve, reject: reject });
      try {
        this._write(message);
      } catch (e) {
        pending.delete(ref);
        reject(new Error("not connected"));
      }
    });
  }

  /** {service, type: "subscribe"} plus filter and ref (the cursor) when truthy. */
  _sendSubscribe(sub) {
    if (sub.subid !== undefined) {
      // later: {service, type, protocol?, subid, filter?, ref?, fields?, maxcount?, snapshot?, updates?, topic?}
      const m = { service: sub.service, type: "subscribe" };
      if (sub.protocol) m.protocol = sub.protocol;
      m.subid = sub.subid;
      if (sub.filter) m.filter = sub.filter;
      if (sub.ref) m.ref = sub.ref;
      if (sub.fields) m.fields = sub.fields;
      if (sub.maxcount) m.maxcount = sub.maxcount;
      if (!sub.snapshot) m.snapshot = false;
      if (!sub.updates) m.updates = false;
      if (sub.topic !== null) m.topic = sub.topic;
      sub._rows = null;
      this._write(m);
      return;
    }
    const message = { service: sub.service, type: "subscribe" };
    if (sub.filter) message.filter = sub.filter;
    if (sub.ref) message.ref = sub.ref;
    // Remember which record this subscribe belongs to, so that a nack removes the record it
    // rejects and not a newer one for the same service (replies per service come in order).
    if (!this._awaiting.has(sub.service)) this._awaiting.set(sub.service, []);
    this._awaiting.get(sub.service).push(sub);
    this._write(message);
  }

  /** Open a new socket (superseding any previous one); see connect(). */
  _open() {
    return new Promise((resolve, reject) => {
      const WS = this.WebSocket || (typeof WebSocket !== "undefined" ? WebSocket : undefined);
      if (typeof WS !== "function") {
        reject(new Error("mkio: no WebSocket implementation (pass opts.WebSocket, or use Node >= 22 / a browser)"));
        return;
      }
      let ws;
      try {
        ws = new WS(this._connectUrl());
      } catch (e) {
        reject(new Error("mkio: cannot connect to " + this.url + ": " + (e && e.message ? e.message : e)));
        return;
      }
      // Supersede the previous socket: from now on only this socket's events count. An attempt
      // of the previous socket that is still connecting is settled (rejected) right away.
      const old = this.ws;
      if (this._failAttempt) this._failAttempt("superseded by a newer connect()");
      this.ws = ws;
      if (old) {
        try { old.close(); } catch (e) { /* ignore */ }
      }
      try { ws.binaryType = "arraybuffer"; } catch (e) { /* ignore */ }

      let settled = false;
      let timer = null;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        if (this._failAttempt === fail) this._failAttempt = null;
      };
      const fail = (why) => {
        if (settled) return;
        settle();
        reject(new Error("mkio: cannot connect to " + this.url + ": " + why));
      };
      this._failAttempt = fail;
      if (this.connectTimeout > 0) timer = setTimeout(() => {
        if (settled) return;
        fail("not open after " + this.connectTimeout + " ms");
        this._socketClosed(ws); // handle it as a close now; the socket's own events are ignored
        try { ws.close(); } catch (e) { /* ignore */ }
      }, this.connectTimeout);

      ws.onopen = () => {
        if (this.ws !== ws) return;
        if (this._closed) { // close() raced with the handshake
          fail("client closed");
          try { ws.close(); } catch (e) { /* ignore */ }
          return;
        }
        const ready = () => {
          settle();
          this._backoff = this.backoffBase;
          this._awaiting.clear();
          for (const sub of this._subscriptions.values()) this._sendSubscribe(sub);
          this._callback("onConnect", this.onConnect, this, []);
          resolve();
        };
        if (!this._authData) {
          ready();
          return;
        }
        // Log in first; resubscribe only once the server answered (so subscriptions run as the user).
        this._authWaiters = [];
        this._sendAuth(ws).then((reply) => {
          if (this.ws !== ws || settled) return;
          if (reply.ok) {
            ready();
            return;
          }
          // Refused: retrying would only repeat it (and hit the failed-login limit). Stop.
          fail("login refused: " + reply.message);
          this._closed = true;
          this._callback("onAuthFailed", this.onAuthFailed, this, [reply.message]);
          try { ws.close(); } catch (e) { /* ignore */ }
        });
      };
      ws.onerror = () => {
        // Browsers follow an error with a close event, some Node implementations do not (a
        // refused connection only fires error): treat the error as the close; the socket's
        // own close event, if any, is then ignored.
        if (this.ws !== ws) return;
        fail("WebSocket error");
        this._socketClosed(ws);
        try { ws.close(); } catch (e) { /* ignore */ }
      };
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        fail("connection closed before it was open" + (ev && ev.code ? " (code " + ev.code + ")" : ""));
        this._socketClosed(ws);
      };
      ws.onmessage = (ev) => {
        if (this.ws === ws) this._receive(ev.data);
      };
    });
  }

  /** The current socket is gone: notify, then reconnect unless closed / disabled. */
  _socketClosed(ws) {
    if (this.ws !== ws) return;
    this.ws = null;
    this._awaiting.clear();
    this._callback("onDisconnect", this.onDisconnect, this, []);
    this._scheduleReconnect();
  }

  /** Wait the current backoff, double it (capped), then try to open again; repeat on failure. */
  _scheduleReconnect() {
    if (this._closed || !this.reconnect || this._reconnectTimer !== null) return;
    const delay = this._backoff;
    this._backoff = Math.min(this._backoff * 2, this.backoffMax);
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      if (this._closed || this.ws) return;
      this._open().catch(() => {
        if (!this.ws) this._scheduleReconnect(); // (not when superseded by a connect() call)
      });
    }, delay);
  }

  _cancelReconnect() {
    if (this._reconnectTimer !== null) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
    }
  }

  /**
   * Parse one frame; undefined when it is not JSON (ignored, as by mkio 0.1.0). Non-finite floats
   * arrive as Python writes them, bare NaN / Infinity / -Infinity (PROTOCOL.md §2), which
   * JSON.parse rejects: outside strings they are turned into numbers instead of losing the frame.
   */
  static _parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      // fall through: maybe non-finite floats
    }
    const key = "$mkio-nonfinite$";
    let out = "";
    let from = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 92) i++; // backslash: skip the escaped character
        else if (c === 34) inString = false;
        continue;
      }
      if (c === 34) {
        inString = true;
        continue;
      }
      const token = text.startsWith("NaN", i) ? "NaN"
        : text.startsWith("Infinity", i) ? "Infinity"
        : text.startsWith("-Infinity", i) ? "-Infinity" : null;
      if (token !== null) {
        out += text.slice(from, i) + '{"' + key + '":"' + token + '"}';
        i += token.length - 1;
        from = i + 1;
      }
    }
    if (from === 0) return undefined;
    try {
      return JSON.parse(out + text.slice(from), (k, v) =>
        v !== null && typeof v === "object" && typeof v[key] === "string" ? Number(v[key]) : v);
    } catch (e) {
      return undefined;
    }
  }

  /** Decode one frame (text, ArrayBuffer or typed array; Blob as a fallback) and dispatch it. */
  _receive(data) {
    if (typeof data !== "string") {
      if (typeof Blob !== "undefined" && data instanceof Blob) { // binaryType was not honoured
        const ws = this.ws;
        data.text().then((text) => { if (this.ws === ws) this._receive(text); });
        return;
      }
      if (!this._decoder) this._decoder = new TextDecoder("utf-8");
      data = this._decoder.decode(data);
    }
    const msg = MkioClient._parse(data);
    if (msg && typeof msg === "object" && !Array.isArray(msg)) this._dispatch(msg);
  }

  /**
   * Dispatch rules (CLIENTS.md §3.3, plus nack):
   *  1. a `result`/`error` whose ref is pending resolves that request;
   *  2. a message whose `service` has a subscription: a truthy `ref` becomes the subscription's
   *     cursor; snapshot -> onSnapshot(rows), delta -> onDelta(changes), update -> onUpdate(op, row);
   *     nack -> the subscription is removed (not resubscribed) and onNack is called;
   *  3. anything else is ignored.
   */
  _dispatch(msg) {
    const type = msg.type;
    if (type === "auth") {
      if (msg.ok === true) {
        this.user = msg.user === undefined ? null : msg.user;
        this.role = msg.role === undefined ? null : msg.role;
      }
      const waiter = this._authWaiters.shift();
      if (waiter) waiter(msg);
      return;
    }
    if ((type === "result" || type === "error") && typeof msg.ref === "string" && this._pending.has(msg.ref)) {
      const request = this._pending.get(msg.ref);
      this._pending.delete(msg.ref);
      request.resolve(msg);
      return;
    }
    if (this.later && this._dispatchLater(msg)) return;
    if (typeof msg.service !== "string") return;
    const service = msg.service;

    // The first reply to a subscribe is a snapshot, a delta or a nack: pair it with its record.
    let answered = null;
    if (type === "snapshot" || type === "delta" || type === "nack") {
      const queue = this._awaiting.get(service);
      if (queue && queue.length) answered = queue.shift();
    }
    if (type === "nack") {
      const rejected = answered || this._subscriptions.get(service);
      if (!rejected) return;
      if (this._subscriptions.get(service) === rejected) this._subscriptions.delete(service);
      if (typeof rejected.onNack === "function") this._callback("onNack", rejected.onNack, rejected, [msg]);
      else if (this.onNack) this._callback("onNack", this.onNack, this, [service, msg]);
      else if (typeof console !== "undefined") console.warn("mkio: subscription to " + service + " rejected: " + msg.message);
      return;
    }

    const sub = this._subscriptions.get(service);
    if (!sub) return;
    if (msg.ref) sub.ref = msg.ref; // recovery cursor
    if (type === "snapshot") this._callback("onSnapshot", sub.onSnapshot, sub, [msg.rows]);
    else if (type === "delta") this._callback("onDelta", sub.onDelta, sub, [msg.changes]);
    else if (type === "update") this._callback("onUpdate", sub.onUpdate, sub, [msg.op, msg.row]);
  }

  /**
   * Later-mode rules, after rule 1: a reply/error/nack whose reqid is pending resolves that request;
   * a message whose subid names a subscription goes to it (pages gathered or handed to onPage,
   * getmore sent while hasmore); a nack/error matching nothing settles the oldest pending request
   * (a later server does not echo reqid on an unknown-service nack). Returns false to fall through.
   */
  _dispatchLater(msg) {
    const type = msg.type;
    if ((type === "reply" || type === "error" || type === "nack") && typeof msg.reqid === "string" && this._requests.has(msg.reqid)) {
      const request = this._requests.get(msg.reqid);
      this._requests.delete(msg.reqid);
      request.resolve(msg);
      return true;
    }
    const sub = typeof msg.subid === "string" ? this._subscriptions.get(msg.subid) : undefined;
    if (sub) {
      if (msg.ref) sub.ref = msg.ref; // recovery cursor (streams)
      if (type === "nack") {
        this._subscriptions.delete(sub.subid);
        if (typeof sub.onNack === "function") this._callback("onNack", sub.onNack, sub, [msg]);
        else if (this.onNack) this._callback("onNack", this.onNack, this, [sub.service, msg]);
        return true;
      }
      if (type === "snapshot") {
        const rows = Array.isArray(msg.rows) ? msg.rows : [];
        if (typeof sub.onPage === "function") {
          this._callback("onPage", sub.onPage, sub, [rows, { hasmore: !!msg.hasmore, ref: msg.ref, subid: sub.subid }]);
          return true;
        }
        sub._rows = (sub._rows || []).concat(rows);
        if (msg.hasmore) {
          this.getmore(sub.subid);
          return true;
        }
        const all = sub._rows;
        sub._rows = null;
        this._callback("onSnapshot", sub.onSnapshot, sub, [all]);
        return true;
      }
      if (type === "update") this._callback("onUpdate", sub.onUpdate, sub, [msg.op, msg.row]);
      return true;
    }
    if ((type === "nack" || (type === "error" && !msg.ref)) && this._requests.size > 0) {
      const [reqid, request] = this._requests.entries().next().value;
      this._requests.delete(reqid);
      request.resolve(msg);
      return true;
    }
    return false;
  }

  /**
   * Call a user callback as a method of `self` (the client, or the subscription record, as a
   * plain `this.onX()` / `sub.onX()` call would); an exception is logged, not propagated.
   */
  _callback(name, f, self, args) {
    if (typeof f !== "function") return;
    try {
      f.apply(self, args);
    } catch (e) {
      if (typeof console !== "undefined") console.error("mkio: " + name + " callback threw", e);
    }
  }
}

MkioClient.makeRef = makeRef;

if (typeof module !== "undefined" && module && module.exports) {
  module.exports = { MkioClient: MkioClient, makeRef: makeRef };
}
if (typeof window !== "undefined") {
  window.MkioClient = MkioClient;
  window.mkioMakeRef = makeRef;
}
