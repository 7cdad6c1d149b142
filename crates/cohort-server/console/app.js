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
    basket: "购物篮规则", min_support: "最小支持度", min_confidence: "最小置信度", min_lift: "最小提升度", top: "前 N 条",
    level: "粒度", per: "篮子单位", product: "商品", category: "品类", order: "订单", user_unit: "用户",
    rule: "规则", support: "支持度", confidence: "置信度", lift: "提升度", baskets: "篮子数", rules_total: "规则数",
    itemsets: "频繁项集", rfm_grid: "RFM 矩阵（最近购买 R × 购买频次 F）", recency_score: "R 分（5 = 最近）",
    frequency_score: "F 分（5 = 最频繁）", avg_monetary: "平均消费", movement: "分层变化趋势",
    tier_shares: "价值分层占比（月末）", stage_shares: "生命周期占比（月末）",
    transitions: "分层迁移", transitions_hint: "行：起始日所在分层；列：结束日所在分层", stayed: "未变化", not_known: "尚未出现",
    save_audience: "保存人群", audience_id: "人群 ID", audience_name: "名称", kind: "类型", static: "静态（保存时快照）",
    dynamic: "动态", saved_audiences: "已保存人群", export_csv: "导出 CSV", export_ndjson: "导出 NDJSON", saved: "已保存",
    created: "创建时间", train_churn: "训练流失模型", train_clusters: "训练行为聚类", train_clv: "拟合客户价值",
    train_replenishment: "计算复购周期", train_recommend: "训练推荐模型", stage: "阶段", state: "状态", started: "开始时间",
    message: "结果", as_of: "基准日（可选）", refreshed: "数据已刷新",
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
    basket: "Basket rules", min_support: "Min support", min_confidence: "Min confidence", min_lift: "Min lift", top: "Top N",
    level: "Level", per: "Basket per", product: "product", category: "category", order: "order", user_unit: "user",
    rule: "Rule", support: "Support", confidence: "Confidence", lift: "Lift", baskets: "Baskets", rules_total: "Rules",
    itemsets: "Frequent itemsets", rfm_grid: "RFM grid (recency R × frequency F)", recency_score: "R score (5 = most recent)",
    frequency_score: "F score (5 = most orders)", avg_monetary: "Average spend", movement: "Movement over time",
    tier_shares: "Value tier shares (period end)", stage_shares: "Lifecycle stage shares (period end)",
    transitions: "Transitions", transitions_hint: "rows: segment on the first day; columns: segment on the second", stayed: "stayed", not_known: "not known yet",
    save_audience: "Save audience", audience_id: "Audience id", audience_name: "Name", kind: "Kind", static: "static (snapshot when saved)",
    dynamic: "dynamic", saved_audiences: "Saved audiences", export_csv: "Export CSV", export_ndjson: "Export NDJSON", saved: "Saved",
    created: "Created", train_churn: "Train churn model", train_clusters: "Train clusters", train_clv: "Fit CLV",
    train_replenishment: "Compute replenishment", train_recommend: "Train recommendations", stage: "Stage", state: "State", started: "Started",
    message: "Result", as_of: "As of (optional)", refreshed: "data refreshed",
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
  { id: "clusters", needs: "/v1/clusters", render: clusters },
  { id: "churn", needs: "/v1/churn/high-risk", render: churn },
  { id: "replenish", needs: "/v1/replenishment/due", render: replenish },
  { id: "reviews", needs: "/v1/reviews/topics", render: (v) => listPage(v, "/v1/reviews/topics") },
  { id: "basket", needs: "/v1/basket/rules", render: basket },
  { id: "jobs", needs: "/v1/jobs/train", render: jobsPage },
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
  const data = el("div", { id: "segments-data" });
  view.append(jobControl("recompute", t("recompute"), () => api("POST", "/v1/jobs/compute"), () => renderSegments(data)), data);
  await renderSegments(data);
}

// Disposes the charts drawn inside `box` (before it is drawn again).
function disposeIn(box) {
  state.charts = state.charts.filter((c) => {
    if (!box.contains(c.getDom())) return true;
    c.dispose();
    return false;
  });
}

async function renderSegments(box) {
  disposeIn(box);
  const s = await api("GET", "/v1/segments");
  box.replaceChildren(el("p", { class: "muted" }, `${t("persons")}: ${fmt(s.total)} · RFM: ${fmt(s.rfm_scored)}`));
  const zh = {};
  for (const r of [...s.value_tiers, ...s.lifecycle, ...s.behaviour, ...s.rfm]) zh[r.segment] = r.label_zh;
  const name = (segment) => (state.lang === "zh" && zh[segment] ? zh[segment] : String(segment).replaceAll("_", " "));
  const grid = el("div", { class: "grid" });
  box.append(grid);
  for (const [title, rows] of [[t("value_tiers"), s.value_tiers], [t("lifecycle"), s.lifecycle],
    [t("behaviour"), s.behaviour], [t("rfm"), s.rfm]]) {
    const chartBox = el("div", { class: "chart" });
    grid.append(el("div", { class: "card" }, el("h2", {}, title), chartBox));
    chart(chartBox, { tooltip: {}, grid: { left: 110, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: rows.map((r) => name(r.segment)), inverse: true },
      series: [{ type: "bar", data: rows.map((r) => r.count), label: { show: true, position: "right",
        formatter: (p) => fmt(rows[p.dataIndex].share, "ratio") } }] });
  }
  if (s.rfm_grid) {
    const cells = s.rfm_grid;
    const rfmBox = el("div", { class: "chart", id: "rfm-chart" });
    box.append(el("div", { class: "card" }, el("h2", {}, t("rfm_grid")), rfmBox));
    const max = Math.max(1, ...cells.map((c) => c.persons));
    chart(rfmBox, {
      tooltip: { formatter: (p) => { const c = cells[p.dataIndex];
        return `R${c.recency} × F${c.frequency} · ${name(c.segment)}<br>${t("persons")}: ${fmt(c.persons)}<br>${t("avg_monetary")}: ${fmt(c.avg_monetary_fen, "fen")}`; } },
      grid: { left: 50, right: 90, top: 30, bottom: 50 },
      xAxis: { type: "category", name: t("frequency_score"), nameLocation: "middle", nameGap: 28, data: ["1", "2", "3", "4", "5"] },
      yAxis: { type: "category", name: t("recency_score"), nameLocation: "end", data: ["1", "2", "3", "4", "5"] },
      visualMap: { min: 0, max, orient: "vertical", right: 0, top: "middle", itemHeight: 160, calculable: true },
      series: [{ type: "heatmap", label: { show: true }, data: cells.map((c) => [c.frequency - 1, c.recency - 1, c.persons]) }],
    });
  }
  if (state.routes.has("/v1/query/kpi")) {
    const board = await api("POST", "/v1/query/kpi", { period: "month", history_periods: 12 });
    const history = board.segment_history || [];
    if (history.length) {
      const row = el("div", { class: "grid wide" });
      box.append(el("h2", {}, t("movement")), row);
      for (const [id, title, dimension] of [["movement-tiers", t("tier_shares"), "value_tier"], ["movement-stages", t("stage_shares"), "lifecycle"]]) {
        const chartBox = el("div", { class: "chart", id });
        row.append(el("div", { class: "card" }, el("h2", {}, title), chartBox));
        const segs = history[0].shares.filter((x) => x.dimension === dimension).map((x) => x.segment);
        chart(chartBox, { tooltip: { trigger: "axis", valueFormatter: (v) => `${v}%` }, legend: { type: "scroll" },
          grid: { left: 50, right: 20, top: 40, bottom: 30 },
          xAxis: { type: "category", data: history.map((h) => h.period.slice(0, 7)) },
          yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
          series: segs.map((seg) => ({ name: name(seg), type: "line", stack: "share", areaStyle: {}, symbol: "none",
            data: history.map((h) => Math.round(1000 * (h.shares.find((x) => x.dimension === dimension && x.segment === seg) || { share: 0 }).share) / 10) })) });
      }
      if (history.length >= 2 && state.routes.has("/v1/segments/transitions")) {
        const moves = transitionsCard(history[history.length - 2].as_of_date, history[history.length - 1].as_of_date, name);
        box.append(el("h2", {}, t("transitions")), moves.card);
        await moves.run();
      }
    }
  }
}

// Who moved from which segment to which between two days (heatmap).
function transitionsCard(from, to, name) {
  const fromIn = el("input", { id: "transitions-from", type: "date", value: from });
  const toIn = el("input", { id: "transitions-to", type: "date", value: to });
  const dim = el("select", { id: "transitions-dimension" }, [["value_tier", "value_tiers"], ["lifecycle", "lifecycle"]].map(([v, k]) => el("option", { value: v }, t(k))));
  const out = el("div", { id: "transitions-result" });
  const label = (seg) => (seg === "not_known" ? t("not_known") : name(seg));
  const run = async () => {
    disposeIn(out);
    try {
      const q = new URLSearchParams({ from: fromIn.value, to: toIn.value, dimension: dim.value });
      const r = await api("GET", `/v1/segments/transitions?${q}`);
      const chartBox = el("div", { class: "chart", id: "transitions-chart" });
      out.replaceChildren(el("p", { class: "muted", id: "transitions-summary" },
        `${r.from} → ${r.to} · ${t("persons")}: ${fmt(r.persons)} · ${t("stayed")}: ${fmt(r.stayed)} (${fmt(r.persons ? r.stayed / r.persons : 0, "ratio")}) · ${t("transitions_hint")}`), chartBox);
      out.dataset.query = q.toString();
      const max = Math.max(1, ...r.cells.map((c) => c.persons));
      chart(chartBox, { tooltip: { formatter: (p) => `${label(r.from_segments[p.value[1]])} → ${label(r.to_segments[p.value[0]])}: ${fmt(p.value[2])}` },
        grid: { left: 110, right: 90, top: 10, bottom: 60 },
        xAxis: { type: "category", data: r.to_segments.map(label), axisLabel: { interval: 0, rotate: 30 } },
        yAxis: { type: "category", data: r.from_segments.map(label), inverse: true },
        visualMap: { min: 0, max, orient: "vertical", right: 0, top: "middle", itemHeight: 160, calculable: true },
        series: [{ type: "heatmap", label: { show: true },
          data: r.cells.map((c) => [r.to_segments.indexOf(c.to), r.from_segments.indexOf(c.from), c.persons]) }] });
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  const card = el("div", { class: "card" }, el("form", { class: "inline", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    el("label", {}, t("from"), fromIn), el("label", {}, t("to"), toIn), el("label", {}, t("breakdown"), dim),
    el("button", { class: "primary", type: "submit", id: "transitions-run" }, t("run"))), out);
  return { card, run };
}

// A button that starts a background job (`start` answers the job) and
// follows it: progress bar, stage, units done of the stage; `after` runs
// once it is done (the page refreshes its data) and marks the status.
function jobControl(id, label, start, after) {
  const bar = el("div", { class: "progress" }, el("div", { id: `${id}-progress` }));
  const status = el("span", { class: "muted", id: `${id}-status` });
  const button = el("button", { class: "primary", id, type: "button", onclick: async () => {
    button.disabled = true;
    delete status.dataset.refreshed;
    try {
      const job = await followJob(await start(), bar, status);
      if (job.state === "done" && after) {
        await after(job);
        status.dataset.refreshed = "true";
        status.textContent += ` · ${t("refreshed")}`;
      }
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
    button.disabled = false;
  } }, label);
  return el("div", { class: "card job" }, button, bar, status);
}

function jobPercent(job) {
  if (job.state === "done") return 100;
  const part = job.total ? Math.min(1, job.done / job.total) : 0;
  return Math.round((1000 * (Math.max(1, job.step) - 1 + part)) / (job.steps || 1)) / 10;
}

function jobText(job) {
  const stage = job.stage ? `${t("stage")} ${job.step}/${job.steps || "?"}: ${job.stage} · ` : "";
  const units = job.state === "running" ? `${fmt(job.done)}${job.total ? " / " + fmt(job.total) : ""}` : "";
  return `${t(job.state)} · ${job.state === "running" ? stage + units : job.message || ""}`;
}

async function followJob(job, bar, status) {
  for (;;) {
    bar.firstChild.style.width = `${jobPercent(job)}%`;
    status.textContent = jobText(job);
    status.dataset.state = job.state;
    if (job.state !== "running") return job;
    await new Promise((r) => setTimeout(r, 300));
    job = await api("GET", `/v1/jobs/${job.id}`);
  }
}

const train = (model, extra = {}) => () => api("POST", "/v1/jobs/train", { model, ...extra });

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
  const body = el("div", { id: `${page.id}-data` });
  view.append(body);
  await listBody(body, path);
}

// A GET answer as tables, with a bar chart of its first list when it has a
// name and a number per row.
async function listBody(box, path) {
  disposeIn(box);
  const json = await api("GET", path);
  box.replaceChildren(el("div", { class: "card" }, renderRecord(json)));
  const rows = firstArray(json).filter((r) => r && typeof r === "object");
  const numeric = rows.length ? Object.keys(rows[0]).find((k) => typeof rows[0][k] === "number") : null;
  const name = rows.length ? Object.keys(rows[0]).find((k) => typeof rows[0][k] === "string") : null;
  if (numeric && name && rows.length <= 50) {
    const chartBox = el("div", { class: "chart" });
    box.prepend(el("div", { class: "card" }, chartBox));
    chart(chartBox, { tooltip: {}, grid: { left: 140, right: 20, top: 10, bottom: 30 }, xAxis: { type: "value" },
      yAxis: { type: "category", inverse: true, data: rows.map((r) => r[name]) },
      series: [{ type: "bar", name: numeric, data: rows.map((r) => r[numeric]) }] });
  }
}

async function churn(view) {
  view.append(el("h1", {}, t("churn")));
  const min = el("input", { type: "number", value: 80, min: 0, max: 100, id: "churn-min" });
  const out = el("div", { id: "churn-result" });
  const run = async () => {
    try { out.replaceChildren(renderRecord(await api("GET", `/v1/churn/high-risk?min_risk=${min.value}`))); } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  if (state.routes.has("/v1/jobs/train")) view.append(jobControl("train-churn", t("train_churn"), train("churn"), run));
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

async function audiences(view) {
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
  if (!state.routes.has("/v1/audiences")) return;
  const id = el("input", { id: "audience-id", placeholder: "high_value_repeat" });
  const name = el("input", { id: "audience-name" });
  const kind = el("select", { id: "audience-kind" }, ["static", "dynamic"].map((k) => el("option", { value: k }, t(k))));
  const saved = el("span", { id: "audience-saved", class: "muted" });
  const list = el("div", { id: "audience-list" });
  view.append(el("h2", {}, t("save_audience")), el("form", { class: "card inline", onsubmit: async (ev) => {
    ev.preventDefault();
    saved.replaceChildren();
    try {
      const r = await api("POST", "/v1/audiences", { id: id.value.trim(), name: name.value.trim(), filter: filter.value, kind: kind.value });
      saved.replaceChildren(`${t("saved")}: ${r.audience.id} · ${t("size")} `, el("strong", {}, fmt(r.size)));
      saved.dataset.size = r.size;
      await savedAudiences(list);
    } catch (e) { saved.replaceChildren(errorBox(e)); }
  } }, el("label", {}, t("audience_id"), id), el("label", {}, t("audience_name"), name), el("label", {}, t("kind"), kind),
  el("button", { class: "primary", type: "submit", id: "audience-save" }, t("save_audience")), saved),
  el("h2", {}, t("saved_audiences")), list);
  await savedAudiences(list);
}

// The saved audiences with their export buttons (CSV / NDJSON downloads).
async function savedAudiences(list) {
  const { audiences } = await api("GET", "/v1/audiences");
  const canExport = state.routes.has("/v1/audiences/{id}/export");
  list.replaceChildren(audiences.length === 0 ? el("p", { class: "muted" }, t("no_data")) : table([
    { title: t("audience_id"), cell: (a) => a.id },
    { title: t("audience_name"), cell: (a) => a.name },
    { title: t("kind"), cell: (a) => t(a.kind) },
    { title: t("audience_filter"), cell: (a) => el("code", {}, a.filter) },
    { title: t("created"), cell: (a) => a.created_at },
    { title: "", cell: (a) => canExport ? el("span", { class: "inline" },
      el("button", { type: "button", class: "export", "data-id": a.id, "data-format": "csv", onclick: () => download(a.id, "csv") }, t("export_csv")),
      el("button", { type: "button", class: "export", "data-id": a.id, "data-format": "ndjson", onclick: () => download(a.id, "ndjson") }, t("export_ndjson"))) : "" },
  ], audiences));
}

// Fetches an export with the key and hands it to the browser as a file.
async function download(id, format) {
  const res = await fetch(`/v1/audiences/${encodeURIComponent(id)}/export?format=${format}`,
    { headers: { Authorization: "Basic " + btoa(state.key + ":") }, credentials: "omit" });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: `audience-${id}.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function clusters(view) {
  await listPage(view, "/v1/clusters");
  const data = view.querySelector("#clusters-data");
  if (state.routes.has("/v1/jobs/train")) data.before(jobControl("train-clusters", t("train_clusters"), train("clusters"), () => listBody(data, "/v1/clusters")));
}

function basket(view) {
  view.append(el("h1", {}, t("basket")));
  const num = (id, value, step, min, max) => el("input", { id, type: "number", value, step, min, max });
  const support = num("basket-support", 0.01, 0.001, 0.001, 1);
  const confidence = num("basket-confidence", 0.1, 0.05, 0, 1);
  const lift = num("basket-lift", 1, 0.1, 0, 100);
  const top = num("basket-top", 20, 1, 1, 1000);
  const level = el("select", { id: "basket-level" }, ["category", "product"].map((l) => el("option", { value: l }, t(l))));
  const per = el("select", { id: "basket-per" }, [["order", "order"], ["user", "user_unit"]].map(([v, k]) => el("option", { value: v }, t(k))));
  const out = el("div", { id: "basket-result" });
  const run = async () => {
    const q = new URLSearchParams({ min_support: support.value, min_confidence: confidence.value, min_lift: lift.value,
      top: top.value, level: level.value, per: per.value });
    disposeIn(out);
    try {
      const r = await api("GET", `/v1/basket/rules?${q}`);
      const box = el("div", { class: "chart", id: "basket-chart" });
      const rule = (x) => `${x.antecedent.join(" + ")} ⇒ ${x.consequent.join(" + ")}`;
      out.replaceChildren(el("p", { class: "muted", id: "basket-summary" },
        `${t("baskets")}: ${fmt(r.baskets)} · ${t("itemsets")}: ${fmt(r.itemsets)} · ${t("rules_total")}: ${fmt(r.rules_total)}`),
      el("div", { class: "card" }, box), table([
        { title: t("rule"), cell: rule },
        { title: t("baskets"), num: true, cell: (x) => fmt(x.count) },
        { title: t("support"), num: true, cell: (x) => fmt(x.support, "ratio") },
        { title: t("confidence"), num: true, cell: (x) => fmt(x.confidence, "ratio") },
        { title: t("lift"), num: true, cell: (x) => x.lift.toFixed(2) },
      ], r.rules));
      out.querySelector("table").id = "basket-table";
      out.dataset.query = q.toString();
      chart(box, { tooltip: { formatter: (p) => { const x = r.rules[p.dataIndex];
          return `${rule(x)}<br>${t("support")} ${fmt(x.support, "ratio")} · ${t("confidence")} ${fmt(x.confidence, "ratio")} · ${t("lift")} ${x.lift.toFixed(2)}`; } },
        animation: false, grid: { left: 60, right: 30, top: 40, bottom: 50 },
        xAxis: { type: "value", name: t("support"), nameLocation: "middle", nameGap: 30, scale: true, axisLabel: { formatter: (v) => `${+(v * 100).toFixed(2)}%` } },
        yAxis: { type: "value", name: t("confidence"), scale: true, axisLabel: { formatter: (v) => `${+(v * 100).toFixed(1)}%` } },
        series: [{ type: "scatter", data: r.rules.map((x) => [x.support, x.confidence, x.lift]),
          symbolSize: (v) => Math.min(48, 6 + 6 * v[2]) }] });
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  view.append(el("form", { class: "card inline", id: "basket-form", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    el("label", {}, t("min_support"), support), el("label", {}, t("min_confidence"), confidence), el("label", {}, t("min_lift"), lift),
    el("label", {}, t("top"), top), el("label", {}, t("level"), level), el("label", {}, t("per"), per),
    el("button", { class: "primary", type: "submit", id: "basket-run" }, t("run"))), out);
  return run();
}

async function jobsPage(view) {
  view.append(el("h1", {}, t("jobs")));
  const asOf = el("input", { id: "jobs-as-of", type: "date" });
  const list = el("div", { id: "jobs-list" });
  const refresh = async () => {
    const { jobs } = await api("GET", "/v1/jobs");
    list.replaceChildren(jobs.length === 0 ? el("p", { class: "muted" }, t("no_data")) : table([
      { title: "#", num: true, cell: (j) => j.id },
      { title: t("kind"), cell: (j) => j.kind },
      { title: t("state"), cell: (j) => t(j.state) },
      { title: t("stage"), cell: (j) => (j.stage ? `${j.step}/${j.steps || "?"} ${j.stage}` : "–") },
      { title: t("started"), cell: (j) => j.started_at },
      { title: t("message"), cell: (j) => j.message || "" },
    ], jobs));
  };
  const dated = (model) => () => api("POST", "/v1/jobs/train", asOf.value ? { model, as_of: asOf.value } : { model });
  const reload = async () => { if (state.routes.has("/v1/recommendations/reload")) await api("POST", "/v1/recommendations/reload"); };
  const controls = [
    state.routes.has("/v1/jobs/compute") ? jobControl("job-compute", t("recompute"), () => api("POST", "/v1/jobs/compute"), refresh) : null,
    jobControl("job-churn", t("train_churn"), train("churn"), refresh),
    jobControl("job-clusters", t("train_clusters"), train("clusters"), refresh),
    jobControl("job-clv", t("train_clv"), dated("clv"), refresh),
    jobControl("job-replenishment", t("train_replenishment"), dated("replenishment"), refresh),
    jobControl("job-recommend", t("train_recommend"), train("recommend"), async () => { await reload(); await refresh(); }),
  ];
  view.append(el("form", { class: "card inline", onsubmit: (ev) => ev.preventDefault() }, el("label", {}, t("as_of"), asOf)),
    el("div", { class: "grid jobs" }, controls), el("h2", {}, t("jobs")), list);
  await refresh();
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

// After every deferred script: engage.js adds its pages to PAGES first.
document.addEventListener("DOMContentLoaded", start);
