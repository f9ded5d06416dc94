// The demo site's login page (docs/RP.md): POST /site/login, show the QR code
// and the wallet link, poll /site/status?wait=25 until the login ends; a page
// reload or the back button resumes from the server's state (cookies).
"use strict";

const $ = (id) => document.getElementById(id);
let polling = false;

function show(section) {
  for (const s of ["start", "pending", "done", "problem"]) $(s).hidden = s !== section;
}

function showAccount(a) {
  $("age").textContent = a.age_over_18 === true ? "yes" : a.age_over_18 === false ? "no" : "not told";
  $("pseudonym").textContent = a.pseudonym || "(none)";
  $("done-message").textContent = "Logged in: over 18, your account at this site is " +
    (a.pseudonym || "(none)");
  show("done");
}

function problem(message) {
  $("problem-message").textContent = message;
  show("problem");
}

async function poll(responseCode) {
  if (polling) return;
  polling = true;
  try {
    for (;;) {
      let url = "/site/status?wait=25";
      if (responseCode) url += "&response_code=" + encodeURIComponent(responseCode);
      const r = await fetch(url, { method: responseCode ? "POST" : "GET", credentials: "same-origin" });
      const s = await r.json();
      if (s.state === "pending") {
        $("pending-message").textContent = s.message;
        continue;
      }
      if (s.state === "logged_in") return showAccount(s);
      if (s.state === "declined") return problem("You declined in your wallet.");
      if (s.state === "expired") return problem("The login expired. Please try again.");
      return problem(s.message || "The login failed.");
    }
  } catch (e) {
    problem("The site cannot be reached: " + e.message);
  } finally {
    polling = false;
  }
}

async function start() {
  const r = await fetch("/site/login", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: "{}" });
  if (!r.ok) return problem("The site could not start a login.");
  const t = await r.json();
  $("qr").innerHTML = t.qr_svg;
  $("wallet-link").href = t.authorization_request;
  $("wallet-link").dataset.request = t.authorization_request;
  show("pending");
  history.replaceState(null, "", "/");
  poll();
}

async function resume() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const code = hash.get("response_code");
  if (code) {
    history.replaceState(null, "", "/");
    show("pending");
    return poll(code);
  }
  const me = await fetch("/site/me", { credentials: "same-origin" });
  if (me.ok) return showAccount(await me.json());
  const s = await (await fetch("/site/status", { credentials: "same-origin" })).json();
  if (s.state === "pending") {
    show("pending");
    $("pending-message").textContent = "Waiting for your wallet (reload: start again to see the code).";
    return poll();
  }
  show("start");
}

window.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("click", start);
  $("again").addEventListener("click", start);
  $("cancel").addEventListener("click", () => show("start"));
  $("logout").addEventListener("click", async () => {
    await fetch("/site/logout", { method: "POST", credentials: "same-origin" });
    show("start");
  });
  resume();
});
