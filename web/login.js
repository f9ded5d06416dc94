// "Log in with your eID": the demo site's page of `tessera rp serve` (OpenID4VP 1.0).
//
// Every state comes from the server, so that a reload or the back button at any step shows
// where the login is: GET /site/me (the session cookie) says whether we are logged in;
// GET /site/status (the cookie-bound transaction) whether a login is under way or how it
// ended. POST /site/login starts a transaction and returns the QR code (cross-device) and the
// openid4vp:// link (same device); the page then long-polls GET /site/status?wait=25 until
// the wallet has answered. The same-device return lands on /site/callback#response_code=…,
// which this script hands to POST /site/status?response_code=… and then drops from the URL.
//
// The body's data-state says which view is shown (for people: the sections; for the browser
// test: the attribute): loading, start, waiting, logged_in, declined, expired, invalid, error.
"use strict";

(function () {
  const POLL_WAIT = 25; // seconds the server may hold a status request
  const POLL_TIMEOUT_MS = (POLL_WAIT + 15) * 1000; // client-side bound of one request
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 15000;

  const $ = (id) => document.getElementById(id);
  const views = ["view-start", "view-waiting", "view-result", "view-account"];

  // This tab started a login (kept across reloads and back/forward, not across tabs): when
  // the server knows of no login ("none": its cookie ended with the transaction), a tab that
  // started one says that it expired; another tab shows the start page.
  const MARK = "tessera-login-started";
  function mark(on) {
    try {
      if (on) sessionStorage.setItem(MARK, "1");
      else sessionStorage.removeItem(MARK);
    } catch (e) {
      // storage disabled: a reload after a failed login shows the start page
    }
  }
  function marked() {
    try {
      return sessionStorage.getItem(MARK) === "1";
    } catch (e) {
      return false;
    }
  }

  // A generation number: a new login, a logout or a re-initialisation ends every older loop.
  let generation = 0;
  let expiryTimer = null;

  function show(view, state) {
    for (const v of views) $(v).hidden = v !== view;
    document.body.dataset.state = state;
  }

  function say(text) {
    $("status").textContent = text;
  }

  // fetch with a JSON answer; returns {status, body} (body null when not JSON)
  async function call(method, url, timeoutMs, json) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs || 20000);
    try {
      const res = await fetch(url, {
        method,
        credentials: "same-origin",
        cache: "no-store",
        headers: json ? { Accept: "application/json", "Content-Type": "application/json" } : { Accept: "application/json" },
        body: json ? JSON.stringify(json) : undefined,
        signal: ctl.signal,
      });
      let body = null;
      const type = res.headers.get("Content-Type") || "";
      if (type.includes("json")) {
        try {
          body = await res.json();
        } catch (e) {
          body = null;
        }
      }
      return { status: res.status, body };
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- views --------------------------------------------------------------------------

  function showStart(note) {
    stopExpiry();
    $("title").textContent = "Log in with your eID";
    mark(false);
    show("view-start", "start");
    say(note || "");
  }

  function showAccount(acct) {
    stopExpiry();
    const over = acct && acct.age_over_18;
    $("age").textContent = over === true ? "over 18" : over === false ? "not over 18" : "age not shared";
    $("account").textContent = (acct && acct.pseudonym) || "";
    mark(false);
    show("view-account", "logged_in");
    $("title").textContent = "You are logged in";
    say("Logged in.");
  }

  const RESULTS = {
    declined: {
      title: "Your wallet declined the login",
      detail: "Nothing was shared with this site. You can try again when you are ready.",
    },
    expired: {
      title: "The login request expired",
      detail: "Your wallet did not answer in time. Start a new login to get a fresh code.",
    },
    invalid: {
      title: "The answer from your wallet could not be accepted",
      detail: "The site could not verify what your wallet sent.",
    },
    error: {
      title: "The login did not work",
      detail: "The site's login service did not answer as expected.",
    },
  };

  function showResult(state, message) {
    stopExpiry();
    const r = RESULTS[state] || RESULTS.error;
    $("title").textContent = "Log in with your eID";
    $("result-title").textContent = r.title;
    // the server's reason, when it gives one (e.g. "the eID is suspended")
    $("result-detail").textContent = message ? r.detail + " Reason: " + message.replace(/\.?$/, ".") : r.detail;
    show("view-result", RESULTS[state] ? state : "error");
    say(r.title + ".");
  }

  // The QR code is the server's SVG, parsed as SVG (never as HTML) and cleaned of anything
  // active before it is put into the page.
  function putQr(svgText) {
    const box = $("qr");
    box.textContent = "";
    if (typeof svgText !== "string" || svgText.length === 0) return;
    const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    const svg = doc.documentElement;
    if (!svg || svg.localName !== "svg" || doc.getElementsByTagName("parsererror").length) return;
    for (const bad of Array.from(svg.querySelectorAll("script, foreignObject, a, use, image"))) bad.remove();
    for (const el of [svg, ...Array.from(svg.querySelectorAll("*"))]) {
      for (const attr of Array.from(el.attributes)) {
        const n = attr.name.toLowerCase();
        if (n.startsWith("on") || n === "href" || n.endsWith(":href") || n === "style") el.removeAttribute(attr.name);
      }
    }
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    box.appendChild(document.importNode(svg, true));
  }

  function expiryDate(expiresAt) {
    if (typeof expiresAt === "number") return new Date(expiresAt * 1000);
    if (typeof expiresAt === "string") {
      const d = new Date(/^\d+$/.test(expiresAt) ? Number(expiresAt) * 1000 : expiresAt);
      if (!isNaN(d.getTime())) return d;
    }
    return null;
  }

  function stopExpiry() {
    if (expiryTimer !== null) clearInterval(expiryTimer);
    expiryTimer = null;
    $("expires").textContent = "";
  }

  // A quiet hint of the time left (not in the live region: no announcement every second).
  function startExpiry(expiresAt) {
    stopExpiry();
    const end = expiryDate(expiresAt);
    if (!end) return;
    const tick = () => {
      const left = Math.max(0, Math.round((end.getTime() - Date.now()) / 1000));
      const m = Math.floor(left / 60);
      const s = String(left % 60).padStart(2, "0");
      $("expires").textContent = left > 0 ? "The code is valid for " + m + ":" + s + " more." : "The code has expired.";
    };
    tick();
    expiryTimer = setInterval(tick, 1000);
  }

  // tx: {authorization_request, qr_svg, expires_at} (from POST /site/login, or a pending
  // status after a reload, which may not repeat the code: then a new one is offered)
  function showWaiting(tx) {
    const link = $("wallet-link");
    const hasCode = typeof tx.authorization_request === "string" && tx.authorization_request !== "";
    putQr(hasCode ? tx.qr_svg : "");
    if (hasCode) {
      link.href = tx.authorization_request;
      link.dataset.flow = tx.flow || "cross_device";
    } else {
      link.removeAttribute("href");
      delete link.dataset.flow;
    }
    $("with-code").hidden = !hasCode;
    $("without-code").hidden = hasCode;
    show("view-waiting", "waiting");
    $("title").textContent = "Log in with your eID";
    startExpiry(tx.expires_at);
    say("Waiting for your wallet…");
  }

  // ---- the flow -----------------------------------------------------------------------

  // what /site/status said -> the page; returns true when the login has ended
  async function applyStatus(st, gen) {
    if (gen !== generation) return true;
    switch (st && st.state) {
      case "pending":
        say("Waiting for your wallet…");
        return false;
      case "fetched":
        say("Your wallet has the request. Waiting for your answer in the wallet…");
        return false;
      case "logged_in":
        await showMe(gen, st);
        return true;
      case "declined":
      case "expired":
      case "invalid":
        showResult(st.state, st.message);
        return true;
      case "none": // the login's cookie ended with its transaction
        showResult("expired", "The login expired. Start again.");
        return true;
      default:
        showResult("error", st && st.message);
        return true;
    }
  }

  // the account from the session cookie; `fallback` (a status answer) if /site/me fails
  async function showMe(gen, fallback) {
    let me = null;
    try {
      const r = await call("GET", "/site/me");
      if (r.status === 200 && r.body) me = r.body;
    } catch (e) {
      me = null;
    }
    if (gen !== generation) return;
    if (me) showAccount(me);
    else if (fallback && fallback.pseudonym) showAccount(fallback);
    else showResult("error", "the site did not keep the session");
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // long-poll until the transaction ends (or a newer generation takes over)
  async function poll(gen) {
    let backoff = RETRY_MIN_MS;
    while (gen === generation) {
      let r;
      try {
        r = await call("GET", "/site/status?wait=" + POLL_WAIT, POLL_TIMEOUT_MS);
      } catch (e) {
        if (gen !== generation) return;
        say("The connection to the site was lost. Trying again…");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
        continue;
      }
      if (gen !== generation) return;
      if (r.status >= 500 || r.status === 429) {
        say("The site is busy. Trying again…");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
        continue;
      }
      backoff = RETRY_MIN_MS;
      if (r.status !== 200 || !r.body) {
        // no transaction bound to this browser any more (e.g. the cookie was cleared)
        showResult("error", (r.body && (r.body.message || r.body.error_description)) || "the login transaction is gone");
        return;
      }
      if (await applyStatus(r.body, gen)) return;
    }
  }

  // A new login transaction. flow "cross_device" (the QR code; the page polls) or
  // "same_device" (the wallet on this device sends the browser back to /site/callback)
  async function startLogin(flow) {
    const gen = ++generation;
    const buttons = ["login", "retry", "new-code"];
    for (const b of buttons) $(b).disabled = true;
    say(flow === "same_device" ? "Opening your wallet…" : "Starting the login…");
    let r;
    try {
      r = await call("POST", "/site/login", 20000, { flow: flow || "cross_device" });
    } catch (e) {
      r = null;
    } finally {
      for (const b of buttons) $(b).disabled = false;
    }
    if (gen !== generation) return null;
    if (!r || (r.status !== 200 && r.status !== 201) || !r.body || !r.body.authorization_request) {
      showResult("error", r && r.body && (r.body.message || r.body.error_description));
      return null;
    }
    mark(true);
    r.body.flow = flow || "cross_device";
    showWaiting(r.body);
    poll(gen);
    return r.body;
  }

  // "Open your wallet" on this device: a same-device transaction, then the wallet's link
  async function openWallet(ev) {
    ev.preventDefault();
    const tx = await startLogin("same_device");
    if (tx) window.location.href = tx.authorization_request;
  }

  async function logout() {
    const gen = ++generation;
    $("logout").disabled = true;
    try {
      await call("POST", "/site/logout");
    } catch (e) {
      // the cookie may still be there; /site/me decides below
    } finally {
      $("logout").disabled = false;
    }
    if (gen !== generation) return;
    await init("You are logged out.");
  }

  // same-device return: /site/callback#response_code=… -> the server; the code is dropped
  // from the address bar and the history entry so that a reload does not send it again
  async function takeResponseCode(gen) {
    const m = /(?:^#|&)response_code=([^&]*)/.exec(location.hash);
    if (!m) return false;
    const code = decodeURIComponent(m[1]);
    history.replaceState(null, "", "/");
    say("Checking the answer from your wallet…");
    let r;
    try {
      r = await call("POST", "/site/status?response_code=" + encodeURIComponent(code));
    } catch (e) {
      r = null;
    }
    if (gen !== generation) return true;
    if (r && r.status === 200 && r.body && r.body.state && r.body.state !== "pending" && r.body.state !== "fetched") {
      await applyStatus(r.body, gen);
      return true;
    }
    return false; // go on as after a reload: the server knows the state
  }

  // the state from the server: logged in? a transaction under way or ended?
  async function init(note) {
    const gen = ++generation;
    stopExpiry();
    say(note || "");
    try {
      if (await takeResponseCode(gen)) return;
      const me = await call("GET", "/site/me");
      if (gen !== generation) return;
      if (me.status === 200 && me.body) {
        showAccount(me.body);
        if (note) say(note);
        return;
      }
      const st = await call("GET", "/site/status");
      if (gen !== generation) return;
      const s = st.status === 200 && st.body ? st.body.state : null;
      if (s === "pending" || s === "fetched") {
        // keep waiting for that login (the wallet may be at its consent screen); without
        // the code again, the page offers a new one
        mark(true);
        showWaiting(st.body);
        poll(gen);
        return;
      }
      if (s === "declined" || s === "expired" || s === "invalid") {
        showResult(s, st.body.message);
        return;
      }
      if (s === "none" && marked()) {
        showResult("expired", "The login expired. Start again.");
        return;
      }
      // "logged_in" here: that login's session has ended (logged out, or expired), since
      // /site/me said no: start again
      showStart(note);
    } catch (e) {
      if (gen !== generation) return;
      showResult("error", "the site cannot be reached");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("click", () => startLogin("cross_device"));
    $("retry").addEventListener("click", () => startLogin("cross_device"));
    $("new-code").addEventListener("click", () => startLogin("cross_device"));
    $("wallet-link").addEventListener("click", openWallet);
    $("logout").addEventListener("click", logout);
    init();
  });
  // back/forward from the browser's page cache: the page may be stale, ask the server again
  window.addEventListener("pageshow", (ev) => {
    if (ev.persisted) init();
  });
  // a same-device return into an open page changes only the fragment
  window.addEventListener("hashchange", () => {
    if (/response_code=/.test(location.hash)) init();
  });
  window.addEventListener("pagehide", () => {
    generation++; // stop polling while the page is in the cache
  });
})();
