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
import { loadDesign } from "./design.js";
import { loadOperations, startFeed, stopFeed, openContact } from "./operations.js";
import { setArchive, analysesCell, wireRow, reshowResults, resetAnalyses, loadRunControls } from "./analyses.js";

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
  $("#station-times").checked = timeMode() === "station";
  showPage();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { token: null, me: null, partners: [], stations: [], satellites: [],
    schedules: [], scheduleId: null, loaded: {} });
  for (const id of ["#tabs", "#clock", "#who"]) $(id).hidden = true;
  for (const page of document.querySelectorAll("main > .page")) page.hidden = true;
  for (const reset of [resetMap, resetTimeline, resetAnalyses, stopFeed]) reset();
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
  $("#at").value = utc(state.at);
  $("#span").value = String(state.span);
}

function setClock(at, span) {
  state.at = at;
  state.span = span;
  const params = new URLSearchParams(location.search);
  params.set("at", iso(at));
  params.set("span", String(span));
  history.replaceState(null, "", `?${params}${location.hash}`);
  $("#at").value = utc(at);
  $("#span").value = String(span);
  state.loaded = {};
  showPage();
}

const PAGES = { map: loadMap, timeline: loadTimeline, passes: loadPasses, fairness: loadFairness,
  archive: loadArchive, requests: loadRequests, plans: loadPlans, design: loadDesign,
  manage: loadManage, operations: loadOperations };

async function showPage() {
  if (!state.me) return;
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "map";
  state.page = name;
  for (const page of document.querySelectorAll("main > .page")) page.hidden = page.id !== `page-${name}`;
  for (const tab of document.querySelectorAll("#tabs a")) tab.classList.toggle("active", tab.dataset.page === name);
  for (const select of document.querySelectorAll(".schedule-choice")) select.value = String(state.scheduleId ?? "");
  if (name === "operations") startFeed(); else stopFeed(); // the live feed runs on its page only
  const key = `${name}|${iso(state.at)}|${state.span}|${state.scheduleId}|${timeMode()}`;
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
    emptyHint(name);
    await PAGES[name]();
  } catch (error) {
    state.loaded[name] = null;
    if (state.me) notify(`Could not load the ${name} page: ${error.message}`);
  } finally {
    page.dataset.ready = "true";
  }
}

// --- map -------------------------------------------------------------------------------

// (Imports are hoisted: these sit here, by the code that uses them.)
import { subSolarPoint, nightPolygon, stationRing } from "./sun.js";
import {
  timeMode, setTimeMode, when, timeColumn, minutes, degrees, stationById, unwrapped, drawPolar,
} from "./core.js";

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
  layers = { land: L.layerGroup().addTo(map), night: L.layerGroup().addTo(map),
    rings: L.layerGroup().addTo(map), tracks: L.layerGroup().addTo(map),
    footprints: L.layerGroup().addTo(map), stations: L.layerGroup().addTo(map),
    satellites: L.layerGroup().addTo(map), sun: L.layerGroup().addTo(map) };
  map.on("zoomend", () => { if (mapView.positions.length) drawSatellites(); });
  const land = await (await fetch("/static/basemap/ne_110m_land_from_world-atlas.geojson")).json();
  // Drawn three times, a world apart, so that land crossing the antimeridian shows whole.
  for (const offset of [-360, 0, 360]) {
    L.geoJSON(unwrapped(land, offset), { interactive: false, style: { className: "land",
      color: "#9c9682", weight: 0.6, fillColor: "#f2efe6", fillOpacity: 1 } }).addTo(layers.land);
  }
}

const wrapLon = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;

function tooltip(text) {
  return el("span", { textContent: text });
}

const mapView = { positions: [], selected: null };
const CLUSTER_PX = 12; // satellites closer than this on the screen share one label

async function loadMap() {
  await ensureMap();
  map.invalidateSize();
  resetMap();
  partnerLegend($("#legend"));
  $("#satellite-legend").replaceChildren(...state.satellites.map((s) => el("li", {},
    el("span", { className: "swatch", style: `background:${satelliteColour(s.id)}` }),
    `${s.name} (${s.norad_id}) — ${operatorsText(s)}`)));
  $("#station-list tbody").replaceChildren(...state.stations.map((s) => el("tr", {},
    el("td", { textContent: s.name, title: s.name }), el("td", { textContent: partnerById(s.partner_id)?.code ?? "" }),
    el("td", { textContent: s.lat_deg.toFixed(2) }), el("td", { textContent: wrapLon(s.lon_deg).toFixed(2) }))));
  for (const s of state.stations) {
    L.circleMarker([s.lat_deg, wrapLon(s.lon_deg)], { radius: 6, weight: 1, color: "#222222",
      fillColor: partnerColour(s.partner_id), fillOpacity: 0.95, className: "station" })
      .bindTooltip(tooltip(`${s.name} (${partnerById(s.partner_id)?.code ?? "?"})`))
      .addTo(layers.stations);
  }
  drawSun(state.at);
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
  mapView.positions = [];
  if (positions.status === "fulfilled") {
    for (const p of positions.value) {
      if (p.stale) stale.push(`${p.name} (${p.elements_age_days.toFixed(0)} days)`);
      if (p.error || p.lat_deg === null || p.lat_deg === undefined) {
        problems.push(`${p.name}: ${p.error || "no position"}`);
        continue;
      }
      mapView.positions.push(p);
      L.circle([p.lat_deg, p.lon_deg], { radius: p.footprint_radius_km * 1000, color: satelliteColour(p.satellite_id),
        weight: 1, fillOpacity: 0.08, className: "footprint", interactive: false }).addTo(layers.footprints);
    }
  } else {
    problems.push(`positions: ${positions.reason.message}`);
  }
  drawSatellites();
  const flying = mapView.positions.map((p) => p.satellite_id);
  if (!flying.includes(mapView.selected)) mapView.selected = flying.length ? flying[0] : null;
  $("#map-satellite").replaceChildren(...mapView.positions.map((p) => el("option",
    { value: String(p.satellite_id), textContent: `${p.name} (${p.norad_id})` })));
  $("#map-satellite").value = String(mapView.selected ?? "");
  $("#page-map").dataset.tracks = String(layers.tracks.getLayers().length);
  $("#page-map").dataset.stale = String(stale.length);
  const notices = [];
  if (problems.length) notices.push(`Some of the map could not be drawn: ${problems.slice(0, 3).join("; ")}.`);
  if (stale.length) {
    notices.push(`Stale elements (older than their threshold at this time): ${stale.slice(0, 5).join(", ")}`
      + `${stale.length > 5 ? ` and ${stale.length - 5} more` : ""}; their positions are indicative only.`);
  }
  if (notices.length) notify(notices.join(" "));
  await selectSatellite(mapView.selected);
}

// The night side (shaded), the terminator, and the sub-solar point at the clock's time.
function drawSun(at) {
  L.polygon(nightPolygon(at), { className: "night", stroke: false, fillColor: "#0b1a33",
    fillOpacity: 0.2, interactive: false }).addTo(layers.night);
  L.polyline(nightPolygon(at).slice(1, -1), { className: "terminator", color: "#0b1a33", weight: 1,
    opacity: 0.5, interactive: false }).addTo(layers.night);
  const sun = subSolarPoint(at);
  L.circleMarker([sun.lat, sun.lon], { radius: 7, weight: 2, color: "#9a6a00", fillColor: "#ffd34d",
    fillOpacity: 1, className: "subsolar" })
    .bindTooltip(tooltip(`Sub-solar point at ${when(at)}: ${sun.lat.toFixed(2)}°, ${sun.lon.toFixed(2)}°`))
    .addTo(layers.sun);
  Object.assign($("#map").dataset, { subsolarLat: String(sun.lat), subsolarLon: String(sun.lon),
    subsolarAt: iso(at) });
}

// Each satellite's dot; those within CLUSTER_PX of each other at this zoom share one label
// ("ISS (ZARYA) +3"), headed by the lowest catalog number (a station before its visitors),
// and a click on any of them lists them all (popup and the side panel).
function drawSatellites() {
  layers.satellites.clearLayers();
  const groups = [];
  const sorted = [...mapView.positions].sort((a, b) => a.norad_id - b.norad_id);
  for (const p of sorted) {
    const point = map.latLngToLayerPoint([p.lat_deg, p.lon_deg]);
    const group = groups.find((g) => g.point.distanceTo(point) <= CLUSTER_PX);
    if (group) group.members.push(p);
    else groups.push({ point, members: [p] });
  }
  for (const group of groups) {
    const [head, ...others] = group.members;
    for (const p of [...others].reverse().concat([head])) { // the head drawn last, on top
      const classes = ["satellite", `sat-${p.satellite_id}`];
      if (p.stale) classes.push("stale");
      if (others.length) classes.push("colocated");
      const marker = L.circleMarker([p.lat_deg, p.lon_deg], { radius: p === head ? 6 : 5, color: "#000000",
        weight: 1, fillColor: satelliteColour(p.satellite_id), fillOpacity: 1, className: classes.join(" ") });
      const age = p.stale ? ` · stale elements, ${p.elements_age_days.toFixed(0)} days old` : "";
      const more = others.length ? ` +${others.length}` : "";
      const text = `${p.name}${p === head ? more : ""} · ${p.alt_km.toFixed(0)} km · ${p.sunlit ? "sunlit" : "in shadow"}${age}`;
      if (p === head) {
        marker.bindTooltip(tooltip(text), { permanent: true, direction: "right",
          className: `satellite-label${p.stale ? " stale" : ""}${others.length ? " cluster" : ""}` });
      } else {
        marker.bindTooltip(tooltip(text), { direction: "right" });
      }
      if (others.length) marker.bindPopup(() => colocatedList(group.members, "popup-colocated"));
      marker.on("click", () => { showColocated(group.members); selectSatellite(p.satellite_id); });
      marker.addTo(layers.satellites);
    }
  }
  $("#page-map").dataset.clusters = String(groups.filter((g) => g.members.length > 1).length);
}

function colocatedList(members, className) {
  return el("ul", { className: `legend ${className}` }, ...members.map((p) => el("li",
    { dataset: { satellite: String(p.satellite_id) } },
    el("span", { className: "swatch", style: `background:${satelliteColour(p.satellite_id)}` }),
    `${p.name} (${p.norad_id}) · ${p.lat_deg.toFixed(2)}°, ${p.lon_deg.toFixed(2)}° · ${p.alt_km.toFixed(0)} km`
    + ` · ${p.sunlit ? "sunlit" : "in shadow"}`)));
}

function showColocated(members) {
  const list = colocatedList(members, "");
  $("#colocated").replaceChildren(...list.children);
  $("#colocated").dataset.count = String(members.length);
}

// The selected satellite: stations' footprints at its altitude, and its next passes.
async function selectSatellite(id) {
  mapView.selected = id;
  $("#map-satellite").value = String(id ?? "");
  const position = mapView.positions.find((p) => p.satellite_id === id);
  const altKm = position ? position.alt_km : 500;
  layers.rings.clearLayers();
  for (const s of state.stations) {
    const ring = stationRing({ ...s, lon_deg: wrapLon(s.lon_deg) }, altKm);
    L.polyline(ring, { color: partnerColour(s.partner_id), weight: 1.2, dashArray: "4 3", opacity: 0.9,
      className: "station-footprint", interactive: false }).addTo(layers.rings);
  }
  $("#map").dataset.footprints = String(layers.rings.getLayers().length);
  $("#map-facts").textContent = position
    ? `${position.name} at ${position.alt_km.toFixed(0)} km: the dashed rings are where each station sees it`
      + " at its horizon mask (minimum elevation, raised by the mask per azimuth)."
    : "No satellite has a position at this time.";
  await loadNextPasses(id);
}

async function loadNextPasses(id) {
  const table = $("#next-passes");
  const body = table.querySelector("tbody");
  table.dataset.ready = "false";
  $("#next-aos").textContent = `AOS (${timeColumn()})`;
  body.replaceChildren();
  if (!id) { $("#next-note").textContent = ""; table.dataset.ready = "true"; return; }
  const start = state.at;
  const end = new Date(start.getTime() + 86400 * 1000);
  const name = state.satellites.find((s) => s.id === id)?.name ?? `#${id}`;
  try {
    const passes = await api("passes", { start: iso(start), end: iso(end), satellite_id: id });
    if (mapView.selected !== id) return;
    const first = new Map();
    for (const p of [...passes].sort((a, b) => (a.aos < b.aos ? -1 : a.aos > b.aos ? 1 : 0))) {
      if (!first.has(p.station_id)) first.set(p.station_id, p);
    }
    body.replaceChildren(...[...first.values()].map((p) => {
      const station = stationById(p.station_id);
      const row = el("tr", { dataset: { station: String(p.station_id), aos: p.aos } },
        el("td", { textContent: p.station, title: p.station }),
        el("td", { textContent: when(p.aos, station, true) + (p.truncated ? " …" : ""),
          title: `AOS ${when(p.aos, station)}, LOS ${when(p.los, station)}`
            + (p.truncated ? "; in progress at the clock's time (truncated)" : "") }),
        el("td", { textContent: degrees(p.max_elevation_deg) }),
        el("td", { textContent: minutes(p.duration_s) }));
      if (p.truncated) row.classList.add("truncated");
      return row;
    }));
    table.dataset.count = String(first.size);
    $("#next-note").textContent = `${name}: the first pass over each of ${first.size} of ${state.stations.length}`
      + ` stations in the 24 h from ${when(start)}.`;
  } catch (error) {
    $("#next-note").textContent = `Next passes of ${name}: ${error.message}`;
  } finally {
    table.dataset.ready = "true";
  }
}

// --- timeline ----------------------------------------------------------------------

let timeline = null;

function resetTimeline() {
  if (timeline) { timeline.destroy(); timeline = null; }
}

function itemContent(text, title) {
  return el("span", { textContent: text, title });
}

function showDetails(title, facts, ...more) {
  const list = el("dl", { className: "facts" });
  for (const [term, value] of facts) list.append(el("dt", { textContent: term }), el("dd", { textContent: value }));
  $("#contact-details").replaceChildren(el("h2", { textContent: title }), list, ...more);
}

// A contact's outputs for its station (docs/dashboard.md, "A contact's outputs"):
// downloads of /contacts/{id}/pointing, /doppler and /oem with the signed-in token.
const CONTACT_OUTPUTS = [
  ["Pointing CSV", "pointing?format=csv", "The rotator's commanded azimuth and elevation, every second"],
  ["Pointing TDM", "pointing?format=tdm", "The look angles as a CCSDS Tracking Data Message"],
  ["Doppler CSV", "doppler?format=csv", "The frequency to tune for the satellite's first downlink"],
  ["OEM", "oem", "The satellite's ephemeris over the contact, for antennas that point from it"],
];

function contactOutputs(contactId) {
  const box = el("div", { className: "exports contact-outputs" });
  for (const [label, path, title] of CONTACT_OUTPUTS) {
    const button = el("button", { type: "button", className: "export", textContent: label, title });
    button.addEventListener("click", () => download({ href: `${API}/contacts/${contactId}/${path}`, name: "" }, button));
    box.append(button);
  }
  const more = el("a", { href: "#operations", className: "to-operations", textContent: "Operations page",
    title: "Its state, pointing plot, Doppler curve and link budget (the contact is selected there when in the window)" });
  more.addEventListener("click", () => { openContact(contactId); state.loaded.operations = null; });
  box.append(more);
  return box;
}

async function loadTimeline() {
  const schedule = state.scheduleId ? await api(`schedules/${state.scheduleId}`) : null;
  const windowStart = schedule ? new Date(schedule.start) : state.at;
  const windowEnd = schedule ? new Date(schedule.end) : new Date(state.at.getTime() + state.span * 1000);
  const passes = await api("passes", { start: iso(windowStart), end: iso(windowEnd) });
  const groups = state.stations.map((s, order) => ({
    id: s.id, order, content: el("span", { className: "row-label", title: `${s.name} (${partnerById(s.partner_id)?.code ?? "?"})` },
      el("span", { className: "swatch", style: `background:${partnerColour(s.partner_id)}` }), s.name),
  }));
  const details = new Map();
  const items = [];
  passes.forEach((p, i) => {
    const id = `p${i}`;
    details.set(id, p);
    const station = stationById(p.station_id);
    items.push({ id, group: p.station_id, subgroup: "a-pass", sgOrder: 0, start: p.aos, end: p.los,
      className: p.truncated ? "pass truncated" : "pass",
      content: itemContent(p.satellite, `pass of ${p.satellite} over ${p.station}: ${when(p.aos, station)}`
        + ` → ${when(p.los, station, true)}, max ${degrees(p.max_elevation_deg)}${p.truncated ? " (truncated by the window)" : ""}`) });
  });
  (schedule ? schedule.contacts : []).forEach((c, i) => {
    const id = `c${i}`;
    details.set(id, c);
    const station = stationById(c.station_id);
    items.push({ id, group: c.station_id, subgroup: "b-contact", sgOrder: 1, start: c.start, end: c.end,
      className: "contact", style: `background:${operatorsGradient(c.satellite_id)}`,
      content: itemContent(c.satellite, `contact: ${c.satellite} over ${c.station}: ${when(c.start, station)}`
        + ` → ${when(c.end, station, true)}, max ${degrees(c.max_elevation_deg)}`) });
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
    // Passes that overlap (co-located satellites over one station) stack, one line each.
    stack: true, stackSubgroups: true, subgroupOrder: "sgOrder", orientation: "top",
    start, end, zoomMin: 60 * 1000, zoomMax: 31 * 86400 * 1000, showCurrentTime: false,
    selectable: true, multiselect: false, margin: { item: { horizontal: 0, vertical: 2 } },
    // The axis in UTC, 24 h, ISO dates, whatever the browser's locale and zone.
    moment: (date) => vis.moment(date).utc(), locale: "en",
    format: { minorLabels: AXIS_MINOR, majorLabels: AXIS_MAJOR },
  });
  timeline.on("select", ({ items: chosen }) => {
    const id = chosen[0];
    const what = details.get(id);
    if (!what) return;
    const station = stationById(what.station_id);
    if (id.startsWith("c")) {
      showDetails("Contact", [["Satellite", `${what.satellite} (${what.norad_id})`], ["Station", what.station],
        ["Start", when(what.start, station)], ["End", when(what.end, station)],
        ["Duration", `${((new Date(what.end) - new Date(what.start)) / 60000).toFixed(1)} min`],
        ["Max elevation", `${what.max_elevation_deg.toFixed(1)}°`],
        ["Operators", operatorsText(state.satellites.find((s) => s.id === what.satellite_id) || { operators: {} })]],
        ...(Number.isInteger(what.id) ? [contactOutputs(what.id)] : []));
    } else {
      showDetails("Pass", [["Satellite", `${what.satellite} (${what.norad_id})`], ["Station", what.station],
        ["AOS", when(what.aos, station)], ["TCA", when(what.tca, station)], ["LOS", when(what.los, station)],
        ["Duration", minutes(what.duration_s)],
        ["Azimuths", `AOS ${degrees(what.aos_azimuth_deg)}, LOS ${degrees(what.los_azimuth_deg)}`],
        ["Max elevation", `${what.max_elevation_deg.toFixed(1)}°`], ["Sunlit", what.sunlit ? "yes" : "no"],
        ["Truncated", what.truncated ? "yes: the pass goes on beyond the window" : "no"]]);
    }
  });
  const contacts = schedule ? schedule.contacts.length : 0;
  $("#timeline").dataset.contacts = String(contacts);
  $("#timeline").dataset.passes = String(passes.length);
  $("#timeline-summary").textContent = schedule
    ? `${contacts} contacts, ${passes.length} passes in ${utc(schedule.start)} → ${utc(schedule.end)} UTC`
      + (schedule.hidden_contacts ? ` (${schedule.hidden_contacts} contacts on assets hidden from you)` : "")
    : `${passes.length} passes; no schedule yet`;
  coverageNotice(schedule, start, end);
  $("#timeline-legend").replaceChildren(...state.partners.map((p) => el("li", {},
    el("span", { className: "swatch", style: `background:${partnerColour(p.id)}` }), p.code)),
  el("li", {}, el("span", { className: "swatch pass" }), "pass (not scheduled)"),
  el("li", {}, el("span", { className: "swatch unavailable" }), "station unavailable"),
  el("li", { textContent: "Contacts are coloured by their satellite's operators, by fraction." }));
}

// vis-timeline's axis labels (moment formats), 24 h and ISO dates.
const AXIS_MINOR = { millisecond: "SSS", second: "HH:mm:ss", minute: "HH:mm", hour: "HH:mm",
  weekday: "MM-DD", day: "MM-DD", week: "MM-DD", month: "YYYY-MM", year: "YYYY" };
const AXIS_MAJOR = { millisecond: "YYYY-MM-DD HH:mm:ss [UTC]", second: "YYYY-MM-DD HH:mm [UTC]",
  minute: "YYYY-MM-DD [UTC]", hour: "YYYY-MM-DD [UTC]", weekday: "YYYY-MM [UTC]", day: "YYYY-MM [UTC]",
  week: "YYYY-MM [UTC]", month: "YYYY [UTC]", year: "" };

// Say so when the clock's view lies outside the schedule's window, with a button there.
function coverageNotice(schedule, start, end) {
  let notice = $("#timeline-coverage");
  if (!notice) {
    notice = el("p", { id: "timeline-coverage", className: "coverage", role: "status" });
    $("#page-timeline .toolbar").after(notice);
  }
  const outside = schedule && (end <= new Date(schedule.start) || start >= new Date(schedule.end));
  notice.hidden = !outside;
  if (!outside) { notice.replaceChildren(); return; }
  const jump = el("button", { type: "button", className: "jump", textContent: "Jump there" });
  jump.addEventListener("click", () => setClock(new Date(schedule.start), state.span));
  notice.replaceChildren(`Schedule #${schedule.id} covers ${utc(schedule.start)} .. ${utc(schedule.end)} UTC;`
    + ` the view (${utc(start)} .. ${utc(end)} UTC) shows none of its contacts. `, jump);
}

// --- passes ----------------------------------------------------------------------------

const passView = { rows: [], key: "aos", ascending: true, selected: null };

async function loadPasses() {
  const start = state.at;
  const end = new Date(start.getTime() + state.span * 1000);
  passView.rows = await api("passes", { start: iso(start), end: iso(end) });
  passView.window = [start, end];
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
  for (const [key, label] of [["aos", "AOS"], ["tca", "TCA"], ["los", "LOS"]]) {
    $(`#pass-table th[data-key="${key}"]`).textContent = `${label} (${timeColumn()})`;
  }
  const short = timeMode() === "station";
  $("#pass-table tbody").replaceChildren(...rows.map((p) => {
    const station = stationById(p.station_id);
    // AOS in full; TCA and LOS as the time of day when on AOS's date (the title has it all).
    const at = (value) => (short ? when(value, station) : utc(value));
    const later = (value) => { const text = at(value); return text.slice(0, 10) === at(p.aos).slice(0, 10) ? text.slice(11) : text; };
    const row = el("tr", { tabIndex: 0, title: `AOS ${when(p.aos, station)}, TCA ${when(p.tca, station)}, LOS ${when(p.los, station)}`,
      dataset: { truncated: String(p.truncated) } },
      ...[p.satellite, p.station, at(p.aos), later(p.tca), later(p.los),
        `${p.max_elevation_deg.toFixed(1)}°`, minutes(p.duration_s), degrees(p.aos_azimuth_deg),
        degrees(p.los_azimuth_deg), p.sunlit ? "yes" : "no"].map((t) => el("td", { textContent: t })));
    if (passView.selected === p) row.classList.add("selected");
    if (p.truncated) {
      row.classList.add("truncated");
      const windowStart = state.at.getTime();
      const cut = new Date(p.aos).getTime() <= windowStart ? "AOS" : "LOS";
      row.cells[cut === "AOS" ? 2 : 4].append(el("span", { className: "truncated-mark", textContent: " ✂",
        title: `Truncated: the pass goes on beyond the window; this ${cut} is the window's edge` }));
    }
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
  const station = stationById(pass.station_id);
  let samples;
  let note = `AOS ${when(pass.aos, station)} at ${degrees(pass.aos_azimuth_deg)}, LOS ${when(pass.los, station)}`
    + ` at ${degrees(pass.los_azimuth_deg)}, ${minutes(duration)}, max ${pass.max_elevation_deg.toFixed(1)}°`
    + (pass.truncated ? " (truncated by the window)" : "");
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
  drawPolar($("#polar"), samples, station);
  $("#polar-note").textContent = note;
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
  try {
    await loadRunControls();
  } catch (error) {
    notify(`The analysis pipelines could not be read: ${error.message}`);
  }
  await searchArchive();
}

async function searchArchive() {
  const from = $("#archive-from").value, to = $("#archive-to").value;
  const [products, runs] = await Promise.all([api("products", {
    satellite: $("#archive-satellite").value, limit: 1000,
    start: from ? `${from}T00:00:00Z` : "", end: to ? `${to}T23:59:59.999Z` : "",
  }), api("analyses").catch((error) => error)]);
  const problem = runs instanceof Error ? runs : null;
  setArchive(products, problem ? [] : runs, problem, searchArchive);
  if (problem) notify(`The analyses could not be read: ${problem.message}`);
  $("#archive-count").textContent = `${products.length} products${products.length === 1000 ? " (the first 1,000)" : ""}`;
  $("#archive-table tbody").replaceChildren(...products.map((p) => {
    const row = el("tr", {},
      el("td", { textContent: p.id, className: "id" }), el("td", { className: "analyses" }, ...analysesCell(p)),
      el("td", { textContent: `${p.satellite_name} (${p.satellite})` }),
      el("td", { textContent: p.instrument }), el("td", { textContent: p.processing_level }),
      el("td", { textContent: `${utc(p.acquired_start)} → ${utc(p.acquired_end)}` }),
      el("td", { textContent: p.owners.join(", ") }),
      el("td", { className: "members-from", textContent: utc(p.members_from) }),
      el("td", { className: "public-from", textContent: p.public_from ? utc(p.public_from) : "never" }),
      el("td", { className: "visible-as", dataset: { rule: p.visible_as }, textContent: GRANTS[p.visible_as] ?? p.visible_as,
        title: GRANT_HINTS[p.visible_as] ?? "" }),
      el("td", {}, ...p.files.map((f) => {
        const button = el("button", { type: "button", className: "download",
          textContent: `${f.name} (${size(f.size_bytes)})` });
        button.addEventListener("click", () => download(f, button));
        return button;
      })));
    wireRow(row, p);
    return row;
  }));
  await reshowResults();
}

const GRANTS = { admin: "admin", owner: "owner", member: "member (embargo over)", public: "public" };
const GRANT_HINTS = {
  admin: "The consortium admin sees every product",
  owner: "Your partner owns it: you see it at once",
  member: "Another partner's: its embargo is over (members from)",
  public: "Released to the public (public from)",
};

async function download(file, button) {
  button.disabled = true;
  try {
    const response = await fetch(file.href, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) throw new ApiError(response.status, response.statusText);
    const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: file.name || (named ? named[1] : "download") });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    notify(`Download of ${file.name || file.href} failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

// --- exports: files from the API, fetched with the token (docs/dashboard.md) -------------

function exportUrl(kind) {
  const satellite = $("#filter-satellite").value;
  const station = $("#filter-station").value;
  const elevation = Number($("#filter-elevation").value) || 0;
  const [start, end] = passView.window || [state.at, new Date(state.at.getTime() + state.span * 1000)];
  let path;
  const params = {};
  if (kind.startsWith("passes")) {
    path = `${API}/passes`;
    Object.assign(params, { start: iso(start), end: iso(end), satellite_id: satellite, station_id: station,
      format: kind.endsWith(".csv") ? "csv" : "ics" });
    if (elevation > 0) params.min_max_elevation_deg = elevation;
  } else {
    if (!state.scheduleId) return null;
    path = `${API}/schedules/${state.scheduleId}/${kind}`;
    if (kind !== "schedule.ssf") params.station_id = station; // an SSF holds the whole schedule
  }
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) if (value !== "" && value !== undefined) url.searchParams.set(key, value);
  return url.href;
}

for (const button of document.querySelectorAll("button.export")) {
  button.addEventListener("click", () => {
    const href = exportUrl(button.dataset.export);
    if (!href) { notify("There is no schedule yet: no contacts to export."); return; }
    download({ href, name: "" }, button);
  });
}

// --- empty pages say what to do ------------------------------------------------------------

const FILL_STORE = "This store is empty: run `jointsat demo` then `jointsat serve --demo` (the"
  + " demo's own store), or add partners, stations and satellites to this one (`jointsat partner"
  + " add`, `jointsat station add`, `jointsat satellite add`, or POST /api/v1/partners,"
  + " /api/v1/stations and /api/v1/satellites with an admin's token).";
const MAKE_SCHEDULE = "No schedule yet: make one with `jointsat schedule --week 2024-05-10` (or any"
  + " week), or POST /api/v1/schedules {\"start\": ..., \"end\": ...} with an admin's token.";

function emptyHint(page) {
  const section = $(`#page-${page}`);
  if (!section) return;
  let hint = section.querySelector(":scope > .empty-hint");
  const needs = { map: "store", timeline: "schedule", passes: "store", fairness: "schedule",
    operations: "schedule" }[page];
  const empty = !state.satellites.length && !state.stations.length;
  const text = needs && empty ? FILL_STORE
    : needs === "schedule" && !state.schedules.length ? MAKE_SCHEDULE
      : needs === "store" && !state.satellites.length ? `No satellites you may see. ${FILL_STORE}`
        : needs === "store" && !state.stations.length ? `No stations you may see. ${FILL_STORE}` : "";
  if (!text) { if (hint) hint.remove(); return; }
  if (!hint) {
    hint = el("p", { className: "empty-hint", role: "status" });
    section.prepend(hint);
  }
  hint.textContent = text;
}

// --- wiring -------------------------------------------------------------------------------

$("#sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("#token").value.trim());
});
$("#sign-out").addEventListener("click", () => signOut());
$("#clock").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("#at").value.trim().replace(" ", "T");
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text) ? new Date(`${text}Z`) : new Date(NaN);
  if (Number.isNaN(at.getTime())) { notify("Not a time: give it as ISO 8601 UTC, 24 h (2024-05-10 06:00:00)"); return; }
  setClock(at, Number($("#span").value));
});
$("#span").addEventListener("change", () => setClock(state.at, Number($("#span").value)));
$("#now").addEventListener("click", () => setClock(new Date(), state.span));
$("#station-times").addEventListener("change", () => {
  setTimeMode($("#station-times").checked ? "station" : "utc");
  showPage();
});
$("#map-satellite").addEventListener("change", () => {
  const id = Number($("#map-satellite").value) || null;
  selectSatellite(id).catch((error) => notify(`Could not select the satellite: ${error.message}`));
});
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
