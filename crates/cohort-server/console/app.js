// Cohort console: a dependency-free single-page app over the admin API.
// Every number on a page comes from the same JSON a script would fetch;
// the console adds layout, charts (Apache ECharts) and the language switch.
"use strict";

const I18N = {
  zh: {
    overview: "概览", segments: "用户分层", funnel: "漏斗", retention: "留存", paths: "路径",
    profile: "用户画像", clusters: "行为聚类", churn: "流失风险", reviews: "评价情感", audiences: "人群",
    tags: "标签", clv: "客户价值", replenish: "复购提醒", jobs: "任务",
    login: "登录", logout: "退出", admin_key: "管理密钥", refused: "密钥被拒绝：需要管理员密钥",
    run: "运行", add_step: "添加步骤", remove: "删除", window: "转化窗口", mode: "模式", breakdown: "拆分维度",
    none: "无", step: "步骤", event: "事件", persons: "人数", conversion: "总转化率", step_conversion: "步骤转化率",
    dropped: "流失人数", drop_rate: "流失率", median_time: "中位耗时", period: "周期", periods: "周期数",
    bounded: "当期留存", unbounded: "当期及之后", cohort: "同期群", size: "人数", after: "起始事件", before: "结束事件",
    path: "路径", share: "占比", target: "目标", met: "达标", missed: "未达标", value: "数值",
    value_tiers: "价值分层", lifecycle: "生命周期", behaviour: "行为类型", rfm: "RFM 分群",
    recompute: "重新计算画像", running: "进行中", done: "完成", failed: "失败", user: "用户 ID", show: "查看",
    loyalty: "会员与积分", ledger: "积分流水与等级变化", recommendations: "猜你喜欢", profile_data: "画像", not_found: "未找到",
    ltv: "按获客同期群的 LTV", cac: "获客成本（按渠道）", day: "天", week: "周", month: "月",
    no_data: "暂无数据", loading: "加载中…", lang: "EN", kpi_board: "KPI / OKR 看板", range: "日期范围",
    from: "开始", to: "结束", ordered: "有序", strict: "严格", strict_increase: "严格递增", any_order: "任意顺序",
    min_risk: "最低风险分", within_days: "天内到期", preview: "预览", audience_filter: "人群条件", sample: "样本",
  },
  en: {
    overview: "Overview", segments: "Segments", funnel: "Funnel", retention: "Retention", paths: "Paths",
    profile: "Profile", clusters: "Clusters", churn: "Churn risk", reviews: "Reviews", audiences: "Audiences",
    tags: "Tags", clv: "Lifetime value", replenish: "Replenishment", jobs: "Jobs",
    login: "Log in", logout: "Log out", admin_key: "Admin key", refused: "Key refused: an admin key is required",
    run: "Run", add_step: "Add step", remove: "Remove", window: "Window", mode: "Mode", breakdown: "Breakdown",
    none: "none", step: "Step", event: "Event", persons: "People", conversion: "Conversion", step_conversion: "Step conversion",
    dropped: "Dropped", drop_rate: "Drop-off", median_time: "Median time", period: "Period", periods: "Periods",
    bounded: "Bounded", unbounded: "Unbounded (on or after)", cohort: "Cohort", size: "Size", after: "Start event", before: "End event",
    path: "Path", share: "Share", target: "Target", met: "met", missed: "missed", value: "Value",
    value_tiers: "Value tiers", lifecycle: "Lifecycle stages", behaviour: "Behaviour types", rfm: "RFM segments",
    recompute: "Recompute profiles", running: "running", done: "done", failed: "failed", user: "User id", show: "Show",
    loyalty: "Membership and points", ledger: "Points ledger and tier changes", recommendations: "Recommendations", profile_data: "Profile", not_found: "not found",
    ltv: "LTV by acquisition cohort", cac: "CAC by channel", day: "day", week: "week", month: "month",
    no_data: "No data", loading: "Loading…", lang: "中文", kpi_board: "KPI / OKR board", range: "Date range",
    from: "From", to: "To", ordered: "ordered", strict: "strict", strict_increase: "strict increase", any_order: "any order",
    min_risk: "Minimum risk", within_days: "Due within days", preview: "Preview", audience_filter: "Audience filter", sample: "Sample",
  },
};

const EVENTS = ["Page Viewed", "Products Searched", "Product Viewed", "Product Added", "Product Removed",
  "Cart Viewed", "Checkout Started", "Order Completed", "Order Refunded", "Product Reviewed",
  "Product Shared", "Checked In", "Coupon Applied"];

// Pages: the route they need (from /openapi.json) decides whether they show.
const PAGES = [
  { id: "overview", needs: "/v1/query/kpi", render: overview },
  { id: "segments", needs: "/v1/segments", render: segments },
  { id: "funnel", needs: "/v1/query/funnel", render: funnel },
  { id: "retention", needs: "/v1/query/retention", render: retention },
  { id: "paths", needs: "/v1/query/paths", render: paths },
  { id: "profile", needs: "/v1/loyalty/members/{user}", render: profile },
  { id: "tags", needs: "/v1/tags", render: (v) => listPage(v, "/v1/tags") },
  { id: "audiences", needs: "/v1/audiences/preview", render: audiences },
  { id: "clusters", needs: "/v1/clusters", render: (v) => listPage(v, "/v1/clusters") },
  { id: "churn", needs: "/v1/churn/high-risk", render: churn },
  { id: "replenish", needs: "/v1/replenishment/due", render: replenish },
  { id: "reviews", needs: "/v1/reviews/topics", render: (v) => listPage(v, "/v1/reviews/topics") },
];

const state = {
  lang: localStorage.getItem("cohort.lang") || "zh",
  key: sessionStorage.getItem("cohort.key") || "",
  routes: new Set(),
  charts: [],
};

const t = (k) => (I18N[state.lang] && I18N[state.lang][k]) || I18N.en[k] || k;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Basic " + btoa(state.key + ":") };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // No browser credentials: the key travels in the header, and a refused key
  // (401 with WWW-Authenticate) must not open the browser's login dialog.
  const res = await fetch(path, { method, headers, credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = { message: text }; }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// Numbers as an operator reads them: fen as yuan, ratios as percentages.
function fmt(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const locale = state.lang === "zh" ? "zh-CN" : "en-US";
  if (unit === "fen") return "¥" + (value / 100).toLocaleString(locale, { maximumFractionDigits: 2 });
  if (unit === "ratio") return (value * 100).toLocaleString(locale, { maximumFractionDigits: 1 }) + "%";
  if (typeof value === "number") return value.toLocaleString(locale, { maximumFractionDigits: 2 });
  return String(value);
}

function seconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${(s / 60).toFixed(1)}m`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

function table(columns, rows) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : "" }, c.title)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => el("td", { class: c.num ? "num" : "" }, c.cell(r))))))));
}

// Any array of flat-ish objects as a table (pages whose rows are plain records).
function autoTable(rows) {
  if (!rows || rows.length === 0) return el("p", { class: "muted" }, t("no_data"));
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return table(keys.map((k) => ({
    title: k,
    num: typeof rows[0][k] === "number",
    cell: (r) => (typeof r[k] === "object" && r[k] !== null ? JSON.stringify(r[k]) : fmt(r[k])),
  })), rows);
}

function firstArray(json) {
  if (Array.isArray(json)) return json;
  if (json && typeof json === "object") {
    for (const v of Object.values(json)) if (Array.isArray(v)) return v;
  }
  return [json];
}

function chart(node, option) {
  const c = echarts.init(node);
  c.setOption(option);
  state.charts.push(c);
  return c;
}

function errorBox(e) {
  return el("p", { class: "error", role: "alert" }, e instanceof ApiError ? `${e.status}: ${e.message}` : String(e));
}

// ---- pages ---------------------------------------------------------------

async function overview(view) {
  view.append(el("h1", {}, t("kpi_board")));
  const board = await api("POST", "/v1/query/kpi", {});
  view.append(el("p", { class: "muted" }, `${t("range")}: ${board.from} – ${board.to}`));
  view.append(el("div", { class: "grid", id: "kpis" }, board.kpis.map((k) => el("div", { class: "card kpi", "data-kpi": k.key },
    el("div", { class: "label" }, k.label),
    el("div", { class: "value" }, fmt(k.value, k.unit)),
    k.target ? el("div", { class: "target " + (k.met === true ? "met" : k.met === false ? "missed" : "muted") },
      `${t("target")} ${k.target.op} ${fmt(k.target.value, k.unit)} · ${k.met === null ? "–" : k.met ? t("met") : t("missed")}`) : null,
    k.note ? el("div", { class: "muted" }, k.note) : null))));
  if (board.segments && board.segments.length) {
    const tiers = board.segments.filter((s) => s.dimension === "value_tier");
    const stages = board.segments.filter((s) => s.dimension === "lifecycle_stage" || s.dimension === "lifecycle");
    const row = el("div", { class: "grid" });
    view.append(el("h2", {}, t("segments")), row);
    for (const [title, data] of [[t("value_tiers"), tiers], [t("lifecycle"), stages]]) {
      if (!data.length) continue;
      const box = el("div", { class: "chart" });
      row.append(el("div", { class: "card" }, el("h2", {}, title), box));
      chart(box, { tooltip: { trigger: "item" }, series: [{ type: "pie", radius: ["35%", "70%"],
        data: data.map((s) => ({ name: s.segment, value: s.persons })) }] });
    }
  }
  if (board.ltv && board.ltv.length) {
    view.append(el("h2", {}, t("ltv")), table([
      { title: t("cohort"), cell: (r) => r.cohort },
      { title: t("persons"), num: true, cell: (r) => fmt(r.persons) },
      { title: "LTV 30d", num: true, cell: (r) => fmt(r.ltv_fen[0], "fen") },
      { title: "LTV 90d", num: true, cell: (r) => fmt(r.ltv_fen[1], "fen") },
      { title: "LTV 180d", num: true, cell: (r) => fmt(r.ltv_fen[2], "fen") },
    ], board.ltv));
  }
  if (board.cac && board.cac.length) view.append(el("h2", {}, t("cac")), autoTable(board.cac));
}

async function segments(view) {
  view.append(el("h1", {}, t("segments")));
  const jobBox = el("div", { class: "card" });
  const bar = el("div", { class: "progress" }, el("div", { id: "job-progress" }));
  const status = el("span", { class: "muted", id: "job-status" });
  jobBox.append(el("button", { class: "primary", id: "recompute", onclick: () => runJob(bar, status) }, t("recompute")), bar, status);
  view.append(jobBox);
  const s = await api("GET", "/v1/segments");
  view.append(el("p", { class: "muted" }, `${t("persons")}: ${fmt(s.total)} · RFM: ${fmt(s.rfm_scored)}`));
  const grid = el("div", { class: "grid" });
  view.append(grid);
  for (const [title, rows] of [[t("value_tiers"), s.value_tiers], [t("lifecycle"), s.lifecycle],
    [t("behaviour"), s.behaviour], [t("rfm"), s.rfm]]) {
    const box = el("div", { class: "chart" });
    grid.append(el("div", { class: "card" }, el("h2", {}, title), box));
    const label = (r) => (state.lang === "zh" ? r.label_zh : String(r.segment).replaceAll("_", " "));
    chart(box, { tooltip: {}, grid: { left: 110, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: rows.map(label), inverse: true },
      series: [{ type: "bar", data: rows.map((r) => r.count), label: { show: true, position: "right",
        formatter: (p) => fmt(rows[p.dataIndex].share, "ratio") } }] });
  }
}

async function runJob(bar, status) {
  try {
    let job = await api("POST", "/v1/jobs/compute");
    for (;;) {
      const pct = job.total ? Math.min(100, (100 * job.done) / job.total) : job.state === "running" ? 50 : 100;
      bar.firstChild.style.width = `${job.state === "done" ? 100 : pct}%`;
      status.textContent = `${t(job.state)} · ${fmt(job.done)}${job.total ? " / " + fmt(job.total) : ""}${job.message ? " · " + job.message : ""}`;
      status.dataset.state = job.state;
      if (job.state !== "running") break;
      await new Promise((r) => setTimeout(r, 300));
      job = await api("GET", `/v1/jobs/${job.id}`);
    }
  } catch (e) {
    status.replaceChildren(errorBox(e));
  }
}

function funnel(view) {
  view.append(el("h1", {}, t("funnel")));
  const steps = el("div", { class: "steps", id: "funnel-steps" });
  const addStep = (name) => {
    const row = el("div", { class: "step" },
      el("span", { class: "muted" }, "→"),
      el("input", { class: "step-event", list: "events", value: name || "", "aria-label": t("event") }),
      el("button", { type: "button", onclick: () => row.remove() }, t("remove")));
    steps.append(row);
  };
  ["Product Viewed", "Product Added", "Order Completed"].forEach(addStep);
  const window_ = el("input", { id: "funnel-window", value: "7d", size: 6 });
  const mode = el("select", { id: "funnel-mode" }, ["ordered", "strict", "strict_increase", "any_order"].map((m) => el("option", { value: m }, t(m))));
  const breakdown = el("select", { id: "funnel-breakdown" }, ["", "platform", "channel", "category"].map((b) => el("option", { value: b }, b || t("none"))));
  const out = el("div", { id: "funnel-result" });
  const form = el("form", { class: "card", id: "funnel-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const spec = { steps: [...steps.querySelectorAll(".step-event")].map((i) => ({ event: i.value.trim() })).filter((s) => s.event),
      window: window_.value.trim(), mode: mode.value };
    if (breakdown.value) spec.breakdown = breakdown.value;
    out.replaceChildren(el("p", { class: "muted" }, t("loading")));
    try { renderFunnel(out, await api("POST", "/v1/query/funnel", spec)); } catch (e) { out.replaceChildren(errorBox(e)); }
  } },
  el("datalist", { id: "events" }, EVENTS.map((e) => el("option", { value: e }))),
  steps,
  el("div", { class: "inline" }, el("button", { type: "button", onclick: () => addStep("") }, t("add_step"))),
  el("div", { class: "inline", style: "margin-top:8px" },
    el("label", {}, t("window"), window_), el("label", {}, t("mode"), mode), el("label", {}, t("breakdown"), breakdown),
    el("button", { class: "primary", type: "submit", id: "funnel-run" }, t("run"))));
  view.append(form, out);
}

function renderFunnel(out, r) {
  const box = el("div", { class: "chart", id: "funnel-chart" });
  out.replaceChildren(el("div", { class: "card" }, box), table([
    { title: t("step"), cell: (s) => `${s.step}. ${s.label}` },
    { title: t("persons"), num: true, cell: (s) => fmt(s.persons) },
    { title: t("conversion"), num: true, cell: (s) => fmt(s.conversion_rate, "ratio") },
    { title: t("step_conversion"), num: true, cell: (s) => fmt(s.step_conversion_rate, "ratio") },
    { title: t("dropped"), num: true, cell: (s) => fmt(s.dropped_off) },
    { title: t("drop_rate"), num: true, cell: (s) => fmt(s.drop_off_rate, "ratio") },
    { title: t("median_time"), num: true, cell: (s) => seconds(s.median_seconds_from_previous) },
  ], r.steps));
  out.querySelector("table").id = "funnel-table";
  const series = [{ name: t("persons"), type: "bar", data: r.steps.map((s) => s.persons) },
    { name: t("dropped"), type: "bar", data: r.steps.map((s) => s.dropped_off) }];
  chart(box, { tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: r.steps.map((s) => s.label) },
    yAxis: { type: "value" }, series });
  for (const b of r.breakdowns || []) {
    out.append(el("h2", {}, `${r.breakdown} = ${b.value}`), table([
      { title: t("step"), cell: (s) => `${s.step}. ${s.label}` },
      { title: t("persons"), num: true, cell: (s) => fmt(s.persons) },
      { title: t("conversion"), num: true, cell: (s) => fmt(s.conversion_rate, "ratio") },
    ], b.steps));
  }
}

function retention(view) {
  view.append(el("h1", {}, t("retention")));
  const period = el("select", { id: "retention-period" }, ["day", "week", "month"].map((p) => el("option", { value: p, selected: p === "week" }, t(p))));
  const periods = el("input", { id: "retention-periods", type: "number", value: 8, min: 1, max: 60 });
  const mode = el("select", { id: "retention-mode" }, ["bounded", "unbounded"].map((m) => el("option", { value: m }, t(m))));
  const out = el("div");
  const run = async () => {
    out.replaceChildren(el("p", { class: "muted" }, t("loading")));
    try {
      const r = await api("POST", "/v1/query/retention", { period: period.value, periods: Number(periods.value), mode: mode.value });
      const box = el("div", { class: "chart", id: "retention-chart", style: `height:${Math.max(240, 28 * r.cohorts.length + 80)}px` });
      const width = Math.max(0, ...r.cohorts.map((c) => c.rates.length));
      out.replaceChildren(el("div", { class: "card" }, box), table([
        { title: t("cohort"), cell: (c) => c.cohort }, { title: t("size"), num: true, cell: (c) => fmt(c.size) },
        ...Array.from({ length: width }, (_, i) => ({ title: `${i}`, num: true, cell: (c) => fmt(c.rates[i], "ratio") })),
      ], r.cohorts));
      const data = r.cohorts.flatMap((c, y) => c.rates.map((v, x) => [x, y, Math.round(v * 1000) / 10]));
      chart(box, { tooltip: { formatter: (p) => `${r.cohorts[p.value[1]].cohort} +${p.value[0]}: ${p.value[2]}%` },
        grid: { left: 90, right: 20, top: 10, bottom: 60 },
        xAxis: { type: "category", data: Array.from({ length: width }, (_, i) => `+${i}`) },
        yAxis: { type: "category", data: r.cohorts.map((c) => c.cohort), inverse: true },
        visualMap: { min: 0, max: 100, orient: "horizontal", left: "center", bottom: 0, calculable: true },
        series: [{ type: "heatmap", data, label: { show: width <= 13 } }] });
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  view.append(el("form", { class: "card inline", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    el("label", {}, t("period"), period), el("label", {}, t("periods"), periods), el("label", {}, t("mode"), mode),
    el("button", { class: "primary", type: "submit" }, t("run"))), out);
  return run();
}

function paths(view) {
  view.append(el("h1", {}, t("paths")));
  const anchor = el("select", { id: "paths-anchor" }, el("option", { value: "start" }, t("after")), el("option", { value: "end" }, t("before")));
  const event = el("input", { id: "paths-event", list: "events", value: "Product Viewed" });
  const out = el("div");
  const run = async () => {
    try {
      const spec = { [anchor.value]: { event: event.value.trim() }, top: 10 };
      const r = await api("POST", "/v1/query/paths", spec);
      out.replaceChildren(el("p", { class: "muted" }, `${t("persons")}: ${fmt(r.persons)}`), table([
        { title: t("path"), cell: (p) => p.events.join(" → ") },
        { title: t("persons"), num: true, cell: (p) => fmt(p.persons) },
        { title: t("share"), num: true, cell: (p) => fmt(p.share, "ratio") },
      ], r.paths));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  view.append(el("datalist", { id: "events" }, EVENTS.map((e) => el("option", { value: e }))),
    el("form", { class: "card inline", onsubmit: (ev) => { ev.preventDefault(); run(); } },
      el("label", {}, t("path"), anchor), el("label", {}, t("event"), event),
      el("button", { class: "primary", type: "submit" }, t("run"))), out);
  return run();
}

function profile(view) {
  view.append(el("h1", {}, t("profile")));
  const user = el("input", { id: "profile-user", placeholder: t("user") });
  const out = el("div", { id: "profile-result" });
  const show = async () => {
    const id = encodeURIComponent(user.value.trim());
    if (!id) return;
    out.replaceChildren();
    const sections = [[t("profile_data"), "/v1/profiles/" + id, "/v1/profiles/{user}"],
      [t("loyalty"), "/v1/loyalty/members/" + id, "/v1/loyalty/members/{user}"],
      [t("ledger"), "/v1/loyalty/members/" + id + "/history", "/v1/loyalty/members/{user}/history"],
      [t("recommendations"), "/v1/recommendations/" + id + "?placement=home&n=10", "/v1/recommendations/{user}"],
      [t("clv"), "/v1/clv/" + id, "/v1/clv/{user}"],
      [t("replenish"), "/v1/replenishment/" + id, "/v1/replenishment/{user}"]];
    for (const [title, path, route] of sections) {
      if (!state.routes.has(route)) continue;
      const card = el("div", { class: "card" }, el("h2", {}, title));
      out.append(card);
      try { card.append(renderRecord(await api("GET", path))); } catch (e) { card.append(errorBox(e)); }
    }
  };
  view.append(el("form", { class: "card inline", onsubmit: (ev) => { ev.preventDefault(); show(); } },
    el("label", {}, t("user"), user), el("button", { class: "primary", type: "submit" }, t("show"))), out);
  const initial = new URLSearchParams(location.hash.split("?")[1] || "").get("user");
  if (initial) { user.value = initial; return show(); }
}

// A JSON document as nested key/value tables (profiles, members, scores).
function renderRecord(json) {
  if (Array.isArray(json)) return json.length && typeof json[0] === "object" ? autoTable(json) : el("span", {}, json.join(", "));
  if (json === null || typeof json !== "object") return el("span", {}, fmt(json));
  const rows = Object.entries(json);
  return el("div", { class: "table-wrap" }, el("table", {}, el("tbody", {}, rows.map(([k, v]) =>
    el("tr", {}, el("th", {}, k), el("td", {}, v !== null && typeof v === "object" ? renderRecord(v) : fmt(v)))))));
}

async function listPage(view, path) {
  const page = PAGES.find((p) => p.needs === path);
  view.append(el("h1", {}, t(page.id)));
  const json = await api("GET", path);
  view.append(el("div", { class: "card" }, renderRecord(json)));
  const rows = firstArray(json).filter((r) => r && typeof r === "object");
  const numeric = rows.length ? Object.keys(rows[0]).find((k) => typeof rows[0][k] === "number") : null;
  const name = rows.length ? Object.keys(rows[0]).find((k) => typeof rows[0][k] === "string") : null;
  if (numeric && name && rows.length <= 50) {
    const box = el("div", { class: "chart" });
    view.prepend(el("div", { class: "card" }, box));
    view.prepend(view.querySelector("h1"));
    chart(box, { tooltip: {}, grid: { left: 140, right: 20, top: 10, bottom: 30 }, xAxis: { type: "value" },
      yAxis: { type: "category", inverse: true, data: rows.map((r) => r[name]) },
      series: [{ type: "bar", name: numeric, data: rows.map((r) => r[numeric]) }] });
  }
}

async function churn(view) {
  view.append(el("h1", {}, t("churn")));
  const min = el("input", { type: "number", value: 80, min: 0, max: 100, id: "churn-min" });
  const out = el("div");
  const run = async () => {
    try { out.replaceChildren(renderRecord(await api("GET", `/v1/churn/high-risk?min_risk=${min.value}`))); } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  view.append(el("form", { class: "card inline", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    el("label", {}, t("min_risk"), min), el("button", { class: "primary", type: "submit" }, t("run"))), out);
  return run();
}

async function replenish(view) {
  view.append(el("h1", {}, t("replenish")));
  const days = el("input", { type: "number", value: 14, min: 1, id: "replenish-days" });
  const out = el("div");
  const run = async () => {
    try { out.replaceChildren(renderRecord(await api("GET", `/v1/replenishment/due?within_days=${days.value}`))); } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  view.append(el("form", { class: "card inline", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    el("label", {}, t("within_days"), days), el("button", { class: "primary", type: "submit" }, t("run"))), out);
  return run();
}

function audiences(view) {
  view.append(el("h1", {}, t("audiences")));
  const filter = el("textarea", { id: "audience-filter", rows: 3, style: "width:100%" });
  filter.value = 'value_tier = "high_value" or count(orders, 90d) >= 2';
  const by = el("select", { id: "audience-breakdown" }, ["value_tier", "lifecycle", "behaviour"].map((d) => el("option", { value: d }, d)));
  const out = el("div", { id: "audience-result" });
  view.append(el("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/v1/audiences/preview", { filter: filter.value, breakdown: by.value, sample: 10 });
      const box = el("div", { class: "chart", id: "audience-chart" });
      out.replaceChildren(el("p", {}, `${t("size")}: `, el("strong", { id: "audience-size" }, fmt(r.size))),
        el("div", { class: "card" }, box), el("h2", {}, t("sample")), renderRecord(r.sample));
      const counts = r.breakdown.counts;
      chart(box, { tooltip: {}, xAxis: { type: "category", data: counts.map((c) => c.value) }, yAxis: { type: "value" },
        series: [{ type: "bar", data: counts.map((c) => c.people) }] });
    } catch (e) { out.replaceChildren(errorBox(e)); }
  } }, el("label", {}, t("audience_filter"), filter), el("label", {}, t("breakdown"), by),
  el("button", { class: "primary", type: "submit", id: "audience-run" }, t("preview"))), out);
}

// ---- shell ---------------------------------------------------------------

function loginPage(view, message) {
  const key = el("input", { id: "login-key", type: "password", autocomplete: "current-password" });
  view.replaceChildren(el("form", { class: "card login", id: "login-form", onsubmit: async (ev) => {
    ev.preventDefault();
    state.key = key.value.trim();
    try {
      await api("GET", "/v1/segments");
      sessionStorage.setItem("cohort.key", state.key);
      route();
    } catch (e) {
      state.key = "";
      const msg = e instanceof ApiError && (e.status === 401 || e.status === 403) ? t("refused") : e.message;
      view.querySelector(".error").textContent = msg;
    }
  } }, el("h1", {}, "Cohort · " + t("login")), el("label", {}, t("admin_key"), key),
  el("p", { class: "error", role: "alert" }, message || ""), el("button", { class: "primary", type: "submit", id: "login-submit" }, t("login"))));
}

function renderNav(current) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...PAGES.filter((p) => state.key && state.routes.has(p.needs)).map((p) =>
    el("a", { href: `#/${p.id}`, class: p.id === current ? "active" : "", "data-page": p.id }, t(p.id))));
  const lang = document.getElementById("lang");
  lang.textContent = t("lang");
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  const logout = document.getElementById("logout");
  logout.textContent = t("logout");
  logout.hidden = !state.key;
}

async function route() {
  state.charts.forEach((c) => c.dispose());
  state.charts = [];
  const view = document.getElementById("view");
  const id = (location.hash.replace(/^#\/?/, "").split("?")[0]) || "overview";
  const page = PAGES.find((p) => p.id === id && state.routes.has(p.needs)) || PAGES[0];
  renderNav(state.key ? page.id : null);
  if (!state.key) return loginPage(view);
  view.replaceChildren();
  view.dataset.page = page.id;
  view.dataset.ready = "false";
  try {
    await page.render(view);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      state.key = "";
      sessionStorage.removeItem("cohort.key");
      return loginPage(view, t("refused"));
    }
    view.append(errorBox(e));
  }
  view.dataset.ready = "true";
}

async function start() {
  document.getElementById("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("cohort.lang", state.lang);
    route();
  });
  document.getElementById("logout").addEventListener("click", () => {
    state.key = "";
    sessionStorage.removeItem("cohort.key");
    location.hash = "#/overview";
    route();
  });
  window.addEventListener("resize", () => state.charts.forEach((c) => c.resize()));
  window.addEventListener("hashchange", route);
  const doc = await (await fetch("/openapi.json")).json();
  state.routes = new Set(Object.keys(doc.paths || {}));
  route();
}

start();
