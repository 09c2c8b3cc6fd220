// flamedb's built-in explorer. Everything it shows comes from the public API with the
// user's token and tenant: /api/v1/apps, /labels, /series, /flamegraph (inferno's SVG, which
// brings its own zoom and search), /diff, /findings and /sql. Data from profiles (function
// names, label values) is only ever set as text (textContent, option values), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "flamedb-token";
const PRESETS = { "15m": 900e3, "1h": 3600e3, "6h": 21600e3, "24h": 86400e3, "7d": 604800e3, "30d": 2592000e3 };
const STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const MAX_BARS = 240;
// Sample types preferred when an app has several ("*": any type in nanoseconds), as the server picks.
const PREFERRED = ["cpu", "wall", "*", "inuse_space", "samples"];

// What is shown; mirrored in the URL's hash so that a view can be linked.
const state = {
  tenant: "", app: "", type: "", version: "", dc: "", lname: "", lvalue: "",
  range: "1h", from: 0, until: 0, tab: "flame", search: "",
  dmode: "versions", dleft: "", dright: "", fstate: "open",
};
let apps = [];       // /api/v1/apps
let unit = "";       // the unit of the selected sample type
let seriesStep = 60; // seconds
let frameUrls = {};  // blob: URLs of the frames, revoked when replaced

class AuthNeeded extends Error {}

// ---------------------------------------------------------------- API

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h["Authorization"] = "Bearer " + token;
  if (state.tenant) h["X-Scope-OrgID"] = state.tenant;
  return h;
}

async function api(path, init) {
  init = init || {};
  const r = await fetch(path, Object.assign({}, init, { headers: headers(init.headers) }));
  if (r.status === 401) {
    const message = await errorText(r);
    showLogin(sessionStorage.getItem(TOKEN_KEY) ? "The token was refused: " + message : "This server wants a token.");
    throw new AuthNeeded(message);
  }
  if (!r.ok) throw new Error(r.status + " " + (await errorText(r)));
  return r;
}

async function errorText(r) {
  const text = await r.text();
  try { return JSON.parse(text).error || text; } catch (_) { return text; }
}

async function sql(text) {
  const r = await api("/api/v1/sql", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sql: text }),
  });
  return r.json();
}

// ---------------------------------------------------------------- selection

function selectionParams(overrides) {
  const s = Object.assign({}, state, overrides || {});
  const p = new URLSearchParams();
  if (s.app) p.set("app", s.app);
  if (s.type) p.set("sample_type", s.type);
  if (s.version) p.set("version", s.version);
  if (s.dc) p.set("dc", s.dc);
  if (s.lname && s.lvalue) p.set("label." + s.lname, s.lvalue);
  p.set("from", String(s.from));
  p.set("until", String(s.until));
  return p;
}

function quote(v) { return "'" + String(v).replaceAll("'", "''") + "'"; }
function ts(ms) { return "TIMESTAMP " + quote(new Date(ms).toISOString()); }

// The SQL WHERE clause of the selection (the same filter the REST routes apply).
function where(overrides, skipTime) {
  const s = Object.assign({}, state, overrides || {});
  const c = [];
  if (s.app) c.push("app = " + quote(s.app));
  if (s.type) c.push("sample_type = " + quote(s.type));
  if (s.version) c.push("version = " + quote(s.version));
  if (s.dc) c.push("dc = " + quote(s.dc));
  if (s.lname && s.lvalue) c.push("labels[" + quote(s.lname) + "] = " + quote(s.lvalue));
  if (!skipTime) c.push("time >= " + ts(s.from), "time < " + ts(s.until));
  return c.length ? "WHERE " + c.join("\n  AND ") : "";
}

// The two sides of the diff: [baseline overrides, comparison overrides].
function diffSides() {
  if (state.dmode === "period") {
    const len = state.until - state.from;
    return [{ from: state.from - len, until: state.from }, {}];
  }
  return [{ version: state.dleft }, { version: state.dright }];
}

const SQL = {
  series() {
    return "SELECT date_bin(INTERVAL '" + seriesStep + " seconds', time, TIMESTAMP '1970-01-01T00:00:00Z') AS bucket,\n" +
      "       sum(total) AS total\nFROM profiles\n" + where() + "\nGROUP BY bucket\nORDER BY bucket";
  },
  flame() {
    return "SELECT n['level'] AS level, n['label'] AS function, n['self'] AS self, n['total'] AS total\n" +
      "FROM (SELECT unnest(flamegraph(stack, value)) AS n FROM samples\n" + where() + ")";
  },
  functions() {
    return "SELECT n['function'] AS function, n['self'] AS self, n['total'] AS total\n" +
      "FROM (SELECT unnest(function_totals(stack, value)) AS n FROM samples\n" + where() + ")\nLIMIT 200";
  },
  diff() {
    const [l, r] = diffSides();
    let common, left, right;
    if (state.dmode === "period") {
      common = where({}, true);
      left = "time >= " + ts(l.from) + " AND time < " + ts(l.until);
      right = "time >= " + ts(state.from) + " AND time < " + ts(state.until);
    } else {
      common = where({ version: "" });
      left = "version = " + quote(l.version);
      right = "version = " + quote(r.version);
    }
    const both = "(" + left + ") OR (" + right + ")";
    const filter = common ? common + "\n  AND (" + both + ")" : "WHERE " + both;
    return "SELECT n['level'] AS level, n['label'] AS function,\n" +
      "       n['self'] AS baseline_self, n['total'] AS baseline_total,\n" +
      "       n['self_right'] AS comparison_self, n['total_right'] AS comparison_total\n" +
      "FROM (SELECT unnest(flamegraph_diff(stack, value, " + right + ")) AS n FROM samples\n" + filter + ")";
  },
};

// ---------------------------------------------------------------- hash

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  for (const k of Object.keys(state)) {
    if (!p.has(k)) continue;
    state[k] = (k === "from" || k === "until") ? Number(p.get(k)) || 0 : p.get(k);
  }
}

function writeHash() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) {
    if (k === "from" || k === "until") {
      if (state.range === "custom") p.set(k, String(v));
    } else if (v) {
      p.set(k, v);
    }
  }
  history.replaceState(null, "", "#" + p.toString());
}

// ---------------------------------------------------------------- views' status

// Each view's element carries data-state (loading, ready, error, empty) and data-gen (one
// more per load), so that a reader (a person, or a test) knows what it is looking at.
function begin(el) {
  el.dataset.gen = String(Number(el.dataset.gen || 0) + 1);
  el.dataset.state = "loading";
  return el.dataset.gen;
}
function end(el, gen, status) {
  if (el.dataset.gen === gen) el.dataset.state = status;
}
// Whether a newer load of view `el` began since load `gen`: its answer must not be shown
// (answers can arrive out of order).
function stale(el, gen) {
  return el.dataset.gen !== gen;
}

// Runs one load of view `el`: work(gen) answers the view's state; a failure is "error".
async function track(el, work) {
  const gen = begin(el);
  try {
    end(el, gen, await work(gen));
  } catch (e) {
    end(el, gen, "error");
    throw e;
  }
}

function showError(e) {
  if (e instanceof AuthNeeded) return;
  const box = $("error");
  box.textContent = String(e.message || e);
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

// ---------------------------------------------------------------- formatting

function formatValue(v) {
  const n = Number(v);
  if (unit === "nanoseconds") {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + " s";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + " ms";
    return n + " ns";
  }
  if (unit === "bytes") {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let x = n, i = 0;
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return (i ? x.toFixed(2) : String(x)) + " " + units[i];
  }
  return String(n);
}

function timeText(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 19);
}
function fromLocalInput(s) { return s ? new Date(s).getTime() : NaN; }

// ---------------------------------------------------------------- auth and tenants

function showLogin(message) {
  $("login-message").textContent = message;
  $("login").hidden = false;
  $("token").focus();
}

async function loadWhoami() {
  const who = await (await api("/api/v1/whoami")).json();
  $("login").hidden = true;
  $("logout").hidden = !sessionStorage.getItem(TOKEN_KEY);
  $("whoami").textContent = who.role === "read" ? "read-only token" : "";
  const select = $("tenant-select"), input = $("tenant-input");
  if (Array.isArray(who.tenants)) {
    select.replaceChildren(...who.tenants.map((t) => new Option(t, t)));
    if (!who.tenants.includes(state.tenant)) state.tenant = who.tenants[0] || "";
    select.value = state.tenant;
    select.hidden = false; input.hidden = true;
  } else {
    input.value = state.tenant;
    input.hidden = false; select.hidden = true;
  }
}

// ---------------------------------------------------------------- selectors

function fillSelect(el, values, current, anyLabel) {
  const options = anyLabel === null ? [] : [new Option(anyLabel, "")];
  for (const v of values) options.push(new Option(v, v));
  el.replaceChildren(...options);
  el.value = values.includes(current) ? current : (anyLabel === null ? (values[0] || "") : "");
  return el.value;
}

function resolveRange() {
  if (state.range !== "custom") {
    state.until = Math.ceil(Date.now() / 1000) * 1000;
    state.from = state.until - PRESETS[state.range];
  }
  $("range").value = state.range;
  $("from").value = toLocalInput(state.from);
  $("until").value = toLocalInput(state.until);
}

function pickType(types) {
  const names = types.map((t) => t.type).filter(Boolean);
  if (names.includes(state.type)) return state.type;
  for (const want of PREFERRED) {
    const hit = want === "*" ? types.find((t) => t.unit === "nanoseconds") : types.find((t) => t.type === want);
    if (hit && hit.type) return hit.type;
  }
  return names[0] || "";
}

async function labelValues(name, overrides) {
  const p = selectionParams(Object.assign({ version: "", dc: "", lname: "" }, overrides || {}));
  const r = await api("/api/v1/labels/" + encodeURIComponent(name) + "/values?" + p);
  return (await r.json()).values;
}

async function loadSelectors() {
  resolveRange();
  const all = await (await api("/api/v1/apps")).json();
  apps = all.apps;
  state.app = fillSelect($("app"), apps.map((a) => a.name), state.app, null);
  const info = apps.find((a) => a.name === state.app);
  const types = info ? info.sample_types : [];
  state.type = pickType(types);
  fillSelect($("sample-type"), types.map((t) => t.type).filter(Boolean), state.type, null);
  $("sample-type").value = state.type;
  const t = types.find((x) => x.type === state.type);
  unit = t && t.unit ? t.unit : "";
  if (!state.app) return;
  const [versions, dcs, names] = await Promise.all([
    labelValues("version"),
    labelValues("dc"),
    api("/api/v1/labels?" + selectionParams({ version: "", dc: "", lname: "" })).then((r) => r.json()),
  ]);
  state.version = fillSelect($("version"), versions, state.version, "all");
  state.dc = fillSelect($("dc"), dcs, state.dc, "all");
  const labels = names.labels.filter((n) => !["app", "version", "dc", "sample_type"].includes(n));
  state.lname = fillSelect($("label-name"), labels, state.lname, "none");
  const values = state.lname ? await labelValues(state.lname) : [];
  state.lvalue = fillSelect($("label-value"), values, state.lvalue, "any");
  // The diff's versions: every version of the app, newest data last as the server lists them.
  if (!versions.includes(state.dleft)) state.dleft = versions.length > 1 ? versions[versions.length - 2] : (versions[0] || "");
  if (!versions.includes(state.dright)) state.dright = versions[versions.length - 1] || "";
  fillSelect($("diff-left"), versions, state.dleft, null);
  fillSelect($("diff-right"), versions, state.dright, null);
}

// ---------------------------------------------------------------- series

function chooseStep() {
  const secs = (state.until - state.from) / 1000;
  return STEPS.find((s) => secs / s <= MAX_BARS) || 86400;
}

let chart = null; // {left, width, from, until} of the drawn chart

function loadSeries() {
  const svg = $("series");
  return track(svg, async (gen) => {
    const step = chooseStep();
    const p = selectionParams();
    p.set("step", step + "s");
    const answer = await (await api("/api/v1/series?" + p)).json();
    if (stale(svg, gen)) return "loading";
    seriesStep = step;
    const points = answer.series.flatMap((s) => s.points);
    if (answer.unit) unit = answer.unit;
    const total = points.reduce((a, [, v]) => a + v, 0);
    $("total").textContent = "Total: " + total + (unit ? " " + unit : "") +
      (unit === "nanoseconds" || unit === "bytes" ? " (" + formatValue(total) + ")" : "");
    $("total").dataset.value = String(total);
    drawSeries(svg, points);
    return points.length ? "ready" : "empty";
  });
}

function drawSeries(svg, points) {
  const ns = "http://www.w3.org/2000/svg";
  const box = svg.getBoundingClientRect();
  const W = Math.max(box.width, 100), H = Math.max(box.height, 60), left = 50, bottom = 18;
  const span = state.until - state.from;
  const max = points.reduce((m, [, v]) => Math.max(m, v), 0) || 1;
  const stepMs = seriesStep * 1000;
  const nodes = [];
  const text = (x, y, s, anchor) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x); t.setAttribute("y", y);
    if (anchor) t.setAttribute("text-anchor", anchor);
    t.textContent = s;
    return t;
  };
  for (const [t, v] of points) {
    const x0 = left + Math.max(0, (t - state.from) / span) * (W - left);
    const x1 = left + Math.min(1, (t + stepMs - state.from) / span) * (W - left);
    const h = (v / max) * (H - bottom - 6);
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("x", x0); r.setAttribute("width", Math.max(1, x1 - x0));
    r.setAttribute("y", H - bottom - h); r.setAttribute("height", h);
    const title = document.createElementNS(ns, "title");
    title.textContent = timeText(t) + ": " + formatValue(v);
    r.appendChild(title);
    nodes.push(r);
  }
  nodes.push(text(left - 4, 12, formatValue(max), "end"));
  nodes.push(text(left, H - 4, timeText(state.from)));
  nodes.push(text(W, H - 4, timeText(state.until), "end"));
  const brush = document.createElementNS(ns, "rect");
  brush.setAttribute("class", "brush");
  brush.setAttribute("y", 0); brush.setAttribute("height", H - bottom);
  brush.setAttribute("width", 0);
  nodes.push(brush);
  svg.replaceChildren(...nodes);
  chart = { left, width: W - left, from: state.from, until: state.until, brush };
}

// Client x of a time on the chart, and the time at a client x.
function xOf(ms) {
  const box = $("series").getBoundingClientRect();
  return box.left + chart.left + ((ms - chart.from) / (chart.until - chart.from)) * chart.width;
}
function timeAt(clientX) {
  const box = $("series").getBoundingClientRect();
  const f = Math.min(1, Math.max(0, (clientX - box.left - chart.left) / chart.width));
  return Math.round(chart.from + f * (chart.until - chart.from));
}

function wireBrush() {
  const svg = $("series");
  let start = null;
  svg.addEventListener("mousedown", (e) => { if (chart) { start = e.clientX; e.preventDefault(); } });
  window.addEventListener("mousemove", (e) => {
    if (start === null) return;
    const box = svg.getBoundingClientRect();
    const a = Math.min(start, e.clientX) - box.left, b = Math.max(start, e.clientX) - box.left;
    chart.brush.setAttribute("x", a);
    chart.brush.setAttribute("width", b - a);
  });
  window.addEventListener("mouseup", (e) => {
    if (start === null) return;
    const a = Math.min(start, e.clientX), b = Math.max(start, e.clientX);
    start = null;
    if (b - a < 3) { chart.brush.setAttribute("width", 0); return; }
    state.range = "custom";
    state.from = timeAt(a);
    state.until = timeAt(b);
    apply(false);
  });
}

// ---------------------------------------------------------------- flame graphs

function loadFrame(id, url) {
  const frame = $(id);
  return track(frame, async (gen) => {
    const r = await api(url);
    const svg = await r.text();
    if (stale(frame, gen)) return "loading";
    const blob = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    await new Promise((resolve) => {
      frame.onload = () => setTimeout(resolve, 0); // after inferno's own deferred layout
      frame.src = blob;
    });
    if (stale(frame, gen)) {
      URL.revokeObjectURL(blob);
      return "loading";
    }
    if (frameUrls[id]) URL.revokeObjectURL(frameUrls[id]);
    frameUrls[id] = blob;
    // inferno keeps its zoom and search in its URL's query; a blob: URL cannot take one
    // (replaceState throws), and the page keeps that state itself.
    frame.contentWindow.history.replaceState = function () {};
    const doc = frame.contentDocument;
    const frames = doc && doc.getElementById("frames");
    const height = doc && doc.documentElement && Number(doc.documentElement.getAttribute("height"));
    frame.style.height = Math.max(200, Math.min(height || 560, 4000) + 4) + "px";
    frame.dataset.total = frames ? frames.getAttribute("total_samples") || "0" : "0";
    if (id === "flame") applySearch();
    return frames && frames.children.length ? "ready" : "empty";
  });
}

function loadFlame() {
  const p = selectionParams();
  p.set("format", "svg");
  return loadFrame("flame", "/api/v1/flamegraph?" + p);
}

function loadFunctions() {
  const table = $("functions");
  return track(table, async (gen) => {
    const rows = await sql(SQL.functions());
    if (stale(table, gen)) return "loading";
    const body = table.tBodies[0];
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      const cells = [row["function"], formatValue(row.self), formatValue(row.total)];
      cells.forEach((v, i) => {
        const td = document.createElement("td");
        td.textContent = v;
        td.className = i ? "num" : "fn";
        if (!i) td.title = v;
        tr.appendChild(td);
      });
      tr.dataset.function = row["function"];
      tr.dataset.self = String(row.self);
      tr.dataset.total = String(row.total);
      return tr;
    }));
    markMatches();
    return rows.length ? "ready" : "empty";
  });
}

function searchRegExp() {
  if (!state.search) return null;
  try { return new RegExp(state.search); } catch (_) { return undefined; }
}

function markMatches() {
  const re = searchRegExp();
  for (const tr of $("functions").tBodies[0].rows) {
    tr.classList.toggle("match", !!re && re.test(tr.dataset.function));
  }
}

// Search in the flame graph with inferno's own search (highlight and "Matched: N%").
function applySearch() {
  const w = $("flame").contentWindow;
  const out = $("search-result");
  markMatches();
  if (!w || typeof w.search !== "function") return;
  if (w.searching) w.search_prompt(); // inferno's toggle: clears the last search
  if (!state.search) { out.textContent = ""; return; }
  if (searchRegExp() === undefined) { out.textContent = "not a regular expression"; return; }
  try {
    w.search(state.search);
  } catch (e) {
    out.textContent = String(e.message || e);
    return;
  }
  const matched = w.document.getElementById("matched");
  out.textContent = w.searching && matched ? matched.textContent : "no match";
}

function loadDiff() {
  const [l, r] = diffSides();
  const p = selectionParams({ version: state.dmode === "versions" ? "" : state.version });
  for (const [prefix, side] of [["left.", l], ["right.", r]]) {
    for (const [k, v] of Object.entries(side)) p.set(prefix + k, String(v));
  }
  p.set("format", "svg");
  $("diff-summary").textContent = state.dmode === "period"
    ? "Baseline " + timeText(l.from) + " to " + timeText(l.until) + "; comparison: the selected range."
    : "Baseline version " + l.version + "; comparison version " + r.version + ".";
  return loadFrame("diff", "/api/v1/diff?" + p);
}

// ---------------------------------------------------------------- findings

function loadFindings() {
  const table = $("findings");
  return track(table, async (gen) => {
    const p = new URLSearchParams();
    if (state.fstate) p.set("state", state.fstate);
    if (state.app) p.set("app", state.app);
    const answer = await (await api("/api/v1/findings?" + p)).json();
    if (stale(table, gen)) return "loading";
    table.tBodies[0].replaceChildren(...answer.findings.map((rec) => {
      const f = rec.finding || {};
      const tr = document.createElement("tr");
      const cells = [rec.app, f["function"], f.kind, rec.from_version + " → " + rec.to_version,
        f.delta_pp !== undefined ? Number(f.delta_pp).toFixed(2) : "",
        f.cores !== undefined && f.cores !== null ? Number(f.cores).toFixed(3) : "",
        f.cause || "", rec.state];
      cells.forEach((v, i) => {
        const td = document.createElement("td");
        td.textContent = v === undefined ? "" : String(v);
        if (i === 4 || i === 5) td.className = "num";
        tr.appendChild(td);
      });
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "diff";
      b.addEventListener("click", () => {
        Object.assign(state, { app: rec.app, type: rec.sample_type, dmode: "versions",
          dleft: rec.from_version, dright: rec.to_version, search: f["function"] || "" });
        if (rec.window_nanos) {
          state.range = "custom";
          state.from = Math.floor(rec.window_nanos[0] / 1e6);
          state.until = Date.now();
        }
        showTab("diff");
        apply(true);
      });
      td.appendChild(b);
      tr.appendChild(td);
      return tr;
    }));
    return answer.findings.length ? "ready" : "empty";
  });
}

// ---------------------------------------------------------------- SQL box

async function runSql() {
  const table = $("sql-result");
  const gen = begin(table);
  const status = $("sql-status");
  status.textContent = "running";
  try {
    const rows = await sql($("sql").value);
    if (stale(table, gen)) return;
    const columns = rows.length ? Object.keys(rows[0]) : [];
    const head = document.createElement("tr");
    for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      for (const c of columns) {
        const td = document.createElement("td");
        const v = row[c];
        td.textContent = v !== null && typeof v === "object" ? JSON.stringify(v) : String(v);
        tr.appendChild(td);
      }
      return tr;
    }));
    status.textContent = rows.length + " rows";
    end(table, gen, "ready");
  } catch (e) {
    status.textContent = String(e.message || e);
    end(table, gen, "error");
  }
}

function showSql(view) {
  $("sql").value = SQL[view]();
  showTab("sql");
  writeHash();
  runSql();
}

// ---------------------------------------------------------------- tabs and refresh

function showTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === tab);
  for (const v of document.querySelectorAll(".tab-view")) v.hidden = v.id !== tab + "-view";
}

// Nothing selected (a tenant without data): no stale graphs of another selection.
function clearViews() {
  for (const id of ["flame", "diff"]) {
    const frame = $(id);
    begin(frame);
    frame.src = "about:blank";
    frame.dataset.total = "0";
    end(frame, frame.dataset.gen, "empty");
  }
  const table = $("functions");
  begin(table);
  table.tBodies[0].replaceChildren();
  end(table, table.dataset.gen, "empty");
}

async function guarded(work) {
  try { await work(); } catch (e) { showError(e); }
}

async function refresh() {
  clearError();
  writeHash();
  $("diff-versions").hidden = state.dmode !== "versions";
  $("diff-mode").value = state.dmode;
  $("search").value = state.search;
  $("finding-state").value = state.fstate;
  const work = [guarded(loadSeries)];
  if (!state.app) clearViews();
  if (state.app) {
    if (state.tab === "flame") work.push(guarded(loadFlame), guarded(loadFunctions));
    if (state.tab === "diff") work.push(guarded(loadDiff));
  }
  if (state.tab === "findings") work.push(guarded(loadFindings));
  await Promise.all(work);
}

// Re-reads the selectors (when the app, tenant or range changed) and refreshes the views.
async function apply(reloadSelectors) {
  await guarded(async () => {
    if (reloadSelectors) await loadSelectors();
    else resolveRange();
    await refresh();
  });
}

async function start() {
  await guarded(async () => {
    await loadWhoami();
    await loadSelectors();
    await refresh();
  });
}

function wire() {
  const on = (id, ev, f) => $(id).addEventListener(ev, f);
  on("login", "submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    start();
  });
  on("logout", "click", () => { sessionStorage.removeItem(TOKEN_KEY); location.reload(); });
  on("tenant-select", "change", (e) => { state.tenant = e.target.value; apply(true); });
  on("tenant-input", "change", (e) => { state.tenant = e.target.value.trim(); apply(true); });
  on("app", "change", (e) => {
    Object.assign(state, { app: e.target.value, type: "", version: "", dc: "", lname: "", lvalue: "", dleft: "", dright: "" });
    apply(true);
  });
  on("sample-type", "change", (e) => { state.type = e.target.value; apply(true); });
  on("version", "change", (e) => { state.version = e.target.value; apply(false); });
  on("dc", "change", (e) => { state.dc = e.target.value; apply(false); });
  on("label-name", "change", (e) => { state.lname = e.target.value; state.lvalue = ""; apply(true); });
  on("label-value", "change", (e) => { state.lvalue = e.target.value; apply(false); });
  on("range", "change", (e) => {
    state.range = e.target.value;
    if (state.range !== "custom") apply(true);
  });
  on("apply", "click", () => {
    if (state.range === "custom") {
      const f = fromLocalInput($("from").value), u = fromLocalInput($("until").value);
      if (!(f < u)) { showError(new Error("From must be before Until")); return; }
      state.from = f; state.until = u;
    }
    apply(true);
  });
  for (const id of ["from", "until"]) on(id, "change", () => { state.range = "custom"; $("range").value = "custom"; });
  on("search", "change", (e) => { state.search = e.target.value.trim(); writeHash(); applySearch(); });
  on("search", "keydown", (e) => { if (e.key === "Enter") { state.search = e.target.value.trim(); writeHash(); applySearch(); } });
  on("diff-mode", "change", (e) => { state.dmode = e.target.value; $("diff-versions").hidden = state.dmode !== "versions"; });
  on("diff-left", "change", (e) => { state.dleft = e.target.value; });
  on("diff-right", "change", (e) => { state.dright = e.target.value; });
  on("diff-run", "click", () => { writeHash(); guarded(loadDiff); });
  on("finding-state", "change", (e) => { state.fstate = e.target.value; writeHash(); guarded(loadFindings); });
  on("sql-run", "click", runSql);
  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => { showTab(b.dataset.tab); refresh(); });
  }
  for (const b of document.querySelectorAll(".sql-link")) {
    b.addEventListener("click", () => showSql(b.dataset.view));
  }
  wireBrush();
}

// For tests and the curious: the explorer's state and chart geometry.
window.flamedbExplorer = { state, xOf, timeAt, SQL };

readHash();
wire();
showTab(state.tab);
start();
