// @ts-check
/**
 * Opens web pages in Debian's headless Chromium (/usr/bin/chromium, driven by playwright-core; no
 * browser is ever downloaded) the way a person would, and reports what the browser saw: the HTTP
 * status of each page, where it ended up, its visible text, its images (with their decoded size),
 * chosen elements, every console error, page error, failed request and HTTP error response, and a
 * screenshot of each page. It decides nothing: the tests that call it (browser/uicheck.py) assert.
 *
 * Usage: node browser/ui-check.mjs PLAN.json > REPORT.json
 *
 * PLAN = {
 *   baseUrl: "https://127.0.0.1",          // pages' paths are relative to it
 *   out: "/folder/for/screenshots",
 *   certFile?: "/path/server.crt",         // trust exactly this certificate's key (a self-signed host)
 *   timeoutMs?: 240000,                     // per page: a busy 2-core machine is slow
 *   sessions: [{                            // one fresh browser context each (no shared cookies)
 *     name: "admin",
 *     credentials?: { username: "admin", passwordEnv: "VAR" },  // answered to HTTP basic auth
 *     pages: [{
 *       name: "mlflow-experiments",         // also the screenshot's file name
 *       path: "/#/experiments",             // omitted: stay on the current page (after actions)
 *       actions?: [{ click: { role?, name?, text?, css? } } | { fill: { label?, css?, value?, valueEnv? } }
 *                  | { press: "Enter" } | { waitFor: "text" } | { waitForUrl: "substring" }],
 *       waitFor?: ["text shown when the page is ready", ...],   // all must become visible
 *       collect?: { key: "css" | { css, parts: { name: "css inside" } } },  // text, attributes
 *                                                               // and parts' texts of matches
 *       fullPage?: false,
 *       elementShot?: "css",                // also a picture of just this element (NAME.part.png)
 *     }],
 *   }],
 * }
 *
 * Chromium runs with the flags that keep it off the network on its own (no background
 * networking, component updates, sync or QUIC), with a fresh profile, and, as root, without its
 * sandbox (it refuses to start otherwise).
 */
import { chromium } from "playwright-core";
import { X509Certificate, createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const CHROMIUM = process.env.UI_CHECK_CHROMIUM || "/usr/bin/chromium";
const QUIET_FLAGS = [
  "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-default-apps",
  "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
];

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo: Chromium's key pin format. */
function spkiPin(certFile) {
  const cert = new X509Certificate(fs.readFileSync(certFile));
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

function locator(page, target) {
  if (target.role) return page.getByRole(target.role, { name: target.name, exact: target.exact ?? false });
  if (target.text) return page.getByText(target.text, { exact: target.exact ?? false });
  if (target.label) return page.getByLabel(target.label, { exact: target.exact ?? false });
  if (target.css) return page.locator(target.css);
  throw new Error(`bad target ${JSON.stringify(target)}: expected role, text, label or css`);
}

async function act(page, action, timeout) {
  if (action.click) {
    await locator(page, action.click).first().click({ timeout });
  } else if (action.fill) {
    const value = action.fill.valueEnv ? process.env[action.fill.valueEnv] ?? "" : action.fill.value ?? "";
    await locator(page, action.fill).first().fill(value, { timeout });
  } else if (action.press) {
    await page.keyboard.press(action.press);
  } else if (action.waitFor) {
    await page.getByText(action.waitFor).filter({ visible: true }).first().waitFor({ state: "visible", timeout });
  } else if (action.waitForUrl) {
    await page.waitForURL((u) => u.toString().includes(action.waitForUrl), { timeout });
  } else {
    throw new Error(`unknown action ${JSON.stringify(action)}`);
  }
}

/** What a person sees on the page now: its text, images and the chosen elements. */
async function observe(page, collect) {
  return page.evaluate((collect) => {
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
    };
    const images = [...document.querySelectorAll("img")].filter(visible).map((img) => ({
      src: img.currentSrc || img.src, alt: img.alt, complete: img.complete,
      naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
    }));
    const collected = {};
    for (const [key, what] of Object.entries(collect || {})) {
      const { css, parts } = typeof what === "string" ? { css: what, parts: {} } : what;
      collected[key] = [...document.querySelectorAll(css)].map((el) => {
        const attrs = {};
        for (const a of el.getAttributeNames()) attrs[a] = el.getAttribute(a);
        const partTexts = {};
        for (const [name, sub] of Object.entries(parts || {})) {
          partTexts[name] = [...el.querySelectorAll(sub)].map((p) => (p.textContent || "").trim());
        }
        return { text: (el.textContent || "").trim(), visible: visible(el), attrs, parts: partTexts };
      });
    }
    return { title: document.title, text: document.body ? document.body.innerText : "", images, collected };
  }, collect);
}

async function runSession(browser, plan, session, report) {
  const credentials = session.credentials
    ? { username: session.credentials.username, password: process.env[session.credentials.passwordEnv] ?? "" }
    : undefined;
  const context = await browser.newContext({
    viewport: { width: plan.viewport?.[0] ?? 1400, height: plan.viewport?.[1] ?? 900 },
    httpCredentials: credentials,
    locale: "en-US",
    timezoneId: "UTC",
  });
  const page = await context.newPage();
  const timeout = plan.timeoutMs ?? 240000;
  let current = null;
  const record = (field, entry) => {
    const target = current ?? report;
    target[field].push(entry);
  };
  page.on("console", (m) => {
    if (m.type() === "error") record("consoleErrors", { text: m.text(), url: m.location().url });
  });
  page.on("pageerror", (e) => record("pageErrors", String(e && e.stack ? e.stack : e)));
  page.on("requestfailed", (r) =>
    record("failedRequests", { url: r.url(), method: r.method(), type: r.resourceType(), error: r.failure()?.errorText }));
  page.on("response", (r) => {
    if (r.status() >= 400) {
      record("badResponses", { url: r.url(), method: r.request().method(), status: r.status(), type: r.request().resourceType() });
    }
  });
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame() && current) current.navigations.push(f.url());
  });

  for (const spec of session.pages) {
    const entry = {
      session: session.name, name: spec.name, url: null, status: null, finalUrl: null, elapsedMs: 0, readyMs: null,
      navigations: [], consoleErrors: [], pageErrors: [], failedRequests: [], badResponses: [],
      missingText: [], error: null, screenshot: null,
      // what observe() fills in; stays empty where the browser shows its own error page
      title: "", text: "", images: [], collected: {},
    };
    current = entry;
    const t0 = Date.now();
    try {
      if (spec.path !== undefined) {
        entry.url = new URL(spec.path, plan.baseUrl).toString();
        const response = await page.goto(entry.url, { waitUntil: "load", timeout });
        entry.status = response ? response.status() : null;
      }
      for (const action of spec.actions ?? []) await act(page, action, timeout);
      for (const text of spec.waitFor ?? []) {
        try {
          // visible somewhere: the same words may also sit in a hidden element (a closed menu)
          await page.getByText(text).filter({ visible: true }).first()
            .waitFor({ state: "visible", timeout: Math.max(1000, timeout - (Date.now() - t0)) });
        } catch {
          entry.missingText.push(text);
        }
      }
      entry.readyMs = Date.now() - t0;
      // pictures decoded (a figure arrives after the text around it), then a moment for layout;
      // not "network idle": the UIs poll their APIs while a page is open
      await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 15000 })
        .catch(() => {});
      await page.waitForTimeout(500);
    } catch (e) {
      entry.error = String(e && e.message ? e.message.split("\n")[0] : e);
    }
    entry.elapsedMs = Date.now() - t0;
    entry.finalUrl = page.url();
    try {
      Object.assign(entry, await observe(page, spec.collect));
      const file = path.join(plan.out, `${spec.name}.png`);
      await page.screenshot({ path: file, fullPage: spec.fullPage ?? false, timeout: 30000 });
      entry.screenshot = file;
      if (spec.elementShot) {
        const part = path.join(plan.out, `${spec.name}.part.png`);
        await page.locator(spec.elementShot).first().screenshot({ path: part, timeout: 30000 });
        entry.elementScreenshot = part;
      }
    } catch (e) {
      entry.error = entry.error ?? `observing the page failed: ${e && e.message ? e.message.split("\n")[0] : e}`;
    }
    report.pages.push(entry);
    current = null;
  }
  await context.close();
}

async function main() {
  const planFile = process.argv[2];
  if (!planFile) {
    console.error("usage: node browser/ui-check.mjs PLAN.json");
    process.exit(2);
  }
  const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
  fs.mkdirSync(plan.out, { recursive: true });
  const args = [...QUIET_FLAGS];
  if (typeof process.getuid === "function" && process.getuid() === 0) args.push("--no-sandbox");
  if (plan.certFile) args.push(`--ignore-certificate-errors-spki-list=${spkiPin(plan.certFile)}`);
  // launch() gives the browser a fresh temporary profile (--user-data-dir) and removes it at close
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 120000 });
  const report = { browser: browser.version(), pages: [], consoleErrors: [], pageErrors: [], failedRequests: [], badResponses: [] };
  try {
    for (const session of plan.sessions) await runSession(browser, plan, session, report);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
}

main().catch((e) => {
  console.error(`ui-check: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
