// Walks each role through the portal of a running `lendwork serve` in
// headless Chromium (Debian's, through playwright-core), as its users
// would: the public board without signing in; a borrower posts a shortage
// through the form; an agency uploads a 500-row XLSX roster with one bad
// row (refused, the row named, nothing imported), then the fixed one
// (previewed, then imported); the borrower accepts the proposal; the
// worker, on a phone-sized screen, opens the link, accepts and signs; the
// borrower signs and starts; the portal shows the worker at work.
//
// axe-core runs on every page (no serious or critical violations);
// every page is screenshotted into OUT_DIR; the bytes each page
// transferred and its first contentful paint are reported (not asserted).
//
//   node portal.mjs BASE_URL BORROWER_TOKEN AGENCY_TOKEN BAD.xlsx GOOD.xlsx OUT_DIR
import { chromium } from "playwright-core";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const [base, borrowerToken, agencyToken, badXlsx, goodXlsx, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const report = { pages: [] };
const fail = async (msg) => { console.error("portal: " + msg); console.error(JSON.stringify(report)); await browser.close(); process.exit(1); };

// Opens a context; `bypassCSP` lets the test inject axe into pages whose
// policy (rightly) forbids scripts.
const context = async (opts = {}) => browser.newContext({ bypassCSP: true, ...opts });

// Checks the page now shown: axe, a screenshot, weight and first paint.
async function check(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const res = performance.getEntriesByType("resource").reduce((n, e) => n + (e.transferSize || 0), 0);
    return { bytes: (nav ? nav.transferSize : 0) + res, first_paint_ms: fcp ? Math.round(fcp.startTime) : null };
  });
  await page.screenshot({ path: `${out}/portal-${name}.png`, fullPage: true });
  report.pages.push({ name, url: page.url().replace(/\/w\/[^/?#]+/, "/w/…"), ...timing, violations: result.map((v) => `${v.impact}:${v.id}`) });
  if (bad.length) await fail(`${name}: accessibility violations ${JSON.stringify(bad)}`);
  if (timing.bytes > 200 * 1024) await fail(`${name}: ${timing.bytes} bytes transferred`);
}

async function signIn(page, token) {
  await page.goto(base + "/portal/signin");
  await check(page, "signin");
  await page.fill("#token", token);
  await page.click("button[type=submit] >> nth=-1");
  await page.waitForLoadState("load");
  if (page.url().includes("signin")) await fail("sign-in did not leave the sign-in page");
  const cookies = await page.context().cookies();
  const c = cookies.find((c) => c.name === "lw_session");
  if (!c || !c.httpOnly || c.sameSite !== "Strict") await fail("session cookie: " + JSON.stringify(c));
}

// Reloads `url` until `pred(page)` holds (the read models follow the log
// within a second or so).
async function until(page, url, pred, what) {
  for (let i = 0; i < 60; i++) {
    await page.goto(url);
    if (await pred(page)) return;
    await page.waitForTimeout(500);
  }
  await fail("waited for " + what);
}

try {
  const today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  const later = new Date(Date.now() + (8 + 24 * 30) * 3600 * 1000).toISOString().slice(0, 10);

  // 1. The public board, no sign-in.
  const pub = await (await context()).newPage();
  await pub.goto(base + "/board");
  if (!/供求信息/.test(await pub.textContent("h1"))) await fail("the board's title");
  await check(pub, "board-empty");

  // 2. The borrower posts a shortage through the form.
  const b = await (await context({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(b, borrowerToken);
  await b.goto(base + "/portal/shortages/new");
  await check(b, "shortage-form");
  await b.fill("#title", "仓库叉车司机");
  await b.fill("#description", "装卸、搬运货物");
  await b.selectOption("#region", "620100");
  await b.selectOption("#industry", "logistics");
  await b.selectOption("#skill_1", "forklift");
  await b.fill("#level_1", "2");
  await b.fill("#headcount", "1");
  await b.fill("#start", today);
  await b.fill("#end", later);
  await b.fill("#wage_yuan", "28.50");
  await b.fill("#gap_id", "g-walk-1");
  await b.click("form[action='/portal/shortages'] button[type=submit]");
  await b.waitForLoadState("load");
  if (!b.url().includes("/portal/shortages/g-walk-1")) await fail("posting led to " + b.url());
  await check(b, "shortage-posted");

  // The board shows it within seconds, and shows no one.
  await until(pub, base + "/board", async (p) => (await p.content()).includes("仓库叉车司机"), "the shortage on the board");
  await check(pub, "board");

  // 3. The agency: a bad roster is refused whole; the fixed one imported.
  const a = await (await context({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(a, agencyToken);
  await a.goto(base + "/portal/workers/import");
  await check(a, "import-form");
  await a.setInputFiles("#file", badXlsx);
  await a.click("form[action='/portal/workers/import'] button[type=submit]");
  await a.waitForSelector("#import-errors");
  const errors = await a.textContent("#import-errors");
  if (!errors.includes("第 7 行") || !errors.includes("row 7, skills")) await fail("the bad row is not named: " + errors);
  await check(a, "import-refused");
  await a.goto(base + "/portal/workers");
  if (!(await a.content()).includes("还没有人员")) await fail("a refused roster left workers behind");
  await a.goto(base + "/portal/workers/import");
  await a.setInputFiles("#file", goodXlsx);
  await a.click("form[action='/portal/workers/import'] button[type=submit]");
  await a.waitForSelector("text=确认导入 500 人");
  await check(a, "import-preview");
  await a.click("text=确认导入 500 人");
  await a.waitForLoadState("load");
  if (!a.url().includes("imported=500")) await fail("import led to " + a.url());
  await until(a, base + "/portal/workers", async (p) => (await p.content()).includes("共 500 人（第 1/5 页）") && !(await p.content()).includes("处理中"), "500 workers on the roster");

  // 4. The borrower accepts the proposal.
  await until(b, base + "/portal/shortages/g-walk-1", async (p) => (await p.locator("form[action$='/accept'] button").count()) > 0, "a proposal");
  await check(b, "proposal");
  const action = await b.getAttribute("form[action$='/accept']", "action");
  const matchId = action.split("/")[3];
  await b.click("form[action$='/accept'] button");
  await b.waitForLoadState("load");

  // 5. The agency sends the worker their link.
  await until(a, base + "/portal/workers", async (p) => (await p.locator(`form[action='/portal/proposals/${matchId}/worker-link'] button`).count()) > 0, "the proposal on the roster");
  await check(a, "roster");
  await a.click(`form[action='/portal/proposals/${matchId}/worker-link'] button`);
  await a.waitForSelector("#worker-link");
  const link = (await a.textContent("#worker-link")).trim();
  await check(a, "worker-link");

  // 6. The worker, on a phone: accept, then sign.
  const w = await (await context({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })).newPage();
  await w.goto(base + link);
  await check(w, "worker-phone");
  await w.click("text=接受 Accept");
  await w.waitForSelector("#msg:has-text('已提交')");
  await until(w, base + link, async (p) => (await p.locator("text=签署协议 Sign the agreement").count()) > 0, "the worker's sign button");
  await check(w, "worker-sign");
  await w.click("text=签署协议 Sign the agreement");
  await w.waitForSelector("#msg:has-text('已提交')");

  // 7. The borrower signs and starts; the portal shows the worker at work.
  await until(b, base + "/portal/shortages/g-walk-1", async (p) => (await p.locator("form[action$='/sign'] button").count()) > 0, "the borrower's sign button");
  await b.click("form[action$='/sign'] button");
  await b.waitForLoadState("load");
  await until(b, base + "/portal/shortages/g-walk-1", async (p) => (await p.locator("form[action$='/start'] button").count()) > 0, "the start button");
  await b.click("form[action$='/start'] button");
  await b.waitForLoadState("load");
  await until(b, base + "/portal/shortages/g-walk-1", async (p) => (await p.content()).includes("在岗 <span class=\"en\" lang=\"en\">working</span>"), "the assignment started");
  await check(b, "started");
  await until(a, base + "/portal/workers", async (p) => (await p.content()).includes("在岗"), "the roster shows the worker at work");

  console.log(JSON.stringify(report));
  await browser.close();
} catch (e) {
  await fail(String(e && e.stack || e));
}
