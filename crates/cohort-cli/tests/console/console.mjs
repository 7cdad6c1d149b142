// Drives the Cohort web console in headless Chromium (Playwright core, the
// machine's Debian chromium). Called by tests/console.rs with the server's
// URL, an admin key, a write-only key and a screenshot folder; prints what
// it checked and exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [url, adminKey, writeKey, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function newPage(viewport = { width: 1366, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { page, errors };
}

async function login(page, key) {
  await page.goto(`${url}/console/`);
  await page.fill("#login-key", key);
  await page.click("#login-submit");
}

async function ready(page) {
  await page.waitForSelector('#view[data-ready="true"]', { timeout: 30000 });
}

async function apiJson(page, method, path, body) {
  return page.evaluate(async ([method, path, body, key]) => {
    const res = await fetch(path, { method, credentials: "omit", headers: { Authorization: "Basic " + btoa(key + ":"), "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined });
    return res.json();
  }, [method, path, body, adminKey]);
}

try {
  // 1. Refused: a write-only key and a made-up key never get past the login.
  {
    const { page } = await newPage();
    for (const key of [writeKey, "not-a-key"]) {
      await login(page, key);
      await page.waitForFunction(() => document.querySelector("#login-form .error")?.textContent.length > 0);
      const text = await page.textContent("#login-form .error");
      check(/密钥被拒绝|Key refused/.test(text), `key ${key === writeKey ? "with the write role" : "unknown"} refused: "${text}"`);
      check(await page.locator("#nav a").count() === 0, "no page reachable without logging in");
    }
    await page.context().close();
  }

  // 2. Every page loads without console errors; charts render.
  const { page, errors } = await newPage();
  await login(page, adminKey);
  await ready(page);
  const pages = await page.$$eval("#nav a", (as) => as.map((a) => a.dataset.page));
  check(pages.length >= 6, `navigation lists ${pages.length} pages: ${pages.join(", ")}`);
  const charted = new Set(["overview", "segments", "retention"]);
  for (const id of pages) {
    await page.click(`#nav a[data-page="${id}"]`);
    await page.waitForFunction((id) => document.querySelector("#view").dataset.page === id
      && document.querySelector("#view").dataset.ready === "true", id, { timeout: 30000 });
    const alerts = await page.$$eval("#view .error", (es) => es.map((e) => e.textContent).filter(Boolean));
    check(alerts.length === 0, `${id}: no error shown ${alerts.join("; ")}`);
    if (charted.has(id)) {
      const sizes = await page.$$eval("#view canvas", (cs) => cs.map((c) => [c.width, c.height]));
      check(sizes.length > 0 && sizes.every(([w, h]) => w > 0 && h > 0), `${id}: ${sizes.length} chart canvas(es) with a size`);
    }
    await page.screenshot({ path: `${shots}/${id}.png`, fullPage: true });
    check(errors.length === 0, `${id}: no console errors ${errors.join(" | ")}`);
  }

  // 3. A funnel built in the page shows the API's numbers.
  await page.click('#nav a[data-page="funnel"]');
  await ready(page);
  await page.fill("#funnel-window", "3d");
  await page.selectOption("#funnel-breakdown", "platform");
  await page.click("#funnel-run");
  await page.waitForSelector("#funnel-table");
  const shown = await page.$$eval("#funnel-table tbody tr", (rows) => rows.map((r) => r.children[1].textContent.replace(/[^0-9]/g, "")));
  const api = await apiJson(page, "POST", "/v1/query/funnel", {
    steps: [{ event: "Product Viewed" }, { event: "Product Added" }, { event: "Order Completed" }], window: "3d", mode: "ordered", breakdown: "platform" });
  const expected = api.steps.map((s) => String(s.persons));
  check(JSON.stringify(shown) === JSON.stringify(expected), `funnel people per step ${shown.join("/")} equal the API's ${expected.join("/")}`);
  check(api.steps[0].persons > 0 && api.steps[2].persons > 0, "the funnel has people at the first and last step");
  const canvas = await page.$eval("#funnel-chart canvas", (c) => [c.width, c.height]);
  check(canvas[0] > 0 && canvas[1] > 0, `funnel chart canvas ${canvas[0]}×${canvas[1]}`);
  await page.screenshot({ path: `${shots}/funnel-built.png`, fullPage: true });

  // 4. An audience previewed in the page has the API's size; a sampled
  // member's profile page loads.
  await page.click('#nav a[data-page="audiences"]');
  await ready(page);
  const filter = 'value_tier = "high_value" or count(orders, 90d) >= 2';
  await page.fill("#audience-filter", filter);
  await page.click("#audience-run");
  await page.waitForSelector("#audience-size");
  const size = Number((await page.textContent("#audience-size")).replace(/[^0-9]/g, ""));
  const preview = await apiJson(page, "POST", "/v1/audiences/preview", { filter, breakdown: "value_tier", sample: 10 });
  check(size === preview.size && size > 0, `audience preview shows ${size} people, the API ${preview.size}`);
  const audienceCanvas = await page.$eval("#audience-chart canvas", (c) => [c.width, c.height]);
  check(audienceCanvas[0] > 0 && audienceCanvas[1] > 0, "audience breakdown chart renders");
  await page.screenshot({ path: `${shots}/audience-preview.png`, fullPage: true });
  const member = preview.sample[0].person_id;
  await page.goto(`${url}/console/#/profile?user=${encodeURIComponent(member)}`);
  await page.waitForFunction(() => document.querySelectorAll("#profile-result .card").length > 0
    && document.querySelector("#view").dataset.ready === "true", null, { timeout: 30000 });
  const profileAlerts = await page.$$eval("#view .error", (es) => es.map((e) => e.textContent));
  check(profileAlerts.length === 0, `profile of ${member}: every section loads ${profileAlerts.join("; ")}`);
  await page.screenshot({ path: `${shots}/profile-user.png`, fullPage: true });

  // 5. A recompute started from the console finishes with its progress shown.
  await page.click('#nav a[data-page="segments"]');
  await ready(page);
  await page.click("#recompute");
  await page.waitForSelector('#job-status[data-state="done"]', { timeout: 60000 });
  const width = await page.$eval("#job-progress", (d) => d.style.width);
  check(width === "100%", `recompute progress bar at ${width}`);

  // 6. The language switch turns the navigation into English and back.
  const zh = await page.textContent('#nav a[data-page="overview"]');
  await page.click("#lang");
  await ready(page);
  const en = await page.textContent('#nav a[data-page="overview"]');
  check(zh === "概览" && en === "Overview", `language switch: "${zh}" → "${en}"`);
  await page.screenshot({ path: `${shots}/segments-en.png`, fullPage: true });
  await page.click("#lang");
  await ready(page);
  check(errors.length === 0, `no console errors ${errors.join(" | ")}`);
  await page.context().close();

  // 7. Readable on a phone: the overview fits the width.
  {
    const { page, errors } = await newPage({ width: 390, height: 844 });
    await login(page, adminKey);
    await ready(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `phone layout has no horizontal overflow (${overflow}px)`);
    await page.screenshot({ path: `${shots}/overview-phone.png`, fullPage: true });
    check(errors.length === 0, `phone: no console errors ${errors.join(" | ")}`);
  }
  console.log("console checks passed");
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
