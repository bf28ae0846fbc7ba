// energy-agent dashboard pages. Our own code; charts use plotly.js served from the installed plotly package.
"use strict";

const PAGE = document.body.dataset.page;
const POLL_MS = Number(document.body.dataset.pollMs) || 5000;
const t = (key) => I18N.t(key);
let lastData = null;
let siteTz = undefined;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function kpi(id, title, value, raw, sub) {
  return el("div", { class: "card kpi", id: id },
    el("h3", {}, title),
    el("div", { class: "value", "data-value": raw === undefined || raw === null ? "" : String(raw) }, value),
    sub ? el("div", { class: "sub" }, sub) : null);
}

function pill(state) { return el("span", { class: "pill " + state }, t("state." + state)); }

function table(headers, rows, numeric) {
  const numCols = new Set(numeric || []);
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { class: numCols.has(i) ? "num" : null }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((c, i) => el("td", { class: numCols.has(i) ? "num" : null }, c))))));
}

function chartBox(id, title) {
  return el("div", { class: "card wide" }, el("h3", {}, title), el("div", { class: "chart", id: id }));
}

// Plotly.react with a fixed uirevision keeps the user's zoom while live data flows in.
function plot(id, traces, layout) {
  const node = document.getElementById(id);
  if (!node) return;
  const base = {
    uirevision: id, margin: { l: 60, r: 20, t: 10, b: 40 }, hovermode: "x unified",
    legend: { orientation: "h", y: -0.2 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff",
    xaxis: { type: "date" }, font: { family: "system-ui, 'Noto Sans CJK SC', sans-serif" },
  };
  Plotly.react(node, traces, Object.assign(base, layout || {}), { responsive: true, displaylogo: false });
}

// plotly.js 3 dropped the `title: "text"` shorthand: a plain string would silently hide the unit.
function yUnit(text) {
  return { yaxis: { title: { text: text } } };
}

function unavailable(reason) {
  return el("div", { class: "note" }, t("common.unavailable") + ": " + (reason || ""));
}

function daysAgoIso(days) {
  const d = new Date(Date.now() - days * 86400000);
  return d.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------- overview

// The API explains how site power was obtained in English; the reader sees it in their language.
function powerMethod(method) {
  if (!method) return null;
  if (method.startsWith("live reading ")) return t("ov.method_live") + " " + method.slice("live reading ".length);
  if (method === "mean power of the last interval") return t("ov.method_interval");
  if (method === "no data") return t("common.none");
  return method;
}

const overview = {
  async load() {
    const ov = await api("/api/overview");
    let start = daysAgoIso(30);
    if (ov.now) start = new Date(Date.parse(ov.now) - 30 * 86400000).toISOString().slice(0, 10);
    const end = ov.now ? ov.now.slice(0, 19) : null;
    const energy = await api("/api/energy?freq=day&start=" + start + (end ? "&end=" + encodeURIComponent(end) : ""));
    return { ov, energy };
  },
  render({ ov, energy }) {
    const root = el("div", {});
    if (!ov.available) { root.append(unavailable(ov.reason)); return root; }
    siteTz = ov.timezone;
    const s = ov.savings_to_date;
    const base = ov.baseline_eui_kwh_per_unit;
    const unit = "kWh/" + ov.production_unit;
    const euiSub = (v) => t("ov.vs_baseline") + " " + I18N.auto(base) + " " + unit +
      (v && base ? " (" + (v <= base ? "−" : "+") + I18N.pct(Math.abs(v / base - 1)) + ")" : "");
    const counts = Object.entries(ov.devices || {}).map(([k, v]) => t("state." + k) + " " + v).join(" · ");
    root.append(el("div", { class: "grid" },
      kpi("kpi-power", t("ov.power"), I18N.kw(ov.power.kw), ov.power.kw, powerMethod(ov.power.method)),
      kpi("kpi-today-energy", t("ov.today_energy"), I18N.kwh(ov.today.energy_kwh), ov.today.energy_kwh, t("common.so_far")),
      kpi("kpi-today-cost", t("ov.today_cost"), I18N.yuan(ov.today.cost_yuan), ov.today.cost_yuan),
      kpi("kpi-month-energy", t("ov.month_energy"), I18N.kwh(ov.month.energy_kwh), ov.month.energy_kwh,
        I18N.yuan(ov.month.cost_yuan)),
      kpi("kpi-eui-today", t("ov.eui_today"), I18N.auto(ov.today.eui_kwh_per_unit) + " " + unit,
        ov.today.eui_kwh_per_unit, euiSub(ov.today.eui_kwh_per_unit)),
      kpi("kpi-eui-month", t("ov.eui_month"), I18N.auto(ov.month.eui_kwh_per_unit) + " " + unit,
        ov.month.eui_kwh_per_unit, euiSub(ov.month.eui_kwh_per_unit)),
      kpi("kpi-savings-kwh", t("ov.savings"), s ? I18N.kwh(s.kwh) : t("common.unavailable"), s ? s.kwh : null,
        s ? t("ov.band") + " " + I18N.kwh(s.band_68_kwh) + " (68 %) · " + (s.meets_guideline_14 ? t("ov.g14_ok") : t("ov.g14_no")) : null),
      kpi("kpi-savings-yuan", t("ov.savings_yuan"), s ? I18N.yuan(s.yuan) : t("common.none"), s ? s.yuan : null),
      kpi("kpi-savings-tce", t("ov.savings_tce"), s ? I18N.tce(s.tce) : t("common.none"), s ? s.tce : null),
      kpi("kpi-savings-co2", t("ov.savings_co2"), s ? I18N.tco2(s.tco2) : t("common.none"), s ? s.tco2 : null),
      kpi("kpi-grade", t("ov.grade"), ov.rating ? ov.rating.grade : t("common.none"), ov.rating ? ov.rating.grade : null,
        ov.rating ? I18N.num(ov.rating.points, 1) + " " + t("rat.points") : null),
      kpi("kpi-devices", t("ov.devices"), String(Object.values(ov.devices || {}).reduce((a, b) => a + b, 0)), null, counts),
      kpi("kpi-completeness", t("ov.completeness"), I18N.pct(ov.today.completeness), ov.today.completeness),
      chartBox("chart-power", t("ov.power_chart")),
      chartBox("chart-energy", t("ov.energy_chart")),
    ));
    return root;
  },
  charts({ ov, energy }) {
    if (!ov.available) return;
    plot("chart-power", [{ x: ov.power_trend.x, y: ov.power_trend.kw, type: "scatter", mode: "lines",
      name: ov.site_meter + " kW", line: { color: "#0b6e4f" }, fill: "tozeroy", fillcolor: "rgba(11,110,79,0.08)" }],
      yUnit("kW"));
    // site energy = the sum of the site meters; an interval missing on any of them stays empty
    const meters = ov.site_meters || [ov.site_meter];
    const site = (energy.x || []).map((_, i) => meters.every((m) => (energy.series[m] || [])[i] != null)
      ? meters.reduce((sum, m) => sum + energy.series[m][i], 0) : null);
    plot("chart-energy", [{ x: energy.x, y: site, type: "bar", name: ov.site_meter,
      marker: { color: "#2f7fb5" } }], yUnit("kWh"));
  },
};

// ---------------------------------------------------------------- devices

// A meter has ~50 points: the row shows what an energy manager reads first (power, energy, power
// factor, pressure, state) and anything not good; the rest folds away so the table stays scannable.
const KEY_POINT = /^(active_power(_total)?_kw|total_import_kwh|energy_kwh|power_factor_total|discharge_pressure_bar|state)$/;

function valueLine(v) {
  const shown = typeof v.value === "number" ? I18N.auto(v.value) : String(v.value);
  return el("div", {}, v.point + ": ", el("b", {}, shown), " " + (v.unit || "") + " ",
    v.quality === "good" ? null : el("span", { class: "pill " + v.quality }, v.quality + (v.reason ? " · " + v.reason : "")));
}

function lastValues(device, list) {
  let key = list.filter((v) => KEY_POINT.test(v.point) || v.quality !== "good");
  if (!key.length) key = list.slice(0, 3);
  const rest = list.filter((v) => !key.includes(v));
  return el("div", { class: "values" }, key.map(valueLine),
    rest.length ? el("details", { "data-key": "values-" + device },
      el("summary", {}, t("dev.more").replace("{n}", String(rest.length))), rest.map(valueLine)) : null);
}

const devices = {
  async load() {
    const dv = await api("/api/devices");
    const end = dv.now ? dv.now.slice(0, 19) : null;
    const start = dv.now ? new Date(Date.parse(dv.now) - 7 * 86400000).toISOString().slice(0, 19) : daysAgoIso(7);
    const energy = await api("/api/energy?freq=interval&start=" + start + (end ? "&end=" + end : ""));
    return { dv, energy };
  },
  render({ dv }) {
    const values = (device, list) => lastValues(device, list || []);
    const rows = dv.devices.map((d) => [d.device, d.parent || "", pill(d.state),
      d.success_rate === undefined || d.success_rate === null ? t("common.none") : I18N.pct(d.success_rate),
      d.mean_latency_ms === undefined || d.mean_latency_ms === null ? t("common.none") : I18N.num(d.mean_latency_ms, 0) + " ms",
      d.missed_slots === undefined ? t("common.none") : String(d.missed_slots),
      I18N.time(d.last_success, siteTz), values(d.device, d.values), I18N.kwh(d.month_kwh)]);
    const tree = dv.tree || { balance: [], coverage: [] };
    return el("div", {},
      el("h2", {}, t("dev.title")),
      table([t("dev.device"), t("dev.parent"), t("dev.state"), t("dev.success"), t("dev.latency"), t("dev.missed"),
        t("dev.last"), t("dev.values"), t("dev.month")], rows, [3, 4, 5, 8]),
      el("h2", {}, t("dev.tree")),
      table([t("dev.meter"), t("dev.month"), t("dev.children"), t("dev.unaccounted"), t("dev.share")],
        tree.balance.map((b) => [b.meter, I18N.kwh(b.meter_kwh), I18N.kwh(b.children_kwh), I18N.kwh(b.unaccounted_kwh),
          I18N.pct(b.unaccounted_share)]), [1, 2, 3, 4]),
      el("h2", {}, t("dev.coverage") + (tree.edition ? " (" + tree.edition + ")" : "")),
      table([t("dev.level"), t("dev.share"), t("dev.target"), t("dev.meets")],
        tree.coverage.map((c) => [c.level, I18N.pct(c.share), I18N.pct(c.target), c.meets ? t("yes") : t("no")]), [1, 2]),
      el("div", { class: "grid" }, chartBox("chart-devices", t("dev.chart"))));
  },
  charts({ energy }) {
    const traces = Object.entries(energy.series).map(([name, y]) => ({ x: energy.x, y: y, type: "scatter", mode: "lines", name: name }));
    plot("chart-devices", traces, yUnit(t("unit.kwh_per." + energy.freq)));
  },
};

// ---------------------------------------------------------------- compressed air

const air = {
  async load() { return { ca: await api("/api/compressors") }; },
  render({ ca }) {
    if (!ca.available) return unavailable(ca.reason);
    const room = ca.room;
    const cards = room.machines.map((m) => {
      const view = ca.machines[m.device];
      const sh = view.shares;
      return el("div", { class: "card", id: "machine-" + m.device },
        el("h3", {}, m.device), pill(view.state),
        el("div", { class: "bar" },
          el("span", { style: "width:" + (100 * (sh.loaded || 0)) + "%;background:#0b6e4f" }),
          el("span", { style: "width:" + (100 * (sh.unloaded || 0)) + "%;background:#e3a33b" }),
          el("span", { style: "width:" + (100 * (sh.off || 0)) + "%;background:#c5ccd3" })),
        el("div", { class: "sub" }, t("air.loaded") + " " + I18N.pct(sh.loaded) + " · " + t("air.unloaded") + " " +
          I18N.pct(sh.unloaded) + " · " + t("air.off") + " " + I18N.pct(sh.off)),
        el("div", { class: "sub" }, t("air.energy") + " " + I18N.kwh(m.energy_kwh) + " · " + I18N.num(m.specific_power, 2) + " kW/(m³/min)"),
        el("div", { class: "sub" }, t("air.grade") + ": " + (m.grade || t("common.none"))));
    });
    const advice = room.advice.length ? el("ul", {}, room.advice.map((a) => el("li", {}, a.message)))
      : el("p", { class: "muted" }, t("air.no_advice"));
    return el("div", {},
      el("div", { class: "grid" },
        kpi("kpi-room-sp", t("air.room_sp"), I18N.num(room.specific_power, 2) + " kW/(m³/min)", room.specific_power),
        kpi("kpi-leak", t("air.leak"), room.leak_m3_min === null ? t("common.none") : I18N.num(room.leak_m3_min, 2) + " m³/min",
          room.leak_m3_min, room.leak_share_of_demand === null ? null : I18N.pct(room.leak_share_of_demand) + " " + t("air.leak_share")),
        kpi("kpi-air", t("air.air"), I18N.num(room.air_m3, 0) + " m³", room.air_m3),
        ...cards,
        chartBox("chart-sp", t("air.sp_chart")),
        chartBox("chart-pressure", t("air.pressure_chart"))),
      el("h2", {}, t("air.advice")), advice);
  },
  charts({ ca }) {
    if (!ca.available) return;
    const machines = Object.entries(ca.machines);
    plot("chart-sp", machines.map(([d, v]) => ({ x: v.specific_power.x, y: v.specific_power.kw_per_m3_min, name: d,
      type: "scatter", mode: "lines+markers" })), yUnit("kW/(m³/min)"));
    plot("chart-pressure", machines.filter(([, v]) => v.pressure).map(([d, v]) => ({ x: v.pressure.x, y: v.pressure.bar,
      name: d, type: "scatter", mode: "lines" })), yUnit("bar"));
  },
};

// ---------------------------------------------------------------- savings

const savingsPage = {
  async load() { return { sv: await api("/api/savings") }; },
  render({ sv }) {
    if (!sv.available) return unavailable(sv.reason);
    const b = sv.baseline;
    const st = b.stats;
    const value = sv.value;
    const tstats = Object.entries(st.t_stats).map(([k, v]) => k + " " + I18N.num(v, 1)).join(", ");
    return el("div", {},
      el("div", { class: "grid" },
        kpi("kpi-sv-kwh", t("sav.total"), I18N.kwh(sv.savings_kwh), sv.savings_kwh,
          I18N.pct(sv.fraction) + " · " + t("ov.band") + " " + I18N.kwh(sv.uncertainty[0].absolute_kwh) + " (68 %)"),
        kpi("kpi-sv-yuan", t("ov.savings_yuan"), I18N.yuan(value.yuan), value.yuan,
          I18N.num(value.price_yuan_per_kwh, 4) + " CNY/kWh"),
        kpi("kpi-sv-tce", t("ov.savings_tce"), I18N.tce(value.tce), value.tce),
        kpi("kpi-sv-co2", t("ov.savings_co2"), I18N.tco2(value.tco2), value.tco2),
        kpi("kpi-g14", t("sav.verdict"), sv.meets_guideline_14 && sv.acceptance.passed ? t("sav.verified") : t("sav.not_verified"),
          sv.meets_guideline_14 && sv.acceptance.passed ? 1 : 0,
          t("sav.uncertainty") + " " + I18N.pct(sv.uncertainty[0].fraction_of_savings) + " (68 %)"),
        chartBox("chart-baseline", t("sav.chart")),
        chartBox("chart-cumulative", t("sav.cum_chart"))),
      el("h2", {}, t("sav.model")),
      table(["", ""], [
        ["IPMVP", "Option " + b.ipmvp_option], [t("sav.model"), b.kind + " (" + b.granularity + ")"],
        ["", b.equation], [t("sav.window"), b.window.start + " – " + b.window.end],
        [t("sav.reporting"), sv.reporting.start + " – " + sv.reporting.end]]),
      el("h2", {}, t("sav.stats")),
      table(["n", "p", "R²", "adj. R²", "CV(RMSE)", "NMBE", "ρ", "t"], [[String(st.n), String(st.p), I18N.num(st.r2, 3),
        I18N.num(st.adj_r2, 3), I18N.pct(st.cv_rmse, 2), I18N.pct(st.nmbe, 3), I18N.num(st.rho, 2), tstats]], [0, 1, 2, 3, 4, 5, 6]),
      el("h2", {}, t("sav.acceptance")),
      table([t("sav.check"), t("sav.value"), t("sav.limit"), t("sav.passed"), t("sav.source")],
        sv.acceptance.checks.map((c) => [c.name, I18N.num(c.value, 4), c.limit, c.outcome === "no_limit" ? t("sav.no_limit") : c.passed ? t("yes") : t("no"), c.source]), [1]),
      el("h2", {}, t("sav.uncertainty")),
      table([t("sav.confidence"), "t", "± kWh", t("sav.uncertainty")], sv.uncertainty.map((u) => [I18N.pct(u.confidence, 0),
        I18N.num(u.t, 3), I18N.kwh(u.absolute_kwh), I18N.pct(u.fraction_of_savings)]), [1, 2, 3]),
      el("h2", {}, t("sav.factors")),
      table(["", t("sav.value"), t("sav.source")], value.factors.map((f) => [f.name || f.carrier || "",
        I18N.num(f.value, 4) + " " + (f.unit || ""), f.source || ""])));
  },
  charts({ sv }) {
    if (!sv.available) return;
    const x = sv.periods.map((p) => p.period_start || p.date || p.index);
    plot("chart-baseline", [
      { x, y: sv.periods.map((p) => p.adjusted_baseline_kwh), name: t("sav.baseline"), type: "scatter", mode: "lines", line: { color: "#8a96a3" } },
      { x, y: sv.periods.map((p) => p.actual_kwh), name: t("sav.actual"), type: "scatter", mode: "lines", line: { color: "#0b6e4f" } },
    ], yUnit("kWh"));
    const low = sv.periods.map((p) => p.band_68_low_kwh);
    const high = sv.periods.map((p) => p.band_68_high_kwh);
    plot("chart-cumulative", [
      { x, y: high, type: "scatter", mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x, y: low, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(11,110,79,0.18)", name: t("sav.band") },
      { x, y: sv.periods.map((p) => p.cumulative_savings_kwh), name: t("sav.cumulative"), type: "scatter", mode: "lines", line: { color: "#0b6e4f", width: 2 } },
    ], yUnit("kWh"));
  },
};

// ---------------------------------------------------------------- rating

const rating = {
  async load() { return { rt: await api("/api/rating") }; },
  render({ rt }) {
    if (!rt.available) return unavailable(rt.reason);
    const pkg = rt.package;
    const name = (n) => (n ? (I18N.zh() ? n.zh : n.en) : "");
    const ids = Object.fromEntries((pkg.indicators || []).map((i) => [i.id, i]));
    const g = pkg.grade || {};
    return el("div", {},
      el("div", { class: "grid" },
        el("div", { class: "card", id: "rating-grade" }, el("h3", {}, t("rat.grade") + " · " + rt.period),
          el("div", { class: "grade" }, g.grade || t("common.none")),
          el("div", { class: "sub" }, I18N.num(pkg.total.points, 1) + " / " + I18N.num(pkg.total.max_points, 0) + " " + t("rat.points") +
            (g.gap_to_next ? " · " + I18N.num(g.gap_to_next, 1) + " " + t("rat.gap") + " " + g.next_grade : ""))),
        el("div", { class: "card" }, el("h3", {}, t("rat.download")),
          el("a", { class: "button", id: "rating-download", href: "/api/rating/package?period=" + rt.period, download: "" }, "JSON"))),
      el("h2", {}, t("rat.dimension")),
      table([t("rat.dimension"), t("rat.points")], (pkg.dimensions || []).map((d) => [name(d.name),
        I18N.num(d.points, 1) + " / " + I18N.num(d.max_points, 0)]), [1]),
      el("h2", {}, t("rat.indicator")),
      table([t("rat.indicator"), t("rat.value"), t("rat.score")], (pkg.indicators || []).map((i) => [name(i.name),
        I18N.measure(i.value, i.value_unit),
        I18N.num(i.points, 1) + " / " + I18N.num(i.max_points, 1)]), [1, 2]),
      el("h2", {}, t("rat.improve")),
      el("ul", {}, (pkg.improvements || []).map((m) => el("li", {}, name((ids[m.indicator_id] || {}).name) || m.indicator_id,
        ": +" + I18N.num(m.points_available, 1) + " " + t("rat.available") +
        (m.value_for_max !== null && m.value_for_max !== undefined ? " · " + t("rat.target") + " " + I18N.measure(m.value_for_max, m.unit) : "")))));
  },
  charts() {},
};

const PAGES = { overview, devices, air, savings: savingsPage, rating };

function applyStaticStrings() {
  document.documentElement.lang = I18N.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.getElementById("lang-toggle").textContent = I18N.zh() ? "English" : "中文";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.nav === PAGE);
}

// The DOM is rebuilt only when the data's shape may change; charts keep their zoom via uirevision.
function draw(data, rebuild) {
  const page = PAGES[PAGE];
  const content = document.getElementById("content");
  const fresh = page.render(data);
  const open = new Set(Array.from(content.querySelectorAll("details[open]")).map((d) => d.dataset.key));
  for (const d of fresh.querySelectorAll("details")) if (open.has(d.dataset.key)) d.open = true;
  if (rebuild || !content.dataset.ready) {
    content.replaceChildren(fresh);
    content.dataset.ready = "1";
  } else {
    for (const card of fresh.querySelectorAll(".kpi, table, ul, .note, .card:not(.wide)")) {
      const old = card.id ? document.getElementById(card.id) : null;
      if (old) old.replaceWith(card);
    }
    const oldTables = content.querySelectorAll("table");
    const newTables = fresh.querySelectorAll("table");
    if (oldTables.length === newTables.length) oldTables.forEach((tb, i) => tb.replaceWith(newTables[i]));
  }
  page.charts(data);
}

async function refresh(rebuild) {
  try {
    lastData = await PAGES[PAGE].load();
    draw(lastData, rebuild);
    document.getElementById("updated").textContent = t("common.updated") + " " + new Date().toLocaleTimeString(I18N.lang, { hour12: false });
  } catch (err) {
    document.getElementById("updated").textContent = String(err);
  }
}

document.getElementById("lang-toggle").addEventListener("click", () => {
  I18N.set(I18N.zh() ? "en" : "zh-CN");
  applyStaticStrings();
  if (lastData) draw(lastData, true);
});

applyStaticStrings();
refresh(true);
setInterval(() => refresh(false), POLL_MS);
