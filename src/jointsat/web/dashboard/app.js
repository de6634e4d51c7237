// The jointsat dashboard: plain JavaScript over the JSON API (docs/dashboard.md).
// Everything shown comes from /api/v1 with the signed-in token, so each partner sees
// what its agreement allows. Text from the API goes into the page as textContent only.
/* global L, vis */

import {
  API, TOKEN_KEY, PALETTE, SAT_PALETTE, SVG_NS, state, $, el, svg, utc, percent, hours, size,
  iso, ApiError, api, notify, partnerById, partnerByCode, partnerColour, satelliteColour,
  operatorsGradient, operatorsText, partnerLegend, selectedSchedule,
} from "./core.js";
import { loadRequests, loadPlans } from "./plans.js";
import { loadManage } from "./manage.js";

// --- sign-in, the clock and pages ----------------------------------------------------

async function signIn(token) {
  state.token = token;
  let me;
  try {
    me = await api("me");
  } catch (error) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    const why = error.status === 401 ? "That token was refused (401): it is unknown, expired or revoked, or its user disabled."
      : `Sign-in failed: ${error.message}`;
    $("#sign-in-error").textContent = why;
    return;
  }
  let partners, stations, satellites, schedules;
  try {
    [partners, stations, satellites, schedules] = await Promise.all(
      ["partners", "stations", "satellites", "schedules"].map((p) => api(p)));
  } catch (error) {
    state.token = null;
    $("#sign-in-error").textContent = `Signed in, but the consortium could not be read: ${error.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  Object.assign(state, { me, partners, stations, satellites, schedules, loaded: {} });
  state.scheduleId = schedules.length ? schedules[0].id : null;
  const partner = partnerById(me.partner_id);
  $("#who-text").textContent = `${me.name} · ${me.role}` + (partner ? ` · ${partner.code}` : " · consortium");
  $("#sign-in-error").textContent = "";
  $("#token").value = "";
  for (const select of document.querySelectorAll(".schedule-choice")) {
    select.replaceChildren(...schedules.map((s) => el("option", {
      value: String(s.id), textContent: `#${s.id} ${s.policy} ${utc(s.start)} → ${utc(s.end)}`,
    })));
    if (!schedules.length) select.append(el("option", { value: "", textContent: "no schedule yet" }));
  }
  for (const id of ["#tabs", "#clock", "#who"]) $(id).hidden = false;
  $("#sign-in").hidden = true;
  document.body.dataset.signedIn = "true";
  showPage();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { token: null, me: null, partners: [], stations: [], satellites: [],
    schedules: [], scheduleId: null, loaded: {} });
  for (const id of ["#tabs", "#clock", "#who"]) $(id).hidden = true;
  for (const page of document.querySelectorAll("main > .page")) page.hidden = true;
  for (const reset of [resetMap, resetTimeline]) reset();
  for (const body of document.querySelectorAll("main tbody, main ul, #fair-status")) body.replaceChildren();
  for (const svgNode of document.querySelectorAll("main svg")) svgNode.replaceChildren();
  $("#contact-details").replaceChildren(el("p", { textContent: "Click a contact or a pass for its details." }));
  $("#sign-in").hidden = false;
  $("#sign-in-error").textContent = message;
  delete document.body.dataset.signedIn;
  notify("");
}

function readClock() {
  const params = new URLSearchParams(location.search);
  const at = params.get("at");
  const parsed = at ? new Date(at) : new Date();
  state.at = Number.isNaN(parsed.getTime()) ? new Date() : parsed;
  if (at && Number.isNaN(parsed.getTime())) notify(`Ignored ?at=${at}: not a date`);
  const span = Number(params.get("span"));
  if ([5400, 21600, 86400].includes(span)) state.span = span;
  $("#at").value = iso(state.at).slice(0, 19);
  $("#span").value = String(state.span);
}

function setClock(at, span) {
  state.at = at;
  state.span = span;
  const params = new URLSearchParams(location.search);
  params.set("at", iso(at));
  params.set("span", String(span));
  history.replaceState(null, "", `?${params}${location.hash}`);
  $("#at").value = iso(at).slice(0, 19);
  $("#span").value = String(span);
  state.loaded = {};
  showPage();
}

const PAGES = { map: loadMap, timeline: loadTimeline, passes: loadPasses, fairness: loadFairness,
  archive: loadArchive, requests: loadRequests, plans: loadPlans, manage: loadManage };

async function showPage() {
  if (!state.me) return;
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "map";
  state.page = name;
  for (const page of document.querySelectorAll("main > .page")) page.hidden = page.id !== `page-${name}`;
  for (const tab of document.querySelectorAll("#tabs a")) tab.classList.toggle("active", tab.dataset.page === name);
  for (const select of document.querySelectorAll(".schedule-choice")) select.value = String(state.scheduleId ?? "");
  const key = `${name}|${iso(state.at)}|${state.span}|${state.scheduleId}`;
  if (state.loaded[name] === key) {
    if (name === "map" && map) map.invalidateSize();
    if (name === "timeline" && timeline) timeline.redraw();
    return;
  }
  state.loaded[name] = key;
  const page = $(`#page-${name}`);
  page.dataset.ready = "false";
  try {
    notify("");
    await PAGES[name]();
  } catch (error) {
    state.loaded[name] = null;
    if (state.me) notify(`Could not load the ${name} page: ${error.message}`);
  } finally {
    page.dataset.ready = "true";
  }
}

// --- map -------------------------------------------------------------------------------

let map = null;
let layers = null;

function resetMap() {
  if (layers) for (const layer of Object.values(layers)) if (layer !== layers.land) layer.clearLayers();
}

async function ensureMap() {
  if (map) return;
  map = L.map("map", { minZoom: 1, maxZoom: 10, zoomSnap: 0.5, worldCopyJump: false,
    maxBounds: [[-85, -400], [85, 400]] }).setView([20, 0], 1.5);
  map.attributionControl.addAttribution("Natural Earth");
  layers = { land: L.layerGroup().addTo(map), tracks: L.layerGroup().addTo(map),
    footprints: L.layerGroup().addTo(map), stations: L.layerGroup().addTo(map),
    satellites: L.layerGroup().addTo(map) };
  const land = await (await fetch("/static/basemap/ne_110m_land_from_world-atlas.geojson")).json();
  // Drawn three times, a world apart, so that land crossing the antimeridian shows whole.
  for (const offset of [-360, 0, 360]) {
    L.geoJSON(unwrapped(land, offset), { interactive: false, style: { className: "land",
      color: "#9c9682", weight: 0.6, fillColor: "#f2efe6", fillOpacity: 1 } }).addTo(layers.land);
  }
}

// The land's rings with longitudes made continuous (a ring crossing the antimeridian goes
// on past 180 instead of jumping back across the map), then moved by ``offset`` degrees.
function unwrapped(collection, offset) {
  const ring = (points) => {
    let previous = null;
    return points.map(([lon, lat]) => {
      let x = lon;
      if (previous !== null) {
        while (x - previous > 180) x -= 360;
        while (x - previous < -180) x += 360;
      }
      previous = x;
      return [x + offset, lat];
    });
  };
  const polygons = (geometry) => (geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates);
  return { type: "FeatureCollection", features: collection.features.map((feature) => ({
    type: "Feature", properties: {}, geometry: { type: "MultiPolygon",
      coordinates: polygons(feature.geometry).map((rings) => rings.map(ring)) },
  })) };
}

const wrapLon = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;

function tooltip(text) {
  return el("span", { textContent: text });
}

async function loadMap() {
  await ensureMap();
  map.invalidateSize();
  resetMap();
  partnerLegend($("#legend"));
  $("#satellite-legend").replaceChildren(...state.satellites.map((s) => el("li", {},
    el("span", { className: "swatch", style: `background:${satelliteColour(s.id)}` }),
    `${s.name} (${s.norad_id}) — ${operatorsText(s)}`)));
  $("#station-list tbody").replaceChildren(...state.stations.map((s) => el("tr", {},
    el("td", { textContent: s.name }), el("td", { textContent: partnerById(s.partner_id)?.code ?? "" }),
    el("td", { textContent: s.lat_deg.toFixed(2) }), el("td", { textContent: wrapLon(s.lon_deg).toFixed(2) }))));
  for (const s of state.stations) {
    L.circleMarker([s.lat_deg, wrapLon(s.lon_deg)], { radius: 6, weight: 1, color: "#222222",
      fillColor: partnerColour(s.partner_id), fillOpacity: 0.95, className: "station" })
      .bindTooltip(tooltip(`${s.name} (${partnerById(s.partner_id)?.code ?? "?"})`))
      .addTo(layers.stations);
  }
  const start = state.at;
  const end = new Date(start.getTime() + state.span * 1000);
  const step = state.span <= 5400 ? 30 : state.span <= 21600 ? 60 : 120;
  const [positions, ...tracks] = await Promise.allSettled([
    api("satellites/positions", { at: iso(start) }),
    ...state.satellites.map((s) => api(`satellites/${s.id}/track`,
      { start: iso(start), end: iso(end), step_s: step })),
  ]);
  const problems = [];
  for (const result of tracks) {
    if (result.status === "rejected") { problems.push(`track: ${result.reason.message}`); continue; }
    const track = result.value;
    if (track.error) problems.push(`${track.name}: ${track.error}`);
    for (const segment of track.segments) {
      if (segment.length < 2) continue;
      L.polyline(segment, { color: satelliteColour(track.satellite_id), weight: 2, opacity: 0.85,
        className: "track", interactive: false }).addTo(layers.tracks);
    }
  }
  const stale = [];
  if (positions.status === "fulfilled") {
    for (const p of positions.value) {
      if (p.stale) stale.push(`${p.name} (${p.elements_age_days.toFixed(0)} days)`);
      if (p.error || p.lat_deg === null || p.lat_deg === undefined) {
        problems.push(`${p.name}: ${p.error || "no position"}`);
        continue;
      }
      const colour = satelliteColour(p.satellite_id);
      L.circle([p.lat_deg, p.lon_deg], { radius: p.footprint_radius_km * 1000, color: colour,
        weight: 1, fillOpacity: 0.08, className: "footprint", interactive: false }).addTo(layers.footprints);
      const age = p.stale ? ` · stale elements, ${p.elements_age_days.toFixed(0)} days old` : "";
      L.circleMarker([p.lat_deg, p.lon_deg], { radius: 5, color: "#000000", weight: 1,
        fillColor: colour, fillOpacity: 1, className: p.stale ? "satellite stale" : "satellite" })
        .bindTooltip(tooltip(`${p.name} · ${p.alt_km.toFixed(0)} km · ${p.sunlit ? "sunlit" : "in shadow"}${age}`),
          { permanent: true, direction: "right", className: p.stale ? "satellite-label stale" : "satellite-label" })
        .addTo(layers.satellites);
    }
  } else {
    problems.push(`positions: ${positions.reason.message}`);
  }
  $("#page-map").dataset.tracks = String(layers.tracks.getLayers().length);
  $("#page-map").dataset.stale = String(stale.length);
  const notices = [];
  if (problems.length) notices.push(`Some of the map could not be drawn: ${problems.slice(0, 3).join("; ")}.`);
  if (stale.length) {
    notices.push(`Stale elements (older than their threshold at this time): ${stale.slice(0, 5).join(", ")}`
      + `${stale.length > 5 ? ` and ${stale.length - 5} more` : ""}; their positions are indicative only.`);
  }
  if (notices.length) notify(notices.join(" "));
}

// --- timeline ----------------------------------------------------------------------

let timeline = null;

function resetTimeline() {
  if (timeline) { timeline.destroy(); timeline = null; }
}

function itemContent(text, title) {
  return el("span", { textContent: text, title });
}

function showDetails(title, facts) {
  const list = el("dl", { className: "facts" });
  for (const [term, value] of facts) list.append(el("dt", { textContent: term }), el("dd", { textContent: value }));
  $("#contact-details").replaceChildren(el("h2", { textContent: title }), list);
}

async function loadTimeline() {
  const schedule = state.scheduleId ? await api(`schedules/${state.scheduleId}`) : null;
  const windowStart = schedule ? new Date(schedule.start) : state.at;
  const windowEnd = schedule ? new Date(schedule.end) : new Date(state.at.getTime() + state.span * 1000);
  const passes = await api("passes", { start: iso(windowStart), end: iso(windowEnd) });
  const groups = state.stations.map((s, order) => ({
    id: s.id, order, content: el("span", {},
      el("span", { className: "swatch", style: `background:${partnerColour(s.partner_id)}` }), s.name),
  }));
  const details = new Map();
  const items = [];
  passes.forEach((p, i) => {
    const id = `p${i}`;
    details.set(id, p);
    items.push({ id, group: p.station_id, subgroup: "a-pass", sgOrder: 0, start: p.aos, end: p.los,
      className: "pass", content: itemContent(p.satellite, `pass of ${p.satellite}`) });
  });
  (schedule ? schedule.contacts : []).forEach((c, i) => {
    const id = `c${i}`;
    details.set(id, c);
    items.push({ id, group: c.station_id, subgroup: "b-contact", sgOrder: 1, start: c.start, end: c.end,
      className: "contact", style: `background:${operatorsGradient(c.satellite_id)}`,
      content: itemContent(c.satellite, `contact: ${c.satellite} over ${c.station}`) });
  });
  for (const s of state.stations) {
    for (const w of s.unavailable) {
      items.push({ id: `u${w.id}`, group: s.id, start: w.start, end: w.end, type: "background",
        className: `unavailable ${w.kind}`, content: "" });
    }
  }
  const start = state.at;
  const end = new Date(start.getTime() + state.span * 1000);
  resetTimeline();
  timeline = new vis.Timeline($("#timeline"), new vis.DataSet(items), new vis.DataSet(groups), {
    stack: false, stackSubgroups: true, subgroupOrder: "sgOrder", orientation: "top",
    start, end, zoomMin: 60 * 1000, zoomMax: 31 * 86400 * 1000, showCurrentTime: false,
    selectable: true, multiselect: false, margin: { item: { horizontal: 0, vertical: 2 } },
  });
  timeline.on("select", ({ items: chosen }) => {
    const id = chosen[0];
    const what = details.get(id);
    if (!what) return;
    if (id.startsWith("c")) {
      showDetails("Contact", [["Satellite", `${what.satellite} (${what.norad_id})`], ["Station", what.station],
        ["Start", `${utc(what.start)} UTC`], ["End", `${utc(what.end)} UTC`],
        ["Duration", `${((new Date(what.end) - new Date(what.start)) / 60000).toFixed(1)} min`],
        ["Max elevation", `${what.max_elevation_deg.toFixed(1)}°`],
        ["Operators", operatorsText(state.satellites.find((s) => s.id === what.satellite_id) || { operators: {} })]]);
    } else {
      showDetails("Pass", [["Satellite", `${what.satellite} (${what.norad_id})`], ["Station", what.station],
        ["AOS", `${utc(what.aos)} UTC`], ["TCA", `${utc(what.tca)} UTC`], ["LOS", `${utc(what.los)} UTC`],
        ["Max elevation", `${what.max_elevation_deg.toFixed(1)}°`], ["Sunlit", what.sunlit ? "yes" : "no"]]);
    }
  });
  const contacts = schedule ? schedule.contacts.length : 0;
  $("#timeline").dataset.contacts = String(contacts);
  $("#timeline").dataset.passes = String(passes.length);
  $("#timeline-summary").textContent = schedule
    ? `${contacts} contacts, ${passes.length} passes in ${utc(schedule.start)} → ${utc(schedule.end)} UTC`
      + (schedule.hidden_contacts ? ` (${schedule.hidden_contacts} contacts on assets hidden from you)` : "")
    : `${passes.length} passes; no schedule yet`;
  $("#timeline-legend").replaceChildren(...state.partners.map((p) => el("li", {},
    el("span", { className: "swatch", style: `background:${partnerColour(p.id)}` }), p.code)),
  el("li", {}, el("span", { className: "swatch pass" }), "pass (not scheduled)"),
  el("li", {}, el("span", { className: "swatch unavailable" }), "station unavailable"),
  el("li", { textContent: "Contacts are coloured by their satellite's operators, by fraction." }));
}

// --- passes ----------------------------------------------------------------------------

const passView = { rows: [], key: "aos", ascending: true, selected: null };

async function loadPasses() {
  const start = state.at;
  const end = new Date(start.getTime() + state.span * 1000);
  passView.rows = await api("passes", { start: iso(start), end: iso(end) });
  passView.selected = null;
  fillChoice($("#filter-satellite"), state.satellites.map((s) => [s.id, s.name]));
  fillChoice($("#filter-station"), state.stations.map((s) => [s.id, s.name]));
  $("#polar").replaceChildren();
  $("#polar-title").textContent = "Sky track";
  $("#polar-note").textContent = "Select a pass to draw it.";
  renderPasses();
}

function fillChoice(select, options) {
  const value = select.value;
  select.replaceChildren(el("option", { value: "", textContent: "all" }),
    ...options.map(([id, name]) => el("option", { value: String(id), textContent: name })));
  select.value = options.some(([id]) => String(id) === value) ? value : "";
}

function renderPasses() {
  const satellite = $("#filter-satellite").value;
  const station = $("#filter-station").value;
  const elevation = Number($("#filter-elevation").value) || 0;
  const { key, ascending } = passView;
  const rows = passView.rows.filter((p) => (!satellite || String(p.satellite_id) === satellite)
    && (!station || String(p.station_id) === station) && p.max_elevation_deg >= elevation);
  rows.sort((a, b) => {
    const order = a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
    return ascending ? order : -order;
  });
  for (const th of document.querySelectorAll("#pass-table th")) {
    th.dataset.sort = th.dataset.key === key ? (ascending ? "ascending" : "descending") : "";
  }
  $("#pass-count").textContent = `${rows.length} of ${passView.rows.length} passes`;
  $("#pass-table tbody").replaceChildren(...rows.map((p) => {
    const row = el("tr", { tabIndex: 0 },
      ...[p.satellite, p.station, utc(p.aos), utc(p.tca), utc(p.los),
        `${p.max_elevation_deg.toFixed(1)}°`, p.sunlit ? "yes" : "no"].map((t) => el("td", { textContent: t })));
    if (passView.selected === p) row.classList.add("selected");
    if (p.stale) {
      row.classList.add("stale");
      row.title = `Stale elements: ${p.elements_age_days.toFixed(1)} days from their epoch at TCA`;
    }
    row.addEventListener("click", () => selectPass(p, row));
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") selectPass(p, row); });
    return row;
  }));
}

async function selectPass(pass, row) {
  passView.selected = pass;
  for (const other of document.querySelectorAll("#pass-table tr.selected")) other.classList.remove("selected");
  row.classList.add("selected");
  $("#polar-title").textContent = `${pass.satellite} over ${pass.station}`;
  const duration = (new Date(pass.los) - new Date(pass.aos)) / 1000;
  let samples;
  let note = `AOS ${utc(pass.aos)}, LOS ${utc(pass.los)} UTC, max ${pass.max_elevation_deg.toFixed(1)}°`;
  try {
    const look = await api(`satellites/${pass.satellite_id}/look`, { station_id: pass.station_id,
      start: iso(new Date(pass.aos)), end: iso(new Date(pass.los)), step_s: Math.max(1, Math.ceil(duration / 120)) });
    samples = look.samples.filter((s) => s.elevation_deg !== null && s.azimuth_deg !== null)
      .map((s) => [s.azimuth_deg, s.elevation_deg]);
    if (look.error) note += ` (${look.error})`;
  } catch (error) {
    samples = [[pass.aos_azimuth_deg, 0], [pass.tca_azimuth_deg, pass.max_elevation_deg], [pass.los_azimuth_deg, 0]];
    note += ` (AOS, TCA and LOS only: ${error.message})`;
  }
  if (passView.selected !== pass) return;
  drawPolar($("#polar"), samples);
  $("#polar-note").textContent = note;
}

function drawPolar(root, samples) {
  const R = 110;
  const point = ([az, elev]) => {
    const r = ((90 - Math.max(0, elev)) / 90) * R;
    const a = (az * Math.PI) / 180;
    return [r * Math.sin(a), -r * Math.cos(a)];
  };
  root.replaceChildren();
  for (const elev of [0, 30, 60]) {
    root.append(svg("circle", { r: ((90 - elev) / 90) * R, class: "grid" }),
      svg("text", { x: 2, y: -((90 - elev) / 90) * R + 10, class: "grid-label" }, `${elev}°`));
  }
  for (const [az, label] of [[0, "N"], [90, "E"], [180, "S"], [270, "W"]]) {
    const [x, y] = point([az, 0]);
    root.append(svg("line", { x1: 0, y1: 0, x2: x, y2: y, class: "grid" }),
      svg("text", { x: x * 1.09, y: y * 1.09 + 4, class: "compass", "text-anchor": "middle" }, label));
  }
  const up = samples.filter(([, elev]) => elev >= 0);
  if (!up.length) return;
  const points = up.map(point);
  root.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "sky-track" }));
  const [ax, ay] = points[0];
  const [lx, ly] = points[points.length - 1];
  root.append(svg("circle", { cx: ax, cy: ay, r: 4, class: "aos" }), svg("circle", { cx: lx, cy: ly, r: 4, class: "los" }));
}

// --- fairness ---------------------------------------------------------------------------

async function loadFairness() {
  const status = $("#fair-status");
  const chart = $("#fair-chart");
  const body = $("#fair-table tbody");
  if (!state.scheduleId) {
    status.replaceChildren(el("dt", { textContent: "Schedule" }), el("dd", { textContent: "none yet" }));
    chart.replaceChildren();
    body.replaceChildren();
    return;
  }
  const s = await api(`schedules/${state.scheduleId}`);
  const facts = [["Schedule", `#${s.id}, ${s.policy}`, ""], ["Window", `${utc(s.start)} → ${utc(s.end)} UTC`, ""],
    ["Status", s.status, "status"], ["Solver gap", percent(s.gap), "gap"],
    ["Fairness gap", percent(s.fairness_gap), "fairness-gap"], ["Contact time", hours(s.total_seconds), ""],
    ["Solver", s.solver, ""]];
  status.replaceChildren(...facts.flatMap(([term, value, name]) => [el("dt", { textContent: term }),
    el("dd", { textContent: value, dataset: name ? { field: name, value: String(name === "status" ? s.status
      : name === "gap" ? s.gap : s.fairness_gap) } : {} })]));
  const codes = Object.keys(s.partners).sort((a, b) => {
    const pa = partnerByCode(a);
    const pb = partnerByCode(b);
    return (pa ? pa.id : 1e9) - (pb ? pb.id : 1e9) || a.localeCompare(b);
  });
  body.replaceChildren(...codes.map((code) => {
    const share = s.partners[code];
    const partner = partnerByCode(code);
    return el("tr", { dataset: { partner: code, entitled: String(share.share_entitled),
      received: String(share.share_received), seconds: String(share.seconds) } },
    el("td", {}, el("span", { className: "swatch", style: `background:${partnerColour(partner?.id)}` }),
      partner ? `${code} — ${partner.name}` : code),
    el("td", { className: "entitled", textContent: percent(share.share_entitled) }),
    el("td", { className: "received", textContent: percent(share.share_received) }),
    el("td", { className: "difference", textContent:
      `${share.share_received >= share.share_entitled ? "+" : "−"}${Math.abs((share.share_received - share.share_entitled) * 100).toFixed(2)} pp` }),
    el("td", { className: "seconds", textContent: hours(share.seconds) }));
  }));
  drawShares(chart, codes.map((code) => [code, s.partners[code]]));
}

function drawShares(root, rows) {
  const label = 60;
  const width = 420;
  const band = 44;
  const top = 24;
  const max = Math.max(0.01, ...rows.flatMap(([, r]) => [r.share_entitled, r.share_received])) * 1.15;
  const x = (v) => label + (v / max) * (width - label - 10);
  root.setAttribute("viewBox", `0 0 ${width} ${top + band * rows.length + 10}`);
  root.replaceChildren(svg("text", { x: label, y: 12, class: "axis-label" }, "▯ entitled   ▮ received"));
  rows.forEach(([code, r], i) => {
    const y = top + i * band;
    const colour = partnerColour(partnerByCode(code)?.id);
    root.append(
      svg("text", { x: label - 6, y: y + 22, "text-anchor": "end", class: "bar-label" }, code),
      svg("rect", { x: label, y: y + 2, width: x(r.share_entitled) - label, height: 16, class: "entitled",
        stroke: colour }),
      svg("rect", { x: label, y: y + 20, width: x(r.share_received) - label, height: 16, class: "received",
        fill: colour }),
      svg("text", { x: x(r.share_entitled) + 4, y: y + 14, class: "bar-value" }, percent(r.share_entitled)),
      svg("text", { x: x(r.share_received) + 4, y: y + 32, class: "bar-value" }, percent(r.share_received)));
  });
}

// --- archive ----------------------------------------------------------------------------

async function loadArchive() {
  fillChoice($("#archive-satellite"), state.satellites.map((s) => [s.norad_id, `${s.name} (${s.norad_id})`]));
  await searchArchive();
}

async function searchArchive() {
  const from = $("#archive-from").value, to = $("#archive-to").value;
  const products = await api("products", {
    satellite: $("#archive-satellite").value, limit: 1000,
    start: from ? `${from}T00:00:00Z` : "", end: to ? `${to}T23:59:59.999Z` : "",
  });
  $("#archive-count").textContent = `${products.length} products${products.length === 1000 ? " (the first 1,000)" : ""}`;
  $("#archive-table tbody").replaceChildren(...products.map((p) => el("tr", {},
    el("td", { textContent: p.id, className: "id" }), el("td", { textContent: `${p.satellite_name} (${p.satellite})` }),
    el("td", { textContent: p.instrument }), el("td", { textContent: p.processing_level }),
    el("td", { textContent: `${utc(p.acquired_start)} → ${utc(p.acquired_end)}` }),
    el("td", { textContent: p.owners.join(", ") }),
    el("td", {}, ...p.files.map((f) => {
      const button = el("button", { type: "button", className: "download",
        textContent: `${f.name} (${size(f.size_bytes)})` });
      button.addEventListener("click", () => download(f, button));
      return button;
    })))));
}

async function download(file, button) {
  button.disabled = true;
  try {
    const response = await fetch(file.href, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) throw new ApiError(response.status, response.statusText);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: file.name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    notify(`Download of ${file.name} failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

// --- wiring -------------------------------------------------------------------------------

$("#sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("#token").value.trim());
});
$("#sign-out").addEventListener("click", () => signOut());
$("#clock").addEventListener("submit", (event) => {
  event.preventDefault();
  const at = new Date(`${$("#at").value}Z`);
  if (Number.isNaN(at.getTime())) { notify("Not a time"); return; }
  setClock(at, Number($("#span").value));
});
$("#span").addEventListener("change", () => setClock(state.at, Number($("#span").value)));
$("#now").addEventListener("click", () => setClock(new Date(), state.span));
$("#to-schedule").addEventListener("click", () => {
  const schedule = selectedSchedule();
  if (schedule) setClock(new Date(schedule.start), state.span);
  else notify("There is no schedule yet.");
});
for (const select of document.querySelectorAll(".schedule-choice")) {
  select.addEventListener("change", () => {
    state.scheduleId = Number(select.value) || null;
    showPage();
  });
}
for (const th of document.querySelectorAll("#pass-table th")) {
  th.addEventListener("click", () => {
    passView.ascending = passView.key === th.dataset.key ? !passView.ascending : true;
    passView.key = th.dataset.key;
    renderPasses();
  });
}
for (const id of ["#filter-satellite", "#filter-station", "#filter-elevation"]) {
  $(id).addEventListener("input", renderPasses);
}
$("#pass-filters").addEventListener("submit", (event) => event.preventDefault());
$("#archive-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  searchArchive().catch((error) => notify(`Archive search failed: ${error.message}`));
});
window.addEventListener("hashchange", showPage);

state.onUnauthorised = () => signOut("Your token is no longer accepted; sign in again.");
readClock();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
