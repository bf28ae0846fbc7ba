// energy-agent dashboard pages. Our own code; charts use plotly.js served from the installed plotly package.
"use strict";

const PAGE = document.body.dataset.page;
const POLL_MS = Number(document.body.dataset.pollMs) || 5000;
const t = (key) => I18N.t(key);
let lastData = null;
// The site's timezone (the page carries it); the overview's answer says the same.
let siteTz = document.body.dataset.tz || undefined;

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
    font: { family: "system-ui, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif" },
  };
  const merged = Object.assign(base, layout || {});
  merged.xaxis = Object.assign(dateAxis(), (layout || {}).xaxis || {});
  // the locale (registered in i18n.js) also puts plotly's own words (mode bar) in the reader's language
  Plotly.react(node, traces, merged, { responsive: true, displaylogo: false, locale: I18N.zh() ? "zh-CN" : "en" });
}

// plotly.js names months in English ("Oct 15"); a Chinese reader gets numeric dates with 年/月/日.
function dateAxis() {
  if (!I18N.zh()) return { type: "date" };
  return {
    type: "date", hoverformat: "%Y年%-m月%-d日 %H:%M",
    tickformatstops: [
      { dtickrange: [null, 60000], value: "%H:%M:%S" },
      { dtickrange: [60000, 86399999], value: "%H:%M\n%-m月%-d日" },
      { dtickrange: [86400000, "M1"], value: "%-m月%-d日" },
      { dtickrange: ["M1", "M12"], value: "%Y年%-m月" },
      { dtickrange: ["M12", null], value: "%Y年" },
    ],
  };
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
  if (method.startsWith("live reading ")) {
    const points = method.slice("live reading ".length).split(", ");  // "meter point" or "point"
    return t("ov.method_live") + " " + points.map((p) => p.split(" ").map((w, i, all) =>
      i === all.length - 1 ? I18N.point(w) : w).join(" ")).join(", ");
  }
  if (method === "mean power of the last interval") return t("ov.method_interval");
  if (method === "no data") return t("common.none");
  return method;
}

// Today's EUI is a partial day's: early in the day or on a day off it is not comparable with the baseline.
function partialDay(today, sub) {
  if (!today.partial) return sub;
  const elapsed = I18N.num(today.elapsed_h, 1) + " / " + I18N.num(today.day_h, 0) + " h";
  return el("span", {}, el("span", { class: "pill warn", id: "eui-partial-day" }, t("ov.partial_day") + " " + elapsed),
    " ", t("ov.partial_day_note"), sub ? [el("br", {}), sub] : null);
}

// An empty history gets a clear "no data yet", not an axis running over the year 2000.
function plotOrEmpty(id, traces, layout) {
  const node = document.getElementById(id);
  if (!node) return;
  if (!traces.some((tr) => (tr.x || []).length)) {
    if (node.classList.contains("js-plotly-plot")) Plotly.purge(node);
    node.replaceChildren(el("div", { class: "note no-data" }, t("common.no_data")));
    return;
  }
  if (node.querySelector(".no-data")) node.replaceChildren();
  plot(id, traces, layout);
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
        ov.today.eui_kwh_per_unit, partialDay(ov.today, euiSub(ov.today.eui_kwh_per_unit))),
      kpi("kpi-eui-month", t("ov.eui_month"), I18N.auto(ov.month.eui_kwh_per_unit) + " " + unit,
        ov.month.eui_kwh_per_unit, euiSub(ov.month.eui_kwh_per_unit)),
      kpi("kpi-savings-kwh", t("ov.savings"), s ? I18N.kwh(s.kwh) : t("common.unavailable"), s ? s.kwh : null,
        s ? t("ov.band") + " " + I18N.kwh(s.band_68_kwh) + " (68 %) · " + (s.meets_guideline_14 ? t("ov.g14_ok") : t("ov.g14_no")) : null),
      kpi("kpi-savings-yuan", t("ov.savings_yuan"), s ? I18N.yuan(s.yuan) : t("common.none"), s ? s.yuan : null),
      kpi("kpi-savings-tce", t("ov.savings_tce"), s ? I18N.tce(s.tce) : t("common.none"), s ? s.tce : null),
      kpi("kpi-savings-co2", t("ov.savings_co2"), s ? I18N.tco2(s.tco2) : t("common.none"), s ? s.tco2 : null),
      kpi("kpi-grade", t("ov.grade"), ov.rating ? ov.rating.grade : t("common.none"), ov.rating ? ov.rating.grade : null,
        ov.rating ? I18N.num(ov.rating.points, 1) + " " + t("rat.points") + (ov.rating.provisional ? " · " + t("rat.provisional") : "") : null),
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
  const shown = typeof v.value === "number" ? I18N.auto(v.value)
    : typeof v.value === "boolean" ? t(v.value ? "yes" : "no") : v.value === null ? t("common.none") : String(v.value);
  return el("div", {}, el("span", { class: "point", title: v.point, "data-point": v.point }, I18N.point(v.point)), ": ",
    el("b", {}, shown), " " + I18N.unit(v.unit || "") + " ",
    v.quality === "good" ? null : v.reason === "no_air_delivery"
      // A machine delivering no air (stopped or unloaded) has no specific power: a state, not a fault.
      ? el("span", { class: "pill off", "data-reason": v.reason }, t("devices.noAir"))
      : el("span", { class: "pill " + v.quality, "data-reason": v.reason || "" },
        I18N.quality(v.quality) + (v.reason ? " · " + I18N.reason(v.reason) : "")));
}

function lastValues(device, list) {
  let key = list.filter((v) => KEY_POINT.test(v.point) || v.quality !== "good");
  if (!key.length) key = list.slice(0, 3);
  const rest = list.filter((v) => !key.includes(v));
  return el("div", { class: "values" }, key.map(valueLine),
    rest.length ? el("details", { "data-key": "values-" + device },
      el("summary", {}, t("dev.more").replace("{n}", String(rest.length))), rest.map(valueLine)) : null);
}

// Metering coverage (agent.mv.metering): the same figure the rating's metering_coverage indicator shows.
function coverageView(cov) {
  if (!cov.available) return el("div", { class: "note", id: "coverage-figure" }, t("dev.coverage_none") + (cov.reason ? ": " + cov.reason : ""));
  return el("div", {},
    el("div", { class: "sub", id: "coverage-figure", "data-value": String(cov.rate_pct) },
      t("dev.coverage_rate") + " " + I18N.num(cov.rate_pct, 1) + " % · " + t("dev.coverage_basis")),
    table([t("dev.level"), t("dev.installed"), t("dev.share"), t("dev.target"), t("dev.meets")],
      cov.levels.map((c) => [t("level." + c.level), c.installed + " / " + c.required, I18N.pct(c.share), I18N.pct(c.target),
        c.meets ? t("yes") : t("no")]), [1, 2, 3]));
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
    const tree = dv.tree || { balance: [], coverage: { levels: [] } };
    const cov = tree.coverage || { levels: [] };
    return el("div", {},
      el("h2", {}, t("dev.title")),
      table([t("dev.device"), t("dev.parent"), t("dev.state"), t("dev.success"), t("dev.latency"), t("dev.missed"),
        t("dev.last"), t("dev.values"), t("dev.month")], rows, [3, 4, 5, 8]),
      el("h2", {}, t("dev.tree")),
      table([t("dev.meter"), t("dev.month"), t("dev.children"), t("dev.unaccounted"), t("dev.share")],
        tree.balance.map((b) => [b.meter, I18N.kwh(b.meter_kwh), I18N.kwh(b.children_kwh), I18N.kwh(b.unaccounted_kwh),
          I18N.pct(b.unaccounted_share)]), [1, 2, 3, 4]),
      el("h2", {}, t("dev.coverage") + (cov.edition ? " (" + cov.edition + ")" : "")),
      coverageView(cov),
      el("div", { class: "grid" }, chartBox("chart-devices", t("dev.chart"))));
  },
  charts({ energy }) {
    // one hue per device (plotly's palette repeats after 10: a 33-meter site had look-alike traces)
    const series = Object.entries(energy.series);
    const traces = series.map(([name, y], i) => ({ x: energy.x, y: y, type: "scatter", mode: "lines", name: name,
      line: { color: "hsl(" + Math.round((i * 360) / series.length) + ", 65%, " + (i % 2 ? 36 : 50) + "%)" } }));
    plotOrEmpty("chart-devices", traces, yUnit(t("unit.kwh_per." + energy.freq)));
  },
};

// ---------------------------------------------------------------- compressed air

// Window of the time charts; the select on the page changes it (remembered like the language).
const AIR_HOURS = [24, 72, 168];
let airHours = Number(window.localStorage.getItem("ea-air-hours")) || 24;
const AIR_COLORS = { loaded: "#0b6e4f", unloaded: "#e3a33b", off: "#b8c1ca" };
// The analytics explain themselves in English; the page shows their phrases in the reader's language
// (I18N.phrase: exact phrases and patterns in i18n.js); a phrase without a translation is shown as given.
function airPhrase(text) {
  if (text === null || text === undefined || text === "") return null;
  return I18N.phrase(text);
}

// Advice: the analytics' own message in English; in Chinese a translation by its code (unknown codes
// keep the message).
function adviceText(a, room, leak) {
  const key = "air.advice." + a.code;
  if (!I18N.zh() || I18N.t(key) === key) return a.message;
  const machine = (room.machines || []).find((m) => m.device === a.device) || {};
  const what = leak.method === "net of declared base demand" ? t("air.leaks") : t("air.leaks_gross");
  return I18N.t(key).replace("{pct}", I18N.pct(a.value, 0)).replace("{kwh}", I18N.kwh(a.value))
    .replace("{device}", a.device || "").replace("{ratio}", I18N.num(a.value, 2))
    .replace("{sp}", I18N.num(machine.specific_power, 2)).replace("{what}", what)
    .replace("{m3_min}", I18N.num(leak.m3_min, 1));
}

// The room's leak: the contract's `leak` object, or the older flat fields.
function roomLeak(room) {
  if (room.leak && typeof room.leak === "object") return room.leak;
  return { m3_min: room.leak_m3_min, share: room.leak_share_of_demand, method: null, ci90_m3_min: null };
}

function leakInterval(ci) {
  if (ci === null || ci === undefined) return null;
  if (Array.isArray(ci)) return I18N.num(ci[0], 2) + " – " + I18N.num(ci[1], 2) + " m³/min (90 %)";
  return "± " + I18N.num(ci, 2) + " m³/min (90 %)";
}

// Flags whose meaning another column already shows (air from, specific power, grade) stay there.
const SHOWN_ELSEWHERE = new Set(["flow_meter", "power_to_flow_curve", "specific_power_not_meaningful", "no_grade_data"]);

function stateBadge(state) {
  // A stopped machine is in a state, not in trouble: grey, never the red of a fault.
  const known = ["loaded", "unloaded", "off", "stopped", "starting", "tripped", "unknown"];
  const s = known.includes(state) ? state : "unknown";
  return el("span", { class: "pill air-" + s, "data-state": s }, t("air.state." + s));
}

function shareBar(sh) {
  return el("div", { class: "bar", title: ["loaded", "unloaded", "off"].map((k) => t("air." + k) + " " + I18N.pct(sh[k])).join(" · ") },
    ["loaded", "unloaded", "off"].map((k) => el("span", { style: "width:" + (100 * (sh[k] || 0)) + "%;background:" + AIR_COLORS[k] })));
}

function specificPowerCell(m) {
  if (m.specific_power === null || m.specific_power === undefined || Number.isNaN(m.specific_power)) {
    return el("span", { class: "muted" }, airPhrase(m.specific_power_note) || t("common.none"));
  }
  return I18N.num(m.specific_power, 2) + " kW/(m³/min)";
}

function machineRow(m, view) {
  const shares = m.state_shares || view.shares || {};
  const flags = (m.flags || view.flags || []).filter((f) => !SHOWN_ELSEWHERE.has(f))
    .map((f) => el("div", { class: "flag", "data-flag": f }, t("air.flag." + f) === "air.flag." + f ? f : t("air.flag." + f)));
  const control = m.control ? t("air.control." + m.control) : null;
  return [el("div", {}, m.device, control ? el("div", { class: "sub" }, control) : null), stateBadge(view.state),
    el("div", {}, shareBar(shares), el("div", { class: "sub" }, I18N.pct(shares.loaded, 0) + " / " +
      I18N.pct(shares.unloaded, 0) + " / " + I18N.pct(shares.off, 0))),
    I18N.kwh(m.energy_kwh), airPhrase(m.air_method) || t("common.none"), specificPowerCell(m),
    m.grade ? m.grade : el("span", { class: "muted" }, airPhrase(m.grade_note) || t("common.none")),
    flags.length ? el("div", {}, flags) : t("common.none")];
}

function lastValue(list) {
  for (let i = (list || []).length - 1; i >= 0; i--) if (list[i] !== null) return list[i];
  return null;
}

// The trace changes once per interval and reads every series of the window: it is fetched again
// after a minute or a change of window, not on every 5 s poll.
const AIR_TRACE_MS = 60000;
let airTrace = { hours: null, at: 0, body: null };

const air = {
  async load() {
    const fresh = airTrace.hours === airHours && Date.now() - airTrace.at < AIR_TRACE_MS;
    const [ca, trace] = await Promise.all([api("/api/compressors"),
      fresh ? airTrace.body : api("/api/compressors/trace?hours=" + airHours)]);
    if (!fresh) airTrace = { hours: airHours, at: Date.now(), body: trace };
    return { ca, trace };
  },
  render({ ca, trace }) {
    if (!ca.available) return unavailable(airPhrase(ca.reason));
    const room = ca.room;
    const leak = roomLeak(room);
    const leakSub = [
      leak.share === null || leak.share === undefined ? null : I18N.pct(leak.share) + " " + t("air.leak_share"),
      leakInterval(leak.ci90_m3_min),
      leak.method ? t("air.method") + (I18N.zh() ? "：" : ": ") + airPhrase(leak.method) : null,
      leak.m3_min === null || leak.m3_min === undefined ? airPhrase(leak.reason) : null,
    ].filter((s) => s).join(" · ");
    const header = trace.available ? trace.header : null;
    const headerNow = header ? lastValue(header.bar) : null;
    const select = el("select", { id: "air-hours" }, AIR_HOURS.map((h) => {
      const option = el("option", { value: String(h) }, t("air.hours." + h));
      if (h === airHours) option.selected = true;
      return option;
    }));
    select.addEventListener("change", () => {
      airHours = Number(select.value);
      window.localStorage.setItem("ea-air-hours", String(airHours));
      refresh(true);
    });
    const rows = room.machines.map((m) => machineRow(m, ca.machines[m.device] || {}));
    const advice = room.advice.length ? el("ul", { id: "air-advice" }, room.advice.map((a) => el("li", {}, adviceText(a, room, leak))))
      : el("p", { class: "muted", id: "air-advice" }, t("air.no_advice"));
    const headerNote = !header ? (airPhrase(trace.reason) || "") : header.source === "header" ? t("air.header_source.header")
      : header.source === "discharge" ? t("air.header_source.discharge") : t("air.header_source.none");
    const band = trace.band || {};
    const bandNote = band.low_bar !== null && band.low_bar !== undefined
      ? t("air.band") + " " + I18N.num(band.low_bar, 2) + " – " + I18N.num(band.high_bar, 2) + " bar"
      : t("air.band_none");
    const devices = room.machines.map((m) => m.device);
    return el("div", {},
      el("div", { class: "toolbar" }, el("label", { for: "air-hours" }, t("air.window") + " "), select),
      el("div", { class: "grid" },
        kpi("kpi-room-sp", t("air.room_sp"), room.specific_power === null || room.specific_power === undefined
          ? t("common.none") : I18N.num(room.specific_power, 2) + " kW/(m³/min)", room.specific_power),
        kpi("kpi-leak", t("air.leak"), leak.m3_min === null || leak.m3_min === undefined ? t("common.none")
          : I18N.num(leak.m3_min, 2) + " m³/min", leak.m3_min, leakSub || t("air.leak_unknown")),
        kpi("kpi-air", t("air.air"), I18N.num(room.air_m3, 0) + " m³", room.air_m3, t("air.days").replace("{n}", String(ca.window_days))),
        kpi("kpi-header", t("air.header_now"), headerNow === null ? t("common.none") : I18N.num(headerNow, 2) + " bar",
          headerNow, headerNote),
        el("div", { class: "card wide" }, el("h3", {}, t("air.header_chart")),
          el("div", { class: "sub", id: "air-header-note" }, headerNote + " · " + bandNote),
          el("div", { class: "chart", id: "chart-header" })),
        el("div", { class: "card wide" }, el("h3", {}, t("air.states_chart")),
          el("div", { class: "chart", id: "chart-states", style: "height:" + (90 + 48 * devices.length) + "px" })),
        chartBox("chart-pressure", t("air.pressure_chart"))),
      el("h2", {}, t("air.machines")),
      table([t("air.machine"), t("air.state"), t("air.shares"), t("air.energy"), t("air.air_method"), t("air.sp"),
        t("air.grade"), t("air.flags")], rows, [3, 5]),
      el("div", { class: "grid spaced" }, chartBox("chart-sp", t("air.sp_chart"))),
      el("h2", {}, t("air.advice")), advice);
  },
  charts({ ca, trace }) {
    if (!ca.available) return;
    const machines = Object.entries(ca.machines);
    plot("chart-sp", machines.map(([d, v]) => ({ x: v.specific_power.x, y: v.specific_power.kw_per_m3_min, name: d,
      type: "scatter", mode: "lines+markers" })), yUnit(t("air.axis_sp")));
    if (!trace.available) return;
    const x = trace.x;
    const header = trace.header;
    const shapes = [];
    const band = trace.band || {};
    if (band.low_bar !== null && band.low_bar !== undefined) {
      shapes.push({ type: "rect", xref: "paper", x0: 0, x1: 1, y0: band.low_bar, y1: band.high_bar, layer: "below",
        fillcolor: "rgba(11,110,79,0.10)", line: { width: 0 } });
    }
    const minimum = trace.minimum || {};
    const traces = [
      { x, y: header.bar, name: t("air.header_mean"), type: "scatter", mode: "lines", line: { color: "#12303f", width: 1.5 } },
      { x, y: header.min_bar, name: t("air.header_min"), type: "scatter", mode: "lines",
        line: { color: "#b35c00", width: 1, dash: "dot" } },
    ];
    if (band.low_bar !== null && band.low_bar !== undefined) {
      // The band as lines too, so it has a legend entry and a hover value.
      for (const [value, key] of [[band.low_bar, "air.band_low"], [band.high_bar, "air.band_high"]]) {
        traces.push({ x: [x[0], x[x.length - 1]], y: [value, value], name: t(key), type: "scatter", mode: "lines",
          line: { color: "#0b6e4f", width: 1, dash: "dash" }, hoverinfo: "skip" });
      }
    }
    if (minimum.bar !== null && minimum.bar !== undefined) {
      traces.push({ x: [x[0], x[x.length - 1]], y: [minimum.bar, minimum.bar], name: t("air.minimum"), type: "scatter",
        mode: "lines", line: { color: "#b3261e", width: 1, dash: "dash" }, hoverinfo: "skip" });
    }
    plot("chart-header", traces, Object.assign({ shapes }, yUnit(t("air.axis_pressure"))));
    plot("chart-pressure", Object.entries(trace.machines).filter(([, m]) => m.pressure.bar.some((v) => v !== null))
      .map(([d, m]) => ({ x, y: m.pressure.bar, name: d, type: "scatter", mode: "lines", connectgaps: false })),
      yUnit(t("air.axis_pressure")));
    this.states(trace);
  },
  // One strip per machine: the loaded, unloaded and off shares of each interval stacked to 100 %.
  states(trace) {
    const devices = Object.keys(trace.machines);
    const n = devices.length;
    const traces = [];
    // One shared time axis drawn under the last strip.
    const layout = { showlegend: true, legend: { orientation: "h", y: 1.0, yanchor: "bottom", x: 0 },
      margin: { l: 150, r: 20, t: 30, b: 40 }, annotations: [], hovermode: "closest",
      xaxis: { anchor: n > 1 ? "y" + n : "y" } };
    devices.forEach((device, i) => {
      const axis = i === 0 ? "y" : "y" + (i + 1);
      const top = 1 - i / n;
      const bottom = 1 - (i + 1) / n;
      layout[i === 0 ? "yaxis" : "yaxis" + (i + 1)] = {
        domain: [bottom + 0.2 / n, top - 0.04 / n], range: [0, 1], fixedrange: true,
        tickvals: [0, 1], ticktext: ["0", "100"], title: { text: "%", standoff: 2 }, tickfont: { size: 10 },
        showgrid: false,
      };
      layout.annotations.push({ xref: "paper", yref: "paper", x: 0, y: (top + bottom) / 2, xanchor: "right", xshift: -44,
        text: device, showarrow: false, font: { size: 12 } });
      for (const state of ["loaded", "unloaded", "off"]) {
        traces.push({ x: trace.x, y: trace.machines[device].shares[state], yaxis: axis, stackgroup: "s" + i,
          name: t("air." + state), legendgroup: state, showlegend: i === 0, type: "scatter", mode: "lines",
          line: { width: 0, shape: "hv" }, fillcolor: AIR_COLORS[state], hovertemplate: device + " " + t("air." + state) + " %{y:.0%}<extra></extra>" });
      }
    });
    plot("chart-states", traces, layout);
  },
};

// ---------------------------------------------------------------- control

// Red: the header pressure is low, bad or stale, or the sequencer cannot help (no capacity, the last
// machine kept, a machine it cannot see: the room is held). Amber: a machine it may not command.
const CONTROL_RED = new Set(["pressure_low", "pressure_bad", "pressure_stale", "no_capacity", "last_machine",
  "machine_unseen", "cycle_overrun"]);
const CONTROL_SNIPPET = "control:\n  mode: dry-run          # off | advise | dry-run | active\n  rooms:\n" +
  "    - name: main\n      pressure_device: vsd-1\n      minimum_bar: 6.0\n      target_bar: 6.8\n      band_bar: 0.3\n" +
  "      machines:\n        - {device: comp-1, kind: load_unload, rated_fad_m3_min: 10, rated_power_kw: 55}";

// An epoch as the site's wall-clock time ("2025-10-15 14:00:05"), whatever the browser's timezone.
function siteTime(ts) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: siteTz, hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ts * 1000));
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
}

const bar = (v) => (v === null || v === undefined ? t("common.none") : I18N.num(v, 2) + " bar");
const controlId = (room) => "ctl-" + String(room).replace(/[^a-z0-9_-]/gi, "_");

function alarmPill(a) {
  const red = CONTROL_RED.has(a.code);
  return el("span", { class: "pill " + (red ? "bad" : "warn"), "data-code": a.code, "data-severity": red ? "red" : "amber",
    title: a.message }, t("ctl.alarm." + a.code) + (a.device ? " · " + a.device : ""));
}

// The value a command writes, as words: "start" / "load", or the point's name with its value and unit.
function commandText(c) {
  const onOff = { run_command: ["ctl.cmd.stop", "ctl.cmd.start"], load_command: ["ctl.cmd.unload", "ctl.cmd.load"] }[c.point];
  if (onOff && (c.value === 0 || c.value === 1)) return t(onOff[c.value]);
  if (/_bar$/.test(c.point)) return I18N.point(c.point) + " = " + bar(c.value);
  return I18N.point(c.point) + " = " + I18N.auto(c.value) + (/_s$/.test(c.point) ? " s" : "");
}

// Written, not written (active, refused or not writes_enabled), or would write (advise, dry-run).
function writtenPill(c, mode) {
  if (c.written) return el("span", { class: "pill ok", "data-written": "yes" }, t("ctl.written"));
  if (mode === "active") return el("span", { class: "pill off", "data-written": "no" }, t("ctl.not_written"));
  return el("span", { class: "pill warn", "data-written": "would" }, t("ctl.would_write"));
}

function commandLine(c, mark) {
  return el("div", { class: "cmd", "data-device": c.device, "data-point": c.point },
    el("b", {}, c.device), " ", el("span", { title: c.point }, commandText(c)), " ",
    c.safety ? [el("span", { class: "pill bad", "data-safety": "1" }, t("ctl.safety")), " "] : null, mark,
    c.reason ? el("span", { class: "reason muted" }, " — " + I18N.phrase(c.reason)) : null);
}

// Heartbeats (one per machine per cycle) fold into one line; the other commands one line each.
function commandsCell(d) {
  const beats = d.commands.filter((c) => c.point === "heartbeat");
  const others = d.commands.filter((c) => c.point !== "heartbeat");
  const lines = others.map((c) => commandLine(c, writtenPill(c, d.mode)));
  for (const written of [true, false]) {  // a refused heartbeat is shown apart from the written ones
    const group = beats.filter((c) => Boolean(c.written) === written);
    if (!group.length) continue;
    lines.push(el("div", { class: "cmd muted", "data-point": "heartbeat" }, t("ctl.heartbeat") + " " + group[0].value + " → " +
      group.map((c) => c.device).join(", ") + " ", writtenPill(group[0], d.mode)));
  }
  for (const [key, list] of [["deferred", d.deferred], ["withdrawn", d.withdrawn]]) {
    lines.push(...(list || []).map((c) => commandLine(c, el("span", { class: "pill off", "data-state": key }, t("ctl." + key)))));
  }
  return lines.length ? el("div", {}, lines) : t("ctl.no_command");
}

function decisionsTable(id, room) {
  const decisions = room.decisions || [];
  if (!decisions.length) return el("p", { class: "note", id: id + "-decisions" }, t("ctl.no_decisions"));
  const rows = decisions.map((d) => [siteTime(d.ts), bar(d.pressure_bar),
    d.demand_m3min === null ? t("common.none") : I18N.num(d.demand_m3min, 1) + " m³/min",
    d.combination.length ? d.combination.join(", ") : t("common.none"), commandsCell(d),
    d.alarms.length ? el("div", {}, byRedFirst(d.alarms).map((a) => el("div", {}, alarmPill(a)))) : t("common.none")]);
  const node = table([t("ctl.time"), t("ctl.pressure"), t("ctl.demand"), t("ctl.combination"), t("ctl.commands"),
    t("ctl.alarms")], rows, [1, 2]);
  node.id = id + "-decisions";
  return node;
}

function bandText(room) {
  return t("ctl.band") + " " + I18N.num(room.band_low_bar, 2) + " – " + I18N.num(room.band_high_bar, 2) + " bar · " +
    t("ctl.target") + " " + I18N.num(room.target_bar, 2) + " bar · " + t("ctl.minimum") + " " + I18N.num(room.minimum_bar, 2) + " bar";
}

// Red alarms first: they are about the air the site gets.
const byRedFirst = (alarms) => alarms.slice().sort((a, b) => CONTROL_RED.has(b.code) - CONTROL_RED.has(a.code));

function alarmCard(id, alarms) {
  return el("div", { class: "card", id: id + "-alarms" }, el("h3", {}, t("ctl.alarms_now")),
    alarms.length ? el("ul", { class: "alarms" }, byRedFirst(alarms).map((a) => el("li", { "data-code": a.code }, alarmPill(a),
      el("div", { class: "sub" }, I18N.phrase(a.message)))))
      : el("div", { class: "value ok-text" }, t("ctl.no_alarms")));
}

function roomSection(room) {
  const id = controlId(room.room);
  const running = room.combination || [];
  return el("section", { class: "room", "data-room": room.room },
    el("h2", {}, t("ctl.room") + " " + room.room),
    el("div", { class: "grid" },
      kpi(id + "-pressure", t("ctl.pressure_now"), bar(room.pressure_bar), room.pressure_bar,
        room.pressure_bar === null ? t("ctl.pressure_unknown") : null),
      kpi(id + "-demand", t("ctl.demand"), room.demand_m3min === null ? t("common.none") : I18N.num(room.demand_m3min, 1) + " m³/min",
        room.demand_m3min, t("ctl.demand_note")),
      kpi(id + "-combination", t("ctl.combination"), running.length ? running.join(", ") : t("ctl.none_running"), running.length),
      alarmCard(id, room.alarms || []),
      el("div", { class: "card wide" }, el("h3", {}, t("ctl.chart")),
        el("div", { class: "sub", id: id + "-band" }, bandText(room)),
        el("div", { class: "chart", id: id + "-chart" }))),
    el("h3", { class: "spaced" }, t("ctl.decisions")),
    decisionsTable(id, room));
}

function modeCard(status) {
  const mode = status.mode || "off";
  return el("div", { class: "card mode-card", id: "control-mode" }, el("h3", {}, t("ctl.mode")),
    el("span", { class: "pill mode mode-" + mode, id: "control-mode-badge", "data-mode": mode }, t("ctl.mode." + mode)),
    el("div", { class: "sub mode-note", id: "control-mode-note" }, t("ctl.mode_note." + mode)),
    status.cycle_s ? el("div", { class: "sub" }, t("ctl.cycle").replace("{s}", I18N.auto(status.cycle_s))) : null);
}

const control = {
  async load() { return { status: await api("/api/control") }; },
  // A change of mode or rooms rebuilds the page; otherwise cards and tables are swapped in place.
  shape({ status }) { return (status.mode || "off") + ":" + (status.rooms || []).map((r) => r.room).join(","); },
  render({ status }) {
    const rooms = status.rooms || [];
    if (!rooms.length) {
      return el("div", {}, el("div", { class: "grid" }, modeCard(status)),
        el("div", { class: "note", id: "control-absent" },
          el("p", {}, el("b", {}, t("ctl.absent"))), el("p", {}, t("ctl.absent_how")),
          el("pre", { class: "snippet" }, CONTROL_SNIPPET),
          el("p", {}, t("ctl.absent_docs") + " ", el("code", {}, "docs/control.md"))));
    }
    return el("div", {}, el("div", { class: "grid" }, modeCard(status)), rooms.map(roomSection));
  },
  charts({ status }) {
    for (const room of status.rooms || []) this.band(room);
  },
  // The recent decisions' header pressure over time, over the band, the target and the minimum.
  band(room) {
    const id = controlId(room.room) + "-chart";
    const decisions = (room.decisions || []).slice().reverse();  // oldest first
    const node = document.getElementById(id);
    if (!node) return;
    if (!decisions.length) {
      if (node.classList.contains("js-plotly-plot")) Plotly.purge(node);
      node.replaceChildren(el("div", { class: "note no-data" }, t("ctl.no_decisions")));
      return;
    }
    if (node.querySelector(".no-data")) node.replaceChildren();
    const y = decisions.map((d) => d.pressure_bar);
    const seen = y.filter((v) => v !== null);
    const low = Math.min(room.minimum_bar, ...seen) - 0.2;
    const high = Math.max(room.band_high_bar, ...seen) + 0.2;
    const line = (value, color, dash) => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: value, y1: value,
      line: { color, width: 1.5, dash } });
    const label = (value, text, color) => ({ xref: "paper", x: 1, xanchor: "left", y: value, yanchor: "middle",
      text: text + " " + I18N.num(value, 2), showarrow: false, font: { size: 11, color } });
    const shapes = [
      { type: "rect", xref: "paper", x0: 0, x1: 1, y0: room.band_low_bar, y1: room.band_high_bar, layer: "below",
        fillcolor: "rgba(11,110,79,0.12)", line: { width: 0 } },
      line(room.band_low_bar, "#0b6e4f", "dash"), line(room.band_high_bar, "#0b6e4f", "dash"),
      line(room.target_bar, "#0b6e4f", "dot"), line(room.minimum_bar, "#b3261e", "solid"),
    ];
    const annotations = [label(room.band_high_bar, t("ctl.band_high"), "#0b6e4f"), label(room.target_bar, t("ctl.target"), "#0b6e4f"),
      label(room.band_low_bar, t("ctl.band_low"), "#0b6e4f"), label(room.minimum_bar, t("ctl.minimum"), "#b3261e")];
    const colors = decisions.map((d) => (d.alarms.some((a) => CONTROL_RED.has(a.code)) ? "#b3261e" : "#12303f"));
    plot(id, [{ x: decisions.map((d) => siteTime(d.ts)), y, name: t("ctl.pressure_series"), type: "scatter",
      mode: "lines+markers", connectgaps: false, line: { color: "#12303f", width: 1.5 }, marker: { size: 8, color: colors } }],
    Object.assign({ shapes, annotations, showlegend: false, margin: { l: 60, r: 130, t: 10, b: 40 },
      yaxis: { title: { text: t("air.axis_pressure") }, range: [low, high] } }));
  },
};

// ---------------------------------------------------------------- savings

// "grid CO2 (national, 2023)" -> "电网 CO₂ 排放因子（全国，2023）"; other factor names through I18N.name.
function factorName(name) {
  const grid = /^grid CO2 \((\w+), (\d{4})\)$/.exec(name);
  if (grid && I18N.zh()) return "电网 CO₂ 排放因子（" + (grid[1] === "national" ? "全国" : grid[1]) + "，" + grid[2] + "）";
  return I18N.name(name);
}

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
        ["IPMVP", t("sav.option") + " " + b.ipmvp_option], [t("sav.model"), b.kind + " (" + t("gran." + b.granularity) + ")"],
        ["", b.equation], [t("sav.window"), b.window.start + " – " + b.window.end],
        [t("sav.reporting"), sv.reporting.start + " – " + sv.reporting.end]]),
      el("h2", {}, t("sav.stats")),
      table(["n", "p", "R²", "adj. R²", "CV(RMSE)", "NMBE", "ρ", "t"], [[String(st.n), String(st.p), I18N.num(st.r2, 3),
        I18N.num(st.adj_r2, 3), I18N.pct(st.cv_rmse, 2), I18N.pct(st.nmbe, 3), I18N.num(st.rho, 2), tstats]], [0, 1, 2, 3, 4, 5, 6]),
      el("h2", {}, t("sav.acceptance")),
      table([t("sav.check"), t("sav.value"), t("sav.limit"), t("sav.passed"), t("sav.source")],
        sv.acceptance.checks.map((c) => [I18N.name(c.name), I18N.num(c.value, 4), I18N.name(c.limit), c.outcome === "no_limit" ? t("sav.no_limit") : c.passed ? t("yes") : t("no"), c.source]), [1]),
      el("h2", {}, t("sav.uncertainty")),
      table([t("sav.confidence"), "t", "± kWh", t("sav.uncertainty")], sv.uncertainty.map((u) => [I18N.pct(u.confidence, 0),
        I18N.num(u.t, 3), I18N.kwh(u.absolute_kwh), I18N.pct(u.fraction_of_savings)]), [1, 2, 3]),
      el("h2", {}, t("sav.factors")),
      table(["", t("sav.value"), t("sav.source")], value.factors.map((f) => [factorName(f.name || f.carrier || ""),
        I18N.num(f.value, 4) + " " + I18N.unit(f.unit || ""), f.source || ""])));
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

// Why the score is an estimate (agent.rating.provisional): one line per reason, in the reader's language.
function provisionalNotice(pkg, indicatorName) {
  if (!pkg.provisional) return null;
  const reasons = pkg.provisional_reasons || [];
  return el("div", { class: "note provisional", id: "rating-provisional" },
    el("b", {}, t("rat.provisional")), " ", t("rat.provisional_note"),
    el("ul", {}, reasons.map((r) => el("li", { "data-code": r.code }, t("rat.why." + r.code) +
      (r.code === "period_incomplete" && pkg.period && pkg.period.start ? " (" + pkg.period.start + " – " + pkg.period.end + ")" : "") +
      (r.indicators.length ? ": " + r.indicators.map(indicatorName).join(", ") : "")))));
}

// An indicator's data completeness, and its flags as badges; a low-completeness value is shown but not scored.
function indicatorFlags(i) {
  return el("span", {}, i.completeness === null || i.completeness === undefined ? t("common.none") : I18N.pct(i.completeness, 0),
    (i.flags || []).flatMap((f) => [" ", el("span", { class: "pill " + (f === "placeholder_curve" ? "off" : "warn"), "data-flag": f },
      t("flag." + f))]));
}

const rating = {
  async load() { return { rt: await api("/api/rating") }; },
  render({ rt }) {
    if (!rt.available) return unavailable(rt.reason);
    const pkg = rt.package;
    const name = (n) => (n ? (I18N.zh() ? n.zh : n.en) : "");
    const ids = Object.fromEntries((pkg.indicators || []).map((i) => [i.id, i]));
    const g = pkg.grade || {};
    const indicatorName = (id) => name((ids[id] || {}).name) || id;
    return el("div", {},
      provisionalNotice(pkg, indicatorName),
      el("div", { class: "grid" },
        el("div", { class: "card", id: "rating-grade" }, el("h3", {}, t("rat.grade") + " · " + rt.period),
          el("div", { class: "grade" }, g.grade || t("common.none")),
          pkg.provisional ? el("span", { class: "pill warn", id: "rating-provisional-badge" }, t("rat.provisional")) : null,
          el("div", { class: "sub" }, I18N.num(pkg.total.points, 1) + " / " + I18N.num(pkg.total.max_points, 0) + " " + t("rat.points") +
            (g.gap_to_next ? " · " + I18N.num(g.gap_to_next, 1) + " " + t("rat.gap") + " " + g.next_grade : ""))),
        el("div", { class: "card" }, el("h3", {}, t("rat.download")),
          el("a", { class: "button", id: "rating-download", href: "/api/rating/package?period=" + rt.period, download: "" }, "JSON"))),
      el("h2", {}, t("rat.dimension")),
      table([t("rat.dimension"), t("rat.points")], (pkg.dimensions || []).map((d) => [name(d.name),
        I18N.num(d.points, 1) + " / " + I18N.num(d.max_points, 0)]), [1]),
      el("h2", {}, t("rat.indicator")),
      table([t("rat.indicator"), t("rat.value"), t("rat.score"), t("rat.data")], (pkg.indicators || []).map((i) => [name(i.name),
        I18N.measure(i.value, i.value_unit),
        I18N.num(i.points, 1) + " / " + I18N.num(i.max_points, 1), indicatorFlags(i)]), [1, 2]),
      el("h2", {}, t("rat.improve")),
      el("ul", {}, (pkg.improvements || []).map((m) => el("li", {}, name((ids[m.indicator_id] || {}).name) || m.indicator_id,
        ": +" + I18N.num(m.points_available, 1) + " " + t("rat.available") +
        (m.value_for_max !== null && m.value_for_max !== undefined ? " · " + t("rat.target") + " " + I18N.measure(m.value_for_max, m.unit) : "")))));
  },
  charts() {},
};

const PAGES = { overview, devices, air, control, savings: savingsPage, rating };

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
  const shape = page.shape ? page.shape(data) : "";
  if (content.dataset.shape !== shape) rebuild = true;
  content.dataset.shape = shape;
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
