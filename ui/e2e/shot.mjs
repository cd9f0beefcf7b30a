// Takes a screenshot of a page, for looking at the UI while working on it:
//   node e2e/shot.mjs URL OUT.png [WIDTH HEIGHT] [--full] [--wait SELECTOR] [--click SELECTOR]...
import { launch, newPage } from "./browser.mjs";

const args = process.argv.slice(2);
const [url, out] = args;
const nums = args.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const full = args.includes("--full");
const waits = [];
const clicks = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--wait") waits.push(args[i + 1]);
  if (args[i] === "--click") clicks.push(args[i + 1]);
}
const browser = await launch();
const { page, problems } = await newPage(browser, nums[0] ?? 1440, nums[1] ?? 900);
await page.goto(url, { waitUntil: "networkidle" });
for (const w of waits) await page.waitForSelector(w, { timeout: 15000 });
for (const c of clicks) {
  await page.click(c);
  await page.waitForLoadState("networkidle");
}
await page.waitForTimeout(500);
await page.screenshot({ path: out, fullPage: full });
if (problems.length) console.log(problems.join("\n"));
await browser.close();
