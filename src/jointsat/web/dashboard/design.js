// The Design page: mission-design studies (docs/dashboard.md). A coverage study's points
// on a map, each coloured by the chosen figure of merit (one partner's area's points when a
// partner is chosen), with a legend; a sweep's designs on a Pareto chart of satellites
// against the worst partner's figure, its front highlighted. What is drawn is what the API
// answers to the signed-in token: a study appears only to who sees every area it used.
/* global L */

import { $, el, svg, utc, api, reloadPage, partnerByCode, partnerColour, unwrapped } from "./core.js";

// Each figure of merit (the per-point table's columns after the sixth) in words.
const FIGURE_NAMES = {
  coverage_fraction: "coverage (fraction of the window)",
  accesses: "accesses (count)",
  mean_access_s: "mean access duration",
  max_gap_s: "max revisit (edge gaps counted)",
  max_gap_interior_s: "max revisit (interior gaps)",
  mean_gap_s: "mean revisit (edge gaps counted)",
  mean_gap_interior_s: "mean revisit (interior gaps)",
  time_avg_gap_s: "time-averaged gap",
  mean_response_s: "mean response time",
  first_access_s: "time to first access",
  mean_in_view: "satellites in view (mean)",
  max_in_view: "satellites in view (max)",
};
const DEFAULT_FIGURE = "max_gap_s";
// Viridis, five stops: the colour of the lowest value first.
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const NO_VALUE = "#9a9a9a";
const POINT_COLUMNS = 6; // area, partner, cell, lat_deg, lon_deg, area_km2; then the figures
// Above this many points the markers are drawn on a canvas, not as SVG elements (a global
// study at 0.5 degrees has 288,000 points: too many elements for a page).
const SVG_POINTS = 20_000;

const view = { studies: [], study: null, points: null };
let designMap = null;
let layers = null;

// A figure's value for people: seconds as minutes or hours, fractions as percent.
function figureText(figure, value) {
  if (value === null || value === undefined) return "no value";
  if (figure.endsWith("_s")) return value >= 7200 ? `${(value / 3600).toFixed(2)} h` : `${(value / 60).toFixed(1)} min`;
  if (figure === "coverage_fraction") return `${(value * 100).toFixed(1)} %`;
  if (figure === "mean_in_view") return value.toFixed(2);
  return String(Math.round(value));
}

function rampColour(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const k = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - k;
  const rgb = RAMP[k].map((c, i) => Math.round(c + (RAMP[k + 1][i] - c) * f));
  return `#${rgb.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

async function ensureDesignMap() {
  if (designMap) return;
  designMap = L.map("design-map", { minZoom: 1, maxZoom: 10, zoomSnap: 0.5,
    maxBounds: [[-85, -400], [85, 400]] }).setView([30, 0], 1.5);
  designMap.attributionControl.addAttribution("Natural Earth");
  layers = { land: L.layerGroup().addTo(designMap), points: L.layerGroup().addTo(designMap) };
  const land = await (await fetch("/static/basemap/ne_110m_land_from_world-atlas.geojson")).json();
  for (const offset of [-360, 0, 360]) {
    L.geoJSON(unwrapped(land, offset), { interactive: false, style: { className: "land",
      color: "#9c9682", weight: 0.6, fillColor: "#f2efe6", fillOpacity: 1 } }).addTo(layers.land);
  }
}

function studyLabel(s) {
  return `#${s.id} ${s.name} (${s.kind}, ${s.status})`;
}

async function loadDesign() {
  const studies = await api("design/studies");
  view.studies = studies;
  const choice = $("#design-study");
  const chosen = Number(choice.value);
  choice.replaceChildren(...studies.map((s) => el("option", { value: String(s.id), textContent: studyLabel(s) })));
  $("#design-studies tbody").replaceChildren(...studies.map((s) => {
    const row = el("tr", { dataset: { study: String(s.id) }, className: "clickable" },
      el("td", { textContent: String(s.id) }), el("td", { textContent: s.name }),
      el("td", { textContent: s.kind }), el("td", { textContent: s.status, title: s.error || "" }),
      el("td", { textContent: s.partner ?? "consortium" }),
      el("td", { textContent: s.areas.map((a) => `${a.name} (${a.partner})`).join(", ") }),
      el("td", { textContent: s.points === null ? "—" : String(s.points) }),
      el("td", { textContent: utc(s.created_at) }));
    row.addEventListener("click", () => { choice.value = String(s.id); showChosen(); });
    return row;
  }));
  const empty = $("#design-empty");
  if (!studies.length) {
    empty.replaceChildren(el("p", {}, "No design study you may see yet. Run one with ",
      el("code", { textContent: "POST /api/v1/design/studies" }), " over areas of interest (",
      el("code", { textContent: "POST /api/v1/partners/{id}/areas" }), "); ",
      el("code", { textContent: "jointsat demo" }),
      " runs one over the demo partners' areas. A study appears to who sees every area it used."));
    empty.hidden = false;
    $("#design-body").hidden = true;
    return;
  }
  empty.hidden = true;
  $("#design-body").hidden = false;
  const newestDone = [...studies].reverse().find((s) => s.status === "done");
  choice.value = String(studies.some((s) => s.id === chosen) ? chosen : (newestDone ?? studies[studies.length - 1]).id);
  await showStudy(Number(choice.value));
}

function showChosen() {
  reloadPage("design", () => showStudy(Number($("#design-study").value)));
}

async function showStudy(id) {
  const study = await api(`design/studies/${id}`);
  view.study = study;
  view.points = null;
  for (const row of document.querySelectorAll("#design-studies tbody tr")) {
    row.classList.toggle("selected", row.dataset.study === String(id));
  }
  const inputs = study.inputs || {};
  const facts = [
    ["Study", `#${study.id} ${study.name}`],
    ["Status", study.status + (study.error ? `: ${study.error}` : "")],
    ["Window (UTC)", `${utc(inputs.start)} → ${utc(inputs.end)}`],
    ["Constellations", study.kind === "sweep" ? `a sweep of ${inputs.sweep?.kind ?? "?"} designs`
      : (inputs.constellations || []).join(", ")],
    ["Access", inputs.half_angle_deg !== null && inputs.half_angle_deg !== undefined
      ? `within ${inputs.half_angle_deg}° of nadir` : `above ${inputs.min_elevation_deg}° elevation`],
    ["Grid", `${inputs.grid_deg}° equal-area (H3)`],
    ["Areas", study.areas.map((a) => `${a.name} (${a.partner})`).join(", ")],
  ];
  $("#design-facts").replaceChildren(...facts.flatMap(([term, value]) => [
    el("dt", { textContent: term }), el("dd", { textContent: value })]));
  const done = study.status === "done";
  $("#design-coverage").hidden = !(done && study.kind === "coverage");
  $("#design-sweep").hidden = !(done && study.kind === "sweep");
  $("#design-waiting").hidden = done;
  if (!done) {
    $("#design-waiting").textContent = study.status === "failed"
      ? `This study failed: ${study.error}` : `This study is ${study.status}: reload in a moment.`;
    return;
  }
  if (study.kind === "sweep") { drawSweep(study); return; }
  await ensureDesignMap();
  designMap.invalidateSize();
  view.points = await api(`design/studies/${id}/points`);
  const figures = Object.keys(view.points.columns).slice(POINT_COLUMNS);
  const figure = $("#design-figure");
  const previous = figure.value;
  figure.replaceChildren(...figures.map((f) => el("option", { value: f, textContent: `${f} — ${FIGURE_NAMES[f] ?? f}` })));
  figure.value = figures.includes(previous) ? previous : (figures.includes(DEFAULT_FIGURE) ? DEFAULT_FIGURE : figures[0]);
  const partner = $("#design-partner");
  const was = partner.value;
  const codes = [...new Set(view.points.columns.partner)].filter((c) => c);
  partner.replaceChildren(el("option", { value: "", textContent: "all" }),
    ...codes.map((c) => el("option", { value: c, textContent: c })));
  partner.value = codes.includes(was) ? was : "";
  drawPoints(true);
}

// The chosen figure on the map, one marker per point of the chosen partner's areas (all).
function drawPoints(fit = false) {
  if (!view.points) return;
  const figure = $("#design-figure").value;
  const partner = $("#design-partner").value;
  const columns = view.points.columns;
  const rows = [];
  for (let i = 0; i < columns.cell.length; i += 1) if (!partner || columns.partner[i] === partner) rows.push(i);
  const values = rows.map((i) => columns[figure][i]);
  const finite = values.filter((v) => v !== null && v !== undefined);
  // (A loop, not Math.min(...finite): a spread of 288,000 arguments overflows the stack.)
  const lo = finite.reduce((a, b) => (b < a ? b : a), finite.length ? finite[0] : 0);
  const hi = finite.reduce((a, b) => (b > a ? b : a), finite.length ? finite[0] : 0);
  const span = hi > lo ? hi - lo : 1;
  layers.points.clearLayers();
  const renderer = rows.length > SVG_POINTS ? L.canvas({ padding: 0.2 }) : undefined;
  const bounds = [];
  rows.forEach((i, k) => {
    const value = values[k];
    const colour = value === null || value === undefined ? NO_VALUE : rampColour((value - lo) / span);
    const where = [columns.lat_deg[i], columns.lon_deg[i]];
    bounds.push(where);
    L.circleMarker(where, { radius: renderer ? 2 : 5, weight: 0.6, color: "#222222", fillColor: colour,
      fillOpacity: 0.9, className: "design-point", renderer })
      .bindTooltip(() => el("span", { textContent: `${columns.area[i]} (${columns.partner[i]}) `
        + `${columns.cell[i]}: ${figure} ${figureText(figure, value)}` }))
      .addTo(layers.points);
  });
  $("#design-map").dataset.markers = String(rows.length);
  $("#design-map").dataset.figure = figure;
  if (fit && bounds.length) designMap.fitBounds(bounds, { padding: [20, 20], maxZoom: 5 });
  drawLegend(figure, lo, hi, finite.length, values.length - finite.length);
  drawPartnerFigures(figure);
  $("#design-count").textContent = `${rows.length} point${rows.length === 1 ? "" : "s"}`
    + (partner ? ` of ${partner}'s areas` : "");
}

function drawLegend(figure, lo, hi, defined, undefinedCount) {
  const legend = $("#design-legend");
  legend.dataset.figure = figure;
  const bar = svg("svg", { viewBox: "0 0 200 16", width: "200", height: "16", role: "img",
    "aria-label": `colour scale of ${figure}` });
  for (let k = 0; k < 20; k += 1) {
    bar.append(svg("rect", { x: String(k * 10), y: "0", width: "10", height: "16", fill: rampColour(k / 19) }));
  }
  const items = [
    el("p", { className: "legend-title", textContent: `${figure} — ${FIGURE_NAMES[figure] ?? figure}` }),
    bar,
    el("p", { className: "legend-scale" },
      el("span", { textContent: defined ? figureText(figure, lo) : "—" }),
      el("span", { textContent: defined ? figureText(figure, (lo + hi) / 2) : "" }),
      el("span", { textContent: defined ? figureText(figure, hi) : "—" })),
  ];
  if (undefinedCount) {
    items.push(el("p", {}, el("span", { className: "swatch", style: `background:${NO_VALUE}` }),
      `no value (${undefinedCount} point${undefinedCount === 1 ? "" : "s"}, e.g. never covered)`));
  }
  legend.replaceChildren(...items);
}

function drawPartnerFigures(figure) {
  const summary = view.study?.summary;
  const rows = summary?.partners?.length ? summary.partners
    : (summary?.areas || []).map((a) => ({ ...a, partner: a.name }));
  $("#design-partner-head").textContent = figure;
  $("#design-partners tbody").replaceChildren(...rows.map((r) => {
    const f = r.figures?.[figure] || {};
    const p = partnerByCode(r.partner);
    return el("tr", {},
      el("td", {}, el("span", { className: "swatch", style: `background:${p ? partnerColour(p.id) : NO_VALUE}` }), r.partner),
      el("td", { textContent: String(r.points) }),
      el("td", { textContent: figureText(figure, f.mean) }),
      el("td", { textContent: figureText(figure, f.min) }),
      el("td", { textContent: figureText(figure, f.max) }));
  }));
}

// A sweep: satellites (cost) against the worst partner's figure, the Pareto front joined.
function drawSweep(study) {
  const summary = study.summary;
  const designs = summary.designs;
  const figure = summary.figure;
  const chart = $("#design-pareto");
  chart.replaceChildren();
  chart.dataset.designs = String(designs.length);
  const width = 640;
  const height = 360;
  const pad = { left: 70, right: 20, top: 20, bottom: 50 };
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const usable = designs.filter((d) => d.objective !== null);
  const maxSats = Math.max(1, ...usable.map((d) => d.satellites));
  const values = usable.map((d) => d.objective);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const span = hi > lo ? hi - lo : Math.abs(hi) || 1;
  const x = (s) => pad.left + (s / maxSats) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - lo) / span) * (height - pad.top - pad.bottom);
  chart.append(svg("line", { x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom, class: "axis" }));
  chart.append(svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom, class: "axis" }));
  for (const s of [0, maxSats / 2, maxSats]) {
    chart.append(svg("text", { x: x(s), y: height - pad.bottom + 16, "text-anchor": "middle", class: "tick" }, String(Math.round(s))));
  }
  for (const v of [lo, (lo + hi) / 2, hi]) {
    chart.append(svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, figureText(figure, v)));
  }
  chart.append(svg("text", { x: (pad.left + width - pad.right) / 2, y: height - 10, "text-anchor": "middle", class: "label" }, "satellites"));
  chart.append(svg("text", { x: 14, y: pad.top + (height - pad.top - pad.bottom) / 2, "text-anchor": "middle", class: "label",
    transform: `rotate(-90 14 ${pad.top + (height - pad.top - pad.bottom) / 2})` },
  `worst partner's ${summary.statistic} ${figure}`));
  const front = usable.filter((d) => d.pareto).sort((a, b) => a.satellites - b.satellites);
  if (front.length > 1) {
    chart.append(svg("polyline", { points: front.map((d) => `${x(d.satellites)},${y(d.objective)}`).join(" "), class: "front" }));
  }
  for (const d of usable) {
    const dot = svg("circle", { cx: x(d.satellites), cy: y(d.objective), r: d.pareto ? 6 : 4,
      class: d.pareto ? "design-dot pareto" : "design-dot" });
    dot.append(svg("title", {}, `${d.design}: ${d.satellites} satellites, ${figureText(figure, d.objective)}`
      + ` (worst: ${d.worst ?? "—"})${d.pareto ? ", on the Pareto front" : ""}`));
    chart.append(dot);
  }
  $("#design-sweep-caption").textContent = `${designs.length} designs; ${front.length} on the Pareto front `
    + `(no other design has as few satellites and a worst partner's ${figure} as good).`;
  $("#design-designs tbody").replaceChildren(...designs.map((d) => el("tr", { className: d.pareto ? "pareto" : "" },
    el("td", { textContent: d.design }), el("td", { textContent: String(d.satellites) }),
    el("td", { textContent: figureText(figure, d.objective) }), el("td", { textContent: d.worst ?? "—" }),
    el("td", { textContent: d.pareto ? "yes" : "" }))));
}

$("#design-study").addEventListener("change", showChosen);
$("#design-figure").addEventListener("change", () => drawPoints());
$("#design-partner").addEventListener("change", () => drawPoints(true));
$("#design-reload").addEventListener("click", () => reloadPage("design", loadDesign));

export { loadDesign };
