// The order-book page: a live view of the sample's services through /mkio.js only.
//
//   orders      (transaction) new / accept / reject / fill / cancel, sent with client.send
//   all_orders  (query)       the order table: a snapshot replaces it, deltas and updates apply
//   last_trade  (subpub)      latest fill per symbol: {symbol, price (negative for sells), time}
//   audit_feed  (stream)      audit rows, newest first, bounded
//
// After a reconnect the client resubscribes with each subscription's last ref (PROTOCOL.md §7.5):
// queries and subpubs answer with a delta (apply on top) or a snapshot (replace); a stream answers
// with a snapshot of the entries after the ref (or the whole buffer), so the feed merges by id.
"use strict";

(function () {
  const MAX_AUDIT = 100;

  // Which actions an order allows in each status.
  const ACTIONS = ["accept", "reject", "fill", "cancel"];
  const ALLOWED = {
    pending: ["accept", "reject", "cancel"],
    accepted: ["fill", "cancel"],
  };

  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  /** "YYYYMMDD HH:MM:SS.ffffff…" -> "HH:MM:SS.mmm" (refs are UTC). */
  const refTime = (ref) => (typeof ref === "string" && ref.length >= 21 ? ref.substring(9, 21) : "");
  const money = (v) => (typeof v === "number" && isFinite(v) ? v.toFixed(2) : v === null || v === undefined ? "" : String(v));
  /** Newest first: numeric ids descending (string ids fall back to a string compare). */
  const newerFirst = (a, b) =>
    typeof a === "number" && typeof b === "number" ? b - a : String(b).localeCompare(String(a));

  // ------------------------------------------------------------------ connection state & errors

  const connEl = byTestId("conn-state");
  let everConnected = false;
  function setState(state) {
    connEl.dataset.state = state;
    connEl.textContent = state;
  }

  const errorEl = byTestId("error");
  const errorMsgEl = byTestId("error-message");
  function showError(message) {
    errorMsgEl.textContent = message;
    errorEl.hidden = false;
  }
  function clearError() {
    errorMsgEl.textContent = "";
    errorEl.hidden = true;
  }
  byTestId("error-dismiss").addEventListener("click", clearError);

  // ------------------------------------------------------------------ client

  const client = new MkioClient((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws", {
    backoffMax: 5000, // a page should come back soon after a server restart
    onConnect() {
      everConnected = true;
      setState("connected");
      for (const row of orderRows.values()) setBusy(row, false);
    },
    onDisconnect() {
      setState(everConnected ? "reconnecting" : "connecting");
    },
    onNack(service, msg) {
      showError("subscription to " + service + " rejected: " + msg.message);
    },
  });

  /**
   * Send an op of the orders service; an `error` reply (or a send refused while disconnected)
   * is shown in the error banner. Resolves with the reply, or null when it could not be sent.
   */
  async function send(op, data, service) {
    let reply;
    try {
      reply = await client.send(service || "orders", data, { op: op });
    } catch (e) {
      showError(e && e.message ? e.message : String(e));
      return null;
    }
    if (reply.type === "error") showError(reply.message);
    else clearError();
    return reply;
  }

  // ------------------------------------------------------------------ orders (query all_orders)

  const ordersBody = byTestId("orders-body");
  const orderRows = new Map(); // id -> <tr>
  const rowHooks = []; // {created(tr, actionsCell), filled(tr, row)}: extensions such as history.js

  function orderCell(testid, text, cls) {
    return el("td", cls ? { "data-testid": testid, class: cls } : { "data-testid": testid }, text);
  }

  function createOrderRow(id) {
    const tr = el("tr", { "data-testid": "order-row", "data-id": String(id) });
    tr._id = id;
    tr.append(
      orderCell("order-id", id, "num"),
      orderCell("order-side", ""),
      orderCell("order-symbol", ""),
      orderCell("order-qty", "", "num"),
      orderCell("order-price", "", "num"),
      orderCell("order-status", ""),
    );
    const actions = el("td", { class: "actions" });
    for (const op of ACTIONS) {
      const b = el("button", { type: "button", "data-testid": op, "data-op": op, class: "act " + op }, op[0].toUpperCase() + op.slice(1));
      b.addEventListener("click", async () => {
        setBusy(tr, true);
        await send(op, { id: tr._id });
        setBusy(tr, false);
      });
      actions.append(b);
    }
    tr.append(actions);
    for (const h of rowHooks) if (h.created) h.created(tr, actions);
    return tr;
  }

  function setBusy(tr, busy) {
    tr._busy = busy;
    updateButtons(tr);
  }

  function updateButtons(tr) {
    const allowed = ALLOWED[tr.dataset.status] || [];
    for (const b of tr.querySelectorAll("button.act")) b.disabled = !!tr._busy || !allowed.includes(b.dataset.op);
  }

  function fillOrderRow(tr, row) {
    const cells = tr.children;
    cells[1].textContent = row.side ?? "";
    cells[1].className = row.side === "Sell" ? "sell" : row.side === "Buy" ? "buy" : "";
    cells[2].textContent = row.symbol ?? "";
    cells[3].textContent = row.qty ?? "";
    cells[4].textContent = money(row.price);
    const status = row.status ?? "";
    cells[5].textContent = status;
    cells[5].className = "status " + status;
    tr.dataset.status = status;
    updateButtons(tr);
    for (const h of rowHooks) if (h.filled) h.filled(tr, row);
  }

  function setOrder(row) {
    if (!row || row.id === undefined || row.id === null) return;
    let tr = orderRows.get(row.id);
    if (!tr) {
      tr = createOrderRow(row.id);
      orderRows.set(row.id, tr);
      // keep newest first: insert before the first row with an older id
      let before = null;
      for (const other of ordersBody.children) {
        if (newerFirst(row.id, other._id) < 0) { before = other; break; }
      }
      ordersBody.insertBefore(tr, before);
    }
    fillOrderRow(tr, row);
  }

  function deleteOrder(row) {
    if (!row) return;
    const tr = orderRows.get(row.id);
    if (tr) {
      tr.remove();
      orderRows.delete(row.id);
    }
  }

  function applyOrder(op, row) {
    if (op === "delete") deleteOrder(row);
    else setOrder(row); // insert / update / upsert
  }

  function ordersChanged() {
    byTestId("order-count").textContent = String(orderRows.size);
    byTestId("orders-empty").hidden = orderRows.size > 0;
  }

  client.subscribe("all_orders", {
    onSnapshot(rows) {
      orderRows.clear();
      ordersBody.replaceChildren();
      for (const row of rows || []) setOrder(row);
      ordersChanged();
    },
    onDelta(changes) {
      for (const ch of changes || []) applyOrder(ch.op, ch.row);
      ordersChanged();
    },
    onUpdate(op, row) {
      applyOrder(op, row);
      ordersChanged();
    },
  });

  // ------------------------------------------------------------------ last trades (subpub last_trade)

  const tradesBody = byTestId("trades-body");
  const trades = new Map(); // symbol -> row

  function renderTrades() {
    const rows = [...trades.values()].sort((a, b) => String(a.symbol).localeCompare(String(b.symbol)));
    tradesBody.replaceChildren(...rows.map((t) => {
      const tr = el("tr", { "data-testid": "trade-row", "data-symbol": String(t.symbol) });
      const price = el("td", { "data-testid": "trade-price", class: "num " + (t.price < 0 ? "sell" : "buy") }, money(t.price));
      const time = el("td", { "data-testid": "trade-time", title: String(t.time ?? "") }, refTime(t.time));
      tr.append(el("td", { "data-testid": "trade-symbol" }, t.symbol), price, time);
      return tr;
    }));
    byTestId("trades-empty").hidden = trades.size > 0;
  }

  // Keeps `map` (keyOf(row) -> row) in step with a service's snapshot, delta and updates, then calls
  // render. Rows whose key is undefined are ignored. Also used by history.js.
  function mirror(service, map, keyOf, render) {
    function apply(op, row) {
      const key = row ? keyOf(row) : undefined;
      if (key === undefined) return;
      if (op === "delete") map.delete(key);
      else map.set(key, row);
    }
    client.subscribe(service, {
      onSnapshot(rows) {
        map.clear();
        for (const row of rows || []) apply("insert", row);
        render();
      },
      onDelta(changes) {
        for (const ch of changes || []) apply(ch.op, ch.row);
        render();
      },
      onUpdate(op, row) {
        apply(op, row);
        render();
      },
    });
  }

  mirror("last_trade", trades, (row) => row.symbol, renderTrades);

  // ------------------------------------------------------------------ audit feed (stream audit_feed)

  const feedEl = byTestId("audit-feed");
  const audit = new Map(); // audit id (or ref) -> row

  const auditKey = (row) => (row.id !== undefined && row.id !== null ? row.id : row._mkio_ref);

  function renderAudit() {
    // newest first, bounded: drop the oldest beyond MAX_AUDIT
    const keys = [...audit.keys()].sort(newerFirst);
    for (const k of keys.slice(MAX_AUDIT)) audit.delete(k);
    feedEl.replaceChildren(...keys.slice(0, MAX_AUDIT).map((k) => {
      const a = audit.get(k);
      const li = el("li", {
        "data-testid": "audit-item", "data-id": String(k),
        "data-event": String(a.event ?? ""), "data-order-id": String(a.order_id ?? ""),
      });
      li.append(
        el("span", { class: "time", "data-testid": "audit-time", title: String(a._mkio_ref ?? "") }, refTime(a._mkio_ref)),
        el("span", { class: "event " + (a.event ?? ""), "data-testid": "audit-event" }, a.event),
        el("span", { class: "order", "data-testid": "audit-order" }, "order #" + (a.order_id ?? "?")),
        el("span", { class: "status", "data-testid": "audit-status" }, a.status ? "→ " + a.status : ""),
      );
      return li;
    }));
    byTestId("audit-empty").hidden = audit.size > 0;
  }

  function addAudit(rows) {
    for (const row of rows || []) if (row) audit.set(auditKey(row), row);
    renderAudit();
  }

  client.subscribe("audit_feed", {
    // A stream's snapshot after a resubscribe holds the entries after the last ref (or the whole
    // buffer when that ref is too old): merging by id covers both without duplicates.
    onSnapshot: addAudit,
    onUpdate(op, row) { addAudit([row]); },
  });

  // ------------------------------------------------------------------ order form

  const form = byTestId("order-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const side = ev.submitter && ev.submitter.value === "Sell" ? "Sell" : "Buy";
    const symbol = form.elements.symbol.value.trim().toUpperCase();
    const qty = Number(form.elements.qty.value);
    const price = Number(form.elements.price.value);
    if (!symbol) { showError("symbol is required"); return; }
    if (!Number.isInteger(qty) || qty <= 0) { showError("qty must be a positive whole number"); return; }
    if (!isFinite(price) || price < 0) { showError("price must be a number ≥ 0"); return; }
    await send("new", { side: side, symbol: symbol, qty: qty, price: price });
  });

  // ------------------------------------------------------------------ start

  ordersChanged();
  renderTrades();
  renderAudit();
  // The subscriptions above are stored and sent once the socket opens (and re-sent, with their
  // last refs, after every reconnect). A failed first attempt is retried with backoff too.
  // With the opt-in login (login.js, loaded before this file) the page connects once the user logged in.
  if (window.orderBookLogin) window.orderBookLogin(client);
  else client.connect().catch(() => { /* retried by the client; the indicator shows the state */ });

  // For debugging from the console (and tests): the client and the page's send helper; rowHooks
  // and showError for extensions loaded after this file (history.js).
  window.orderBook = { client: client, send: send, rowHooks: rowHooks, showError: showError, mirror: mirror };
})();
