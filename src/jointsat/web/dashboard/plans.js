// The Requests and Plans pages: the partners' observation requests, and a plan of the
// pooled satellites' observations on a timeline per satellite with what each partner was
// served against what it requested (docs/dashboard.md). What is drawn is what the API answers
// to the signed-in token: a partner sees its own requests and observations in full and
// the others' observations only as busy slots.
/* global vis */

import {
  state, $, el, utc, percent, api, ApiError, reloadPage, partnerById, partnerByCode, partnerColour,
} from "./core.js";

// --- requests ----------------------------------------------------------------------------

const fixed = (value, digits = 2) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));

function requestTarget(r) {
  return r.kind === "sky" ? `RA ${fixed(r.ra_deg, 3)}°, Dec ${fixed(r.dec_deg, 3)}°`
    : `${fixed(r.lat_deg, 3)}°, ${fixed(r.lon_deg, 3)}°`;
}

function requestTerms(r) {
  if (r.kind === "sky") {
    return `${fixed(r.duration_s, 0)} s${r.eclipse_only ? ", in eclipse" : ""}, Sun ≥ ${fixed(r.min_sun_angle_deg, 0)}°`;
  }
  const sun = r.min_sun_elevation_deg === null ? "" : `, Sun ≥ ${fixed(r.min_sun_elevation_deg, 0)}°`;
  return `${r.mode}, off-nadir ≤ ${fixed(r.max_off_nadir_deg, 0)}°${sun}`;
}

function emptyState(box, lines) {
  box.replaceChildren(...lines.map((line) => el("p", {}, ...line.map((part) => (
    typeof part === "string" ? part : el("code", { textContent: part.code }))))));
  box.hidden = false;
}

async function loadRequests() {
  const choice = $("#request-partner");
  const chosen = choice.value;
  const own = state.me.partner_id;
  const choices = state.me.role === "admin" ? state.partners : state.partners.filter((p) => p.id === own);
  choice.replaceChildren(el("option", { value: "", textContent: state.me.role === "admin" ? "all" : "yours" }),
    ...choices.map((p) => el("option", { value: String(p.id), textContent: `${p.code} — ${p.name}` })));
  choice.value = choices.some((p) => String(p.id) === chosen) ? chosen : "";
  choice.parentElement.hidden = state.me.role !== "admin"; // the others see their own partner's only
  const requests = await api("requests", { partner_id: choice.value });
  $("#request-count").textContent = `${requests.length} request${requests.length === 1 ? "" : "s"}`
    + (state.me.role === "admin" ? "" : " (a partner sees its own requests only)");
  const empty = $("#requests-empty");
  if (!requests.length) {
    emptyState(empty, [
      ["No observation requests yet. A partner's operators (or the admin) add them with ",
        { code: "jointsat requests import FILE --partner CODE" }, " (a JSON list of requests) or ",
        { code: "POST /api/v1/requests" }, "; docs/planning.md describes a request's fields."]]);
  } else {
    empty.hidden = true;
  }
  const byPartner = new Map();
  for (const r of requests) {
    const row = byPartner.get(r.partner_id) || { count: 0, earth: 0, sky: 0, gain: 0, code: r.partner };
    row.count += 1;
    row[r.kind] += 1;
    row.gain += r.gain;
    byPartner.set(r.partner_id, row);
  }
  $("#request-summary tbody").replaceChildren(...[...byPartner.entries()].sort((a, b) => a[0] - b[0])
    .map(([id, row]) => el("tr", { dataset: { partner: row.code, count: String(row.count), gain: String(row.gain) } },
      el("td", {}, el("span", { className: "swatch", style: `background:${partnerColour(id)}` }),
        `${row.code} — ${partnerById(id)?.name ?? ""}`),
      ...[row.count, row.earth, row.sky, row.gain].map((n) => el("td", { className: "number", textContent: String(n) })))));
  $("#request-table tbody").replaceChildren(...requests.map((r) => el("tr", { dataset: { id: String(r.id), partner: r.partner } },
    el("td", { textContent: String(r.id) }),
    el("td", {}, el("span", { className: "swatch", style: `background:${partnerColour(r.partner_id)}` }), r.partner),
    el("td", { textContent: r.kind }),
    el("td", { textContent: requestTarget(r) }),
    el("td", { className: "number", textContent: String(r.gain) }),
    el("td", { textContent: r.window ? `${utc(r.window.start)} → ${utc(r.window.end)}` : "any time" }),
    el("td", { textContent: r.satellites.length ? r.satellites.join(", ") : "any" }),
    el("td", { textContent: requestTerms(r) }),
    el("td", { textContent: utc(r.updated_at) }),
    el("td", { textContent: r.created_by ?? "—" }))));
}

// --- plans --------------------------------------------------------------------------------

let planTimeline = null;
let planId = null;

function planDetails(title, facts) {
  const list = el("dl", { className: "facts" });
  for (const [term, value] of facts) list.append(el("dt", { textContent: term }), el("dd", { textContent: value }));
  $("#plan-details").replaceChildren(el("h2", { textContent: title }), list);
}

const minutes = (start, end) => `${((new Date(end) - new Date(start)) / 60000).toFixed(1)} min`;

async function loadPlans() {
  const list = await api("plans");
  const choice = $("#plan-choice");
  choice.replaceChildren(...list.map((p) => el("option", { value: String(p.id),
    textContent: `#${p.id} ${p.objective} ${utc(p.start)} → ${utc(p.end)}` })));
  if (!list.length) {
    choice.append(el("option", { value: "", textContent: "no plan yet" }));
    if (planTimeline) { planTimeline.destroy(); planTimeline = null; }
    $("#plan-body").hidden = true;
    $("#plan-summary").textContent = "";
    emptyState($("#plans-empty"), [
      ["No plan yet. The admin plans the requests with ",
        { code: "jointsat plan --from-store --start 2024-05-10T00:00:00Z --days 1" },
        " (or POST /api/v1/plans); the plan's downlinks are the contacts of a schedule of the same window (",
        { code: "jointsat schedule" }, ")."]]);
    return;
  }
  $("#plans-empty").hidden = true;
  $("#plan-body").hidden = false;
  if (!list.some((p) => p.id === planId)) planId = list[0].id;
  choice.value = String(planId);
  await drawPlan(await api(`plans/${planId}`));
}

async function drawPlan(plan) {
  const page = $("#page-plans");
  page.dataset.plan = String(plan.id);
  $("#plan-details").replaceChildren(el("p", { textContent: "Click an observation or a downlink for its details." }));
  let schedule = null;
  let scheduleNote = plan.provenance.downlinks || "";
  if (plan.provenance.schedule_id) {
    try {
      schedule = await api(`schedules/${plan.provenance.schedule_id}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      scheduleNote = `schedule ${plan.provenance.schedule_id}: ${error.message}`;
    }
  }
  // One row per satellite the plan names and the caller may see, then any it only meets
  // in an observation, then a row for its own observations on satellites hidden from it.
  const groups = new Map();
  const addGroup = (id, name) => {
    if (!groups.has(id)) groups.set(id, { id, order: groups.size, content: name });
  };
  for (const norad of plan.provenance.satellites || []) {
    const satellite = state.satellites.find((s) => s.norad_id === Number(norad));
    if (satellite) addGroup(satellite.id, `${satellite.name} (${satellite.norad_id})`);
  }
  for (const o of [...plan.observations, ...plan.busy]) {
    if (o.satellite_id !== null) addGroup(o.satellite_id, `${o.satellite} (${o.norad_id})`);
  }
  if (plan.observations.some((o) => o.satellite_id === null)) addGroup("hidden", "a satellite hidden from you");
  const details = new Map();
  const items = [];
  const colourOf = (code) => partnerColour(partnerByCode(code)?.id);
  plan.observations.forEach((o, i) => {
    const id = `o${i}`;
    details.set(id, o);
    items.push({ id, group: o.satellite_id ?? "hidden", subgroup: "a-obs", sgOrder: 0, start: o.start, end: o.end,
      className: "observation", style: `background:${colourOf(o.partner)}`,
      content: el("span", { textContent: `${o.partner} ${o.request}`, title: `${o.partner}: request ${o.request}` }) });
  });
  plan.busy.forEach((b, i) => {
    const id = `b${i}`;
    details.set(id, b);
    items.push({ id, group: b.satellite_id, subgroup: "a-obs", sgOrder: 0, start: b.start, end: b.end,
      className: "busy", style: `border-color:${colourOf(b.partner)}`,
      content: el("span", { textContent: b.partner, title: `busy: ${b.partner}'s observation` }) });
  });
  let downlinks = 0;
  (schedule ? schedule.contacts : []).forEach((c, i) => {
    if (!groups.has(c.satellite_id)) return;
    if (new Date(c.end) <= new Date(plan.start) || new Date(c.start) >= new Date(plan.end)) return;
    const id = `d${i}`;
    details.set(id, c);
    downlinks += 1;
    items.push({ id, group: c.satellite_id, subgroup: "b-down", sgOrder: 1, start: c.start, end: c.end,
      className: "downlink", content: el("span", { textContent: c.station, title: `downlink at ${c.station}` }) });
  });
  if (planTimeline) planTimeline.destroy();
  planTimeline = new vis.Timeline($("#plan-timeline"), new vis.DataSet(items), new vis.DataSet([...groups.values()]), {
    stack: false, stackSubgroups: true, subgroupOrder: "sgOrder", orientation: "top",
    start: new Date(plan.start), end: new Date(plan.end), zoomMin: 60 * 1000, zoomMax: 31 * 86400 * 1000,
    showCurrentTime: false, selectable: true, multiselect: false,
    margin: { item: { horizontal: 0, vertical: 2 } },
  });
  const describe = (id) => {
    const what = details.get(id);
    if (!what) return;
    if (id.startsWith("o")) {
      const target = what.target || {};
      planDetails("Observation", [["Partner", what.partner], ["Request", what.request],
        ["Satellite", what.satellite ? `${what.satellite} (${what.norad_id})` : "hidden from you"],
        ["Start", `${utc(what.start)} UTC`], ["End", `${utc(what.end)} UTC`], ["Duration", minutes(what.start, what.end)],
        ...(what.second_start ? [["Second look", `${utc(what.second_start)} UTC`]] : []),
        ["Gain", String(what.gain)], ["Data", `${what.volume_mbit.toFixed(0)} Mbit`],
        ["Off-nadir", what.off_nadir_deg === null ? "—" : `${what.off_nadir_deg.toFixed(1)}°`],
        ["Target", target.kind === "sky" ? `RA ${fixed(target.ra_deg, 3)}°, Dec ${fixed(target.dec_deg, 3)}°`
          : `${fixed(target.lat_deg, 3)}°, ${fixed(target.lon_deg, 3)}°`]]);
    } else if (id.startsWith("b")) {
      planDetails("Busy (another partner's observation)", [["Partner", what.partner],
        ["Satellite", `${what.satellite} (${what.norad_id})`], ["Start", `${utc(what.start)} UTC`],
        ["End", `${utc(what.end)} UTC`], ["Duration", minutes(what.start, what.end)]]);
    } else {
      planDetails("Downlink", [["Satellite", `${what.satellite} (${what.norad_id})`], ["Station", what.station],
        ["Start", `${utc(what.start)} UTC`], ["End", `${utc(what.end)} UTC`], ["Duration", minutes(what.start, what.end)],
        ["Schedule", `#${plan.provenance.schedule_id}`]]);
    }
  };
  planTimeline.on("select", ({ items: chosen }) => describe(chosen[0]));
  // The same, as a table: a click on a row selects it on the timeline, the hour round it in view.
  const rows = [...details.entries()].filter(([id]) => !id.startsWith("d"))
    .sort((a, b) => (a[1].start < b[1].start ? -1 : a[1].start > b[1].start ? 1 : 0));
  $("#plan-observations tbody").replaceChildren(...rows.map(([id, o]) => {
    const busy = id.startsWith("b");
    const row = el("tr", { tabIndex: 0, className: busy ? "busy" : "", dataset: { item: id, kind: busy ? "busy" : "observation" } },
      el("td", { textContent: utc(o.start) }), el("td", { textContent: minutes(o.start, o.end) }),
      el("td", { textContent: o.satellite ? `${o.satellite} (${o.norad_id})` : "hidden from you" }),
      el("td", {}, el("span", { className: "swatch", style: `background:${colourOf(o.partner)}` }), o.partner),
      el("td", { textContent: busy ? "busy (another partner's)" : o.request }),
      el("td", { className: "number", textContent: busy ? "" : String(o.gain) }));
    const choose = () => {
      planTimeline.setSelection([id]);
      const half = 30 * 60 * 1000; // half an hour either side: the neighbours and downlinks show
      planTimeline.setWindow(new Date(new Date(o.start).getTime() - half), new Date(new Date(o.end).getTime() + half),
        { animation: false });
      describe(id);
    };
    row.addEventListener("click", choose);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") choose(); });
    return row;
  }));
  const timelineNode = $("#plan-timeline");
  timelineNode.dataset.observations = String(plan.observations.length);
  timelineNode.dataset.busy = String(plan.busy.length);
  timelineNode.dataset.downlinks = String(downlinks);
  timelineNode.dataset.groups = String(groups.size);
  $("#plan-summary").textContent = `${plan.observations.length} observations in full, ${plan.busy.length} busy slots`
    + (plan.hidden_observations ? `, ${plan.hidden_observations} on satellites hidden from you` : "")
    + `, ${downlinks} downlinks`;
  const facts = [["Plan", `#${plan.id}, ${plan.objective}`, ""], ["Window", `${utc(plan.start)} → ${utc(plan.end)} UTC`, ""],
    ["Made", `${utc(plan.created_at)} UTC`, ""], ["Status", plan.status, "status"],
    ["Total gain", String(plan.total_gain), "total-gain"], ["Solver gap", percent(plan.gap), "gap"],
    ["Fairness gap", percent(plan.fairness_gap), "fairness-gap"], ["Solver", plan.solver, ""],
    ["Downlinks", scheduleNote, ""]];
  $("#plan-facts").replaceChildren(...facts.flatMap(([term, value, name]) => [el("dt", { textContent: term }),
    el("dd", { textContent: value, dataset: name ? { field: name } : {} })]));
  $("#plan-legend").replaceChildren(...state.partners.map((p) => el("li", {},
    el("span", { className: "swatch", style: `background:${partnerColour(p.id)}` }), p.code)),
  el("li", {}, el("span", { className: "swatch busy" }), "another partner's observation (busy)"),
  el("li", {}, el("span", { className: "swatch downlink" }), "downlink (a contact of the schedule)"));
  drawGains(plan);
  const reasons = new Map();
  for (const u of plan.unserved) reasons.set(u.reason, [...(reasons.get(u.reason) || []), u.request]);
  const byNumber = (a, b) => (Number(a) - Number(b)) || a.localeCompare(b);
  $("#plan-unserved tbody").replaceChildren(...(reasons.size ? [...reasons.entries()].map(([reason, ids]) => el("tr",
    { dataset: { count: String(ids.length) } }, el("td", { textContent: reason }), el("td", { className: "number", textContent: String(ids.length) }),
    el("td", { className: "wrap", textContent: ids.sort(byNumber).join(", ") })))
    : [el("tr", {}, el("td", { colSpan: 3, textContent: "none" }))]));
}

function drawGains(plan) {
  const codes = Object.keys(plan.partners).sort((a, b) => (partnerByCode(a)?.id ?? 1e9) - (partnerByCode(b)?.id ?? 1e9)
    || a.localeCompare(b));
  $("#plan-gains tbody").replaceChildren(...codes.map((code) => {
    const g = plan.partners[code];
    const served = g.requested_gain ? g.gain / g.requested_gain : null;
    const partner = partnerByCode(code);
    return el("tr", { dataset: { partner: code, requested: String(g.requested_gain), reachable: String(g.reachable_gain),
      served: String(g.gain), entitled: String(g.share_entitled), received: String(g.share_received) } },
    el("td", {}, el("span", { className: "swatch", style: `background:${partnerColour(partner?.id)}` }),
      partner ? `${code} — ${partner.name}` : code),
    el("td", { className: "number requested", textContent: String(g.requested_gain) }),
    el("td", { className: "number reachable", textContent: String(g.reachable_gain) }),
    el("td", { className: "number served", textContent: String(g.gain) }),
    el("td", { className: "ratio" },
      el("span", { className: "bar", style: `width:${((served ?? 0) * 6).toFixed(1)}rem;background:${partnerColour(partner?.id)}` }),
      served === null ? "nothing requested" : percent(served)),
    el("td", { className: "number entitled", textContent: percent(g.share_entitled) }),
    el("td", { className: "number received", textContent: percent(g.share_received) }),
    el("td", { className: "number", textContent: g.normalized.toFixed(1) }));
  }));
}

$("#request-partner").addEventListener("change", () => reloadPage("requests", loadRequests));
$("#request-filters").addEventListener("submit", (event) => event.preventDefault());
$("#plan-choice").addEventListener("change", () => {
  planId = Number($("#plan-choice").value) || null;
  reloadPage("plans", loadPlans);
});

export { loadRequests, loadPlans };
