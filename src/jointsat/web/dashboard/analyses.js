// The Archive page's analyses (docs/dashboard.md, docs/analysis.md). Beside each product,
// the runs that read it (a badge per run: its pipeline and status) and the derived
// products they made, or, for a derived product, the products it was derived from. A
// click on a product opens its results under the table: a transit search's candidates
// and plots, an NDVI series as a chart with its table, a failed run's error (and Retry,
// for who may retry it). What is drawn is what the API answers to the signed-in token: a
// run appears to who sees every product it reads, what it made to who may see the
// derived product; a done run whose result the caller may not see yet says so.

import {
  $, el, svg, utc, api, apiWrite, ApiError, state, notify, writeProblem, mayChange, partnerByCode,
} from "./core.js";

const KIND = "jointsat:kind";
const PROVENANCE = "jointsat:provenance";
const KINDS = {
  "light-curve": "light curve", "optical-l2a": "optical L2A",
  "transit-search": "transit search", "ndvi-series": "NDVI series",
};
const NOT_RELEASED = "result not released to you yet";
const POLL_MS = 4000; // while a shown run waits or runs, its product's runs are read again

// products: what the table lists (id -> product); runs: every run the caller sees;
// reads: product id -> the runs reading it (newest first); made: product id -> its run.
const view = { products: new Map(), runs: [], reads: new Map(), made: new Map(), shown: null,
  runId: null, timer: null, problem: null, pipelines: [], areas: [], picked: new Set(), reload: null };

const short = (id) => (id && id.length > 12 ? `${id.slice(0, 10)}…` : String(id));
const fixed = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
const kindOf = (product) => product?.properties?.[KIND] ?? null;

// The runs the table's products need: every run the caller sees, indexed by product.
// ``reload``: reads the table again (app.js's search), for a run that made a new product.
function setArchive(products, runs, problem = null, reload = null) {
  view.reload = reload;
  view.products = new Map(products.map((p) => [p.id, p]));
  view.problem = problem;
  view.picked = new Set([...view.picked].filter((id) => view.products.has(id)));
  indexRuns(runs);
  showPicked();
  schedulePoll();
}

function indexRuns(runs) {
  view.runs = [...runs].sort((a, b) => b.id - a.id);
  view.reads = new Map();
  view.made = new Map();
  for (const run of view.runs) {
    for (const id of run.products) {
      if (!view.reads.has(id)) view.reads.set(id, []);
      view.reads.get(id).push(run);
    }
    if (run.product_id) view.made.set(run.product_id, run);
  }
}

// A button that opens a product's results (and selects its row when the table lists it).
function productLink(id, className = "") {
  const link = el("button", { type: "button", className: `product-link ${className}`.trim(),
    textContent: short(id), title: `Product ${id}: show its results`, dataset: { product: id } });
  link.addEventListener("click", () => showResults(id));
  return link;
}

function badge(run) {
  const title = `Run ${run.id}: ${run.pipeline} ${run.version}, ${run.status}`
    + ` (${run.trigger}${run.partner ? `, by ${run.partner}` : ""})`
    + (run.error ? `: ${run.error}` : "")
    + (run.status === "done" && !run.product_id ? `; ${NOT_RELEASED}` : "");
  return el("span", { className: `run-badge status-${run.status}`, title,
    dataset: { run: String(run.id), status: run.status, pipeline: run.pipeline } },
  `${run.pipeline} ${run.status}`);
}

// The Analyses cell of a product's row.
function analysesCell(product) {
  const parts = [];
  const kind = kindOf(product);
  if (view.pipelines.some((p) => p.reads === kind)) {
    const box = el("input", { type: "checkbox", className: "pick", checked: view.picked.has(product.id),
      title: "Tick to run an analysis on it (the form above the table)", dataset: { product: product.id } });
    box.addEventListener("change", () => {
      if (box.checked) view.picked.add(product.id);
      else view.picked.delete(product.id);
      showPicked();
    });
    parts.push(box);
  }
  if (kind) parts.push(el("span", { className: "kind", textContent: KINDS[kind] ?? kind }));
  if (product.derived_from?.length) {
    parts.push(el("span", { className: "derived-from" }, "derived from ",
      ...product.derived_from.map((id) => productLink(id, "source"))));
  }
  for (const run of view.reads.get(product.id) ?? []) {
    const item = el("span", { className: "run" }, badge(run));
    if (run.status === "done" && run.product_id) item.append(" → ", productLink(run.product_id, "derived"));
    else if (run.status === "done") item.append(el("span", { className: "not-released", textContent: " (not released to you yet)" }));
    parts.push(item);
  }
  if (view.problem && !parts.length) parts.push(el("span", { className: "hint", textContent: "runs unavailable" }));
  if (product.derived_from?.length || view.reads.has(product.id)) {
    const open = el("button", { type: "button", className: "results", textContent: "results",
      title: "Show this product's analyses and results under the table" });
    open.addEventListener("click", () => showResults(product.id));
    parts.push(open);
  }
  return parts.length ? parts : ["—"];
}

// A row of the archive's table opens its product's results when clicked (not its buttons).
function wireRow(row, product) {
  row.dataset.product = product.id;
  row.classList.add("clickable");
  row.addEventListener("click", (event) => {
    if (event.target.closest("button, a, input")) return;
    showResults(product.id);
  });
}

function redrawCells(ids) {
  for (const row of document.querySelectorAll("#archive-table tbody tr")) {
    const product = view.products.get(row.dataset.product);
    if (product && ids.has(product.id)) row.querySelector("td.analyses")?.replaceChildren(...analysesCell(product));
  }
}

async function productById(id) {
  if (view.products.has(id)) return view.products.get(id);
  return api(`products/${encodeURIComponent(id)}`);
}

// A file of a product, fetched with the token (an <img src> or a link cannot send it).
async function fetchFile(file) {
  const response = await fetch(file.href, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) throw new ApiError(response.status, response.statusText);
  return response;
}

// An image file as a data: URL, which the CSP's img-src allows ('self' data:), so that the
// policy needs no blob: for it.
async function imageUrl(file) {
  const blob = await (await fetchFile(file)).blob();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function closeResults() {
  view.shown = null;
  view.runId = null;
  $("#archive-results").hidden = true;
  $("#archive-results").replaceChildren();
  for (const row of document.querySelectorAll("#archive-table tbody tr.selected")) row.classList.remove("selected");
}

// Signed out: nothing of the last caller's stays.
function resetAnalyses() {
  clearTimeout(view.timer);
  closeResults();
  Object.assign(view, { products: new Map(), runs: [], reads: new Map(), made: new Map(), problem: null,
    pipelines: [], areas: [], picked: new Set(), reload: null });
  $("#archive-run").hidden = true;
}

// After the table is read again: the product shown stays shown, read anew.
async function reshowResults() {
  if (view.shown) await showResults(view.shown, view.runId);
}

// The results of a product: its runs, and the chosen run's result (``runId``; by default
// the run that made it, else the newest done run that read it and whose result is shown).
async function showResults(id, runId = null) {
  const panel = $("#archive-results");
  view.shown = id;
  view.runId = runId;
  panel.hidden = false;
  panel.dataset.ready = "false";
  panel.dataset.product = id;
  delete panel.dataset.run;
  for (const row of document.querySelectorAll("#archive-table tbody tr")) {
    row.classList.toggle("selected", row.dataset.product === id);
  }
  const close = el("button", { type: "button", className: "close", textContent: "Close" });
  close.addEventListener("click", closeResults);
  try {
    let product;
    try {
      product = await productById(id);
    } catch (error) {
      if (error.status !== 404) throw error;
      panel.replaceChildren(el("div", { className: "results-head" }, el("h2", { className: "sub", textContent: `Product ${short(id)}` }), close),
        el("p", { className: "empty", textContent: `You may not see product ${id} (or it does not exist).` }));
      return;
    }
    if (view.shown !== id) return;
    const kind = kindOf(product);
    const made = view.made.get(id) ?? null;
    const reads = view.reads.get(id) ?? [];
    const runs = made ? [made, ...reads] : reads;
    const chosen = runs.find((r) => r.id === runId)
      ?? made ?? reads.find((r) => r.status === "done" && r.summary) ?? null;
    const head = el("div", { className: "results-head" },
      el("h2", { className: "sub", textContent: `Analyses of ${KINDS[kind] ?? "product"} ${short(id)}` }), close);
    const body = el("div", { id: "results-body" });
    panel.replaceChildren(head, facts(product, made), runTable(runs, id, chosen), body);
    if (chosen) panel.dataset.run = String(chosen.id);
    await drawResult(body, product, chosen);
  } catch (error) {
    if (view.shown === id) panel.append(el("p", { className: "error", textContent: `Could not show the results: ${error.message}` }));
  } finally {
    if (view.shown === id) panel.dataset.ready = "true";
  }
  if (!panel.hidden) panel.scrollIntoView({ block: "nearest" });
}

function facts(product, made) {
  const rows = [["Product", product.id], ["Kind", KINDS[kindOf(product)] ?? kindOf(product) ?? "not given"],
    ["Acquired (UTC)", `${utc(product.acquired_start)} → ${utc(product.acquired_end)}`]];
  const list = el("dl", { className: "facts results-facts" });
  for (const [term, value] of rows) list.append(el("dt", { textContent: term }), el("dd", { textContent: value }));
  if (product.derived_from?.length) {
    list.append(el("dt", { textContent: "Derived from" }),
      el("dd", {}, ...product.derived_from.map((s) => productLink(s, "source"))));
    const provenance = product.properties?.[PROVENANCE];
    if (provenance) {
      const parameters = Object.entries(provenance.parameters ?? {})
        .filter(([key]) => key !== "aoi").map(([key, value]) => `${key} ${JSON.stringify(value)}`);
      if (provenance.parameters?.aoi) parameters.push("aoi (GeoJSON)");
      list.append(el("dt", { textContent: "Made by" }), el("dd", { textContent:
        `${provenance.pipeline} ${provenance.version ?? ""}${parameters.length ? ` (${parameters.join(", ")})` : ""}`
        + (made ? `, run ${made.id}` : "") }));
    }
  }
  return list;
}

function mayRetry(run) {
  const partner = run.partner ? partnerByCode(run.partner) : null;
  return mayChange(partner ? [partner.id] : []);
}

function runTable(runs, id, chosen) {
  if (!runs.length) {
    return el("p", { className: "hint", textContent: "No analysis you may see has read this product. "
      + "Operators queue one with POST /api/v1/analyses (or jointsat analyse … --archive)." });
  }
  const rows = runs.map((run) => {
    const result = el("td", { className: "result" });
    if (run.status === "done" && run.product_id) {
      if (run.product_id !== id) result.append(productLink(run.product_id, "derived"), " ");
      if (run.summary && run !== chosen) {
        const show = el("button", { type: "button", className: "show", textContent: "show" });
        show.addEventListener("click", () => showResults(id, run.id));
        result.append(show);
      } else if (run === chosen) {
        result.append(el("span", { className: "hint", textContent: "shown below" }));
      }
    } else if (run.status === "done") {
      result.append(el("span", { className: "not-released", textContent: NOT_RELEASED,
        title: "You see every product it read, but not yet what it made: a derived product opens to "
          + "who sees every source, at the latest of their releases (docs/analysis.md, Rights)" }));
    } else if (run.status === "failed") {
      result.append(el("span", { className: "run-error", textContent: run.error || "failed" }));
      if (mayRetry(run)) {
        const retry = el("button", { type: "button", className: "retry", textContent: "Retry",
          title: "Queue this run again" });
        retry.addEventListener("click", () => retryRun(run, id, retry));
        result.append(" ", retry);
      }
    } else {
      result.append(el("span", { className: "hint", textContent: `${run.status}…` }));
    }
    return el("tr", { dataset: { run: String(run.id), status: run.status }, className: run === chosen ? "selected" : "" },
      el("td", { textContent: String(run.id) }), el("td", { textContent: `${run.pipeline} ${run.version}` }),
      el("td", {}, badge(run)), el("td", { textContent: run.trigger }),
      el("td", { textContent: run.partner ?? "consortium" }),
      el("td", { textContent: utc(run.created_at) }),
      el("td", { textContent: run.finished_at ? utc(run.finished_at) : "—" }),
      el("td", { textContent: String(run.attempts) }), result);
  });
  return el("table", { id: "results-runs", className: "data" },
    el("thead", {}, el("tr", {}, ...["Run", "Pipeline", "Status", "Trigger", "Partner", "Created (UTC)",
      "Finished (UTC)", "Attempts", "Result"].map((h) => el("th", { textContent: h })))),
    el("tbody", {}, ...rows));
}

async function retryRun(run, id, button) {
  button.disabled = true;
  try {
    await apiWrite("POST", `analyses/${run.id}/retry`);
    notify(`Run ${run.id} is queued again.`);
    await refreshRuns();
  } catch (error) {
    notify(`Retry of run ${run.id} refused: ${writeProblem(error)}`);
    button.disabled = false;
  }
}

const waiting = () => view.runs.some((r) => r.status === "queued" || r.status === "running");
const signature = (runs) => JSON.stringify(runs.map((r) => [r.id, r.status, r.attempts, r.product_id]));
const runsOf = (id) => [view.made.get(id), ...(view.reads.get(id) ?? [])].filter(Boolean);

// While a run waits or runs, the runs are read again every few seconds (while the Archive
// page is shown): the badges and the results follow them.
function schedulePoll() {
  clearTimeout(view.timer);
  if (waiting()) view.timer = setTimeout(() => refreshRuns().catch(() => schedulePoll()), POLL_MS);
}

async function refreshRuns() {
  if (!state.token) return;
  if ($("#page-archive").hidden) { schedulePoll(); return; }
  const before = view.shown ? signature(runsOf(view.shown)) : null;
  const was = new Map(view.runs.map((r) => [r.id, r.status]));
  indexRuns(await api("analyses"));
  view.problem = null;
  // A run that has just made a product the table does not list yet: read the table again.
  const made = view.runs.some((r) => r.status === "done" && was.get(r.id) !== "done"
    && r.product_id && !view.products.has(r.product_id));
  if (made && view.reload) { await view.reload(); return; }
  redrawCells(new Set(view.products.keys()));
  if (view.shown && signature(runsOf(view.shown)) !== before) await showResults(view.shown, view.runId);
  schedulePoll();
}

// --- run an analysis (operators and the admin) ----------------------------------------------

// The pipelines, and the areas the caller sees (its own partner's first), for the form.
async function loadRunControls() {
  const form = $("#archive-run");
  const runs = state.me && state.me.role !== "viewer";
  form.hidden = true;
  if (!runs) { view.pipelines = []; return; }
  const [pipelines, areas] = await Promise.all([api("analyses/pipelines"), api("areas").catch(() => [])]);
  view.pipelines = pipelines;
  const own = state.me.partner_id;
  view.areas = [...areas].sort((a, b) => (b.partner_id === own) - (a.partner_id === own) || a.id - b.id);
  $("#run-pipeline").replaceChildren(...pipelines.map((p) => el("option", { value: p.name,
    textContent: `${p.name} ${p.version}: ${p.title} (reads ${KINDS[p.reads] ?? p.reads})` })));
  $("#run-area").replaceChildren(...view.areas.map((a) => el("option", { value: String(a.id),
    textContent: `${a.name} (${a.partner})` })));
  form.hidden = !pipelines.length;
  showPicked();
}

function chosenPipeline() {
  return view.pipelines.find((p) => p.name === $("#run-pipeline").value) ?? null;
}

function showPicked() {
  const pipeline = chosenPipeline();
  if (!pipeline) return;
  $("#run-area-label").hidden = !pipeline.needs_area;
  const fit = [...view.picked].filter((id) => kindOf(view.products.get(id)) === pipeline.reads);
  const other = view.picked.size - fit.length;
  $("#run-picked").textContent = fit.length
    ? `on ${fit.length} ticked ${KINDS[pipeline.reads] ?? pipeline.reads} product${fit.length === 1 ? "" : "s"}`
      + (pipeline.sources === "all" ? " (one run over them all)" : " (a run each)")
      + (other ? `; ${other} of another kind left out` : "")
    : `tick ${KINDS[pipeline.reads] ?? pipeline.reads} products in the table`;
  $("#run-submit").disabled = !fit.length || (pipeline.needs_area && !view.areas.length);
}

async function runAnalysis(event) {
  event.preventDefault();
  const pipeline = chosenPipeline();
  if (!pipeline) return;
  const products = [...view.products.keys()].filter((id) => view.picked.has(id)
    && kindOf(view.products.get(id)) === pipeline.reads);
  const parameters = pipeline.needs_area ? { area_id: Number($("#run-area").value) } : {};
  $("#run-submit").disabled = true;
  try {
    const { data } = await apiWrite("POST", "analyses", { pipeline: pipeline.name, products, parameters });
    notify(`Queued: run${data.length === 1 ? "" : "s"} ${data.map((r) => r.id).join(", ")} (${pipeline.name}).`);
    for (const id of products) view.picked.delete(id);
    for (const box of document.querySelectorAll("#archive-table input.pick")) box.checked = view.picked.has(box.dataset.product);
    await refreshRuns();
  } catch (error) {
    notify(`The analysis was not queued: ${writeProblem(error)}`);
  } finally {
    showPicked();
  }
}

$("#archive-run").addEventListener("submit", (event) => { runAnalysis(event).catch((error) => notify(error.message)); });
$("#run-pipeline").addEventListener("change", showPicked);

// The chosen run's result: from its summary, or (a derived product whose run the caller
// does not see) from the product's own JSON file.
async function drawResult(body, product, run) {
  let summary = run?.summary ?? null;
  let pipeline = run?.pipeline ?? null;
  let derived = null;
  if (run?.product_id) derived = run.product_id === product.id ? product : await productById(run.product_id).catch(() => null);
  if (!summary && product.derived_from?.length) {
    const kind = kindOf(product);
    const name = kind === "transit-search" ? "transits.json" : kind === "ndvi-series" ? "ndvi.json" : null;
    const file = product.files.find((f) => f.name === name);
    if (file) {
      summary = await (await fetchFile(file)).json();
      pipeline = kind === "transit-search" ? "transits" : "ndvi";
      derived = product;
    }
  }
  if (!summary) {
    if (run && run.status === "done" && !run.product_id) {
      body.append(el("p", { className: "empty not-released", textContent: `Run ${run.id} is done: its ${NOT_RELEASED}.` }));
    }
    return;
  }
  if (pipeline === "transits") await drawTransits(body, summary, derived);
  else if (pipeline === "ndvi") drawNdvi(body, summary);
  else body.append(el("pre", { textContent: JSON.stringify(summary, null, 2) }));
}

// --- transit search ------------------------------------------------------------------------

const stem = (name) => {
  const base = name.split("/").pop();
  const suffix = [".fits.gz", ".fits", ".fit", ".csv"].find((s) => base.toLowerCase().endsWith(s));
  return suffix ? base.slice(0, -suffix.length) : base;
};

const CANDIDATE_COLUMNS = [
  ["period_d", "Period (d)", 5], ["t0_bjd", "T0 (BJD_TDB)", 5], ["depth_ppm", "Depth (ppm)", 0],
  ["duration_h", "Duration (h)", 2], ["sde", "SDE", 1], ["snr", "SNR", 1], ["transits", "Transits", 0],
  ["odd_even_sigma", "Odd-even (σ)", 1],
];

async function drawTransits(body, summary, derived) {
  const settings = summary.settings ?? {};
  body.append(el("p", { className: "hint", textContent: `Transit search (${settings.method ?? "?"}): periods `
    + `${fixed(settings.period_min_d, 2)} to ${settings.period_max_d === null || settings.period_max_d === undefined
      ? "half the span" : fixed(settings.period_max_d, 2)} d, candidates above SDE ${fixed(settings.sde_threshold, 1)}, `
    + "best first. T0: a mid-transit time, barycentric Julian date (TDB)." }));
  const pngs = (derived?.files ?? []).filter((f) => f.name.toLowerCase().endsWith(".png"));
  const plots = [];
  for (const [index, curve] of (summary.curves ?? []).entries()) {
    const block = el("div", { className: "curve", dataset: { curve: curve.name } });
    block.append(el("h3", { textContent: curve.name }), el("p", { className: "hint", textContent:
      `${curve.points_used} points used; dropped: ${curve.dropped_quality ?? 0} flagged, ${curve.dropped_nonfinite ?? 0} not finite` }));
    const candidates = curve.candidates ?? [];
    if (candidates.length) {
      block.append(el("table", { className: "data transit-candidates" },
        el("thead", {}, el("tr", {}, el("th", { textContent: "#" }),
          ...CANDIDATE_COLUMNS.map(([, label]) => el("th", { textContent: label })))),
        el("tbody", {}, ...candidates.map((c, k) => el("tr", {}, el("td", { textContent: String(k + 1) }),
          ...CANDIDATE_COLUMNS.map(([key, , digits]) => el("td", { className: `number ${key}`,
            textContent: fixed(c[key], digits), dataset: { value: c[key] === null ? "" : String(c[key]) } })))))));
    } else {
      block.append(el("p", { className: "empty", textContent: `No candidate above SDE ${fixed(settings.sde_threshold, 1)}.` }));
    }
    const png = pngs.find((f) => stem(f.name.slice(0, -4)) === stem(curve.name)) ?? pngs[index] ?? null;
    if (png) {
      const image = el("img", { className: "transit-plot", alt: `${curve.name}: the best candidate's phase-folded curve and the periodogram`,
        dataset: { file: png.name } });
      block.append(image);
      plots.push(imageUrl(png).then((url) => { image.src = url; }).catch((error) => {
        image.replaceWith(el("p", { className: "error", textContent: `The plot ${png.name} could not be read: ${error.message}` }));
      }));
    }
    body.append(block);
  }
  await Promise.all(plots);
}

// --- NDVI series ---------------------------------------------------------------------------

function drawNdvi(body, summary) {
  const settings = summary.settings ?? {};
  const minimum = settings.min_valid_fraction ?? 0.5;
  const dates = [...(summary.dates ?? [])].sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
  const width = 640;
  const height = 300;
  const pad = { left: 50, right: 16, top: 14, bottom: 40 };
  const chart = svg("svg", { id: "ndvi-chart", class: "ndvi-chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "NDVI mean per date, sized by valid fraction, and the smoothed series",
    "data-dates": String(dates.length), "data-min-valid-fraction": String(minimum) });
  const times = dates.map((d) => Date.parse(d.date));
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (!(t1 > t0)) { t0 -= 86_400_000; t1 += 86_400_000; }
  const values = dates.flatMap((d) => [d.ndvi_mean, d.ndvi_smoothed]).filter((v) => v !== null && v !== undefined);
  let lo = values.length ? Math.max(-1, Math.min(...values) - 0.05) : 0;
  let hi = values.length ? Math.min(1, Math.max(...values) + 0.05) : 1;
  if (!(hi > lo)) { lo -= 0.1; hi += 0.1; }
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);
  const bottom = height - pad.bottom;
  chart.append(svg("line", { x1: pad.left, y1: bottom, x2: width - pad.right, y2: bottom, class: "axis" }),
    svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: bottom, class: "axis" }));
  for (const v of [lo, (lo + hi) / 2, hi]) {
    chart.append(svg("line", { x1: pad.left, y1: y(v), x2: width - pad.right, y2: y(v), class: "grid" }),
      svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v.toFixed(2)));
  }
  const ticks = Math.min(5, Math.max(2, dates.length));
  for (let k = 0; k < ticks; k += 1) {
    const t = t0 + ((t1 - t0) * k) / (ticks - 1);
    chart.append(svg("text", { x: x(t), y: bottom + 16, "text-anchor": "middle", class: "tick" },
      new Date(t).toISOString().slice(0, 10)));
  }
  chart.append(svg("text", { x: (pad.left + width - pad.right) / 2, y: height - 6, "text-anchor": "middle", class: "label" }, "acquisition date (UTC)"),
    svg("text", { x: 12, y: (pad.top + bottom) / 2, "text-anchor": "middle", class: "label",
      transform: `rotate(-90 12 ${(pad.top + bottom) / 2})` }, "NDVI"));
  const smoothed = dates.filter((d) => d.ndvi_smoothed !== null && d.ndvi_smoothed !== undefined);
  if (smoothed.length > 1) {
    chart.append(svg("polyline", { class: "ndvi-smoothed", "data-points": String(smoothed.length),
      points: smoothed.map((d) => `${x(Date.parse(d.date)).toFixed(1)},${y(d.ndvi_smoothed).toFixed(1)}`).join(" ") }));
  }
  for (const d of dates) {
    const has = d.ndvi_mean !== null && d.ndvi_mean !== undefined;
    const under = !(d.valid_fraction >= minimum);
    const classes = ["ndvi-point", under ? "hollow" : "used", has ? "" : "no-value"].filter(Boolean).join(" ");
    const dot = svg("circle", { cx: x(Date.parse(d.date)).toFixed(1), cy: (has ? y(d.ndvi_mean) : bottom - 6).toFixed(1),
      r: (3 + 5 * Math.sqrt(Math.max(0, d.valid_fraction))).toFixed(1), class: classes,
      "data-date": d.date, "data-mean": has ? String(d.ndvi_mean) : "", "data-valid-fraction": String(d.valid_fraction),
      "data-smoothed": d.ndvi_smoothed === null ? "" : String(d.ndvi_smoothed) });
    dot.append(svg("title", {}, `${utc(d.date)} UTC: NDVI mean ${has ? d.ndvi_mean.toFixed(3) : "none (no valid pixel)"}, `
      + `valid ${(d.valid_fraction * 100).toFixed(0)} % of the area`
      + (under ? `, under the minimum ${(minimum * 100).toFixed(0)} %: not fitted` : "")));
    chart.append(dot);
  }
  const key = el("ul", { className: "legend inline ndvi-key" },
    el("li", {}, el("span", { className: "key-dot ndvi-used" }), "mean NDVI, fitted (the larger, the more of the area valid)"),
    el("li", {}, el("span", { className: "key-dot ndvi-hollow" }), `under the minimum valid fraction (${(minimum * 100).toFixed(0)} %): not fitted`),
    el("li", {}, el("span", { className: "key-line ndvi-line" }), `smoothed (${settings.smoother ?? "?"})`));
  const table = el("table", { id: "ndvi-table", className: "data compact" },
    el("thead", {}, el("tr", {}, ...["Date (UTC)", "Valid", "Mean", "Median", "P10", "P90", "Smoothed", "Fitted"]
      .map((h) => el("th", { textContent: h })))),
    el("tbody", {}, ...dates.map((d) => el("tr", { dataset: { date: d.date } },
      el("td", { textContent: utc(d.date) }),
      el("td", { className: "number", textContent: `${(d.valid_fraction * 100).toFixed(1)} %` }),
      el("td", { className: "number", textContent: fixed(d.ndvi_mean, 3) }),
      el("td", { className: "number", textContent: fixed(d.ndvi_median, 3) }),
      el("td", { className: "number", textContent: fixed(d.ndvi_p10, 3) }),
      el("td", { className: "number", textContent: fixed(d.ndvi_p90, 3) }),
      el("td", { className: "number", textContent: fixed(d.ndvi_smoothed, 3) }),
      el("td", { textContent: d.used_in_smoothing ? "yes" : "no" })))));
  body.append(el("div", { className: "ndvi-result" }, el("div", {}, chart, key), table));
}

export {
  setArchive, analysesCell, wireRow, showResults, closeResults, reshowResults, resetAnalyses, loadRunControls,
};
