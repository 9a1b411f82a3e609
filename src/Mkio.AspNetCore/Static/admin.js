// mkio admin page: polls api/overview and api/metrics, draws its own charts on <canvas>, taps a
// service's monitor through api/monitor/{service} (server-sent events) and sends messages through
// api/send, guided by the discovery documents (api/services). Every URL is relative to the page.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_LOG = 200;
  const listenerTypes = new Set(["subpub", "stream", "query"]);
  let samples = [];
  let capacity = 300;
  let interval = 1000;
  let lastT = 0;
  let monitor = null;
  const details = new Map();

  function text(el, value) { if (el.textContent !== String(value)) el.textContent = String(value); }
  function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }
  function status(msg, ok) { const s = $("status"); text(s, msg); s.className = "status " + (ok ? "ok" : "bad"); }

  async function getJson(url) {
    const r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  function cell(row, value, cls, testid) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (testid) td.dataset.testid = testid;
    td.textContent = value;
    row.appendChild(td);
  }

  function renderServices(services) {
    const body = $("services-body");
    body.replaceChildren();
    for (const s of services) {
      const tr = document.createElement("tr");
      tr.dataset.testid = "service-row";
      tr.dataset.service = s.name;
      cell(tr, s.name, "", "svc-name");
      cell(tr, s.type, "", "svc-type");
      cell(tr, fmt(s.subscribers), "num", "svc-subscribers");
      cell(tr, fmt(s.monitors), "num", "svc-monitors");
      cell(tr, fmt(s.rows), "num", "svc-rows");
      cell(tr, s.change_log === null ? "–" : fmt(s.change_log) + " / " + fmt(s.change_log_capacity), "num", "svc-changelog");
      body.appendChild(tr);
    }
  }

  function renderConnections(c) {
    text($("conn-websockets"), fmt(c.websockets));
    text($("conn-sessions"), fmt(c.sessions));
    text($("conn-summary"), fmt(c.websockets) + " WebSocket connection(s) of at most " + fmt(c.max_websockets) +
      "; each may queue up to " + fmt(c.max_queue_bytes) + " bytes. Busiest sessions:");
    const body = $("sessions-body");
    body.replaceChildren();
    for (const s of c.busiest) {
      const tr = document.createElement("tr");
      tr.dataset.testid = "session-row";
      cell(tr, "#" + s.id);
      cell(tr, s.kind);
      cell(tr, fmt(s.queued_bytes), "num");
      body.appendChild(tr);
    }
  }

  async function refreshOverview() {
    const o = await getJson("api/overview");
    renderServices(o.services);
    renderConnections(o.connections);
    text($("total-committed"), fmt(o.totals.committed));
    text($("total-failed"), fmt(o.totals.failed));
    text($("total-messages"), fmt(o.totals.messages_out));
    text($("total-batches"), fmt(o.totals.batches));
    text($("database"), o.database || "");
    status(o.started ? "running · updated " + new Date().toLocaleTimeString() : "not started", o.started);
  }

  async function refreshMetrics() {
    const m = await getJson("api/metrics?since=" + lastT);
    capacity = m.capacity;
    interval = m.interval_ms;
    if (m.samples.length) {
      samples = samples.concat(m.samples).slice(-capacity);
      lastT = samples[samples.length - 1].t;
    }
    drawAll(m.interval_ms);
  }

  // --- charts: our own line charts on <canvas> ---

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function draw(canvas, series, intervalMs) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
    if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 44, right = 16, top = 6, bottom = 18;
    const pw = w - left - right, ph = h - top - bottom;
    let max = 0;
    for (const s of series) for (const v of s.values) if (v > max) max = v;
    max = niceMax(max);
    g.font = "10px system-ui, sans-serif";
    g.fillStyle = "#687385";
    g.strokeStyle = "#e5e9f0";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.beginPath(); g.moveTo(left, Math.round(y) + 0.5); g.lineTo(left + pw, Math.round(y) + 0.5); g.stroke();
      const label = (max * i) / 4;
      g.fillText(label >= 100 ? label.toFixed(0) : String(Number(label.toPrecision(3))), left - 4, y);
    }
    const span = capacity * (intervalMs / 1000);
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let i = 0; i <= 5; i++) {
      const x = left + (pw * i) / 5;
      const ago = span - (span * i) / 5;
      g.fillText(ago === 0 ? "now" : "-" + Math.round(ago / 60 * 10) / 10 + " min", x, top + ph + 4);
    }
    for (const s of series) {
      const n = s.values.length;
      if (!n) continue;
      g.strokeStyle = s.color;
      g.lineWidth = 1.5;
      g.beginPath();
      for (let i = 0; i < n; i++) {
        const x = left + pw - ((n - 1 - i) / (capacity - 1)) * pw;
        const y = top + ph - (s.values[i] / max) * ph;
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      }
      g.stroke();
    }
  }

  function drawAll(intervalMs) {
    const per = (k) => samples.map((s) => s[k] * 1000 / intervalMs);
    const last = samples[samples.length - 1];
    draw($("chart-tx"), [{ values: per("committed"), color: "#2563eb" }, { values: per("failed"), color: "#b91c1c" }], intervalMs);
    draw($("chart-out"), [{ values: per("messages_out"), color: "#d97706" }], intervalMs);
    draw($("chart-latency"), [{ values: samples.map((s) => s.latency_max_ms), color: "#f59e0b" }, { values: samples.map((s) => s.latency_avg_ms), color: "#2563eb" }], intervalMs);
    // What the charts hold, for scripts and tests: transactions and batches over the window.
    $("chart-tx").dataset.total = String(samples.reduce((a, s) => a + s.committed, 0));
    $("chart-latency").dataset.batches = String(samples.reduce((a, s) => a + s.batches, 0));
    if (last) {
      text($("now-tx"), fmt(last.committed * 1000 / intervalMs));
      text($("now-out"), fmt(last.messages_out * 1000 / intervalMs));
      text($("now-latency"), last.latency_avg_ms.toFixed(2) + " / " + last.latency_max_ms.toFixed(2));
    }
  }

  // --- send form, guided by the discovery documents ---

  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label || value;
    select.appendChild(o);
  }

  async function loadServices() {
    const list = await getJson("api/services");
    const send = $("send-service"), mon = $("monitor-service");
    send.replaceChildren(); mon.replaceChildren();
    for (const s of list) {
      option(mon, s.name, s.name + " (" + s.type + ")");
      if (!listenerTypes.has(s.type)) option(send, s.name, s.name + " (" + s.type + ")");
    }
    await chooseService();
  }

  async function chooseService() {
    const name = $("send-service").value;
    const ops = $("send-op");
    ops.replaceChildren();
    if (!name) { buildFields(); return; }
    let d = details.get(name);
    if (!d) { d = await getJson("api/services/" + encodeURIComponent(name)); details.set(name, d); }
    for (const op of Object.keys(d.ops || {})) option(ops, op);
    ops.disabled = ops.options.length <= 1;
    buildFields();
  }

  function currentOp() {
    const d = details.get($("send-service").value);
    const op = $("send-op").value;
    return d && d.ops ? { name: op, unnamed: Object.keys(d.ops).length === 1 && op === "default", spec: d.ops[op] } : null;
  }

  function buildFields() {
    const box = $("send-fields");
    box.replaceChildren();
    const op = currentOp();
    const seen = new Set();
    for (const step of (op && op.spec ? op.spec.steps : [])) {
      for (const [field, f] of Object.entries(step.fields || {})) {
        if (seen.has(field)) continue;
        seen.add(field);
        const label = document.createElement("label");
        const caption = document.createElement("span");
        caption.textContent = field + " · " + f.type;
        if (f.required) caption.className = "req";
        const input = document.createElement("input");
        input.name = field;
        input.dataset.type = f.type;
        input.dataset.testid = "field-" + field;
        if (f.default !== undefined) input.placeholder = "default " + f.default;
        input.addEventListener("input", composeMessage);
        label.append(caption, input);
        box.appendChild(label);
      }
    }
    composeMessage();
  }

  function typed(value, type) {
    const t = (type || "").toUpperCase();
    if (t.includes("INT")) { const n = Number.parseInt(value, 10); return Number.isNaN(n) ? value : n; }
    if (t.includes("REAL") || t.includes("FLOA") || t.includes("DOUB") || t.includes("NUMERIC")) { const n = Number(value); return Number.isNaN(n) ? value : n; }
    return value;
  }

  function composeMessage() {
    const service = $("send-service").value;
    const op = currentOp();
    const msg = { service: service };
    if (op && op.name && !op.unnamed) msg.op = op.name;
    const data = {};
    for (const input of $("send-fields").querySelectorAll("input")) {
      if (input.value !== "") data[input.name] = typed(input.value, input.dataset.type);
    }
    msg.data = data;
    $("send-message").value = JSON.stringify(msg, null, 1);
  }

  async function submit(e) {
    e.preventDefault();
    const out = $("send-result");
    out.className = "result";
    out.textContent = "sending…";
    try {
      const r = await fetch("api/send", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: $("send-message").value });
      const body = await r.text();
      let ok = r.ok;
      try { const j = JSON.parse(body); ok = ok && j.ok !== false && j.type !== "error" && !j.error; } catch (_) { ok = false; }
      out.className = "result " + (ok ? "ok" : "bad");
      out.textContent = (r.ok ? "" : "HTTP " + r.status + " ") + body;
      refreshOverview().catch(() => {});
    } catch (err) {
      out.className = "result bad";
      out.textContent = String(err);
    }
  }

  // --- monitor tap (server-sent events) ---

  function logLine(dir, payload) {
    const log = $("monitor-log");
    const li = document.createElement("li");
    li.className = dir;
    li.dataset.testid = "monitor-item";
    const d = document.createElement("span");
    d.className = "dir";
    d.textContent = dir;
    li.append(d, new Date().toLocaleTimeString() + " " + payload);
    log.prepend(li);
    while (log.children.length > MAX_LOG) log.lastChild.remove();
  }

  function stopMonitor(state) {
    if (monitor) { monitor.close(); monitor = null; }
    text($("monitor-toggle"), "Start");
    text($("monitor-state"), state || "stopped");
  }

  function startMonitor() {
    const name = $("monitor-service").value;
    if (!name) return;
    monitor = new EventSource("api/monitor/" + encodeURIComponent(name));
    text($("monitor-toggle"), "Stop");
    text($("monitor-state"), "connecting…");
    monitor.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (_) { logLine("?", ev.data); return; }
      if (m.type === "monitor_ack") { text($("monitor-state"), "tapping " + m.service); return; }
      if (m.direction) logLine(m.direction, JSON.stringify(m.message)); else logLine("!", ev.data);
    };
    monitor.addEventListener("overflow", () => stopMonitor("stopped: the tap fell behind"));
    monitor.onerror = () => { if (monitor && monitor.readyState === EventSource.CLOSED) stopMonitor("disconnected"); else text($("monitor-state"), "reconnecting…"); };
  }

  // --- wiring ---

  $("send-service").addEventListener("change", () => chooseService().catch((e) => status(String(e), false)));
  $("send-op").addEventListener("change", buildFields);
  $("send-form").addEventListener("submit", submit);
  $("monitor-toggle").addEventListener("click", () => (monitor ? stopMonitor() : startMonitor()));
  $("monitor-clear").addEventListener("click", () => $("monitor-log").replaceChildren());
  $("monitor-service").addEventListener("change", () => { if (monitor) { stopMonitor(); startMonitor(); } });
  window.addEventListener("resize", () => drawAll(interval));

  async function tick(fn, ms) {
    try { await fn(); } catch (e) { status(String(e.message || e), false); }
    setTimeout(() => tick(fn, ms), ms);
  }

  loadServices().catch((e) => status(String(e.message || e), false));
  tick(refreshOverview, 1000);
  tick(refreshMetrics, 2000);
})();
