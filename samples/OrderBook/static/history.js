// Versioned orders on the order-book page (the sample's OrderHistory.cs makes `orders` versioned):
//
//   order_versions  (transaction) undo / redo, key {id}: steps an order to its previous (next) version
//   order_history   (query)       every recorded version from orders__history, live
//
// Each order row gets an "Undo" button (enabled when the order has a previous version: its
// _mkio_version > 1) and a "History" button that shows the order's versions in the history panel,
// newest first, the current one marked. An undo is an ordinary update for every subscriber, so the
// order table, last trades and this panel follow it without any special case.
"use strict";

(function () {
  const book = window.orderBook;
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
  const money = (v) => (typeof v === "number" && isFinite(v) ? v.toFixed(2) : v === null || v === undefined ? "" : String(v));
  /** "YYYYMMDD HH:MM:SS.ffffff…" -> "HH:MM:SS.mmm" (refs are UTC). */
  const refTime = (ref) => (typeof ref === "string" && ref.length >= 21 ? ref.substring(9, 21) : "");

  const versions = new Map(); // "id:version" -> history row
  const current = new Map(); // order id -> its current version (the base row's _mkio_version)
  let selected = null; // the order id shown in the panel

  // ------------------------------------------------------------------ buttons on each order row

  book.rowHooks.push({
    created(tr, actions) {
      const undo = el("button", { type: "button", "data-testid": "undo", class: "extra undo-btn", title: "Undo the last change" }, "Undo");
      undo.disabled = true;
      undo.addEventListener("click", async () => {
        undo.disabled = true;
        await book.send("undo", { id: tr._id }, "order_versions");
        enableUndo(tr);
      });
      const show = el("button", { type: "button", "data-testid": "show-history", class: "extra history-btn", title: "Show the versions of this order" }, "History");
      show.addEventListener("click", () => select(tr._id));
      actions.append(undo, show);
    },
    filled(tr, row) {
      if (typeof row._mkio_version === "number") current.set(tr._id, row._mkio_version);
      enableUndo(tr);
      if (tr._id === selected) render();
    },
  });

  function enableUndo(tr) {
    const b = tr.querySelector('[data-testid="undo"]');
    if (b) b.disabled = !((current.get(tr._id) || 0) > 1);
  }

  // ------------------------------------------------------------------ the history panel

  const titleEl = byTestId("history-title");
  const listEl = byTestId("history-list");
  const emptyEl = byTestId("history-empty");

  function select(id) {
    selected = id;
    render();
  }

  function render() {
    if (selected === null) {
      titleEl.textContent = "";
      listEl.replaceChildren();
      emptyEl.hidden = false;
      return;
    }

    titleEl.textContent = "order #" + selected;
    const rows = [...versions.values()].filter((r) => r.id === selected).sort((a, b) => b._mkio_version - a._mkio_version);
    const cur = current.get(selected);
    listEl.replaceChildren(...rows.map((r) => {
      const isCurrent = r._mkio_version === cur;
      const li = el("li", {
        "data-testid": "history-item", "data-version": String(r._mkio_version),
        "data-op": String(r._mkio_op ?? ""), "data-current": String(isCurrent),
        class: isCurrent ? "current" : "",
      });
      li.append(
        el("span", { class: "version", "data-testid": "history-version" }, "v" + r._mkio_version),
        el("span", { class: "time", "data-testid": "history-time", title: String(r._mkio_ref ?? "") }, refTime(r._mkio_ref)),
        el("span", { class: "op", "data-testid": "history-op" }, r._mkio_op),
        el("span", { class: "status " + (r.status ?? ""), "data-testid": "history-status" }, r.status),
        el("span", { class: "detail", "data-testid": "history-detail" }, (r.qty ?? "") + " @ " + money(r.price)),
        el("span", { class: "service", "data-testid": "history-service" }, r._mkio_service ?? ""),
      );
      return li;
    }));
    emptyEl.hidden = rows.length > 0;
  }

  book.mirror("order_history", versions,
    (row) => (row.id === undefined || row._mkio_version === undefined ? undefined : row.id + ":" + row._mkio_version),
    render);

  render();
})();
