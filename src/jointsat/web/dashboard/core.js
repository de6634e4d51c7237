// The dashboard's shared core: state, DOM and formatting helpers, the API client and the
// partners' colours. Each page module (app.js, and the pages beside it) imports from here.
/* global L, vis */

const API = "/api/v1";
const TOKEN_KEY = "jointsat.token";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
  "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"];
const SAT_PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
  "#42d4f4", "#f032e6", "#9a6324", "#800000", "#000075"];
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  token: null, me: null, partners: [], stations: [], satellites: [], schedules: [],
  scheduleId: null, at: new Date(), span: 5400, page: "map", loaded: {},
  onUnauthorised: null, // set by app.js: sign out when the token is refused
};

// --- small helpers ---------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

const utc = (value) => new Date(value).toISOString().slice(0, 19).replace("T", " ");
const percent = (x) => `${(x * 100).toFixed(2)} %`;
const hours = (seconds) => `${(seconds / 3600).toFixed(2)} h`;
const size = (bytes) => (bytes < 1e3 ? `${bytes} B` : bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB`
  : `${(bytes / 1e6).toFixed(1)} MB`);
const iso = (date) => date.toISOString().replace(".000Z", "Z");

class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
  }
}

async function api(path, params = {}) {
  const url = new URL(path.startsWith("/") ? path : `${API}/${path}`, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch { /* not JSON */ }
    if (response.status === 401 && state.me) state.onUnauthorised?.();
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

function notify(message) {
  const notice = $("#notice");
  notice.textContent = message || "";
  notice.hidden = !message;
}

const partnerById = (id) => state.partners.find((p) => p.id === Number(id));
const partnerByCode = (code) => state.partners.find((p) => p.code === code);

function partnerColour(id) {
  const index = state.partners.findIndex((p) => p.id === Number(id));
  return index < 0 ? "#888888" : PALETTE[index % PALETTE.length];
}

function satelliteColour(id) {
  const index = state.satellites.findIndex((s) => s.id === Number(id));
  return index < 0 ? "#888888" : SAT_PALETTE[index % SAT_PALETTE.length];
}

// A satellite's operators as a CSS gradient: each partner's colour over its fraction.
function operatorsGradient(satelliteId) {
  const satellite = state.satellites.find((s) => s.id === Number(satelliteId));
  if (!satellite) return "#888888";
  let from = 0;
  const stops = Object.entries(satellite.operators).map(([id, fraction]) => {
    const to = from + fraction * 100;
    const stop = `${partnerColour(id)} ${from.toFixed(1)}% ${to.toFixed(1)}%`;
    from = to;
    return stop;
  });
  return `linear-gradient(to bottom, ${stops.join(", ")})`;
}

function operatorsText(satellite) {
  return Object.entries(satellite.operators)
    .map(([id, f]) => `${partnerById(id)?.code ?? id} ${Math.round(f * 100)} %`).join(", ");
}

function partnerLegend(list) {
  list.replaceChildren(...state.partners.map((p) => el("li", {},
    el("span", { className: "swatch", style: `background:${partnerColour(p.id)}` }),
    `${p.code} — ${p.name}`)));
}

function selectedSchedule() {
  return state.schedules.find((s) => s.id === state.scheduleId) || null;
}

export {
  API, TOKEN_KEY, PALETTE, SAT_PALETTE, SVG_NS, state, $, el, svg, utc, percent, hours, size,
  iso, ApiError, api, notify, partnerById, partnerByCode, partnerColour, satelliteColour,
  operatorsGradient, operatorsText, partnerLegend, selectedSchedule,
};

// --- writes (the pages that change things: manage.js) ---------------------------------

// A read or write that carries the resource's version: ``etag`` goes out as If-Match,
// the answer's ETag comes back with its JSON (null for a 204). Errors are ApiErrors.
async function apiWrite(method, path, body = undefined, { etag = null, text = false } = {}) {
  const url = new URL(path.startsWith("/") ? path : `${API}/${path}`, location.origin);
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  if (etag) headers["If-Match"] = etag;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = text ? "text/plain" : "application/json";
    payload = text ? body : JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, cache: "no-store" });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg || String(d)).join("; ");
    } catch { /* not JSON */ }
    if (response.status === 401 && state.me) state.onUnauthorised?.();
    throw new ApiError(response.status, detail);
  }
  const data = response.status === 204 ? null : await response.json();
  return { data, etag: response.headers.get("ETag"), status: response.status };
}

const apiRead = (path) => apiWrite("GET", path);

// What a refused write means, in words for the person who tried it.
function writeProblem(error) {
  if (error.status === 412) return "Not saved: changed by someone else since you opened it; reload. "
    + "It has been reloaded with what is stored now.";
  if (error.status === 403) return `Not allowed for your role: ${error.message.replace(/^403: /, "")}`;
  if (error.status === 409) return `Refused: ${error.message.replace(/^409: /, "")}`;
  if (error.status === 422) return `Not valid: ${error.message.replace(/^422: /, "")}`;
  return error.message;
}

const isAdmin = () => state.me?.role === "admin";
// Whether the caller may change what ``owners`` (partner ids) own: the API's rule (access.py).
const mayChange = (owners) => isAdmin()
  || (state.me?.role === "operator" && owners.map(Number).includes(state.me.partner_id));

// Reload a page in place after its own controls changed, as app.js's showPage does:
// ``data-ready`` is "false" while it loads, and a failure is a notice.
async function reloadPage(name, loader) {
  const page = $(`#page-${name}`);
  page.dataset.ready = "false";
  try {
    notify("");
    await loader();
  } catch (error) {
    if (state.me) notify(`Could not load the ${name} page: ${error.message}`);
  } finally {
    page.dataset.ready = "true";
  }
}

export { apiWrite, apiRead, writeProblem, isAdmin, mayChange, reloadPage };

// --- times: ISO 8601 UTC, 24 h, or a station's local mean solar time (docs/dashboard.md) ---
// The one place the dashboard writes times. Stations have no time zone in the API, so the
// "station" option shows local mean solar time (UTC + longitude / 15 h, to the second),
// labelled LMT with its offset: an honest clock of the place, not its civil time.

const TIMES_KEY = "jointsat.times";

const timeMode = () => (sessionStorage.getItem(TIMES_KEY) === "station" ? "station" : "utc");

function setTimeMode(mode) {
  sessionStorage.setItem(TIMES_KEY, mode === "station" ? "station" : "utc");
}

function solarOffsetSeconds(lonDeg) {
  const lon = ((((lonDeg + 180) % 360) + 360) % 360) - 180;
  return Math.round(lon * 240);
}

function offsetText(seconds) {
  const sign = seconds < 0 ? "−" : "+";
  const minutes = Math.round(Math.abs(seconds) / 60);
  return `UTC${sign}${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

// A time for people: "2024-05-10 06:00:00 UTC"; with a station, in "station" mode,
// "2024-05-10 07:23:51 LMT (UTC+01:24)". ``short`` leaves the date out.
function when(value, station = null, short = false) {
  const date = new Date(value);
  const cut = (text) => (short ? text.slice(11) : text);
  if (timeMode() !== "station" || !station) return `${cut(utc(date))} UTC`;
  const offset = solarOffsetSeconds(station.lon_deg);
  return `${cut(utc(new Date(date.getTime() + offset * 1000)))} LMT (${offsetText(offset)})`;
}

// The label of a time column: "(UTC)", or "(station LMT)" in "station" mode.
const timeColumn = () => (timeMode() === "station" ? "station LMT" : "UTC");

const minutes = (seconds) => `${(seconds / 60).toFixed(1)} min`;
const degrees = (value, digits = 1) => (value === null || value === undefined ? "—" : `${value.toFixed(digits)}°`);

const stationById = (id) => state.stations.find((s) => s.id === Number(id)) || null;

export {
  TIMES_KEY, timeMode, setTimeMode, solarOffsetSeconds, offsetText, when, timeColumn, minutes,
  degrees, stationById,
};

// --- the basemap -------------------------------------------------------------------------

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

export { unwrapped };

// --- the sky: a polar plot of azimuth and elevation (Passes, Operations) ----------------

import { maskElevation } from "./sun.js";

// Draw ``samples`` ([azimuth_deg, elevation_deg, marked?]) on ``root`` (an SVG of viewBox
// -130 -130 260 260): elevation 90° at the centre, azimuth round from north; the samples
// at or above 0° as one polyline (class sky-track), AOS and LOS dots, and a dot (class
// lag) on each sample whose third element is true. With ``station``, its horizon: its
// minimum elevation raised by its mask, per azimuth.
function drawPolar(root, samples, station = null) {
  const R = 110;
  const point = ([az, elev]) => {
    const r = ((90 - Math.max(0, elev)) / 90) * R;
    const a = (az * Math.PI) / 180;
    return [r * Math.sin(a), -r * Math.cos(a)];
  };
  root.replaceChildren();
  if (station) { // the station's horizon: its minimum elevation raised by its mask, per azimuth
    const mask = [];
    for (let az = 0; az <= 360; az += 5) mask.push(point([az, maskElevation(station, az)]));
    root.append(svg("polygon", { points: mask.map((p) => p.join(",")).join(" "), class: "mask" }));
  }
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
  up.forEach((sample, i) => {
    if (sample[2]) root.append(svg("circle", { cx: points[i][0], cy: points[i][1], r: 2.5, class: "lag" }));
  });
  const [ax, ay] = points[0];
  const [lx, ly] = points[points.length - 1];
  root.append(svg("circle", { cx: ax, cy: ay, r: 4, class: "aos" }), svg("circle", { cx: lx, cy: ly, r: 4, class: "los" }));
}

export { drawPolar };
