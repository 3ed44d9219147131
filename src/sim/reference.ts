import { Cron } from "croner";

/**
 * The reference model's own view of agents and wakes. It is written from DESIGN.md,
 * not imported from src/policy, so a mistake in the production classification or
 * schedule shows up as a disagreement instead of being copied into the oracle.
 */

export type RefSchedule =
  | { readonly kind: "interval"; readonly everyMs: number }
  | { readonly kind: "cron"; readonly expression: string; readonly timezone: string | undefined };

export interface RefAgent {
  readonly id: string;
  readonly schedule: RefSchedule;
  readonly sessionKey: string | undefined;
  readonly enabled: boolean;
  readonly runTimeoutMs: number;
}

export interface RefPolicy {
  readonly minSpacingMs: number;
  readonly flood: { readonly maxRuns: number; readonly windowMs: number };
  readonly coalesceMs: number;
  readonly pastDueCadences: number;
  readonly zeroWorkStreak: number;
  /** The gateway's detector sweep period (detection latency of an alert). */
  readonly sweepMs: number;
}

export const DEFAULT_REF_POLICY: RefPolicy = {
  minSpacingMs: 30_000,
  flood: { maxRuns: 5, windowMs: 60_000 },
  coalesceMs: 250,
  pastDueCadences: 2,
  zeroWorkStreak: 3,
  sweepMs: 15_000,
};

/** A cron wait re-checks the wall clock at least this often (DESIGN: "within 30 s of waking"). */
export const WALL_RECHECK_MS = 30_000;

export type RefIntent = "scheduled" | "immediate" | "event";

const IMMEDIATE = new Set(["manual", "wake", "hook:wake", "background-task", "background-task-blocked"]);

/** DESIGN's wake table: scheduled (own slot), immediate (allowlist), event (everything else). */
export function refIntent(reason: string): RefIntent {
  if (reason === "interval" || reason === "cron-slot") return "scheduled";
  if (IMMEDIATE.has(reason)) return "immediate";
  if (reason.startsWith("cron:") && reason.length > "cron:".length) return "immediate";
  return "event";
}

export function isSlotReason(reason: string): boolean {
  return reason === "interval" || reason === "cron-slot";
}

const crons = new Map<string, Cron>();

function cronOf(expression: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ""}\u0000${expression}`;
  let c = crons.get(key);
  if (!c) {
    c = new Cron(expression, timezone === undefined ? { paused: true } : { timezone, paused: true });
    crons.set(key, c);
  }
  return c;
}

/** First cron slot strictly after `wall` (Infinity when none). */
export function nextSlot(s: Extract<RefSchedule, { kind: "cron" }>, wall: number): number {
  // The checkers ask this for every agent at every check: remember a few answers per
  // schedule (the first slot after any w in [from, next) is `next`).
  const key = `${s.expression}\u0000${s.timezone ?? ""}`;
  let ranges = slotRanges.get(key);
  if (ranges === undefined) slotRanges.set(key, (ranges = []));
  for (const r of ranges) if (wall >= r.from && wall < r.next) return r.next;
  const found = cronOf(s.expression, s.timezone).nextRun(new Date(wall));
  if (found === null) return Number.POSITIVE_INFINITY;
  ranges.push({ from: wall, next: found.getTime() });
  if (ranges.length > 8) ranges.shift();
  return found.getTime();
}
const slotRanges = new Map<string, { from: number; next: number }[]>();

/** The gap between the slots that follow `wall` (a cron agent's cadence there). */
export function cronCadence(s: Extract<RefSchedule, { kind: "cron" }>, wall: number): number {
  const a = nextSlot(s, wall);
  const b = nextSlot(s, a);
  return Number.isFinite(b - a) ? b - a : Number.POSITIVE_INFINITY;
}

/** The agent's cadence near `wall`, in ms. */
export function cadenceOf(agent: RefAgent, wall: number): number {
  return agent.schedule.kind === "interval" ? agent.schedule.everyMs : cronCadence(agent.schedule, wall);
}
