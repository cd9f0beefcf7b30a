// The demo in the browser (Debian's Chromium through playwright-core): what a newcomer
// sees after `lantern demo` once payment-service's incident has begun. The seed's
// dashboard draws an hour of history and the incident, the alert is pending or firing,
// the SLO shows its budget, the service map has the four services, a failed trace opens
// with its logs, and the investigation names payment-service. Screenshots of each page
// go to $SCREENSHOT_DIR (the README's come from here).
//
//   LANTERN_URL=http://127.0.0.1:9700 SCREENSHOT_DIR=out node e2e/demo.mjs
import fs from "node:fs";
import path from "node:path";
import { launch, newPage } from "./browser.mjs";

const base = (process.env.LANTERN_URL ?? "http://127.0.0.1:9700").replace(/\/$/, "");
const shots = process.env.SCREENSHOT_DIR ?? "e2e-screenshots";
fs.mkdirSync(shots, { recursive: true });
const browser = await launch();
let failed = 0;

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

async function settled(page) {
  await page.waitForLoadState("networkidle");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="loading"]').length === 0, null, { timeout: 30_000 });
}

async function test(name, fn) {
  const { page, problems, context } = await newPage(browser, 1440, 900);
  page.setDefaultTimeout(30_000);
  try {
    await fn(page);
    expect(problems.length === 0, problems.join("\n"));
    console.log(`ok   demo: ${name}`);
  } catch (e) {
    failed++;
    await page.screenshot({ path: path.join(shots, `FAILED-demo-${name.replace(/\W+/g, "-")}.png`), fullPage: true }).catch(() => {});
    console.log(`FAIL demo: ${name}: ${e?.stack ?? e}`);
  } finally {
    await context.close();
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });
}

await test("the seed's dashboard draws the last hour and the incident", async (page) => {
  await page.goto(`${base}/dashboards/service-overview?from=now-1h&to=now`);
  await page.getByTestId("panel").first().waitFor();
  await settled(page);
  const titles = await page.getByTestId("panel").allInnerTexts();
  for (const t of ["Request Rate", "Error Rate", "Latency (p50, p95, p99)", "Saturation (CPU/Memory)"]) {
    expect(titles.some((x) => x.includes(t)), `panel ${t}: ${titles.map((x) => x.split("\n")[0])}`);
  }
  expect((await page.locator('[data-testid="panel"] canvas').count()) >= 4, "every panel draws a chart");
  const errors = await page.locator('[data-testid="query-error"]').allInnerTexts();
  expect(errors.length === 0, `no query errors: ${errors}`);
  await shot(page, "demo-dashboard");
});

await test("the seed's alert is pending or firing", async (page) => {
  await page.goto(`${base}/alerts`);
  await page.getByTestId("alert-row").first().waitFor({ timeout: 60_000 });
  const active = await page.getByTestId("active-alerts").innerText();
  expect(active.includes("HighErrorRate"), `HighErrorRate is active: ${active.slice(0, 300)}`);
  await shot(page, "demo-alerts");
});

await test("the SLOs show the budget burning", async (page) => {
  await page.goto(`${base}/slos`);
  await page.getByTestId("slo-card").first().waitFor();
  await settled(page);
  const cards = await page.getByTestId("slo-card").allInnerTexts();
  expect(cards.some((c) => c.includes("api-availability")), `api-availability is shown: ${cards.length} cards`);
  await shot(page, "demo-slos");
});

await test("the service map has the four services", async (page) => {
  await page.goto(`${base}/service-map?from=now-15m&to=now`);
  await page.getByTestId("service-graph").locator("canvas").first().waitFor();
  await settled(page);
  await shot(page, "demo-service-map");
});

await test("a failed trace opens with its logs", async (page) => {
  await page.goto(`${base}/traces?service=api-gateway&status=error&from=now-15m&to=now`);
  await page.getByTestId("trace-results").waitFor();
  await settled(page);
  await page.getByTestId("trace-link").first().click();
  await page.getByTestId("waterfall").waitFor();
  await settled(page);
  const text = await page.getByTestId("waterfall").innerText();
  expect(text.includes("charge_card"), `the waterfall has charge_card: ${text.slice(0, 300)}`);
  expect((await page.getByTestId("log-row").count()) > 0, "the trace's log lines are shown");
  await shot(page, "demo-trace");
});

await test("the investigation names payment-service", async (page) => {
  await page.goto(`${base}/investigate?from=now-15m&to=now`);
  await page.getByTestId("verdict").waitFor({ timeout: 60_000 });
  await settled(page);
  const suspect = (await page.getByTestId("suspect").textContent()) ?? "";
  expect(suspect.includes("payment-service") && suspect.includes("charge_card"), `the suspect: ${suspect}`);
  await shot(page, "demo-investigate");
});

await browser.close();
console.log(failed === 0 ? "demo: every check passed" : `demo: ${failed} failed; screenshots in ${shots}`);
process.exit(failed === 0 ? 0 : 1);
