// Cohort console: campaigns, journeys and experiments (the engage routes).
// Loaded after app.js and before it starts: it adds its pages and strings
// to app.js's PAGES and I18N and uses its helpers (el, api, table, chart…).
"use strict";

Object.assign(I18N.zh, {
  campaigns: "营销活动", journeys: "自动化旅程", experiments: "A/B 实验",
  launch_campaign: "发起活动", campaign_id: "活动 ID", channel: "渠道", audience_kind: "人群来源",
  saved_audience: "已保存人群", audience_filter_kind: "筛选条件", audience_value: "人群 ID 或条件", message_body: "消息内容",
  control_share: "对照组比例 (%)", launch: "发起", launched: "已发起", audience_size: "人群", treatment: "实验组", control: "对照组",
  holdout: "全局保留组", scheduled: "已排期", delivered: "已送达", pending: "待发送", dead: "失败", suppressed: "已拦截",
  effect: "效果", uplift: "提升", recovered_revenue: "挽回收入", cost: "成本", roi: "ROI", targets: "计划目标",
  conversion_rate: "转化率", no_campaigns: "还没有活动", repurchase: "30 天复购",
  trigger: "触发", steps: "步骤数", active: "进行中", completed: "已完成", converted: "已转化", exited: "已退出",
  runs: "运行记录", run_entry: "运行每日入组", entered: "入组", service_calls: "客服回访任务", person: "用户", note: "备注",
  end_reason: "结束原因", wakes_at: "唤醒时间",
  arms: "各组数据（名称 转化数 人数，每行一组，第一行为对照组）", confidence: "置信度", analyze: "分析", rate: "转化率",
  p_value: "p 值", holm: "Holm 校正 p", bh: "BH 校正 p", chance_to_win: "胜出概率", expected_loss: "预期损失",
  srm_ok: "样本比例正常", srm_bad: "样本比例异常 (p < 0.001)：结果不可信", interval: "置信区间",
});
Object.assign(I18N.en, {
  campaigns: "Campaigns", journeys: "Journeys", experiments: "Experiments",
  launch_campaign: "Launch a campaign", campaign_id: "Campaign id", channel: "Channel", audience_kind: "Audience from",
  saved_audience: "saved audience", audience_filter_kind: "filter", audience_value: "Audience id or filter", message_body: "Message",
  control_share: "Control group (%)", launch: "Launch", launched: "Launched", audience_size: "Audience", treatment: "Treatment",
  control: "Control", holdout: "Holdout", scheduled: "Scheduled", delivered: "Delivered", pending: "Pending", dead: "Dead",
  suppressed: "Suppressed", effect: "Effect", uplift: "Uplift", recovered_revenue: "Recovered revenue", cost: "Cost", roi: "ROI",
  targets: "Plan targets", conversion_rate: "Conversion", no_campaigns: "No campaigns yet", repurchase: "30-day repurchase",
  trigger: "Trigger", steps: "Steps", active: "Active", completed: "Completed", converted: "Converted", exited: "Exited",
  runs: "Runs", run_entry: "Run the daily entry job", entered: "Entered", service_calls: "Service calls", person: "Person",
  note: "Note", end_reason: "Ended because", wakes_at: "Wakes at",
  arms: "Arms (name conversions units, one per line, control first)", confidence: "Confidence", analyze: "Analyze",
  rate: "Rate", p_value: "p", holm: "Holm p", bh: "BH p", chance_to_win: "Chance to win", expected_loss: "Expected loss",
  srm_ok: "Sample ratio OK", srm_bad: "Sample ratio MISMATCH (p < 0.001): do not trust these results", interval: "interval",
});

PAGES.push(
  { id: "campaigns", needs: "/v1/campaigns", render: campaigns },
  { id: "journeys", needs: "/v1/journeys", render: journeys },
  { id: "experiments", needs: "/v1/experiments/analyze", render: experiments },
);

const pct = (x) => fmt(x, "ratio");
const points = (x) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)} pt`;

// ---- campaigns -------------------------------------------------------------

async function campaigns(view) {
  view.append(el("h1", {}, t("campaigns")));
  const list = el("div", { id: "campaign-list" });
  const effect = el("div", { id: "campaign-effect" });
  view.append(launchForm(list), el("h2", {}, t("campaigns")), list, effect);
  await campaignList(list, effect);
}

function launchForm(list) {
  const id = el("input", { id: "campaign-id", required: true, value: `wake_${new Date().toISOString().slice(0, 10).replaceAll("-", "")}` });
  const channel = el("select", { id: "campaign-channel" }, ["sms", "app_push", "wecom", "email", "in_app"].map((c) => el("option", { value: c }, c)));
  const kind = el("select", { id: "campaign-audience-kind" },
    el("option", { value: "filter" }, t("audience_filter_kind")), el("option", { value: "saved" }, t("saved_audience")));
  const value = el("textarea", { id: "campaign-audience", rows: 2, style: "width:100%" });
  value.value = "count(orders) >= 1 and count(orders, 30d) = 0";
  const body = el("textarea", { id: "campaign-body", rows: 2, style: "width:100%" });
  body.value = "{{name}}，好久不见，新品上架啦，回来看看吧";
  const control = el("input", { id: "campaign-control", type: "number", min: 1, max: 50, value: 10 });
  const out = el("div", { id: "campaign-launched" });
  return el("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const spec = {
      id: id.value.trim(), channel: channel.value,
      template: { name: id.value.trim(), body: body.value },
      offer: { kind: "none" }, send: { kind: "now" },
      control_bp: Math.round(Number(control.value) * 100), message_cost: 5,
      targets: { min_conversion_rate: 0.08, min_revenue_to_cost: 3.0 },
    };
    try {
      const r = await api("POST", "/v1/campaigns", { spec, audience: { kind: kind.value, value: value.value.trim() } });
      const l = r.launch;
      out.replaceChildren(el("p", { "data-audience": l.audience }, `${t("launched")} ${r.campaign} · ${t("audience_size")} `,
        el("strong", {}, fmt(l.audience)), ` · ${t("treatment")} ${fmt(l.treatment)} · ${t("control")} ${fmt(l.control)}`
        + ` · ${t("holdout")} ${fmt(l.holdout)} · ${t("scheduled")} ${fmt(l.scheduled)}`));
      await campaignList(list, document.getElementById("campaign-effect"));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  } }, el("h2", {}, t("launch_campaign")),
  el("div", { class: "inline" }, el("label", {}, t("campaign_id"), id), el("label", {}, t("channel"), channel),
    el("label", {}, t("control_share"), control), el("label", {}, t("audience_kind"), kind)),
  el("label", {}, t("audience_value"), value), el("label", {}, t("message_body"), body),
  el("button", { class: "primary", type: "submit", id: "campaign-launch" }, t("launch")), out);
}

async function campaignList(list, effect) {
  const { campaigns: rows } = await api("GET", "/v1/campaigns");
  if (!rows.length) return list.replaceChildren(el("p", { class: "muted" }, t("no_campaigns")));
  list.replaceChildren(table([
    { title: t("campaign_id"), cell: (r) => el("a", { href: "#/campaigns", "data-campaign": r.spec.id, onclick: (ev) => {
      ev.preventDefault();
      showEffect(effect, r.spec.id);
    } }, r.spec.id) },
    { title: t("channel"), cell: (r) => r.spec.channel },
    { title: t("audience_size"), cell: (r) => r.audience },
    { title: t("treatment"), num: true, cell: (r) => fmt(r.arms.treatment || 0) },
    { title: t("control"), num: true, cell: (r) => fmt(r.arms.control || 0) },
    { title: t("holdout"), num: true, cell: (r) => fmt(r.arms.holdout || 0) },
    { title: t("delivered"), num: true, cell: (r) => fmt(r.delivery.delivered) },
    { title: t("pending"), num: true, cell: (r) => fmt(r.delivery.pending) },
    { title: t("suppressed"), num: true, cell: (r) => fmt(r.delivery.suppressed) },
    { title: t("dead"), num: true, cell: (r) => fmt(r.delivery.dead) },
  ], rows));
}

async function showEffect(box, id) {
  disposeIn(box);
  try {
    const r = await api("GET", `/v1/campaigns/${encodeURIComponent(id)}/effect`);
    const u = r.uplift;
    const bars = el("div", { class: "chart", id: "campaign-effect-chart" });
    const target = (met) => el("span", { class: met ? "met" : "missed" }, met ? t("met") : t("missed"));
    box.replaceChildren(el("h2", {}, `${t("effect")} · ${r.campaign}`),
      el("div", { class: "grid" },
        el("div", { class: "card kpi" }, el("div", { class: "label" }, t("uplift")),
          el("div", { class: "value", id: "campaign-uplift", "data-difference": u.difference }, points(u.difference)),
          el("div", { class: "muted" }, `${t("interval")} [${points(u.ci_low)}, ${points(u.ci_high)}] · p ${u.p_value.toFixed(4)}`)),
        el("div", { class: "card kpi" }, el("div", { class: "label" }, t("recovered_revenue")),
          el("div", { class: "value" }, fmt(r.recovered_revenue, "fen")),
          el("div", { class: "muted" }, `${t("cost")} ${fmt(r.cost.total, "fen")} · ${t("roi")} ${r.roi === null ? "–" : r.roi.toFixed(2)}`)),
        el("div", { class: "card kpi" }, el("div", { class: "label" }, t("targets")),
          el("div", {}, `${t("conversion_rate")} ≥ ${pct(r.targets.min_conversion_rate)}: `, target(r.conversion_target_met)),
          el("div", {}, `${t("recovered_revenue")} ≥ ${r.targets.min_revenue_to_cost}× ${t("cost")}: `, target(r.revenue_target_met)),
          r.store ? el("div", { class: "muted" }, `${t("repurchase")}: ${fmt(r.store.treatment.repurchase.repurchased)}/${fmt(r.store.treatment.repurchase.observed)}`) : null)),
      el("div", { class: "card" }, bars),
      el("p", { class: r.srm.mismatch ? "error" : "muted" }, r.srm.mismatch ? t("srm_bad") : `${t("srm_ok")} (p ${r.srm.p_value.toFixed(3)})`));
    chart(bars, { tooltip: { valueFormatter: (v) => `${v}%` }, xAxis: { type: "category", data: [t("control"), t("treatment")] },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [{ type: "bar", data: [u.control, u.treatment].map((x) => Math.round(x * 10000) / 100),
        label: { show: true, position: "top", formatter: "{c}%" } }] });
  } catch (e) { box.replaceChildren(errorBox(e)); }
}

// ---- journeys --------------------------------------------------------------

const RUN_STATES = ["active", "completed", "converted", "exited"];

async function journeys(view) {
  view.append(el("h1", {}, t("journeys")));
  const report = el("span", { id: "entry-report", class: "muted" });
  if (state.routes.has("/v1/journeys/entry/run")) {
    view.append(el("div", { class: "card inline" }, el("button", { class: "primary", id: "entry-run", onclick: async () => {
      report.replaceChildren();
      try {
        const r = await api("POST", "/v1/journeys/entry/run");
        const entered = Object.values(r.report.entered).reduce((a, b) => a + b, 0);
        report.replaceChildren(`${r.date}: ${t("entered")} ${fmt(entered)} / ${fmt(r.report.planned)}`);
        report.dataset.entered = entered;
        await journeyTable(box, runs);
      } catch (e) { report.replaceChildren(errorBox(e)); }
    } }, t("run_entry")), report));
  }
  const box = el("div", { id: "journey-list" });
  const runs = el("div", { id: "journey-runs" });
  view.append(box, runs);
  await journeyTable(box, runs);
  if (state.routes.has("/v1/tasks/{list}")) {
    const { tasks } = await api("GET", "/v1/tasks/service_calls");
    view.append(el("h2", {}, t("service_calls")), tasks.length ? table([
      { title: t("created"), cell: (r) => r.created_at.slice(0, 16).replace("T", " ") },
      { title: t("person"), cell: (r) => r.person_id },
      { title: t("journeys"), cell: (r) => r.journey },
      { title: t("note"), cell: (r) => r.note },
    ], tasks) : el("p", { class: "muted" }, t("no_data")));
  }
}

async function journeyTable(box, runs) {
  disposeIn(box);
  const { journeys: rows } = await api("GET", "/v1/journeys");
  const chartBox = el("div", { class: "chart", id: "journey-chart" });
  box.replaceChildren(el("div", { class: "card" }, chartBox), table([
    { title: t("journeys"), cell: (r) => el("a", { href: "#/journeys", "data-journey": r.journey.id, onclick: (ev) => {
      ev.preventDefault();
      journeyRuns(runs, r.journey.id);
    } }, r.journey.id) },
    { title: t("trigger"), cell: (r) => (r.journey.trigger.kind === "event" ? r.journey.trigger.event : "—") },
    { title: t("steps"), num: true, cell: (r) => r.journey.steps.length },
    ...RUN_STATES.map((s) => ({ title: t(s), num: true, cell: (r) => fmt(r.runs[s] || 0) })),
  ], rows));
  chart(chartBox, { tooltip: { trigger: "axis" }, legend: {}, grid: { left: 150, right: 20, top: 30, bottom: 20 },
    xAxis: { type: "value" }, yAxis: { type: "category", inverse: true, data: rows.map((r) => r.journey.id) },
    series: RUN_STATES.map((s) => ({ name: t(s), type: "bar", stack: "runs", data: rows.map((r) => r.runs[s] || 0) })) });
}

async function journeyRuns(box, id) {
  try {
    const { runs } = await api("GET", `/v1/journeys/${encodeURIComponent(id)}/runs?limit=50`);
    box.replaceChildren(el("h2", {}, `${t("runs")} · ${id}`), runs.length ? table([
      { title: "#", num: true, cell: (r) => r.id },
      { title: t("person"), cell: (r) => r.person_id },
      { title: t("state"), cell: (r) => t(r.status) },
      { title: t("step"), num: true, cell: (r) => r.step },
      { title: t("wakes_at"), cell: (r) => (r.wake_at ? r.wake_at.slice(0, 16).replace("T", " ") : "—") },
      { title: t("end_reason"), cell: (r) => r.end_reason || "—" },
    ], runs) : el("p", { class: "muted" }, t("no_data")));
  } catch (e) { box.replaceChildren(errorBox(e)); }
}

// ---- experiments -------------------------------------------------------------

async function experiments(view) {
  view.append(el("h1", {}, t("experiments")));
  const arms = el("textarea", { id: "experiment-arms", rows: 4, style: "width:100%" });
  arms.value = "control 200 2000\ntreatment 250 2000";
  const confidence = el("input", { id: "experiment-confidence", type: "number", min: 0.8, max: 0.999, step: 0.005, value: 0.95 });
  const out = el("div", { id: "experiment-result" });
  const run = async () => {
    disposeIn(out);
    try {
      const parsed = arms.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l, i) => {
        const [name, conversions, units] = l.split(/[\s,]+/);
        if (!name || !Number.isInteger(Number(conversions)) || !Number.isInteger(Number(units))) {
          throw new Error(`${t("arms")}: line ${i + 1} "${l}"`);
        }
        return { name, conversions: Number(conversions), units: Number(units) };
      });
      renderReadout(out, await api("POST", "/v1/experiments/analyze", { arms: parsed, confidence: Number(confidence.value) }));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  view.append(el("form", { class: "card", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    el("label", {}, t("arms"), arms), el("label", {}, t("confidence"), confidence),
    el("button", { class: "primary", type: "submit", id: "experiment-run" }, t("analyze"))), out);
  await run();
}

function renderReadout(out, r) {
  const c = r.control;
  const chartBox = el("div", { class: "chart", id: "experiment-chart" });
  out.replaceChildren(table([
    { title: t("arms").split(" ")[0], cell: (x) => x.arm },
    { title: t("rate"), num: true, cell: (x) => pct(x.test.treatment) },
    { title: t("uplift"), num: true, cell: (x) => el("span", { "data-arm": x.arm, "data-p": x.test.p_value },
      `${points(x.test.difference)} [${points(x.test.ci_low)}, ${points(x.test.ci_high)}]`) },
    { title: t("p_value"), num: true, cell: (x) => x.test.p_value.toFixed(4) },
    { title: t("holm"), num: true, cell: (x) => x.holm_p.toFixed(4) },
    { title: t("bh"), num: true, cell: (x) => x.bh_p.toFixed(4) },
    { title: t("chance_to_win"), num: true, cell: (x) => pct(x.bayes.chance_to_win) },
    { title: t("expected_loss"), num: true, cell: (x) => points(x.bayes.expected_loss_treatment) },
  ], r.arms), el("p", { class: "muted" }, `${t("control")} ${c.name}: ${pct(c.conversions / c.units)} (${fmt(c.conversions)}/${fmt(c.units)})`),
  el("p", { class: r.srm.mismatch ? "error" : "muted", id: "experiment-srm" },
    r.srm.mismatch ? t("srm_bad") : `${t("srm_ok")} (χ² ${r.srm.chi_square.toFixed(2)}, p ${r.srm.p_value.toFixed(3)})`),
  el("div", { class: "card" }, chartBox));
  // Each arm's uplift with its interval: a floating bar from the lower to the
  // upper bound, and the estimate as a point.
  const pt = (x) => Math.round(x * 10000) / 100;
  chart(chartBox, { tooltip: { trigger: "axis" }, xAxis: { type: "category", data: r.arms.map((x) => x.arm) },
    yAxis: { type: "value", name: t("uplift") + " (pt)" },
    series: [
      { type: "bar", stack: "ci", stackStrategy: "all", itemStyle: { color: "transparent" }, data: r.arms.map((x) => pt(x.test.ci_low)) },
      { name: t("interval"), type: "bar", stack: "ci", stackStrategy: "all", data: r.arms.map((x) => pt(x.test.ci_high - x.test.ci_low)) },
      { name: t("uplift"), type: "scatter", symbolSize: 12, data: r.arms.map((x) => pt(x.test.difference)) },
    ] });
}
