// The Manage page: partners and their agreements, stations with their horizon masks,
// antennas (rotator, G/T) and unavailability windows, satellites with their radio links
// and the ages of their element sets, users and tokens (docs/dashboard.md). Every change
// goes through the API with optimistic concurrency: what is opened for editing is read
// with its ETag, and the write sends it back as If-Match; a 412 (someone else changed it
// meanwhile) says so and reloads it. Write controls are drawn only for those the API lets
// write (access.py's rules); the API refuses the others anyway.

import {
  state, $, el, svg, utc, iso, api, apiRead, apiWrite, writeProblem, isAdmin, mayChange, reloadPage,
  partnerById, partnerColour, operatorsText,
} from "./core.js";

let section = "partners";
const open = { partner: null, station: null, satellite: null, user: null };
let openedBy = null; // the user (and token) that what is open was opened for
const VISIBILITIES = ["private", "consortium", "public"];

function say(text, kind = "ok") {
  const box = $("#manage-message");
  box.textContent = text || "";
  box.className = kind;
  box.hidden = !text;
}

function button(text, onClick, className = "write") {
  const node = el("button", { type: "button", textContent: text, className });
  node.addEventListener("click", onClick);
  return node;
}

function cells(...values) {
  return values.map((v) => (v instanceof Node ? el("td", {}, v) : el("td", { textContent: v ?? "—" })));
}

const days = (ms) => (ms < 0 ? `${(-ms / 86_400_000).toFixed(1)} d ahead` : `${(ms / 86_400_000).toFixed(1)} d`);

function roleText() {
  const me = state.me;
  const partner = partnerById(me.partner_id);
  if (me.role === "admin") return "You are the consortium admin: you change everything here.";
  if (me.role === "operator") {
    return `You operate for ${partner?.code ?? "your partner"}: you change its stations and the satellites it operates, `
      + "and your own tokens; the rest is read-only.";
  }
  return `You are a viewer of ${partner?.code ?? "a partner"}: everything here is read-only for you.`;
}

async function loadManage() {
  // A token shown once goes with the page's first load after it (another user may sign in).
  $("#token-issued").replaceChildren();
  $("#token-issued").hidden = true;
  say("");
  const who = `${state.me.id}/${state.me.token.id}`;
  if (openedBy !== who) {
    Object.assign(open, { partner: null, station: null, satellite: null, user: null });
    openedBy = who;
  }
  $("#manage-role").textContent = roleText();
  for (const node of document.querySelectorAll("#page-manage .admin-only")) node.hidden = !isAdmin();
  for (const tab of document.querySelectorAll("#manage-tabs button")) tab.classList.toggle("active", tab.dataset.section === section);
  for (const node of document.querySelectorAll("#page-manage .manage-section")) node.hidden = node.id !== `manage-${section}`;
  $("#page-manage").dataset.section = section;
  await { partners: loadPartners, stations: loadStations, satellites: loadSatellites, tokens: loadTokens }[section]();
}

// --- partners and agreements ---------------------------------------------------------------

async function loadPartners() {
  const [{ data: partners }, { data: agreements }] = await Promise.all([apiRead("partners"), apiRead("agreements")]);
  state.partners = partners;
  const terms = new Map(agreements.map((a) => [a.partner_id, a]));
  $("#partner-table tbody").replaceChildren(...partners.map((p) => {
    const a = terms.get(p.id);
    const row = el("tr", { dataset: { id: String(p.id), code: p.code } },
      ...cells(String(p.id),
        el("span", {}, el("span", { className: "swatch", style: `background:${partnerColour(p.id)}` }), p.code),
        p.name, p.contribution_share.toFixed(4), a ? a.share.toFixed(4) : null, a ? String(a.priority_class) : null,
        a ? String(a.embargo_days) : null, a ? (a.public_release_days === null ? "never" : String(a.public_release_days)) : null,
        a?.station_visibility, a?.satellite_visibility));
    row.append(el("td", {}, ...(isAdmin() ? [button("Edit", () => openPartner(p.id))] : [])));
    return row;
  }));
  $("#partner-add").hidden = !isAdmin();
  if (open.partner && isAdmin()) await openPartner(open.partner.id);
  else $("#partner-edit").hidden = true;
}

function field(label, name, value, props = {}) {
  return el("label", {}, `${label} `, el("input", { name, ...props, value: value ?? "" }));
}

function choice(label, name, value, options) {
  const select = el("select", { name }, ...options.map((o) => el("option", { value: o, textContent: o })));
  select.value = value;
  return el("label", {}, `${label} `, select);
}

async function openPartner(id) {
  const [partner, agreement] = await Promise.all([apiRead(`partners/${id}`), apiRead(`agreements/${id}`)]);
  open.partner = { id, etag: partner.etag, data: partner.data, agreementEtag: agreement.etag, agreement: agreement.data };
  const p = partner.data;
  const a = agreement.data;
  const form = $("#partner-edit");
  form.dataset.id = String(id);
  form.dataset.etag = partner.etag;
  const savePartner = button("Save partner", () => savePartnerChanges(form));
  savePartner.name = "save-partner";
  const saveAgreement = button("Save agreement", () => saveAgreementChanges(form));
  saveAgreement.name = "save-agreement";
  form.replaceChildren(
    el("h3", { textContent: `Partner ${p.code} (#${p.id})` }),
    el("fieldset", {}, el("legend", { textContent: `Partner (version ${partner.etag})` }),
      field("Name", "name", p.name, { required: true, maxLength: 200 }),
      field("Contribution share", "contribution_share", String(p.contribution_share), { type: "number", step: "any", min: "0", max: "1" }),
      savePartner),
    el("fieldset", {}, el("legend", { textContent: `Agreement (version ${agreement.etag})` }),
      field("Entitled share (blank: the contribution)", "share", a.share_is_contribution ? "" : String(a.share), { type: "number", step: "any", min: "0", max: "1" }),
      field("Priority class", "priority_class", String(a.priority_class), { type: "number", step: "1", min: "0" }),
      field("Embargo (days)", "embargo_days", String(a.embargo_days), { type: "number", step: "1", min: "0" }),
      field("Public after (days; blank: never)", "public_release_days", a.public_release_days === null ? "" : String(a.public_release_days), { type: "number", step: "1", min: "0" }),
      choice("Station visibility", "station_visibility", a.station_visibility, VISIBILITIES),
      choice("Satellite visibility", "satellite_visibility", a.satellite_visibility, VISIBILITIES),
      saveAgreement),
    button("Close", () => { open.partner = null; form.hidden = true; }, ""));
  form.hidden = false;
}

const value = (form, name) => form.elements.namedItem(name).value.trim();
const numberOrNull = (text) => (text === "" ? null : Number(text));

async function savePartnerChanges(form) {
  const { id, etag, data } = open.partner;
  const body = {};
  if (value(form, "name") !== data.name) body.name = value(form, "name");
  if (Number(value(form, "contribution_share")) !== data.contribution_share) body.contribution_share = Number(value(form, "contribution_share"));
  if (!Object.keys(body).length) { say("Nothing changed."); return; }
  await write(() => apiWrite("PATCH", `partners/${id}`, body, { etag }), `Partner ${data.code} saved.`,
    () => loadPartners());
}

async function saveAgreementChanges(form) {
  const { id, agreementEtag, agreement: a, data } = open.partner;
  const body = {};
  const share = numberOrNull(value(form, "share"));
  if (share !== (a.share_is_contribution ? null : a.share)) body.share = share;
  for (const name of ["priority_class", "embargo_days"]) {
    if (Number(value(form, name)) !== a[name]) body[name] = Number(value(form, name));
  }
  const release = numberOrNull(value(form, "public_release_days"));
  if (release !== a.public_release_days) body.public_release_days = release;
  for (const name of ["station_visibility", "satellite_visibility"]) {
    if (value(form, name) !== a[name]) body[name] = value(form, name);
  }
  if (!Object.keys(body).length) { say("Nothing changed."); return; }
  await write(() => apiWrite("PATCH", `agreements/${id}`, body, { etag: agreementEtag }),
    `Agreement of ${data.code} saved.`, () => loadPartners());
}

// Run a write; say how it went; reload what it touched (after a 412 too: the new version).
async function write(action, done, reloadAfter) {
  const page = $("#page-manage");
  page.dataset.ready = "false";
  let outcome = null;
  try {
    outcome = await action();
    say(done, "ok");
  } catch (error) {
    if (error.status === undefined) throw error;
    say(writeProblem(error), "error");
    if (![412, 404].includes(error.status)) { page.dataset.ready = "true"; return null; }
  }
  try {
    await reloadAfter(outcome);
  } finally {
    page.dataset.ready = "true";
  }
  return outcome;
}

$("#partner-edit").addEventListener("submit", (event) => event.preventDefault()); // its buttons save
$("#partner-add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { code: value(form, "code"), name: value(form, "name"), contribution_share: Number(value(form, "contribution_share")) };
  const added = await write(() => apiWrite("POST", "partners", body), `Partner ${body.code} added.`, () => loadPartners());
  if (added) form.reset();
});

// --- stations: horizon masks and unavailability ---------------------------------------------

async function loadStations() {
  const { data: stations } = await apiRead("stations");
  state.stations = stations;
  $("#manage-station-table tbody").replaceChildren(...stations.map((s) => {
    const row = el("tr", { tabIndex: 0, dataset: { id: String(s.id), name: s.name } },
      ...cells(s.name, partnerById(s.partner_id)?.code, s.lat_deg.toFixed(2), s.lon_deg.toFixed(2),
        `${s.min_elevation_deg.toFixed(1)}°`, s.horizon_mask ? `${s.horizon_mask.azimuth_deg.length} points` : "none",
        s.g_over_t_db_k === null || s.g_over_t_db_k === undefined ? null : `${s.g_over_t_db_k} dB/K`,
        String(s.unavailable.length)));
    if (open.station?.id === s.id) row.classList.add("selected");
    row.addEventListener("click", () => openStation(s.id).catch((e) => say(e.message, "error")));
    return row;
  }));
  if (open.station && stations.some((s) => s.id === open.station.id)) {
    await openStation(open.station.id);
  } else {
    open.station = null;
    $("#station-editor").replaceChildren(el("p", { textContent: "Select a station to see its horizon mask, antenna and unavailability windows." }));
  }
}

async function openStation(id) {
  const { data: station, etag } = await apiRead(`stations/${id}`);
  open.station = { id, etag, data: station };
  for (const row of document.querySelectorAll("#manage-station-table tbody tr")) {
    row.classList.toggle("selected", row.dataset.id === String(id));
  }
  const writable = mayChange([station.partner_id]);
  const box = $("#station-editor");
  box.dataset.id = String(id);
  box.dataset.etag = etag;
  const plot = svg("svg", { id: "mask-plot", viewBox: "-130 -130 260 260", role: "img", "aria-label": "The station's horizon mask" });
  const mask = station.horizon_mask || { azimuth_deg: [], elevation_deg: [] };
  const body = el("tbody");
  const table = el("table", { id: "mask-table", className: "compact" },
    el("thead", {}, el("tr", {}, el("th", { textContent: "Azimuth (°)" }), el("th", { textContent: "Elevation (°)" }), el("th"))), body);
  const redraw = () => drawMask(plot, maskRows(body), Number(minimum.value));
  const addRow = (az, elev) => {
    const row = el("tr", {}, ...[az, elev].map((v) => el("td", {}, el("input", {
      type: "number", step: "any", value: v === "" ? "" : String(v), readOnly: !writable, className: "mask-value" }))));
    row.append(el("td", {}, ...(writable ? [button("✕", () => { row.remove(); redraw(); })] : [])));
    row.addEventListener("input", redraw);
    body.append(row);
  };
  const minimum = el("input", { name: "min_elevation_deg", type: "number", step: "any", value: String(station.min_elevation_deg),
    readOnly: !writable });
  minimum.addEventListener("input", redraw);
  mask.azimuth_deg.forEach((az, i) => addRow(az, mask.elevation_deg[i]));
  const controls = writable ? [
    button("Add a point", () => { addRow("", ""); redraw(); }),
    button("Save mask", () => saveMask(body, minimum).catch((e) => say(e.message, "error"))),
  ] : [];
  const windows = el("table", { id: "unavailability-table", className: "compact" },
    el("thead", {}, el("tr", {}, ...["Start (UTC)", "End (UTC)", "Kind", "Reason"].map((t) => el("th", { textContent: t })))),
    el("tbody", {}, ...(station.unavailable.length ? station.unavailable.map((w) => el("tr", { dataset: { id: String(w.id) } },
      ...cells(utc(w.start), utc(w.end), w.kind, w.reason || "")))
      : [el("tr", {}, el("td", { colSpan: 4, textContent: "none" }))])));
  const add = el("form", { id: "unavailability-add", className: "editor write" },
    el("h3", { textContent: "Add an unavailability window" }),
    field("Start (UTC)", "start", "", { type: "datetime-local", step: "60", required: true }),
    field("End (UTC)", "end", "", { type: "datetime-local", step: "60", required: true }),
    choice("Kind", "kind", "maintenance", ["maintenance", "outage"]),
    field("Reason", "reason", "", { maxLength: 2000 }),
    el("button", { type: "submit", textContent: "Add" }));
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    addUnavailability(add).catch((e) => say(e.message, "error"));
  });
  box.replaceChildren(
    el("h2", { textContent: `${station.name} (${partnerById(station.partner_id)?.code ?? "?"})` }),
    el("p", { className: "hint", textContent: writable ? `Version ${etag}. Elevations below the mask are not used.`
      : "Read-only: only the owner's operators or an admin change a station." }),
    plot, el("label", {}, "Minimum elevation (°) ", minimum), table, el("div", { className: "toolbar" }, ...controls),
    radioEditor(station, writable),
    el("h3", { textContent: "Unavailability" }), windows, ...(writable ? [add] : []));
  redraw();
}

function maskRows(body) {
  return [...body.querySelectorAll("tr")].map((row) => [...row.querySelectorAll("input")].map((i) => i.value.trim()))
    .filter(([az, elev]) => az !== "" || elev !== "").map(([az, elev]) => [Number(az), Number(elev)]);
}

function drawMask(root, points, minimum) {
  const R = 110;
  const radius = (elev) => ((90 - Math.min(90, Math.max(0, elev))) / 90) * R;
  const at = (az, elev) => [radius(elev) * Math.sin((az * Math.PI) / 180), -radius(elev) * Math.cos((az * Math.PI) / 180)];
  root.replaceChildren();
  for (const elev of [0, 30, 60]) {
    root.append(svg("circle", { r: radius(elev), class: "grid" }), svg("text", { x: 2, y: -radius(elev) + 10, class: "grid-label" }, `${elev}°`));
  }
  for (const [az, label] of [[0, "N"], [90, "E"], [180, "S"], [270, "W"]]) {
    const [x, y] = at(az, 0);
    root.append(svg("line", { x1: 0, y1: 0, x2: x, y2: y, class: "grid" }),
      svg("text", { x: x * 1.09, y: y * 1.09 + 4, class: "compass", "text-anchor": "middle" }, label));
  }
  if (Number.isFinite(minimum) && minimum > 0) root.append(svg("circle", { r: radius(minimum), class: "minimum" }));
  const good = points.filter(([az, elev]) => Number.isFinite(az) && Number.isFinite(elev)).sort((a, b) => a[0] - b[0]);
  root.dataset.points = String(good.length);
  if (!good.length) return;
  // Piecewise linear in azimuth, wrapping round from the last point to the first.
  const curve = [];
  for (let az = 0; az <= 360; az += 2) curve.push(at(az, maskAt(good, az)));
  const ring = (pts) => `M${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}Z`;
  const outer = [];
  for (let az = 0; az <= 360; az += 5) outer.push(at(az, 0));
  root.append(svg("path", { d: ring(outer) + ring(curve), class: "mask", "fill-rule": "evenodd" }));
  for (const [az, elev] of good) {
    const [x, y] = at(az, elev);
    root.append(svg("circle", { cx: x, cy: y, r: 3, class: "mask-point" }));
  }
}

function maskAt(points, az) {
  if (points.length === 1) return points[0][1];
  const n = points.length;
  for (let i = 0; i < n; i += 1) {
    const [a0, e0] = points[i];
    const [a1raw, e1] = points[(i + 1) % n];
    const a1 = i + 1 < n ? a1raw : a1raw + 360;
    let x = az;
    if (x < a0) x += 360;
    if (x >= a0 && x <= a1) return e0 + ((e1 - e0) * (x - a0)) / (a1 - a0 || 1);
  }
  return points[0][1];
}

async function saveMask(body, minimum) {
  const { id, etag, data } = open.station;
  // Points may be typed in any order: the mask is kept by increasing azimuth.
  const points = maskRows(body).sort((a, b) => a[0] - b[0]);
  if (points.some(([az, elev]) => !Number.isFinite(az) || !Number.isFinite(elev))) {
    say("Each point of the mask needs an azimuth and an elevation.", "error");
    return;
  }
  const twice = points.find(([az], i) => i > 0 && az === points[i - 1][0]);
  if (twice) {
    say(`Two points of the mask are at azimuth ${twice[0]}°: keep one.`, "error");
    return;
  }
  const change = {
    horizon_mask: points.length ? { azimuth_deg: points.map((p) => p[0]), elevation_deg: points.map((p) => p[1]) } : null,
  };
  const least = Number(minimum.value);
  if (least !== data.min_elevation_deg) change.min_elevation_deg = least;
  await write(() => apiWrite("PATCH", `stations/${id}`, change, { etag }), `Mask of ${data.name} saved.`, () => loadStations());
}

// The station's antenna: its rotator (null: the default model) and its G/T. The fields
// show the default model's values while the station has none; typing in one makes the
// station's own model, and ticking "the default model" goes back to null.
const DEFAULT_ROTATOR = {
  azimuth_min_deg: 0, azimuth_max_deg: 450, elevation_min_deg: 0, elevation_max_deg: 90,
  azimuth_rate_deg_s: 6, elevation_rate_deg_s: 6, beamwidth_deg: 2,
};
const ROTATOR_FIELDS = [
  ["azimuth_min_deg", "Azimuth from (°)"], ["azimuth_max_deg", "Azimuth to (°)"],
  ["elevation_min_deg", "Elevation from (°)"], ["elevation_max_deg", "Elevation to (°)"],
  ["azimuth_rate_deg_s", "Azimuth rate (°/s)"], ["elevation_rate_deg_s", "Elevation rate (°/s)"],
  ["beamwidth_deg", "Beamwidth (°)"],
];

function radioEditor(station, writable) {
  const shown = station.rotator || DEFAULT_ROTATOR;
  const box = el("fieldset", { id: "radio-editor", className: "radio" },
    el("legend", { textContent: "Antenna and rotator" }));
  const standard = el("input", { type: "checkbox", name: "rotator_default", checked: !station.rotator, disabled: !writable });
  const inputs = ROTATOR_FIELDS.map(([name, label]) => {
    const input = el("input", { name, type: "number", step: "any", value: String(shown[name]), readOnly: !writable });
    input.addEventListener("input", () => { standard.checked = false; });
    box.append(el("label", {}, `${label} `, input));
    return input;
  });
  standard.addEventListener("change", () => {
    if (standard.checked) for (const input of inputs) input.value = String(DEFAULT_ROTATOR[input.name]);
  });
  const gt = el("input", { name: "g_over_t_db_k", type: "number", step: "any", readOnly: !writable,
    value: station.g_over_t_db_k === null || station.g_over_t_db_k === undefined ? "" : String(station.g_over_t_db_k),
    placeholder: "unknown" });
  box.append(el("label", { className: "default" }, standard, " the default model (0..450°, 0..90°, 6°/s, 2° beam)"),
    el("label", {}, "G/T (dB/K; blank: unknown) ", gt));
  if (writable) box.append(button("Save antenna", () => saveRadio(box).catch((e) => say(e.message, "error"))));
  return box;
}

async function saveRadio(box) {
  const { id, etag, data } = open.station;
  const input = (name) => box.querySelector(`input[name=${name}]`);
  let rotator = null;
  if (!input("rotator_default").checked) {
    rotator = {};
    for (const [name, label] of ROTATOR_FIELDS) {
      const text = input(name).value.trim();
      if (text === "") continue; // left blank: the default model's value (the API fills it)
      const number = Number(text);
      if (!Number.isFinite(number)) { say(`${label}: not a number.`, "error"); return; }
      rotator[name] = number;
    }
  }
  const gt = numberOrNull(input("g_over_t_db_k").value.trim());
  const change = {};
  if (JSON.stringify(rotator) !== JSON.stringify(data.rotator)) change.rotator = rotator;
  if (gt !== data.g_over_t_db_k) change.g_over_t_db_k = gt;
  if (!Object.keys(change).length) { say("Nothing changed."); return; }
  await write(() => apiWrite("PATCH", `stations/${id}`, change, { etag }), `Antenna of ${data.name} saved.`,
    () => loadStations());
}

async function addUnavailability(form) {
  const { id, etag, data } = open.station;
  const body = { start: `${value(form, "start")}Z`, end: `${value(form, "end")}Z`, kind: value(form, "kind"), reason: value(form, "reason") };
  for (const key of ["start", "end"]) if (body[key].length === 17) body[key] = body[key].replace("Z", ":00Z");
  await write(() => apiWrite("POST", `stations/${id}/unavailability`, body, { etag }),
    `Unavailability of ${data.name} added.`, () => loadStations());
}

// --- satellites and their element sets -----------------------------------------------------

async function loadSatellites() {
  const [{ data: satellites }, positions] = await Promise.all([apiRead("satellites"),
    api("satellites/positions", { at: iso(state.at) }).catch(() => [])]);
  const fresh = new Map(positions.map((p) => [p.satellite_id, p]));
  $("#satellite-clock").textContent = `Ages at the dashboard's clock, ${utc(state.at)} UTC (set it in the header); `
    + "stale: past the freshness threshold there (docs/elements.md). \"Age now\" is from the service's clock.";
  $("#manage-satellite-table tbody").replaceChildren(...satellites.map((s) => {
    const position = fresh.get(s.id);
    const age = s.latest_epoch ? state.at - new Date(s.latest_epoch) : null;
    const used = position && position.elements_age_days !== null && position.elements_age_days !== undefined
      ? `${position.elements_age_days.toFixed(1)} d` : "—";
    const stale = position ? position.stale : null;
    const row = el("tr", { tabIndex: 0, dataset: { id: String(s.id), stale: String(stale) } },
      ...cells(s.name, String(s.norad_id), operatorsText(s), el("span", { className: "links", textContent: linksText(s.links) }),
        String(s.element_sets), s.latest_epoch ? utc(s.latest_epoch) : "none", age === null ? "—" : days(age), used,
        stale === null ? "unknown" : stale ? "stale" : "fresh"));
    if (stale) row.classList.add("stale");
    row.addEventListener("click", () => openSatellite(s).catch((e) => say(e.message, "error")));
    return row;
  }));
  const again = open.satellite ? satellites.find((s) => s.id === open.satellite.id) : null;
  if (again) {
    await openSatellite(again);
  } else {
    open.satellite = null;
    $("#element-history").hidden = true;
    $("#element-upload").hidden = true;
    $("#link-editor").hidden = true;
  }
}

async function openSatellite(satellite) {
  open.satellite = satellite;
  const [history, read] = await Promise.all([api(`satellites/${satellite.id}/elements`), apiRead(`satellites/${satellite.id}`)]);
  open.satellite = { ...read.data, etag: read.etag };
  drawLinks(open.satellite);
  $("#element-title").textContent = `Element sets of ${satellite.name} (${satellite.norad_id}), newest first`;
  $("#element-table tbody").replaceChildren(...history.map((e) => el("tr", { dataset: { id: String(e.id) } },
    ...cells(String(e.id), utc(e.epoch), days(state.at - new Date(e.epoch)), `${e.age_days.toFixed(1)} d`,
      e.source_kind, e.source, utc(e.received_at), e.chosen ? "yes" : "no"))));
  $("#element-history").hidden = false;
  $("#element-upload").hidden = !mayChange(Object.keys(satellite.operators));
}

// --- a satellite's radio links ---------------------------------------------------------------

const LINK_NUMBERS = [ // [field, column, how it is typed: a factor to the stored unit]
  ["frequency_hz", "Frequency (MHz)", 1e6], ["offset_hz", "Offset (Hz)", 1], ["eirp_dbw", "EIRP (dBW)", 1],
  ["data_rate_bps", "Rate (bit/s)", 1], ["required_eb_n0_db", "Required Eb/N0 (dB)", 1],
  ["polarization_loss_db", "Polarisation loss (dB)", 1],
];

function linksText(links) {
  if (!links?.length) return "none";
  return links.map((l) => `${l.name} ${l.direction === "uplink" ? "↑" : "↓"} ${+(l.frequency_hz / 1e6).toFixed(3)} MHz`).join(", ");
}

function drawLinks(satellite) {
  const writable = mayChange(Object.keys(satellite.operators));
  const body = $("#link-table tbody");
  const box = $("#link-editor");
  box.dataset.id = String(satellite.id);
  box.dataset.etag = satellite.etag;
  $("#link-title").textContent = `Radio links of ${satellite.name}`;
  $("#link-hint").textContent = writable
    ? `Version ${satellite.etag}. The first link each way is the satellite's main one (Doppler tables, link budgets). `
      + "Blank EIRP, rate or Eb/N0: unknown; blank offset or polarisation loss: 0. A transponder is a JSON object "
      + "(uplink_low_hz, uplink_high_hz, downlink_low_hz, downlink_high_hz, inverted); blank: none."
    : "Read-only: only the operators' operators or an admin change a satellite's links.";
  body.replaceChildren();
  for (const link of satellite.links) addLinkRow(body, link, writable);
  if (!satellite.links.length && !writable) body.append(el("tr", {}, el("td", { colSpan: 10, textContent: "none" })));
  const toolbar = $("#link-controls");
  toolbar.replaceChildren(...(writable ? [
    button("Add a link", () => addLinkRow(body, null, true)),
    button("Save links", () => saveLinks(body).catch((e) => say(e.message, "error"))),
  ] : []));
  box.hidden = false;
}

function addLinkRow(body, link, writable) {
  const row = el("tr", { className: "link" });
  row.original = link; // what the row was read as: a value typed again as shown keeps its stored form
  const name = el("input", { name: "name", value: link?.name ?? "", readOnly: !writable, maxLength: 100 });
  const direction = el("select", { name: "direction", disabled: !writable },
    ...["downlink", "uplink"].map((d) => el("option", { value: d, textContent: d })));
  direction.value = link?.direction ?? "downlink";
  row.append(el("td", {}, name), el("td", {}, direction));
  for (const [field, , factor] of LINK_NUMBERS) {
    const stored = link?.[field];
    const text = stored === null || stored === undefined ? "" : String(stored / factor);
    row.append(el("td", {}, el("input", { name: field, type: "number", step: "any", value: text, readOnly: !writable,
      className: "link-value", dataset: { shown: text } })));
  }
  const transponder = el("textarea", { name: "transponder", rows: 3, cols: 30, readOnly: !writable, spellcheck: false,
    value: link?.transponder ? JSON.stringify(link.transponder, null, 1) : "" });
  const summary = link?.transponder ? (link.transponder.inverted ? "inverted" : "normal") : "none";
  row.append(el("td", {}, el("details", {}, el("summary", { textContent: summary }), transponder)));
  row.append(el("td", {}, ...(writable ? [button("✕", () => row.remove())] : [])));
  body.append(row);
  if (writable && !link) name.focus();
}

// The links as the rows say, or a message naming what cannot be read.
function typedLinks(body) {
  const links = [];
  for (const [i, row] of [...body.querySelectorAll("tr.link")].entries()) {
    const input = (name) => row.querySelector(`[name=${name}]`);
    const link = { ...(row.original || {}), name: input("name").value.trim(), direction: input("direction").value };
    const label = link.name || `row ${i + 1}`;
    for (const [field, column, factor] of LINK_NUMBERS) {
      const box = input(field);
      const text = box.value.trim();
      if (row.original && text === box.dataset.shown) continue; // as read: keep the stored value
      if (text === "") {
        if (["offset_hz", "polarization_loss_db", "frequency_hz"].includes(field)) delete link[field];
        else link[field] = null;
        continue;
      }
      const number = Number(text);
      if (!Number.isFinite(number)) return `Link ${label}: ${column} is not a number.`;
      link[field] = factor === 1 ? number : Number((number * factor).toFixed(3));
    }
    const transponder = input("transponder").value.trim();
    if (transponder === "") {
      link.transponder = null;
    } else {
      try {
        link.transponder = JSON.parse(transponder);
      } catch (error) {
        return `Link ${label}: its transponder is not JSON (${error.message}).`;
      }
    }
    links.push(link);
  }
  return links;
}

async function saveLinks(body) {
  const { id, etag, name } = open.satellite;
  const links = typedLinks(body);
  if (typeof links === "string") { say(links, "error"); return; }
  await write(() => apiWrite("PATCH", `satellites/${id}`, { links }, { etag }), `Links of ${name} saved.`,
    () => loadSatellites());
}

$("#element-upload").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const satellite = open.satellite;
  const sent = await write(() => apiWrite("POST", `satellites/${satellite.id}/elements`, form.elements.namedItem("text").value,
    { text: true }), `Element sets of ${satellite.name} uploaded.`, () => loadSatellites());
  if (!sent) return;
  const { stored, already_known: known } = sent.data;
  say(`${satellite.name}: ${stored} new element set${stored === 1 ? "" : "s"} stored, ${known} already known.`);
  form.reset();
});

// --- users and tokens ------------------------------------------------------------------------

async function loadTokens() {
  const me = state.me;
  let users = [];
  if (isAdmin()) {
    users = (await apiRead("users")).data;
    $("#user-table tbody").replaceChildren(...users.map((u) => {
      const row = el("tr", { dataset: { id: String(u.id), name: u.name } },
        ...cells(String(u.id), u.name, u.role, partnerById(u.partner_id)?.code ?? "consortium", utc(u.created_at),
          u.disabled_at ? `disabled ${utc(u.disabled_at)}` : "enabled"));
      row.append(el("td", {},
        button("Tokens", () => { open.user = u; reloadPage("manage", loadManage); }, ""),
        button(u.disabled_at ? "Enable" : "Disable", () => setDisabled(u, !u.disabled_at))));
      if (open.user?.id === u.id) row.classList.add("selected");
      return row;
    }));
    const partnerChoice = $("#user-add select[name=partner_id]");
    partnerChoice.replaceChildren(el("option", { value: "", textContent: "none (admins)" }),
      ...state.partners.map((p) => el("option", { value: String(p.id), textContent: p.code })));
  }
  const user = isAdmin() && open.user ? open.user : { id: me.id, name: me.name };
  const own = user.id === me.id;
  const mayRevoke = isAdmin() || (own && me.role !== "viewer");
  const mayCreate = isAdmin() || (own && me.token.mints && me.role !== "viewer");
  $("#token-title").textContent = own ? "Your tokens" : `Tokens of ${user.name}`;
  const tokens = await api(`users/${user.id}/tokens`);
  const now = new Date();
  $("#token-table tbody").replaceChildren(...tokens.map((t) => {
    const stateText = t.revoked_at ? `revoked ${utc(t.revoked_at)}` : new Date(t.expires_at) <= now ? "expired" : "active";
    const row = el("tr", { dataset: { id: String(t.id), state: stateText.split(" ")[0] } },
      ...cells(String(t.id), t.label || "—", utc(t.created_at), utc(t.expires_at),
        t.last_used_at ? utc(t.last_used_at) : "never", t.mints ? "yes" : "no",
        stateText + (t.id === me.token.id ? " (this session)" : "")));
    row.append(el("td", {}, ...(mayRevoke && !t.revoked_at ? [button("Revoke", () => revoke(t.id))] : [])));
    return row;
  }));
  $("#token-table").dataset.user = String(user.id);
  $("#token-create").hidden = !mayCreate;
  $("#token-revoke").hidden = !mayRevoke;
}

async function setDisabled(user, disabled) {
  await write(() => apiWrite("PATCH", `users/${user.id}`, { disabled }),
    `User ${user.name} ${disabled ? "disabled" : "enabled"}.`, () => loadTokens());
}

async function revoke(id) {
  await write(() => apiWrite("DELETE", `tokens/${id}`), `Token #${id} revoked: it is refused from now on.`, () => loadTokens());
}

$("#token-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const user = isAdmin() && open.user ? open.user : { id: state.me.id, name: state.me.name };
  const body = { label: value(form, "label") };
  if (value(form, "expires_in_days")) body.expires_in_days = Number(value(form, "expires_in_days"));
  const issued = await write(() => apiWrite("POST", `users/${user.id}/tokens`, body),
    `Token created for ${user.name}.`, () => loadTokens());
  if (!issued) return;
  const t = issued.data;
  const box = $("#token-issued");
  box.dataset.id = String(t.id);
  box.replaceChildren(el("p", {}, el("strong", { textContent: `Token #${t.id}` }),
    ` for ${user.name}${t.label ? ` (${t.label})` : ""}, expires ${utc(t.expires_at)} UTC. `
    + "It is shown this once: copy it now. Revoke it by its id."),
  el("code", { className: "token", textContent: t.token }));
  box.hidden = false;
  form.reset();
});

$("#token-revoke").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = Number(value(event.target, "id"));
  if (Number.isInteger(id) && id > 0) await revoke(id);
});

$("#user-add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { name: value(form, "name"), role: value(form, "role") };
  if (value(form, "partner_id")) body.partner_id = Number(value(form, "partner_id"));
  const added = await write(() => apiWrite("POST", "users", body), `User ${body.name} added.`, () => loadTokens());
  if (added) form.reset();
});

for (const tab of document.querySelectorAll("#manage-tabs button")) {
  tab.addEventListener("click", () => {
    section = tab.dataset.section;
    reloadPage("manage", loadManage);
  });
}

export { loadManage };
