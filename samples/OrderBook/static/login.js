// The order-book page's opt-in login (the sample run with OrderBook:Auth=true; OrderBookAuth.cs).
// The server serves this file at /orderbook/login.js only then; index.html loads it before app.js,
// which hands its client to window.orderBookLogin instead of connecting at once.
//
// A small form (user, password) above the page: the page stays hidden and unconnected until the
// login succeeds. /mkio.js sends the `auth` message first on connect (and again on every reconnect,
// before resubscribing); a refusal rejects connect() with "login refused: <reason>", shown here.
"use strict";

(function () {
  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');

  window.orderBookLogin = function (client) {
    const main = document.querySelector("main");
    const conn = byTestId("conn-state");
    main.style.display = "none";
    conn.dataset.state = "logged-out";
    conn.textContent = "logged out";

    const panel = document.createElement("section");
    panel.className = "panel login";
    panel.setAttribute("data-testid", "login-panel");
    panel.innerHTML =
      "<h2>Log in</h2>" +
      '<form data-testid="login-form">' +
      '<label>User <input name="username" data-testid="login-user" autocomplete="username" required></label> ' +
      '<label>Password <input name="password" type="password" data-testid="login-password" autocomplete="current-password" required></label> ' +
      '<button type="submit" data-testid="login-submit">Log in</button>' +
      '<p class="error" data-testid="login-error" role="alert" hidden></p>' +
      "</form>";
    main.parentNode.insertBefore(panel, main);
    const form = panel.querySelector("form");
    const refusal = panel.querySelector('[data-testid="login-error"]');
    const submit = panel.querySelector('[data-testid="login-submit"]');

    // Logged in (on connect() or on a later automatic reconnect): show the page and who is logged in.
    const onConnect = client.onConnect;
    client.onConnect = function () {
      panel.remove();
      main.style.display = "";
      const who = document.createElement("span");
      who.className = "user";
      who.setAttribute("data-testid", "user");
      who.textContent = client.user || "";
      if (!byTestId("user")) conn.parentNode.insertBefore(who, conn);
      return onConnect.apply(this, arguments);
    };

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      refusal.hidden = true;
      form.elements.password.disabled = true;
      submit.disabled = true;
      client.login(form.elements.username.value.trim(), form.elements.password.value); // kept for connect()
      try {
        await client.connect();
      } catch (e) {
        // A refusal stops the client; anything else (server unreachable) is retried by it, and the
        // page appears once a retry logs in.
        const text = e && e.message ? e.message : String(e);
        const refused = /login refused: .*/.exec(text);
        refusal.textContent = refused ? refused[0] : text;
        refusal.hidden = false;
        form.elements.password.value = "";
      } finally {
        form.elements.password.disabled = false;
        submit.disabled = false;
      }
    });
  };
})();
