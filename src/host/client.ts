/** `wake`, `status`, `pause` and `resume`: talk to a running daemon over its HTTP API. */
import type { AgentHealth, Alert, RunRecord } from "../index.ts";
import { relative, renderTable } from "./live-table.ts";

export const DEFAULT_URL = "http://127.0.0.1:7070";

export class ClientError extends Error {
  override readonly name = "ClientError";
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

async function request(base: string, path: string, init: { method?: string; body?: unknown; token?: string | undefined } = {}): Promise<Answer> {
  let url: URL;
  try {
    url = new URL(path, base.endsWith("/") ? base : `${base}/`);
  } catch {
    throw new ClientError(`--url: ${JSON.stringify(base)} is not a URL`);
  }
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? "GET",
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ClientError(`cannot reach the daemon at ${base} (${cause}); is \`heartbeat-gateway run\` running? (--url)`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

function errorOf(a: Answer): string {
  const b = a.body as { error?: unknown } | string;
  if (typeof b === "object" && b !== null && typeof b.error === "string") return b.error;
  return `HTTP ${a.status}${typeof b === "string" && b ? `: ${b.slice(0, 200)}` : ""}`;
}

export interface WakeOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly agentId?: string;
  readonly all?: boolean;
  readonly reason: string;
  /** A manual wake that runs even while the agent is paused. */
  readonly force?: boolean;
}

export interface WakeResult {
  readonly targets: string[];
  /** Targets that are paused: the (unforced) wake was recorded as skipped for them. */
  readonly paused: string[];
}

/** POST /api/wake; resolves to the woken agents' ids (and those of them that are paused). */
export async function wake(o: WakeOptions): Promise<WakeResult> {
  if (!o.token) throw new ClientError("no token: set HEARTBEAT_TOKEN to the daemon's token (waking needs it)");
  const body = {
    ...(o.all ? { all: true } : { agentId: o.agentId }),
    reason: o.reason,
    ...(o.force ? { force: true } : {}),
  };
  const a = await request(o.url, "api/wake", { method: "POST", body, token: o.token });
  if (a.status !== 202) throw new ClientError(`wake refused (HTTP ${a.status}): ${errorOf(a)}`);
  const r = a.body as { targets: string[]; paused?: string[] };
  return { targets: r.targets, paused: r.paused ?? [] };
}

const agentPath = (id: string, rest = ""): string => `api/agents/${encodeURIComponent(id)}${rest}`;

export interface PauseResult {
  readonly agentId: string;
  readonly paused: { readonly reason: string; readonly since: number };
  /** false: it was already paused (the first pause and its reason are kept). */
  readonly changed: boolean;
}

/** POST /api/agents/:id/pause. */
export async function pause(o: { url: string; token: string | undefined; agentId: string; reason?: string }): Promise<PauseResult> {
  if (!o.token) throw new ClientError("no token: set HEARTBEAT_TOKEN to the daemon's token (pausing needs it)");
  const body = o.reason === undefined ? {} : { reason: o.reason };
  const a = await request(o.url, agentPath(o.agentId, "/pause"), { method: "POST", body, token: o.token });
  if (a.status !== 200) throw new ClientError(`pause refused (HTTP ${a.status}): ${errorOf(a)}`);
  return a.body as PauseResult;
}

export interface ResumeResult {
  readonly agentId: string;
  /** false: it was not paused. */
  readonly resumed: boolean;
  readonly nextDueAt?: number;
}

/** POST /api/agents/:id/resume. */
export async function resume(o: { url: string; token: string | undefined; agentId: string }): Promise<ResumeResult> {
  if (!o.token) throw new ClientError("no token: set HEARTBEAT_TOKEN to the daemon's token (resuming needs it)");
  const a = await request(o.url, agentPath(o.agentId, "/resume"), { method: "POST", body: {}, token: o.token });
  if (a.status !== 200) throw new ClientError(`resume refused (HTTP ${a.status}): ${errorOf(a)}`);
  return a.body as ResumeResult;
}

export interface StatusData {
  readonly ok: boolean;
  readonly agents: AgentHealth[];
  readonly alerts: Alert[];
}

export async function status(url: string): Promise<StatusData> {
  const a = await request(url, "api/agents");
  if (a.status !== 200) throw new ClientError(`status failed: ${errorOf(a)}`);
  return a.body as StatusData;
}

export function formatStatus(data: StatusData, color: boolean, width = 120): string {
  const lines = renderTable({ agents: data.agents, alerts: data.alerts, now: Date.now(), width, color });
  const head = data.ok ? "ok: no open alerts" : `ALERTING: ${data.alerts.length} open alert(s)`;
  const alerts = data.alerts.map((x) => `  ${x.kind} (${x.agentId}): ${x.message}`);
  return [head, "", ...lines, ...(alerts.length ? ["", "alerts:", ...alerts] : [])].join("\n");
}

/** One agent as GET /api/agents/:id shows it (the fields `status <id>` prints). */
export interface AgentDetail extends AgentHealth {
  readonly schedule: {
    readonly every?: string | number;
    readonly cron?: string;
    readonly timezone?: string;
    readonly sessionKey?: string;
    readonly activeHours?: { readonly start: string; readonly end: string; readonly timezone?: string };
    readonly runTimeout?: string | number;
    readonly catchUp?: string;
    readonly catchUpWindow?: string | number;
    readonly jitter?: string | number;
  };
  readonly alerts: readonly Alert[];
}

export interface AgentStatusData {
  readonly agent: AgentDetail;
  /** The next scheduled run times (wall ms); empty while paused or disabled. */
  readonly upcoming: number[];
  /** The last runs, newest first. */
  readonly runs: RunRecord[];
}

/** GET /api/agents/:id, its upcoming runs and its run history. */
export async function agentStatus(url: string, agentId: string, o: { upcoming?: number; runs?: number } = {}): Promise<AgentStatusData> {
  const [agent, upcoming, runs] = await Promise.all([
    request(url, agentPath(agentId)),
    request(url, agentPath(agentId, `/upcoming?n=${o.upcoming ?? 5}`)),
    request(url, agentPath(agentId, `/runs?limit=${o.runs ?? 10}`)),
  ]);
  for (const a of [agent, upcoming, runs]) if (a.status !== 200) throw new ClientError(`status failed (HTTP ${a.status}): ${errorOf(a)}`);
  const { recent: _recent, ...detail } = agent.body as AgentDetail & { recent?: unknown };
  return {
    agent: detail,
    upcoming: (upcoming.body as { upcoming: number[] }).upcoming,
    runs: (runs.body as { runs: RunRecord[] }).runs,
  };
}

/** `status <id>`: the agent's state, pause, schedule, next runs and last runs, for a person. */
export function formatAgentStatus(data: AgentStatusData, now = Date.now()): string {
  const { agent: a, upcoming, runs } = data;
  const s = a.schedule;
  const lines: string[] = [];
  const state = a.failed ? `${a.state} (failed: restart limit; reload it to retry)` : a.enabled ? a.state : "disabled";
  lines.push(`agent:     ${a.id}`);
  lines.push(`state:     ${state}`);
  if (a.paused) lines.push(`paused:    since ${when(a.paused.since)} (${relative(a.paused.since, now)}): ${a.paused.reason}`);
  const sched = [
    s.cron === undefined ? `every ${String(s.every ?? "?")}` : `cron ${s.cron}`,
    s.timezone === undefined ? "" : `in ${s.timezone}`,
    s.activeHours === undefined ? "" : `active ${s.activeHours.start}–${s.activeHours.end}`,
    s.sessionKey === undefined ? "" : `session ${s.sessionKey}`,
    s.runTimeout === undefined ? "" : `timeout ${String(s.runTimeout)}`,
    s.catchUp === undefined ? "" : `catch-up ${s.catchUp}`,
    s.catchUpWindow === undefined ? "" : `window ${String(s.catchUpWindow)}`,
    s.jitter === undefined ? "" : `jitter ${String(s.jitter)}`,
  ].filter(Boolean);
  lines.push(`schedule:  ${sched.join(" · ")}`);
  const nextDue = a.paused ? "- (paused)" : a.nextDueAt === undefined || a.state === "stopped" ? "-" : `${when(a.nextDueAt)} (${relative(a.nextDueAt, now)})`;
  lines.push(`next due:  ${nextDue}`);
  const last = a.lastStatus === undefined ? "-" : `${a.lastStatus}${a.lastRunAt === undefined ? "" : ` ${relative(a.lastRunAt, now)}`}`;
  lines.push(`counts:    ${a.runCount} runs · ${a.skipCount} skips · last ${last}`);
  if (a.pendingReasons.length > 0) lines.push(`pending:   ${a.pendingReasons.join(", ")}`);
  lines.push(`alerts:    ${a.alerts.length === 0 ? "none" : a.alerts.map((x) => `${x.kind}: ${x.message}`).join("; ")}`);

  lines.push("", `upcoming runs (next ${upcoming.length || 0}):`);
  if (upcoming.length === 0) lines.push(`  none${a.paused ? " while paused (resume to re-arm)" : !a.enabled ? " (disabled)" : ""}`);
  for (const t of upcoming) lines.push(`  ${when(t)}  ${relative(t, now)}`);

  lines.push("", `last runs (${runs.length}, newest first):`);
  if (runs.length === 0) lines.push("  none yet");
  const rows = runs.map((r) => {
    const tokens = r.usage ? `${r.usage.inputTokens + r.usage.outputTokens} tokens` : "";
    const why = r.error ?? r.reason ?? "";
    return [`#${r.runId}`, when(r.startedAt), r.status, duration(r.durationMs), r.reasons.join(",") || "-", [tokens, why].filter(Boolean).join(" · ")];
  });
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) {
    const cells = r.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : i === 3 ? c.padStart(widths[3] ?? 0) : i === 4 ? c.padEnd(widths[4] ?? 0) : c));
    lines.push(`  ${cells.join("  ").trimEnd()}`);
  }
  return lines.join("\n");
}

/** A local date and time, to the second: 2026-03-05 14:02:07. */
function when(at: number): string {
  const d = new Date(at);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}
