/**
 * The daemon's terminal view: one row per agent (state, next due, last status, runs,
 * alerts) and the latest events, redrawn in place. `renderTable` is pure (the `status`
 * command prints it once); `LiveTable` redraws it on a TTY.
 */
import type { AgentHealth, Alert, HeartbeatEvent } from "../index.ts";

export interface TableInput {
  readonly agents: readonly AgentHealth[];
  readonly alerts: readonly Alert[];
  readonly now: number;
  /** Terminal width; lines are cut to it so a redraw never wraps. */
  readonly width: number;
  readonly color: boolean;
}

const STATE_COLOR: Readonly<Record<string, number>> = { idle: 34, due: 33, deferred: 33, running: 32, stopped: 90 };

export function renderTable(input: TableInput): string[] {
  const { agents, alerts, now, width, color } = input;
  const paint = (code: number, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const header = ["AGENT", "STATE", "NEXT DUE", "LAST", "RUNS", "SKIPS", "ALERTS"];
  const rows = agents.map((a) => {
    const open = alerts.filter((x) => x.agentId === a.id).map((x) => x.kind);
    return [
      a.id,
      a.failed ? `${a.state}!` : !a.enabled ? "disabled" : a.paused ? `${a.state} (paused)` : a.state,
      a.nextDueAt === undefined || a.state === "stopped" || a.paused ? "-" : relative(a.nextDueAt, now),
      a.lastStatus === undefined ? "-" : `${a.lastStatus}${a.lastRunAt === undefined ? "" : ` ${relative(a.lastRunAt, now)}`}`,
      String(a.runCount),
      String(a.skipCount),
      open.join(", ") || "-",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], style: (i: number, cell: string) => string): string => {
    let used = 0;
    const out: string[] = [];
    cells.forEach((cell, i) => {
      if (used >= width) return;
      const last = i === cells.length - 1;
      let text = last ? cell : cell.padEnd(widths[i] ?? 0);
      if (used + text.length > width) text = `${text.slice(0, Math.max(0, width - used - 1))}…`;
      out.push(style(i, text));
      used += text.length + 2;
    });
    return out.join("  ");
  };
  const lines = [line(header, (_i, t) => paint(1, t))];
  for (const r of rows) {
    lines.push(
      line(r, (i, t) => {
        if (i === 1) return paint(/\(paused\)$/.test(r[1] ?? "") ? 35 : (STATE_COLOR[(r[1] ?? "").replace(/!$/, "")] ?? 31), t);
        if (i === 6 && r[6] !== "-") return paint(31, t);
        if (i === 3 && /^(failed|timed-out|aborted)/.test(r[3] ?? "")) return paint(31, t);
        return t;
      }),
    );
  }
  if (agents.length === 0) lines.push("(no agents configured)");
  return lines;
}

/** A one-line account of an event for the terminal. */
export function describeEvent(e: HeartbeatEvent): string {
  switch (e.type) {
    case "run-started":
      return `${e.agentId}: run #${e.runId} started (${e.reasons.join(", ")})`;
    case "run-finished": {
      const tokens = e.usage ? `, ${e.usage.inputTokens + e.usage.outputTokens} tokens` : "";
      const why = e.reason ?? e.error;
      return `${e.agentId}: run #${e.runId} ${e.status} in ${e.durationMs} ms${tokens}${why ? ` (${why})` : ""}`;
    }
    case "wake-deferred":
      return `${e.agentId}: deferred (${e.reason}) [${e.reasons.join(", ")}]`;
    case "wake-skipped":
      return `${e.agentId}: skipped (${e.reason}) [${e.reasons.join(", ")}]`;
    case "wake-coalesced":
      return `${e.agentId}: ${e.count} wakes coalesced`;
    case "run-settled-late":
      return `${e.agentId}: run #${e.runId} settled late (${e.settled})`;
    case "agent-restarted":
      return `${e.agentId}: restarted after a crash (${e.error})`;
    case "agent-paused":
      return `${e.agentId}: paused (${e.reason})`;
    case "agent-resumed":
      return `${e.agentId}: resumed${e.nextDueAt === undefined ? "" : `, next due ${new Date(e.nextDueAt).toLocaleTimeString([], { hour12: false })}`}`;
    case "alert":
      return `${e.agentId}: ${e.state === "open" ? "ALERT" : "resolved"} ${e.kind}: ${e.message}`;
    default: {
      const other: { agentId: string; type: string } = e;
      return `${other.agentId}: ${other.type}`;
    }
  }
}

export function relative(at: number, now: number): string {
  const d = at - now;
  const s = Math.abs(d) / 1000;
  if (s < 1) return "now";
  const text = s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${(s / 3600).toFixed(1)}h` : `${Math.round(s / 86_400)}d`;
  return d > 0 ? `in ${text}` : `${text} ago`;
}

export interface LiveTableSource {
  readonly title: () => string;
  readonly health: () => { agents: readonly AgentHealth[]; alerts: readonly Alert[] };
}

/** Redraws the table in place on a terminal (cursor up, clear, draw). */
export class LiveTable {
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private readonly log: string[] = [];

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly source: LiveTableSource,
    private readonly logLines = 8,
  ) {}

  start(intervalMs = 500): void {
    this.out.write("\x1b[?25l");
    this.draw();
    this.timer = setInterval(() => this.draw(), intervalMs);
  }

  /** A line for the log under the table (events, reloads, errors). */
  note(text: string): void {
    const t = new Date().toLocaleTimeString([], { hour12: false });
    this.log.push(`${t}  ${text}`);
    if (this.log.length > this.logLines) this.log.splice(0, this.log.length - this.logLines);
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.draw();
    }, 100);
  }

  draw(): void {
    const width = Math.max(40, (this.out.columns || 100) - 1);
    const h = this.source.health();
    const cut = (s: string): string => (s.length > width ? `${s.slice(0, width - 1)}…` : s);
    const lines = [
      cut(this.source.title()),
      "",
      ...renderTable({ agents: h.agents, alerts: h.alerts, now: Date.now(), width, color: true }),
      "",
      ...this.log.map((l) => `\x1b[2m${cut(l)}\x1b[0m`),
    ];
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : "";
    this.out.write(`${up}\x1b[J${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.timer = undefined;
    this.pending = undefined;
    this.draw();
    this.out.write("\x1b[?25h");
  }
}
