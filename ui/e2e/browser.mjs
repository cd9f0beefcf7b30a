// Starts Debian's Chromium through playwright-core (never a downloaded browser), with the
// flags that keep it off the network, and records console errors of every page.
import { chromium } from "playwright-core";
import fs from "node:fs";

/** The Chromium binary: $CHROMIUM, or Debian's package. */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`no Chromium found (tried ${candidates.join(", ")}); install Debian's chromium package`);
  return found;
}

/** A headless browser. */
export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A page of the given size whose console errors and failed requests are collected. */
export async function newPage(browser, width = 1440, height = 900) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => {
    // A failed request is reported below with its URL and answer instead.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) problems.push(`console error: ${msg.text()}`);
  });
  page.on("response", async (res) => {
    if (res.status() >= 400) {
      const body = await res.text().catch(() => "");
      problems.push(`HTTP ${res.status()} ${res.url()}: ${body.slice(0, 300)}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    const failure = req.failure()?.errorText ?? "";
    // A query the page cancelled on purpose is not a failure.
    if (!failure.includes("ERR_ABORTED")) problems.push(`request failed: ${req.url()} ${failure}`);
  });
  return { page, problems, context };
}
