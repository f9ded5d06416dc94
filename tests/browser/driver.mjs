// A headless Chromium (Debian's `chromium`) driven by puppeteer-core, one command per line on
// standard input, one answer per line on standard output. The browser test (run.sh) and the
// demo (scripts/demo.sh) both drive the demo site of `tessera rp serve` through it, by way of
// driver.bash.
//
//   node driver.mjs --shots DIR [--chromium PATH]
//
// Commands (arguments separated by single spaces):
//   open URL               load URL in the one tab
//   wait STATES [SECONDS]  until <body data-state> is one of STATES (comma-separated; default
//                          bound 90 s: a liveness bound, not a timing assertion); answers info
//   waitlink FLOW [SECONDS] until the wallet link of a FLOW (cross_device, same_device)
//                          transaction is shown; answers info
//   info                   {state, url, title, status, age, account, link, qr, resultTitle,
//                          resultDetail, flow, errors}
//   click ID               clicks the element #ID (it must be visible and enabled)
//   reload | back | forward
//   newtab                 closes the tab for a new one (same cookies)
//   shot NAME              full-page screenshot DIR/NAME.png; answers {path}
//   cookies                the cookies of the current page: [{name, httpOnly, sameSite, ...}]
//   quit
// Answers: "ok <JSON>" or "error <message>"; the first line (before any command) says whether
// the browser started. JavaScript errors of the page (uncaught
// exceptions, console errors) are collected in info's `errors`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { execFileSync } from "node:child_process";
import puppeteer from "puppeteer-core";

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function findChromium() {
  const given = arg("--chromium", process.env.CHROMIUM || "");
  if (given) return given;
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch (e) {
    return "";
  }
}

const shots = arg("--shots", "");
if (!shots) {
  console.log("error usage: node driver.mjs --shots DIR [--chromium PATH]");
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
const chromium = findChromium();
if (!chromium || !fs.existsSync(chromium)) {
  console.log("error chromium not found (install Debian's chromium package, or set CHROMIUM)");
  process.exit(1);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-chromium-"));
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    pipe: true,
    userDataDir: profile,
    defaultViewport: { width: 900, height: 900 },
    args: [
      "--no-sandbox", // root in CI containers; the page is our own
      "--disable-dev-shm-usage",
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--metrics-recording-only",
      "--password-store=basic",
    ],
  });
} catch (e) {
  console.log("error chromium did not start: " + String(e.message || e).split("\n")[0]);
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
const errors = [];
function watch(p) {
  p.on("pageerror", (e) => errors.push("pageerror: " + (e.message || String(e))));
  p.on("console", (m) => {
    // Chromium logs every non-2xx answer as "Failed to load resource": the page expects 401s
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push("console: " + m.text());
  });
  return p;
}
let page = watch(await browser.newPage());
console.log("ok " + JSON.stringify({ browser: await browser.version(), chromium }));

async function info() {
  const dom = await page.evaluate(() => {
    const t = (id) => {
      const e = document.getElementById(id);
      return e ? e.textContent.replace(/\s+/g, " ").trim() : null;
    };
    const visible = (id) => {
      const e = document.getElementById(id);
      return !!e && e.getClientRects().length > 0;
    };
    const link = document.getElementById("wallet-link");
    const qr = document.querySelector("#qr svg");
    return {
      state: document.body ? document.body.dataset.state || "" : "",
      title: t("title"),
      status: t("status"),
      age: visible("account") ? t("age") : null,
      account: visible("account") ? t("account") : null,
      accountLine: visible("account-line") ? t("account-line") : null,
      link: visible("wallet-link") ? link.getAttribute("href") : null,
      flow: link ? link.dataset.flow || null : null,
      qr: visible("qr") && !!qr,
      qrActive: !!document.querySelector("#qr script, #qr foreignObject, #qr [onload]"),
      resultTitle: visible("result-title") ? t("result-title") : null,
      resultDetail: visible("result-detail") ? t("result-detail") : null,
    };
  });
  dom.url = page.url();
  dom.errors = errors.slice();
  return dom;
}

async function waitState(states, seconds) {
  const want = states.split(",");
  await page.waitForFunction((w) => document.body && w.includes(document.body.dataset.state), {
    timeout: seconds * 1000,
    polling: 100,
  }, want);
  return info();
}

async function run(line) {
  const sp = line.indexOf(" ");
  const cmd = sp < 0 ? line : line.slice(0, sp);
  const rest = sp < 0 ? "" : line.slice(sp + 1);
  switch (cmd) {
    case "open":
      await page.goto(rest, { waitUntil: "domcontentloaded" });
      return { url: page.url() };
    case "wait": {
      const [states, secs] = rest.split(" ");
      try {
        return await waitState(states, Number(secs || 90));
      } catch (e) {
        const now = await info();
        throw new Error("state " + JSON.stringify(now.state) + " is not " + states + ": " + JSON.stringify(now));
      }
    }
    case "info":
      return info();
    case "waitlink": {
      // until the wallet link of a FLOW transaction (cross_device | same_device) is shown
      const [flow, secs] = rest.split(" ");
      try {
        await page.waitForFunction((f) => {
          const l = document.getElementById("wallet-link");
          return !!l && l.getClientRects().length > 0 && l.dataset.flow === f &&
            /^openid4vp:/.test(l.getAttribute("href") || "");
        }, { timeout: Number(secs || 90) * 1000, polling: 100 }, flow);
      } catch (e) {
        throw new Error("no " + flow + " wallet link: " + JSON.stringify(await info()));
      }
      return info();
    }
    case "click": {
      const el = await page.$("#" + rest);
      if (!el) throw new Error("no element #" + rest);
      const vis = await el.evaluate((e) => e.getClientRects().length > 0 && !e.disabled);
      if (!vis) throw new Error("#" + rest + " is hidden or disabled");
      // the element's click() (the same click event for the page), not synthetic mouse input:
      // once the page has launched the wallet's openid4vp: link, headless Chromium keeps the
      // external-protocol prompt it cannot show and drops mouse input to every tab after it
      await el.evaluate((e) => e.click());
      return {};
    }
    case "newtab": {
      // a new tab in the same profile (cookies kept), as when a wallet app opens its redirect;
      // the old tab is closed (it may be left waiting on the wallet's openid4vp: launch)
      const old = page;
      page = watch(await browser.newPage());
      await old.close();
      return {};
    }
    case "reload":
      await page.reload({ waitUntil: "domcontentloaded" });
      return { url: page.url() };
    case "back":
      await page.goBack({ waitUntil: "domcontentloaded" });
      return { url: page.url() };
    case "forward":
      await page.goForward({ waitUntil: "domcontentloaded" });
      return { url: page.url() };
    case "shot": {
      if (!/^[A-Za-z0-9_.-]+$/.test(rest)) throw new Error("bad screenshot name");
      const p = path.resolve(shots, rest + ".png");
      await page.screenshot({ path: p, fullPage: true });
      return { path: p };
    }
    case "cookies":
      return (await page.cookies()).map((c) => ({
        name: c.name,
        httpOnly: c.httpOnly,
        sameSite: c.sameSite || "",
        secure: c.secure,
        path: c.path,
        session: c.session,
      }));
    case "quit":
      return null;
    default:
      throw new Error("unknown command " + JSON.stringify(cmd));
  }
}

async function close() {
  try {
    await browser.close();
  } catch (e) {
    // already gone
  }
  fs.rmSync(profile, { recursive: true, force: true });
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
for await (const raw of rl) {
  const line = raw.trim();
  if (!line) continue;
  let out;
  try {
    const r = await run(line);
    out = "ok " + JSON.stringify(r);
    if (r === null) {
      console.log(out);
      break;
    }
  } catch (e) {
    out = "error " + String(e.message || e).replace(/\s+/g, " ");
  }
  console.log(out);
}
await close();
process.exit(0);
