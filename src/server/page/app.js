// The live inspector page. Plain JS, no dependencies, nothing fetched but this daemon's
// own API: /api/statechart (the machine, drawn from its definition), /api/agents (with
// each agent's last runs and next run times), /api/agents/:id/upcoming, and /events
// (server-sent events) for everything live. Wake, Pause and Resume are the API's
// token-protected POSTs.

const WINDOW_MS = 120_000;
const MAX_EVENTS = 300;
const HISTORY = 30; // runs on the history strip
const UPCOMING = 5;
const $ = (sel, root = document) => root.querySelector(sel);

/** id → { health, schedule, alerts, events, runs (newest first), upcoming, card } */
const agents = new Map();
let chart = null;
let alerts = [];
let offset = 0; // server clock - local clock

main().catch((err) => setConn("offline", `failed to load: ${err.message}`));

async function main() {
  chart = await getJson("/api/statechart");
  $("#machine-chart").innerHTML = chart.svg; // our own server's SVG, generated from the machine
  addCounts($("#machine-chart svg"));
  await resync();
  connect();
  setInterval(tick, 1000);
  $("#token-btn").addEventListener("click", () => askToken().catch(() => {}));
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function resync() {
  const data = await getJson(`/api/agents?recent=150&runs=${HISTORY}&upcoming=${UPCOMING}`);
  const seen = new Set();
  for (const a of data.agents) {
    seen.add(a.id);
    const entry = agents.get(a.id) ?? createAgent(a.id);
    entry.health = a;
    entry.schedule = a.schedule;
    entry.events = a.recent ?? [];
    entry.runs = a.runs ?? [];
    entry.upcoming = a.upcoming ?? [];
    renderAgent(entry, undefined);
  }
  for (const [id, entry] of agents) {
    if (!seen.has(id)) {
      entry.card.remove();
      agents.delete(id);
    }
  }
  setAlerts(data.alerts);
  $("#empty").hidden = agents.size > 0;
}

function connect() {
  const es = new EventSource("/events");
  let broken = false;
  es.onopen = () => {
    setConn("live", "live");
    if (broken) resync().catch(() => {});
    broken = false;
  };
  es.onerror = () => {
    broken = true;
    setConn("offline", "reconnecting…");
  };
  es.onmessage = (msg) => onEvent(JSON.parse(msg.data));
  es.addEventListener("state", (msg) => {
    const data = JSON.parse(msg.data);
    offset = data.at - Date.now();
    for (const h of data.agents) {
      const entry = agents.get(h.id);
      if (!entry) {
        resync().catch(() => {});
        return;
      }
      const before = entry.health;
      entry.health = { ...entry.health, ...h };
      if (!("nextDueAt" in h)) delete entry.health.nextDueAt;
      if (!("paused" in h)) delete entry.health.paused;
      // A new next due time or a pause/resume changes the upcoming runs: ask again.
      if (before.nextDueAt !== entry.health.nextDueAt || Boolean(before.paused) !== Boolean(entry.health.paused)) refreshUpcoming(entry);
      renderAgent(entry, before.state);
    }
    setAlerts(data.alerts);
  });
}

function onEvent(e) {
  const entry = agents.get(e.agentId);
  if (!entry) return;
  if (entry.events.some((x) => x.seq === e.seq)) return;
  entry.events.push(e);
  if (entry.events.length > MAX_EVENTS) entry.events.splice(0, entry.events.length - MAX_EVENTS);
  if (e.type === "run-finished") {
    // The history record, as GET /api/agents/:id/runs has it.
    entry.runs = [
      {
        agentId: e.agentId,
        runId: e.runId,
        startedAt: e.at - e.durationMs,
        finishedAt: e.at,
        durationMs: e.durationMs,
        status: e.status,
        reasons: e.reasons,
        usage: e.usage ?? null,
        reason: e.reason ?? null,
        error: e.error ?? null,
      },
      ...entry.runs.filter((r) => r.runId !== e.runId),
    ].slice(0, HISTORY);
    renderHistory(entry);
  } else if (e.type === "agent-paused" || e.type === "agent-resumed") {
    if (e.type === "agent-paused") entry.health = { ...entry.health, paused: entry.health.paused ?? { reason: e.reason, since: e.at } };
    else delete entry.health.paused;
    renderAgent(entry, undefined);
    refreshUpcoming(entry);
  }
  renderEvents(entry);
  renderTimeline(entry);
}

function createAgent(id) {
  const card = $("#agent-card").content.firstElementChild.cloneNode(true);
  card.dataset.agent = id;
  $(".name", card).textContent = id;
  $(".chart", card).innerHTML = chart.svg;
  $(".wake", card).addEventListener("click", () => wake(id));
  $(".pause", card).addEventListener("click", () => pause(id));
  $(".resume", card).addEventListener("click", () => resume(id));
  const entry = { health: { id, state: "stopped" }, schedule: {}, alerts: [], events: [], runs: [], upcoming: [], card };
  agents.set(id, entry);
  insertSorted(card, id);
  return entry;
}

function insertSorted(card, id) {
  const main = $("#agents");
  const after = [...main.children].find((c) => c.dataset.agent > id);
  main.insertBefore(card, after ?? null);
}

function renderAgent(entry, before) {
  const { card, health: h } = entry;
  card.dataset.state = h.state;
  card.dataset.enabled = String(h.enabled !== false);
  $(".state-badge", card).textContent = h.failed ? `${h.state} · failed` : h.state;
  for (const node of card.querySelectorAll(".sc-node")) node.classList.toggle("lit", node.dataset.state === h.state);
  if (before && before !== h.state) flash($(".chart svg", card), before, h.state);
  renderBadges(entry);
  renderFacts(entry);
  renderEvents(entry);
  renderTimeline(entry);
  renderHistory(entry);
  renderUpcoming(entry);
  renderCounts();
}

function renderBadges(entry) {
  const box = $(".badges", entry.card);
  box.replaceChildren();
  const mine = alerts.filter((a) => a.agentId === entry.health.id);
  entry.card.dataset.alerting = String(mine.length > 0);
  for (const a of mine) box.append(el("span", { class: "badge", title: a.message }, `▲ ${a.kind}`));
  const p = entry.health.paused;
  if (p) box.append(el("span", { class: "badge paused", title: `paused since ${clock(p.since)}: ${p.reason}` }, "❚❚ paused"));
  if (entry.health.enabled === false) box.append(el("span", { class: "badge plain" }, "disabled"));
  const steerable = entry.health.enabled !== false && !entry.health.failed;
  entry.card.dataset.paused = String(Boolean(p));
  $(".wake", entry.card).disabled = entry.health.enabled === false;
  $(".wake", entry.card).title = p ? "a forced manual wake: runs even though the agent is paused" : "a manual wake";
  $(".pause", entry.card).hidden = Boolean(p);
  $(".resume", entry.card).hidden = !p;
  $(".pause", entry.card).disabled = !steerable || entry.busy === true;
  $(".resume", entry.card).disabled = !steerable || entry.busy === true;
}

function renderFacts(entry) {
  const h = entry.health;
  const s = entry.schedule ?? {};
  const parts = [];
  parts.push(["", s.cron ? `cron ${s.cron}` : `every ${s.every ?? "?"}`]);
  if (s.sessionKey) parts.push(["session ", s.sessionKey]);
  if (h.paused) parts.push(["paused ", `${relative(h.paused.since)}: ${h.paused.reason}`]);
  else if (h.nextDueAt !== undefined && h.state !== "stopped") parts.push(["next ", relative(h.nextDueAt)]);
  if (h.lastStatus) parts.push(["last ", `${h.lastStatus}${h.lastRunAt ? ` ${relative(h.lastRunAt)}` : ""}`]);
  parts.push(["runs ", String(h.runCount ?? 0)]);
  parts.push(["skips ", String(h.skipCount ?? 0)]);
  if (h.pendingReasons?.length) parts.push(["pending ", h.pendingReasons.join(", ")]);
  const p = $(".facts", entry.card);
  p.replaceChildren();
  parts.forEach(([k, v], i) => {
    if (i) p.append(" · ");
    p.append(k, el("b", {}, v));
  });
}

function renderEvents(entry) {
  const list = $(".events", entry.card);
  list.replaceChildren();
  for (const e of entry.events.slice(-7).reverse()) {
    const [text, tone] = describe(e);
    list.append(el("li", { "data-tone": tone, "data-type": e.type, title: text }, el("span", { class: "t" }, clock(e.at)), text));
  }
}

function describe(e) {
  switch (e.type) {
    case "run-started":
      return [`▶ run #${e.runId} (${e.reasons.join(", ")})`, ""];
    case "run-finished": {
      const tokens = e.usage ? ` · ${e.usage.inputTokens + e.usage.outputTokens} tokens` : "";
      const why = e.reason ? ` (${e.reason})` : e.error ? ` (${e.error})` : "";
      const tone = e.status === "ran" ? "good" : e.status === "skipped" ? "" : "bad";
      return [`■ run #${e.runId} ${e.status} in ${fmtMs(e.durationMs)}${tokens}${why}`, tone];
    }
    case "wake-deferred":
      return [`‖ deferred: ${e.reason} [${e.reasons.join(", ")}]`, "warn"];
    case "wake-skipped":
      return [`» skipped: ${e.reason} [${e.reasons.join(", ")}]`, ""];
    case "wake-coalesced":
      return [`≡ ${e.count} wakes coalesced [${e.reasons.join(", ")}]`, ""];
    case "run-settled-late":
      return [`… run #${e.runId} settled late (${e.settled})`, "warn"];
    case "agent-paused":
      return [`❚❚ paused${e.reason ? `: ${e.reason}` : ""}`, "warn"];
    case "agent-resumed":
      return ["▶ resumed", "good"];
    case "agent-restarted":
      return [`↺ restarted: ${e.error}`, "bad"];
    case "alert":
      return [`${e.state === "open" ? "▲ alert" : "✓ resolved"} ${e.kind}: ${e.message}`, e.state === "open" ? "bad" : "good"];
    default:
      return [e.type, ""];
  }
}

function renderTimeline(entry) {
  const now = Date.now() + offset;
  const from = now - WINDOW_MS;
  const W = 1000;
  const x = (t) => Math.max(0, Math.min(W, ((t - from) / WINDOW_MS) * W));
  const svg = svgEl("svg", { viewBox: `0 0 ${W} 34`, preserveAspectRatio: "none" });
  const runs = new Map();
  for (const e of entry.events) {
    if (e.type === "run-started") runs.set(e.runId, { start: e.at, reasons: e.reasons, status: "running" });
    else if (e.type === "run-finished") {
      const r = runs.get(e.runId) ?? { start: e.at - e.durationMs, reasons: e.reasons };
      runs.set(e.runId, { ...r, end: e.at, status: e.status, usage: e.usage, why: e.reason ?? e.error });
    }
  }
  for (const [id, r] of runs) {
    const end = r.end ?? now;
    if (end < from) continue;
    const zero = r.usage ? r.usage.inputTokens + r.usage.outputTokens === 0 : false;
    const tokens = r.usage ? `, ${r.usage.inputTokens + r.usage.outputTokens} tokens` : "";
    const rect = svgEl("rect", {
      class: "tl-run",
      x: x(r.start),
      y: 7,
      width: Math.max(3, x(end) - x(r.start)),
      height: 20,
      "data-run-id": id,
      "data-status": r.status,
      "data-zero": String(zero),
      "data-reasons": r.reasons.join(","),
    });
    rect.append(svgEl("title", {}, `run #${id} ${r.status} (${r.reasons.join(", ")})${tokens}${r.why ? ` — ${r.why}` : ""}`));
    svg.append(rect);
  }
  for (const e of entry.events) {
    if (e.at < from) continue;
    const cx = x(e.at);
    let mark = null;
    if (e.type === "wake-skipped") mark = svgEl("line", { class: "tl-skip", x1: cx, x2: cx, y1: 4, y2: 30 });
    else if (e.type === "wake-deferred") mark = svgEl("path", { class: "tl-defer", d: `M${cx} 2 l5 5 l-5 5 l-5 -5 z` });
    else if (e.type === "alert" && e.state === "open") mark = svgEl("path", { class: "tl-alert", d: `M${cx} 22 l6 11 h-12 z` });
    else if (e.type === "alert") mark = svgEl("path", { class: "tl-resolved", d: `M${cx} 33 l6 -11 h-12 z` });
    if (!mark) continue;
    mark.dataset.type = e.type;
    mark.append(svgEl("title", {}, `${clock(e.at)} ${describe(e)[0]}`));
    svg.append(mark);
  }
  const axis = el("div", { class: "axis" }, el("span", {}, "−2 min"), el("span", {}, "−1 min"), el("span", {}, "now"));
  $(".timeline", entry.card).replaceChildren(svg, axis);
}

/** The last runs side by side, oldest first, each bar as wide as the run took (a shared scale). */
function renderHistory(entry) {
  const runs = entry.runs.slice(0, HISTORY).reverse();
  const W = 1000;
  const GAP = 4;
  const MIN = 3;
  const total = runs.reduce((sum, r) => sum + Math.max(0, r.durationMs), 0);
  const free = Math.max(0, W - runs.length * (MIN + GAP));
  const svg = svgEl("svg", { viewBox: `0 0 ${W} 22`, preserveAspectRatio: "none" });
  let x = 0;
  for (const r of runs) {
    const w = MIN + (total > 0 ? (Math.max(0, r.durationMs) / total) * free : free / runs.length);
    const tokens = r.usage ? r.usage.inputTokens + r.usage.outputTokens : undefined;
    const rect = svgEl("rect", {
      class: "hist-run",
      x: x.toFixed(1),
      y: 3,
      width: w.toFixed(1),
      height: 16,
      "data-run-id": r.runId,
      "data-status": r.status,
      "data-duration-ms": r.durationMs,
      "data-zero": String(tokens === 0),
    });
    const why = r.error ?? r.reason;
    rect.append(
      svgEl(
        "title",
        {},
        `run #${r.runId} ${r.status} in ${fmtMs(r.durationMs)} · started ${clock(r.startedAt)} · ${r.reasons.join(", ")}` +
          `${tokens === undefined ? "" : ` · ${tokens} tokens`}${why ? ` — ${why}` : ""}`,
      ),
    );
    svg.append(rect);
    x += w + GAP;
  }
  const caption = $(".history-caption", entry.card);
  caption.replaceChildren();
  if (runs.length === 0) caption.append("Runs: none yet");
  else {
    const sorted = runs.map((r) => r.durationMs).sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    const longest = runs.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    const bad = runs.filter((r) => r.status !== "ran" && r.status !== "skipped").length;
    caption.append(
      `Runs: last ${runs.length} · median `,
      el("b", {}, fmtMs(median)),
      " · longest ",
      el("b", {}, fmtMs(longest.durationMs)),
      ` (#${longest.runId} ${longest.status})`,
      ...(bad ? [" · ", el("b", {}, String(bad)), " failed/timed out/aborted"] : []),
    );
  }
  $(".history-bars", entry.card).replaceChildren(svg);
}

function renderUpcoming(entry) {
  const p = $(".upcoming", entry.card);
  p.replaceChildren();
  const h = entry.health;
  if (h.enabled === false) return;
  if (h.paused) {
    p.append("Next runs: none while paused (resume to re-arm)");
    return;
  }
  const now = Date.now() + offset;
  const times = (entry.upcoming ?? []).filter((t) => t > now - 1000);
  if (times.length === 0) return;
  p.append("Next runs: ");
  times.forEach((t, i) => {
    if (i) p.append(" · ");
    p.append(el("b", { "data-at": String(t) }, clock(t)), i === 0 ? ` (${relative(t)})` : "");
  });
}

/** Re-reads an agent's next run times (at most a few times a second per agent). */
function refreshUpcoming(entry) {
  if (entry.upcomingTimer) return;
  entry.upcomingTimer = setTimeout(async () => {
    try {
      const id = entry.health.id;
      const data = await getJson(`/api/agents/${encodeURIComponent(id)}/upcoming?n=${UPCOMING}`);
      entry.upcoming = data.upcoming;
      renderUpcoming(entry);
    } catch {
      // gone (a reload removed it) or offline: the next resync sets it
    } finally {
      entry.upcomingTimer = undefined;
    }
  }, 300);
}

function flash(svg, from, to) {
  if (!svg) return;
  const edge = (a, b) => svg.querySelector(`.sc-edge[data-from="${a}"][data-to="${b}"]`);
  let path = [edge(from, to)];
  if (!path[0]) {
    const mid = chart.states.map((s) => s.id).find((m) => edge(from, m) && edge(m, to));
    path = mid ? [edge(from, mid), edge(mid, to)] : [];
  }
  for (const p of path) {
    if (!p) continue;
    p.classList.add("flash");
    setTimeout(() => p.classList.remove("flash"), 1200);
  }
}

function addCounts(svg) {
  for (const node of svg.querySelectorAll(".sc-node")) {
    const rect = node.querySelector("rect");
    const x = Number(rect.getAttribute("x")) + Number(rect.getAttribute("width")) - 4;
    const y = Number(rect.getAttribute("y")) - 4;
    node.append(svgEl("text", { class: "count", x, y, "text-anchor": "end" }, ""));
  }
}

function renderCounts() {
  const counts = {};
  for (const { health } of agents.values()) counts[health.state] = (counts[health.state] ?? 0) + 1;
  for (const node of document.querySelectorAll("#machine-chart .sc-node")) {
    const n = counts[node.dataset.state] ?? 0;
    node.classList.toggle("lit", n > 0);
    node.querySelector(".count").textContent = n ? `×${n}` : "";
  }
  const running = counts.running ?? 0;
  $("#summary").textContent = `${agents.size} agents · ${running} running · ${counts.deferred ?? 0} deferred`;
}

function setAlerts(list) {
  alerts = list ?? [];
  const ok = alerts.length === 0;
  const pill = $("#health");
  pill.dataset.ok = String(ok);
  pill.textContent = ok ? "healthy" : `${alerts.length} alert${alerts.length === 1 ? "" : "s"}`;
  $("#alerts").hidden = ok;
  $("#alert-list").replaceChildren(
    ...alerts.map((a) => el("li", {}, el("b", {}, a.kind), ` ${a.message}`, el("span", { class: "since" }, `since ${clock(a.since)}`))),
  );
  for (const entry of agents.values()) renderBadges(entry);
}

function tick() {
  const now = Date.now() + offset;
  for (const entry of agents.values()) {
    renderFacts(entry);
    renderTimeline(entry);
    renderUpcoming(entry);
    // The first upcoming run has come: the list moves on.
    if (!entry.health.paused && entry.upcoming.length > 0 && entry.upcoming[0] < now - 1000) refreshUpcoming(entry);
  }
}

// --- waking, pausing and resuming, with the token asked once per tab ---

async function wake(agentId) {
  const entry = agents.get(agentId);
  // A paused agent skips plain wakes: the page's Wake button forces it (a manual wake only).
  const force = Boolean(entry.health.paused);
  await mutate(entry, $(".wake", entry.card), "/api/wake", { agentId, reason: "manual", ...(force ? { force: true } : {}) }, "wake", () =>
    force ? "woken (manual, forced through the pause)" : "woken (manual)",
  );
}

async function pause(agentId) {
  const entry = agents.get(agentId);
  if (!(await tokenOrAsk())) return;
  let reason;
  try {
    reason = await askReason(agentId);
  } catch {
    return;
  }
  await mutate(entry, $(".pause", entry.card), `/api/agents/${encodeURIComponent(agentId)}/pause`, reason ? { reason } : {}, "pause", (body) => {
    entry.health = { ...entry.health, paused: body.paused };
    return body.changed ? `paused: ${body.paused.reason}` : `already paused: ${body.paused.reason}`;
  });
  renderAgent(entry, undefined);
  refreshUpcoming(entry);
}

async function resume(agentId) {
  const entry = agents.get(agentId);
  await mutate(entry, $(".resume", entry.card), `/api/agents/${encodeURIComponent(agentId)}/resume`, {}, "resume", (body) => {
    delete entry.health.paused;
    if (body.nextDueAt !== undefined) entry.health.nextDueAt = body.nextDueAt;
    return body.nextDueAt === undefined ? "resumed" : `resumed: next run ${relative(body.nextDueAt)}`;
  });
  renderAgent(entry, undefined);
  refreshUpcoming(entry);
}

async function tokenOrAsk() {
  const token = sessionStorage.getItem("heartbeat-token");
  if (token) return token;
  try {
    return await askToken();
  } catch {
    return null;
  }
}

/** POSTs with the token; says how it went on the card. `done(body)` gives the success text. */
async function mutate(entry, button, url, payload, verb, done) {
  const token = await tokenOrAsk();
  if (!token) return;
  entry.busy = true;
  button.disabled = true;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(payload),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) sessionStorage.removeItem("heartbeat-token");
    notice(entry, res.ok ? "ok" : "error", res.ok ? done(body) : `${verb} refused: ${body.error ?? `HTTP ${res.status}`}`);
  } catch (err) {
    notice(entry, "error", `${verb} failed: ${err.message}`);
  } finally {
    entry.busy = false;
    button.disabled = false;
    renderBadges(entry);
  }
}

function askReason(agentId) {
  const dialog = $("#pause-dialog");
  const input = $("#pause-reason");
  $("#pause-agent").textContent = agentId;
  input.value = "";
  dialog.showModal();
  return new Promise((resolve, reject) => {
    const done = (ok) => {
      $("#pause-form").onsubmit = null;
      $("#pause-cancel").onclick = null;
      dialog.oncancel = null;
      dialog.close();
      if (ok) resolve(input.value.trim());
      else reject(new Error("cancelled"));
    };
    $("#pause-form").onsubmit = (ev) => {
      ev.preventDefault();
      done(true);
    };
    $("#pause-cancel").onclick = () => done(false);
    dialog.oncancel = () => done(false);
  });
}

function askToken() {
  const dialog = $("#token-dialog");
  const input = $("#token-input");
  input.value = sessionStorage.getItem("heartbeat-token") ?? "";
  dialog.showModal();
  return new Promise((resolve, reject) => {
    const done = (value) => {
      $("#token-form").onsubmit = null;
      $("#token-cancel").onclick = null;
      dialog.close();
      if (value) {
        sessionStorage.setItem("heartbeat-token", value);
        resolve(value);
      } else reject(new Error("cancelled"));
    };
    $("#token-form").onsubmit = (ev) => {
      ev.preventDefault();
      done(input.value.trim());
    };
    $("#token-cancel").onclick = () => done("");
    dialog.oncancel = () => done("");
  });
}

function notice(entry, kind, text) {
  const p = $(".notice", entry.card);
  p.hidden = false;
  p.dataset.kind = kind;
  p.textContent = text;
  clearTimeout(entry.noticeTimer);
  entry.noticeTimer = setTimeout(() => (p.hidden = true), 6000);
}

// --- helpers ---

function setConn(state, text) {
  const c = $("#conn");
  c.dataset.state = state;
  c.textContent = text;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function relative(at) {
  const d = at - (Date.now() + offset);
  const s = Math.abs(d) / 1000;
  const txt = s < 1 ? "now" : s < 90 ? `${s.toFixed(0)}s` : s < 5400 ? `${(s / 60).toFixed(0)}m` : `${(s / 3600).toFixed(1)}h`;
  return txt === "now" ? txt : d > 0 ? `in ${txt}` : `${txt} ago`;
}

function clock(at) {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

function fmtMs(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
