// Opens the operator dashboard of a running `lendwork serve --demo` in
// headless Chromium (Debian's, through playwright-core), checks that the
// counters move and a chart renders, switches the language, and saves a
// screenshot. Exit 0 on success; a message and exit 1 otherwise.
//
//   node dashboard.mjs URL TOKEN SCREENSHOT.png   (CHROMIUM=/usr/bin/chromium)
//
// It signs in through the dashboard's form (the token becomes a session
// cookie; no token in any address), and checks that regions are named.
import { chromium } from "playwright-core";

const [url, token, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const fail = async (msg) => { console.error("dashboard: " + msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("#login:not([hidden])", { timeout: 30000 });
  await page.fill("#token", token);
  await page.click("#go");
  await page.waitForSelector("#board:not([hidden])", { timeout: 30000 });
  if (page.url().includes(token)) await fail("the token is in the address");
  const read = async () => Number((await page.textContent("#k-proposed")).replace(/[^0-9]/g, ""));
  // Counters move: two readings some seconds apart, the second higher.
  await page.waitForFunction(() => Number(document.querySelector("#k-proposed").textContent.replace(/[^0-9]/g, "")) > 0, null, { timeout: 60000 });
  const first = await read();
  await page.waitForFunction((n) => Number(document.querySelector("#k-proposed").textContent.replace(/[^0-9]/g, "")) > n, first, { timeout: 60000 });
  const second = await read();
  // A chart renders: the fill-rate line has a path with points.
  await page.waitForSelector("#c-fill path", { timeout: 30000 });
  const d = await page.getAttribute("#c-fill path", "d");
  if (!d || d.split("L").length < 2) await fail("the fill-rate chart has no line");
  // Regions by name, not code.
  await page.waitForFunction(() => /市|州/.test(document.querySelector("#t-region").textContent), null, { timeout: 30000 });
  // The feed shows explained proposals.
  await page.waitForFunction(() => document.querySelectorAll("#t-feed tr").length > 1, null, { timeout: 60000 });
  // Chinese by default; English on a click.
  const zh = await page.textContent("h1");
  await page.click("#lang");
  const en = await page.textContent("h1");
  if (zh === en || !/[\u4e00-\u9fff]/.test(zh)) await fail(`language switch: ${zh} / ${en}`);
  await page.click("#lang");
  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) await fail("page errors: " + errors.join("; "));
  console.log(JSON.stringify({ proposals_first: first, proposals_later: second, title_zh: zh, title_en: en, screenshot: shot }));
  await browser.close();
} catch (e) {
  await fail(String(e));
}
