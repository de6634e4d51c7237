// The Operations page (docs/dashboard.md, "Operations"): the selected schedule's contacts in
// the clock's window with their lifecycle states, Confirm and Cancel for the station's
// owner's operators (and the admin), each partner's tally, a selected contact's pointing
// plan, Doppler curve, link budget and products, and a live feed of the events the caller
// may see. Text from the API goes into the page as textContent only.

import {
  API, state, $, el, svg, utc, size, iso, api, apiWrite, writeProblem, mayChange, reloadPage,
  partnerById, partnerColour, hours, when, timeMode, timeColumn, degrees, stationById, drawPolar,
} from "./core.js";

const FEED_MOST = 50; // events kept in the feed, newest first
const FEED_RETRY_MS = 5000; // the stream's own "retry:" advice
const MOVABLE = { confirm: ["scheduled"], cancel: ["scheduled", "confirmed"] };

const view = { contacts: [], selected: null, wanted: null, feed: null, events: [] };

const satelliteName = (id) => state.satellites.find((s) => s.id === Number(id))?.name ?? `satellite ${id}`;
const stationName = (id) => stationById(id)?.name ?? `station ${id}`;

function message(text) {
  $("#ops-message").textContent = text || "";
  $("#ops-message").hidden = !text;
}

// --- contacts and the tally -----------------------------------------------------------------

async function loadOperations() {
  message("");
  for (const th of document.querySelectorAll("#ops-contacts th.ops-time")) {
    th.textContent = `${th.textContent.split(" (")[0]} (${timeColumn()})`;
  }
  const body = $("#ops-contacts tbody");
  if (!state.scheduleId) {
    view.contacts = [];
    body.replaceChildren();
    $("#ops-tally tbody").replaceChildren();
    $("#ops-summary").textContent = "No schedule yet.";
    showContact(null);
    return;
  }
  const start = state.at;
  const end = new Date(start.getTime() + state.span * 1000);
  const [contacts] = await Promise.all([
    api("contacts", { schedule_id: state.scheduleId, start: iso(start), end: iso(end) }),
    loadTally(),
  ]);
  view.contacts = contacts;
  $("#ops-contacts").dataset.count = String(contacts.length);
  $("#ops-summary").textContent = `${contacts.length} contacts of schedule #${state.scheduleId} you may see`
    + ` in ${utc(start)} → ${utc(end)} UTC`;
  body.replaceChildren(...contacts.map(contactRow));
  const keep = view.wanted ?? view.selected?.id;
  view.wanted = null;
  const again = contacts.find((c) => c.id === keep);
  if (again) await selectContact(again);
  else showContact(null);
}

function contactRow(c) {
  const station = stationById(c.station_id);
  const at = (value) => (timeMode() === "station" ? when(value, station) : utc(value));
  const row = el("tr", { tabIndex: 0, dataset: { contact: String(c.id), state: c.state } },
    el("td", { className: "id", textContent: String(c.id) }),
    el("td", { className: "satellite", textContent: c.satellite }),
    el("td", { className: "station", textContent: c.station }),
    el("td", { className: "start", textContent: at(c.start) }),
    el("td", { className: "end", textContent: at(c.end) }),
    el("td", { className: "number", textContent: degrees(c.max_elevation_deg) }),
    el("td", { className: "state", title: c.state_reason || "" },
      el("span", { className: `state-badge state-${c.state}`, textContent: c.state })),
    el("td", { className: "number bytes", textContent: c.bytes_received === null ? "—" : size(c.bytes_received) }),
    el("td", { className: "actions" }, ...moveButtons(c, station)));
  if (view.selected?.id === c.id) row.classList.add("selected");
  row.addEventListener("click", (event) => { if (event.target.tagName !== "BUTTON") selectContact(c); });
  row.addEventListener("keydown", (event) => { if (event.key === "Enter" && event.target === row) selectContact(c); });
  return row;
}

// Confirm and Cancel where the caller may move the contact (the station's owner's
// operators, the admin: the API's rule) and its state allows the move.
function moveButtons(c, station) {
  if (!station || !mayChange([station.partner_id])) return [];
  return Object.entries(MOVABLE).filter(([, from]) => from.includes(c.state)).map(([move]) => {
    const button = el("button", { type: "button", className: `move ${move}`,
      textContent: move === "confirm" ? "Confirm" : "Cancel",
      title: move === "confirm" ? "Confirm the contact for the station"
        : "Cancel the contact: later re-plans leave its pass unused" });
    button.addEventListener("click", () => moveContact(c, move, button));
    return button;
  });
}

async function moveContact(c, move, button) {
  button.disabled = true;
  try {
    await apiWrite("POST", `contacts/${c.id}/${move}`, move === "cancel" ? {} : undefined);
    message("");
  } catch (error) {
    message(`${c.satellite} over ${c.station}: ${writeProblem(error)}`);
    button.disabled = false;
    return;
  }
  view.wanted = c.id;
  await reloadPage("operations", loadOperations);
}

// The partners the caller may read the tally of: its own, or every one for the admin.
async function loadTally() {
  const partners = state.me.role === "admin" ? state.partners
    : state.partners.filter((p) => p.id === state.me.partner_id);
  const tallies = await Promise.all(partners.map((p) => api("contacts/tally",
    { partner_id: p.id, schedule_id: state.scheduleId }).catch((error) => ({ partner_id: p.id, error }))));
  $("#ops-tally tbody").replaceChildren(...tallies.map((t) => {
    const partner = partnerById(t.partner_id);
    const name = el("td", {}, el("span", { className: "swatch", style: `background:${partnerColour(t.partner_id)}` }),
      partner ? partner.code : String(t.partner_id));
    if (t.error) return el("tr", { dataset: { partner: String(t.partner_id) } }, name,
      el("td", { colSpan: 8, textContent: t.error.message }));
    const number = (text, field) => el("td", { className: `number ${field}`, textContent: text });
    return el("tr", { dataset: { partner: String(t.partner_id), planned: String(t.planned_contacts),
      delivered: String(t.delivered_contacts) } }, name,
    number(String(t.planned_contacts), "planned"), number(hours(t.planned_s), "planned-s"),
    number(String(t.delivered_contacts), "delivered"), number(hours(t.delivered_s), "delivered-s"),
    number(size(Math.round(t.delivered_bytes)), "bytes"), number(String(t.failed_contacts), "failed"),
    number(String(t.cancelled_contacts), "cancelled"), number(String(t.pending_contacts), "pending"));
  }));
}

// A contact's move told by the feed: its row (when shown) takes the new state at once.
function restate(moved) {
  const c = view.contacts.find((known) => known.id === moved.contact_id);
  if (!c) return;
  Object.assign(c, { state: moved.state, state_reason: moved.reason,
    bytes_received: moved.bytes_received ?? c.bytes_received });
  $(`#ops-contacts tr[data-contact="${c.id}"]`)?.replaceWith(contactRow(c));
}

// --- a selected contact: pointing, Doppler, link budget, products ---------------------------

function showContact(c) {
  view.selected = c;
  $("#ops-contact").hidden = !c;
  for (const row of document.querySelectorAll("#ops-contacts tr.selected")) row.classList.remove("selected");
  if (!c) return;
  $(`#ops-contacts tr[data-contact="${c.id}"]`)?.classList.add("selected");
}

async function selectContact(c) {
  showContact(c);
  const section = $("#ops-contact");
  section.dataset.ready = "false";
  const station = stationById(c.station_id);
  $("#ops-contact-title").textContent = `Contact ${c.id}: ${c.satellite} over ${c.station}`;
  for (const id of ["#ops-polar", "#ops-doppler", "#ops-budget", "#ops-products"]) $(id).replaceChildren();
  for (const id of ["#ops-polar-note", "#ops-doppler-note"]) $(id).textContent = "Loading…";
  const path = `contacts/${c.id}`;
  const [read, pointing, doppler, budget] = await Promise.allSettled([
    api(path), api(`${path}/pointing`, { format: "json" }), api(`${path}/doppler`, { format: "json", step_s: 5 }),
    api(`${path}/link-budget`),
  ]);
  if (view.selected !== c) return;
  const contact = read.status === "fulfilled" ? read.value : c;
  facts($("#ops-contact-facts"), [
    ["Start", when(contact.start, station)], ["End", when(contact.end, station)],
    ["Max elevation", degrees(contact.max_elevation_deg)], ["State", contact.state],
    ["Why", contact.state_reason || "—"],
    ["Started", contact.started_at ? when(contact.started_at, station) : "—"],
    ["Ended", contact.ended_at ? when(contact.ended_at, station) : "—"],
    ["Bytes received", contact.bytes_received === null ? "—" : `${size(contact.bytes_received)} (${contact.bytes_received} B)`],
  ]);
  drawPointing(pointing, station);
  drawDoppler(doppler);
  showBudget(budget);
  const products = read.status === "fulfilled" ? read.value.product_ids : [];
  $("#ops-products").replaceChildren(...(read.status === "rejected"
    ? [el("li", { textContent: read.reason.message })]
    : products.length ? products.map((id) => el("li", { className: "product", textContent: id }))
      : [el("li", { className: "hint", textContent: "None archived from it that you may see." })]));
  section.dataset.ready = "true";
}

function facts(list, pairs) {
  list.replaceChildren(...pairs.flatMap(([term, value]) => [el("dt", { textContent: term }), el("dd", { textContent: value })]));
}

// The commanded track on the sky; a row's lag over half the beamwidth is marked. An axis
// angle past 90° of elevation (a flip-over mount) points where (az + 180, 180 − el) does.
function drawPointing(result, station) {
  const root = $("#ops-polar");
  if (result.status === "rejected") {
    drawPolar(root, [], station);
    $("#ops-polar-note").textContent = `No pointing plan: ${result.reason.message}`;
    return;
  }
  const pass = result.value.passes[0];
  const rows = pass ? pass.rows : [];
  const half = result.value.rotator.beamwidth_deg / 2; // the rotator the plan is for (stored or default)
  const samples = rows.map((r) => (r.elevation_deg > 90
    ? [(r.azimuth_deg + 180) % 360, 180 - r.elevation_deg, r.lag_deg > half]
    : [r.azimuth_deg, r.elevation_deg, r.lag_deg > half]));
  drawPolar(root, samples, station);
  Object.assign(root.dataset, { rows: String(rows.length), halfBeam: String(half) });
  $("#ops-polar-note").textContent = pass
    ? `Pointing plan: ${rows.length} rows, mode ${pass.mode}, pre-position ${pass.preposition_s.toFixed(0)} s,`
      + ` max lag ${degrees(pass.max_lag_deg, 2)}; ${pass.lag_over_half_beam_s.toFixed(0)} s beyond half the`
      + ` ${degrees(half * 2, 1)} beamwidth.`
    : "The pointing plan has no rows.";
}

// The frequency offset from the link's nominal frequency against time, as an SVG line.
function drawDoppler(result) {
  const root = $("#ops-doppler");
  const W = 460, H = 260, left = 56, right = 10, top = 12, bottom = 30;
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  root.replaceChildren();
  if (result.status === "rejected") {
    $("#ops-doppler-note").textContent = `No Doppler curve: ${result.reason.message}`;
    return;
  }
  const doc = result.value;
  const rows = doc.passes[0]?.rows ?? [];
  root.dataset.rows = String(rows.length);
  if (rows.length < 2) { $("#ops-doppler-note").textContent = "The Doppler table has too few rows to draw."; return; }
  const t0 = new Date(rows[0].time).getTime();
  const ts = rows.map((r) => (new Date(r.time).getTime() - t0) / 1000);
  const khz = rows.map((r) => (r.frequency_hz - doc.nominal_frequency_hz) / 1e3);
  const lo = Math.min(0, ...khz), hi = Math.max(0, ...khz), span = Math.max(hi - lo, 1e-3);
  const tEnd = Math.max(ts[ts.length - 1], 1);
  const x = (t) => left + (t / tEnd) * (W - left - right);
  const y = (v) => top + ((hi - v) / span) * (H - top - bottom);
  root.append(
    svg("line", { x1: left, y1: top, x2: left, y2: H - bottom, class: "axis" }),
    svg("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, class: "axis" }),
    svg("line", { x1: left, y1: y(0), x2: W - right, y2: y(0), class: "zero" }),
    svg("text", { x: left - 4, y: y(hi) + 4, "text-anchor": "end" }, `${hi.toFixed(1)} kHz`),
    svg("text", { x: left - 4, y: y(lo) + 4, "text-anchor": "end" }, `${lo.toFixed(1)} kHz`),
    svg("text", { x: left, y: H - 12 }, utc(rows[0].time).slice(11)),
    svg("text", { x: W - right, y: H - 12, "text-anchor": "end" }, `${utc(rows[rows.length - 1].time).slice(11)} UTC`),
    svg("polyline", { class: "doppler-line",
      points: ts.map((t, i) => `${x(t).toFixed(1)},${y(khz[i]).toFixed(1)}`).join(" ") }));
  $("#ops-doppler-note").textContent = `Doppler of ${doc.link} (${doc.uplink ? "uplink: to transmit" : "downlink: received"}),`
    + ` offset from ${(doc.nominal_frequency_hz / 1e6).toFixed(4)} MHz, every 5 s.`;
}

function showBudget(result) {
  const list = $("#ops-budget");
  if (result.status === "rejected") {
    list.replaceChildren(el("dt", { textContent: "Not computed" }), el("dd", { className: "problem", textContent: result.reason.message }));
    return;
  }
  const b = result.value;
  const db = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(1)} dB`);
  facts(list, [
    ["Link", `${b.link}, ${(b.frequency_hz / 1e6).toFixed(4)} MHz`],
    ["Eb/N0", `min ${db(b.min_eb_n0_db)}, max ${db(b.max_eb_n0_db)} (required ${db(b.required_eb_n0_db)})`],
    ["Closed", `${b.closed_s.toFixed(0)} s of ${((new Date(b.end) - new Date(b.start)) / 1000).toFixed(0)} s`],
    ["Volume", `${size(Math.round(b.volume_bytes))}${b.data_rate_bps ? ` at ${(b.data_rate_bps / 1e6).toFixed(2)} Mbit/s` : ""}`],
    ["G/T", `${b.g_over_t_db_k.toFixed(1)} dB/K`],
  ]);
}

// --- the live events feed: GET /events/stream with the token (an EventSource cannot send it) ---

function eventText(e) {
  const p = e.payload || {};
  switch (e.kind) {
    case "contact.state":
      return `${satelliteName(p.satellite_id)} over ${stationName(p.station_id)} (contact ${p.contact_id}):`
        + ` ${p.previous_state} → ${p.state}${p.reason ? `: ${p.reason}` : ""}`;
    case "schedule.created":
      return `schedule #${p.schedule_id} (${p.policy}, ${p.status})${p.replaces_id ? `, replaces #${p.replaces_id}` : ""}`;
    case "station.outage":
      return `${p.station ?? stationName(p.station_id)}: ${p.kind} ${utc(p.start)} → ${utc(p.end)}${p.reason ? `: ${p.reason}` : ""}`;
    case "elements.refreshed":
      return `${satelliteName(p.satellite_id)}: ${p.stored} element sets (${p.source})`;
    case "elements.stale":
      return `${satelliteName(p.satellite_id)}: newest elements ${Number(p.age_days).toFixed(1)} days old`;
    case "product.archived":
      return `${p.product_id} (${p.instrument}, ${p.processing_level})`;
    case "product.released":
      return `${p.product_id} released to the ${p.release}`;
    default:
      return JSON.stringify(p).slice(0, 160);
  }
}

function addEvents(events) {
  for (const e of events) {
    if (view.events.some((known) => known.id === e.id)) continue;
    view.events.push(e);
  }
  view.events.sort((a, b) => b.id - a.id);
  view.events.length = Math.min(view.events.length, FEED_MOST);
  $("#ops-events").replaceChildren(...view.events.map((e) => el("li", { dataset: { event: String(e.id), kind: e.kind } },
    el("span", { className: "event-kind", textContent: e.kind }),
    el("span", { className: "event-at", textContent: utc(e.at) }),
    el("span", { className: "event-text", textContent: eventText(e) }))));
}

function feedState(text) {
  $("#ops-feed-state").textContent = text;
  $("#ops-events").dataset.state = text;
}

// Open the feed (once): the newest events the caller may see (one request), then the
// stream from the newest one read.
function startFeed() {
  if (view.feed || !state.token) return;
  const feed = { controller: new AbortController(), after: 0, token: state.token };
  view.feed = feed;
  view.events = [];
  $("#ops-events").replaceChildren();
  feedState("connecting");
  runFeed(feed);
}

function stopFeed() {
  if (!view.feed) return;
  view.feed.controller.abort();
  view.feed = null;
  feedState("closed");
}

async function runFeed(feed) {
  try {
    const newest = await api("events", { order: "newest", limit: FEED_MOST });
    if (view.feed !== feed) return;
    addEvents(newest);
    if (newest.length) feed.after = newest[0].id;
  } catch (error) {
    if (view.feed === feed) feedState(`could not read the events: ${error.message}`);
  }
  while (view.feed === feed) {
    try {
      await readStream(feed);
      if (view.feed === feed) feedState("ended; reconnecting");
    } catch (error) {
      if (view.feed !== feed) return;
      feedState(`interrupted (${error.message}); reconnecting`);
    }
    await new Promise((resolve) => { setTimeout(resolve, FEED_RETRY_MS); });
  }
}

// One connection: ``id:``, ``event:`` and ``data:`` lines, a blank line ending each message;
// a line starting with ":" is a comment (keep-alive).
async function readStream(feed) {
  const url = new URL(`${API}/events/stream`, location.origin);
  url.searchParams.set("after", String(feed.after));
  const response = await fetch(url, { signal: feed.controller.signal, cache: "no-store",
    headers: { Authorization: `Bearer ${feed.token}`, Accept: "text/event-stream" } });
  if (!response.ok) {
    if (response.status === 401 && state.me) state.onUnauthorised?.();
    throw new Error(`${response.status} ${response.statusText}`);
  }
  feedState("live");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { id: null, event: "message", data: [] };
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") message.id = text;
        else if (field === "event") message.event = text;
        else if (field === "data") message.data.push(text);
      }
      if (!message.data.length) continue;
      if (view.feed !== feed) return;
      const event = JSON.parse(message.data.join("\n"));
      if (message.id !== null && /^\d+$/.test(message.id)) feed.after = Math.max(feed.after, Number(message.id));
      addEvents([event]);
      if (event.kind === "contact.state") restate(event.payload);
    }
  }
}

// The Timeline's contact details link here: select that contact once the page shows it.
function openContact(id) {
  view.wanted = id;
}

export { loadOperations, startFeed, stopFeed, openContact };
