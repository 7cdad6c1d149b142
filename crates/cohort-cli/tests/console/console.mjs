// Drives the Cohort web console in headless Chromium (Playwright core, the
// machine's Debian chromium). Called by tests/console.rs with the server's
// URL, an admin key, a write-only key and a screenshot folder; prints what
// it checked and exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";

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
  const context = await browser.newContext({ viewport, acceptDownloads: true });
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

// Opens a page from the navigation and waits until it has rendered.
async function openPage(page, id) {
  await page.click(`#nav a[data-page="${id}"]`);
  await page.waitForFunction((id) => document.querySelector("#view").dataset.page === id
    && document.querySelector("#view").dataset.ready === "true", id, { timeout: 30000 });
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
  const charted = new Set(["overview", "segments", "retention", "basket", "journeys", "experiments"]);
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
  check(["basket", "jobs", "campaigns", "journeys", "experiments"].every((p) => pages.includes(p)),
    "the basket rules, jobs, campaigns, journeys and experiments pages are listed");

  // 2b. The segments page draws the RFM grid and the movement over time.
  await page.click('#nav a[data-page="segments"]');
  await ready(page);
  for (const id of ["rfm-chart", "movement-tiers", "movement-stages"]) {
    const size = await page.$eval(`#${id} canvas`, (c) => [c.width, c.height]);
    check(size[0] > 0 && size[1] > 0, `segments: ${id} renders (${size[0]}×${size[1]})`);
  }
  // Transitions between the last two period ends: the columns add up to the
  // segment history's last period, the rows (people known then) to the one before.
  await page.waitForSelector("#transitions-result[data-query] #transitions-chart canvas");
  const board = await apiJson(page, "POST", "/v1/query/kpi", { period: "month", history_periods: 12 });
  const [before, last] = board.segment_history.slice(-2);
  const moves = await apiJson(page, "GET", `/v1/segments/transitions?from=${before.as_of_date}&to=${last.as_of_date}&dimension=value_tier`);
  const shownQuery = await page.getAttribute("#transitions-result", "data-query");
  check(shownQuery === `from=${before.as_of_date}&to=${last.as_of_date}&dimension=value_tier`, `transitions shown for ${shownQuery}`);
  const sums = (key) => moves.cells.reduce((m, c) => ({ ...m, [c[key]]: (m[c[key]] || 0) + c.persons }), {});
  const byTo = sums("to");
  const byFrom = sums("from");
  const tiers = (period) => period.shares.filter((x) => x.dimension === "value_tier");
  check(tiers(last).every((x) => (byTo[x.segment] || 0) === x.persons) && moves.persons === last.persons,
    `transitions into each tier on ${last.as_of_date} equal the segment history: ${tiers(last).map((x) => `${x.segment} ${x.persons}`).join(", ")}`);
  check(tiers(before).every((x) => (byFrom[x.segment] || 0) === x.persons),
    `transitions out of each tier on ${before.as_of_date} equal the segment history (${before.persons} known, ${byFrom.not_known || 0} new since)`);
  const segs = await apiJson(page, "GET", "/v1/segments");
  const gridTotal = segs.rfm_grid.reduce((n, c) => n + c.persons, 0);
  check(segs.rfm_grid.length === 25 && gridTotal === segs.rfm_scored && gridTotal > 0,
    `RFM grid: 25 cells holding the ${segs.rfm_scored} scored buyers`);

  // 2c. Basket rules in the page show the API's numbers.
  await page.click('#nav a[data-page="basket"]');
  await ready(page);
  await page.selectOption("#basket-level", "category");
  await page.selectOption("#basket-per", "user");
  await page.fill("#basket-support", "0.02");
  await page.fill("#basket-confidence", "0.3");
  await page.fill("#basket-lift", "1");
  await page.fill("#basket-top", "15");
  await page.click("#basket-run");
  const basketQuery = "min_support=0.02&min_confidence=0.3&min_lift=1&top=15&level=category&per=user";
  await page.waitForSelector(`#basket-result[data-query="${basketQuery}"] #basket-table tbody tr`);
  const shownRules = await page.$$eval("#basket-table tbody tr", (rows) => rows.map((r) =>
    [r.children[0].textContent, r.children[1].textContent.replace(/[^0-9]/g, ""), r.children[4].textContent]));
  const rulesApi = await apiJson(page, "GET", `/v1/basket/rules?${basketQuery}`);
  const expectedRules = rulesApi.rules.map((r) => [`${r.antecedent.join(" + ")} ⇒ ${r.consequent.join(" + ")}`, String(r.count), r.lift.toFixed(2)]);
  check(rulesApi.rules.length >= 3, `the API mines ${rulesApi.rules_total} rules (${rulesApi.rules.length} listed)`);
  check(JSON.stringify(shownRules) === JSON.stringify(expectedRules),
    `basket rules shown (${shownRules.length}) equal the API's: ${shownRules.slice(0, 2).map((r) => r.join(" ")).join("; ")}`);
  const scatter = await page.$eval("#basket-chart canvas", (c) => [c.width, c.height]);
  check(scatter[0] > 0 && scatter[1] > 0, `basket scatter renders (${scatter[0]}×${scatter[1]})`);
  await page.screenshot({ path: `${shots}/basket-rules.png`, fullPage: true });

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
  // Saved from the page, then exported as CSV: one line per member, phones masked for a plain admin key.
  await page.fill("#audience-id", "console_check");
  await page.fill("#audience-name", "console check");
  await page.selectOption("#audience-kind", "static");
  await page.click("#audience-save");
  await page.waitForSelector("#audience-saved[data-size]");
  const savedSize = Number(await page.getAttribute("#audience-saved", "data-size"));
  check(savedSize === preview.size, `saved audience holds ${savedSize} people, as previewed`);
  const [csvDownload] = await Promise.all([page.waitForEvent("download"),
    page.click('#audience-list button.export[data-id="console_check"][data-format="csv"]')]);
  const csv = readFileSync(await csvDownload.path(), "utf8").trim().split("\n");
  check(csv[0].startsWith("person_id,phone,city") && csv.length === savedSize + 1, `CSV export: a header and ${csv.length - 1} members`);
  check(!csv.some((l) => /(^|,)1\d{10}(,|$)/.test(l)), "CSV export masks phones for a key without admin_pii");
  const [ndDownload] = await Promise.all([page.waitForEvent("download"),
    page.click('#audience-list button.export[data-id="console_check"][data-format="ndjson"]')]);
  const nd = readFileSync(await ndDownload.path(), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  check(nd.length === savedSize && nd[0].person_id === csv[1].split(",")[0], `NDJSON export: ${nd.length} members`);
  await page.screenshot({ path: `${shots}/audience-export.png`, fullPage: true });
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
  await page.waitForSelector('#recompute-status[data-state="done"]', { timeout: 60000 });
  const width = await page.$eval("#recompute-progress", (d) => d.style.width);
  check(width === "100%", `recompute progress bar at ${width}`);
  await page.waitForSelector('#recompute-status[data-refreshed="true"]', { timeout: 60000 });

  // 5b. Clusters trained from the console: stages shown, 100 %, the page's data redrawn.
  // (Churn is trained on its page the same way; here the impressions the
  // profile page recorded moved the data end to today, too late for its
  // default cut-offs on a shop that ends in August 2025.)
  await page.click('#nav a[data-page="clusters"]');
  await page.waitForSelector("#train-clusters");
  await ready(page);
  const stagesSeen = new Set();
  await page.click("#train-clusters");
  for (let i = 0; i < 1200; i++) {
    const [state, text] = await page.$eval("#train-clusters-status", (s) => [s.dataset.state, s.textContent]);
    const stage = /: ([a-z ]+) ·/.exec(text);
    if (stage) stagesSeen.add(stage[1]);
    if (state && state !== "running") break;
    await page.waitForTimeout(50);
  }
  const [trainState, trainText] = await page.$eval("#train-clusters-status", (s) => [s.dataset.state, s.textContent]);
  check(trainState === "done", `clusters trained from the console: ${trainText}`);
  await page.waitForSelector('#train-clusters-status[data-refreshed="true"]', { state: "attached", timeout: 60000 });
  const trainWidth = await page.$eval("#train-clusters-progress", (d) => d.style.width);
  check(trainWidth === "100%", `training progress bar at ${trainWidth} (stages seen: ${[...stagesSeen].join(", ") || "none, it was quick"})`);
  const jobs = await apiJson(page, "GET", "/v1/jobs");
  const trainJob = jobs.jobs.find((j) => j.kind === "train_clusters");
  check(trainJob && trainJob.state === "done" && trainJob.step === trainJob.steps && trainJob.done === trainJob.total && trainJob.total > 0,
    `the clusters job is done at stage ${trainJob.step}/${trainJob.steps} (${trainJob.done}/${trainJob.total}): ${trainJob.message}`);
  const model = await apiJson(page, "GET", "/v1/clusters");
  const shownSizes = await page.$$eval("#clusters-data table table tbody tr", (rows) => rows.length);
  check(model.clusters.reduce((n, c) => n + c.size, 0) === trainJob.total && shownSizes > 0,
    `the redrawn page shows the new model: ${model.k} clusters of ${trainJob.total} buyers`);
  const trainAlerts = await page.$$eval("#view .error", (es) => es.map((e) => e.textContent));
  check(trainAlerts.length === 0, `clusters page after training shows no error ${trainAlerts.join("; ")}`);
  await page.screenshot({ path: `${shots}/clusters-trained.png`, fullPage: true });
  await page.click('#nav a[data-page="jobs"]');
  await ready(page);
  const listed = await page.$$eval("#jobs-list tbody tr", (rows) => rows.length);
  check(listed >= 2, `jobs page lists ${listed} jobs (recompute and clusters training)`);
  await page.screenshot({ path: `${shots}/jobs-after.png`, fullPage: true });

  // 5b. Engage: a campaign launched from the console to a filter, its effect
  // as the API measures it; journeys and their entry job; an experiment
  // read-out equal to the API's.
  await openPage(page, "campaigns");
  const campaignId = await page.inputValue("#campaign-id");
  await page.click("#campaign-launch");
  await page.waitForSelector("#campaign-launched p[data-audience], #campaign-launched .error");
  const launchError = await page.$$eval("#campaign-launched .error", (es) => es.map((e) => e.textContent));
  check(launchError.length === 0, `campaign launched ${launchError.join("")}`);
  const shownAudience = Number(await page.getAttribute("#campaign-launched p[data-audience]", "data-audience"));
  const saved = await apiJson(page, "GET", `/v1/campaigns/${campaignId}`);
  check(shownAudience > 0 && shownAudience === saved.members, `campaign ${campaignId}: ${shownAudience} shown, ${saved.members} members in the API`);
  await page.click(`#campaign-list a[data-campaign="${campaignId}"]`);
  await page.waitForSelector("#campaign-effect-chart canvas, #campaign-effect .error");
  const effect = await apiJson(page, "GET", `/v1/campaigns/${campaignId}/effect`);
  const shownUplift = Number(await page.getAttribute("#campaign-uplift", "data-difference"));
  check(Math.abs(shownUplift - effect.uplift.difference) < 1e-12, `campaign uplift shown ${shownUplift} = API ${effect.uplift.difference}`);
  check(effect.treatment + effect.control === saved.members - (saved.outcomes.holdout || 0) - (saved.outcomes.not_eligible || 0),
    `effect arms ${effect.treatment} + ${effect.control} cover the members`);
  await page.screenshot({ path: `${shots}/campaign-effect.png`, fullPage: true });

  await openPage(page, "journeys");
  await page.click("#entry-run");
  await page.waitForSelector("#entry-report[data-entered], #entry-report .error");
  const entryError = await page.$$eval("#entry-report .error", (es) => es.map((e) => e.textContent).join(""));
  check(entryError === "", `the daily entry job ran from the console ${entryError}`);
  await page.waitForSelector("#journey-chart canvas");
  const journeysApi = await apiJson(page, "GET", "/v1/journeys");
  const activeApi = journeysApi.journeys.reduce((n, j) => n + (j.runs.active || 0), 0);
  const activeShown = await page.$$eval("#journey-list tbody tr", (rows) =>
    rows.reduce((n, r) => n + Number(r.children[3].textContent.replace(/[^0-9]/g, "") || 0), 0));
  check(activeShown === activeApi, `journeys: ${activeShown} active runs shown, ${activeApi} in the API`);
  await page.screenshot({ path: `${shots}/journeys-entered.png`, fullPage: true });

  await openPage(page, "experiments");
  await page.waitForSelector("#experiment-chart canvas");
  const readout = await apiJson(page, "POST", "/v1/experiments/analyze",
    { arms: [{ name: "control", conversions: 200, units: 2000 }, { name: "treatment", conversions: 250, units: 2000 }] });
  const shownP = Number(await page.getAttribute('#experiment-result [data-arm="treatment"]', "data-p"));
  check(Math.abs(shownP - readout.arms[0].test.p_value) < 1e-12 && Math.abs(shownP - 0.0123509) < 1e-6,
    `experiment p shown ${shownP} = API ${readout.arms[0].test.p_value}`);
  await page.screenshot({ path: `${shots}/experiment-readout.png`, fullPage: true });
  check(errors.length === 0, `engage pages: no console errors ${errors.join(" | ")}`);

  // 6. The language switch turns the navigation into English and back.
  const zh = await page.textContent('#nav a[data-page="overview"]');
  await page.click("#lang");
  await ready(page);
  const en = await page.textContent('#nav a[data-page="overview"]');
  check(zh === "概览" && en === "Overview", `language switch: "${zh}" → "${en}"`);
  await page.screenshot({ path: `${shots}/segments-en.png`, fullPage: true });
  for (const [id, english] of [["basket", "Basket rules"], ["jobs", "Jobs"], ["campaigns", "Campaigns"],
    ["journeys", "Journeys"], ["experiments", "Experiments"], ["segments", "Segments"]]) {
    await page.click(`#nav a[data-page="${id}"]`);
    await page.waitForFunction((id) => document.querySelector("#view").dataset.page === id
      && document.querySelector("#view").dataset.ready === "true", id, { timeout: 30000 });
    const h1 = await page.textContent("#view h1");
    check(h1 === english, `${id} in English: "${h1}"`);
    await page.screenshot({ path: `${shots}/${id}-en.png`, fullPage: true });
  }
  await page.click("#lang");
  await ready(page);
  const zhTitles = await page.$$eval("#nav a", (as) => Object.fromEntries(as.map((a) => [a.dataset.page, a.textContent])));
  check(zhTitles.basket === "购物篮规则" && zhTitles.jobs === "任务", `back in Chinese: ${zhTitles.basket}, ${zhTitles.jobs}`);
  const h1zh = await page.textContent("#view h1");
  check(h1zh === "用户分层", `segments in Chinese: "${h1zh}"`);
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
    for (const id of ["segments", "basket", "audiences", "jobs", "campaigns", "journeys", "experiments"]) {
      await page.goto(`${url}/console/#/${id}`);
      await page.waitForFunction((id) => document.querySelector("#view").dataset.page === id
        && document.querySelector("#view").dataset.ready === "true", id, { timeout: 30000 });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(wide <= 1, `phone: ${id} has no horizontal overflow (${wide}px)`);
      await page.screenshot({ path: `${shots}/${id}-phone.png`, fullPage: true });
    }
    check(errors.length === 0, `phone: no console errors ${errors.join(" | ")}`);
  }
  console.log("console checks passed");
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
