import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { parseActiveHours } from "./active-hours.ts";
import { cronPattern } from "./cron.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { stableFraction } from "./phase.ts";
import { MAX_TIMER_MS, SECOND } from "./time.ts";
import { assertTimezone } from "./timezone.ts";
import type { ResolvedAgent, ResolvedPolicy, Schedule } from "./types.ts";

/**
 * Public config → resolved types. zod checks the shape (unknown keys, types,
 * integer ranges); durations, zones and cron expressions are checked here with
 * their own readable messages. Every failure is a ConfigError naming the full
 * path of the offending field (`agents[2].activeHours.start`), because a host
 * reloading 500 agents needs to know which one is wrong, not just that one is.
 */

/** One agent as a host writes it (public contract). */
export interface AgentConfig {
  id: string;
  /** Interval cadence: "30m", "90s", "1.5h", or ms. "0m" disables. Default "30m". */
  every?: string | number;
  /** Cron expression (5–7 fields); exclusive with `every`. */
  cron?: string;
  /** IANA zone for cron slots and active hours; default the host's zone. */
  timezone?: string;
  sessionKey?: string;
  enabled?: boolean;
  activeHours?: { start: string; end: string; timezone?: string };
  /** Per-run watchdog; default "10m", at least 1 s. */
  runTimeout?: string | number;
  /** Missed slots (a host that slept or was down): "once" (default) runs the latest, "skip" records them as skipped. */
  catchUp?: "once" | "skip";
  /** A missed slot older than this is skipped rather than run; default one cadence. */
  catchUpWindow?: string | number;
  /** Upper bound of a stable per-agent offset added to every cron slot (spreads fleets firing at :00). Default "0s". */
  jitter?: string | number;
}

/** Gateway-wide wake policy as a host writes it; every field optional. */
export interface PolicyConfig {
  minSpacingMs?: number;
  flood?: { maxRuns: number; windowMs: number };
  retry?: { initialMs: number; maxMs: number };
  coalesceMs?: number;
  pastDueCadences?: number;
  busyWedgedCadences?: number;
  zeroWorkStreak?: number;
  restart?: { maxRestarts: number; windowMs: number };
}

export const DEFAULT_EVERY = "30m";
export const DEFAULT_RUN_TIMEOUT = "10m";
/** Below this a cadence or timeout is a typo ("30" meant minutes? "500" meant s?). */
const MIN_CADENCE_MS = SECOND;

/** Frozen: it is handed out as-is whenever a host gives no policy. */
export const DEFAULT_POLICY: ResolvedPolicy = Object.freeze({
  minSpacingMs: 30_000,
  flood: Object.freeze({ maxRuns: 5, windowMs: 60_000 }),
  retry: Object.freeze({ initialMs: 1_000, maxMs: 60_000 }),
  coalesceMs: 250,
  pastDueCadences: 2,
  busyWedgedCadences: 2,
  zeroWorkStreak: 3,
  restart: Object.freeze({ maxRestarts: 3, windowMs: 60_000 }),
});

// Durations stay `unknown` here so parseDuration reports them with its own messages.
const agentSchema = z.strictObject({
  id: z.string(),
  every: z.unknown().optional(),
  cron: z.string().optional(),
  timezone: z.string().optional(),
  sessionKey: z.string().min(1).optional(),
  enabled: z.boolean().optional(),
  activeHours: z
    .strictObject({ start: z.string(), end: z.string(), timezone: z.string().optional() })
    .optional(),
  runTimeout: z.unknown().optional(),
  catchUp: z.enum(["once", "skip"]).optional(),
  catchUpWindow: z.unknown().optional(),
  jitter: z.unknown().optional(),
});

const count = z.number().int().min(0);
const atLeastOne = z.number().int().min(1);
const policySchema = z.strictObject({
  minSpacingMs: count.optional(),
  flood: z.strictObject({ maxRuns: atLeastOne, windowMs: atLeastOne }).optional(),
  retry: z.strictObject({ initialMs: z.number().int().min(1), maxMs: count }).optional(),
  coalesceMs: count.optional(),
  pastDueCadences: atLeastOne.optional(),
  busyWedgedCadences: atLeastOne.optional(),
  zeroWorkStreak: atLeastOne.optional(),
  restart: z.strictObject({ maxRestarts: count, windowMs: count }).optional(),
});

export function resolveAgents(input: unknown, field = "agents"): ResolvedAgent[] {
  if (!Array.isArray(input)) throw new ConfigError(field, `expected an array of agents, got ${typeName(input)}`);
  const seen = new Set<string>();
  return input.map((entry: unknown, index) => {
    const at = `${field}[${index}]`;
    const agent = resolveAgent(entry, at);
    if (seen.has(agent.id)) throw new ConfigError(`${at}.id`, `duplicate id ${JSON.stringify(agent.id)}`);
    seen.add(agent.id);
    return agent;
  });
}

type RawAgent = z.output<typeof agentSchema>;

/**
 * The shape check of the common agent (flat keys of the right types), by hand: zod costs
 * ~5 µs an agent, half a second of a 100 000-agent start. Returns the entry as zod would
 * see it, or undefined for anything it is not sure of (nested `activeHours`, a wrong
 * type, an unknown key); zod then decides and words the error, so messages come from
 * one place.
 */
function fastShape(entry: unknown): RawAgent | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const proto = Object.getPrototypeOf(entry);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const o = entry as Record<string, unknown>;
  for (const key in o) {
    switch (key) {
      case "id":
      case "every":
      case "cron":
      case "timezone":
      case "sessionKey":
      case "enabled":
      case "runTimeout":
      case "catchUp":
      case "catchUpWindow":
      case "jitter":
        continue;
      default:
        return undefined;
    }
  }
  const { id, cron, timezone, sessionKey, enabled, catchUp } = o;
  if (typeof id !== "string") return undefined;
  if (cron !== undefined && typeof cron !== "string") return undefined;
  if (timezone !== undefined && typeof timezone !== "string") return undefined;
  if (sessionKey !== undefined && (typeof sessionKey !== "string" || sessionKey.length === 0)) return undefined;
  if (enabled !== undefined && typeof enabled !== "boolean") return undefined;
  if (catchUp !== undefined && catchUp !== "once" && catchUp !== "skip") return undefined;
  return o as RawAgent;
}

/** Parsed duration strings: a fleet repeats the same few ("30m", the "10m" default) 100 000 times. */
const durations = new Map<string, number>();

function duration(value: unknown, field: string): number {
  if (typeof value !== "string") return parseDuration(value, field);
  let ms = durations.get(value);
  if (ms === undefined) {
    ms = parseDuration(value, field); // throws (uncached) for a bad one, naming the field
    if (durations.size >= 1_024) durations.clear();
    durations.set(value, ms);
  }
  return ms;
}

/** One shared object per cadence: schedules are never mutated, and 100 000 agents mostly share a few. */
const intervals = new Map<number, Schedule>();
const OFF: Schedule = Object.freeze({ kind: "off" });

function intervalSchedule(everyMs: number): Schedule {
  let s = intervals.get(everyMs);
  if (s === undefined) {
    s = Object.freeze({ kind: "interval", everyMs });
    if (intervals.size >= 1_024) intervals.clear();
    intervals.set(everyMs, s);
  }
  return s;
}

function resolveAgent(entry: unknown, at: string): ResolvedAgent {
  const raw = fastShape(entry) ?? parseShape(agentSchema, entry, at);
  if (raw.id.trim() === "") throw new ConfigError(`${at}.id`, "must not be empty or whitespace");
  const timezone = raw.timezone === undefined ? undefined : assertTimezone(raw.timezone, `${at}.timezone`);
  const schedule = resolveSchedule(raw, timezone, at);

  let activeHours: ResolvedAgent["activeHours"];
  if (raw.activeHours !== undefined) {
    const parsed = parseActiveHours(raw.activeHours, `${at}.activeHours`);
    // Store the zone the window will really use, so the machine needs no fallback.
    activeHours = { ...parsed, timezone: parsed.timezone ?? timezone };
  }

  const runTimeoutMs = duration(raw.runTimeout ?? DEFAULT_RUN_TIMEOUT, `${at}.runTimeout`);
  if (runTimeoutMs < MIN_CADENCE_MS) {
    throw new ConfigError(`${at}.runTimeout`, `${formatDuration(runTimeoutMs)} is below the 1s minimum`);
  }
  // The watchdog is one timer: it must fit the platform limit (an over-limit timeout fires after 1 ms).
  if (runTimeoutMs > MAX_TIMER_MS) {
    throw new ConfigError(`${at}.runTimeout`, `${formatDuration(runTimeoutMs)} is above the ${formatDuration(MAX_TIMER_MS)} maximum`);
  }

  const catchUpWindowMs =
    raw.catchUpWindow === undefined ? undefined : duration(raw.catchUpWindow, `${at}.catchUpWindow`);
  const jitterBoundMs = duration(raw.jitter ?? 0, `${at}.jitter`);
  if (schedule.kind === "interval" && jitterBoundMs >= schedule.everyMs) {
    throw new ConfigError(`${at}.jitter`, `${formatDuration(jitterBoundMs)} must be less than every (${formatDuration(schedule.everyMs)})`);
  }

  return {
    id: raw.id,
    sessionKey: raw.sessionKey,
    // A schedule that is off can never run, so it is reported as disabled.
    enabled: (raw.enabled ?? true) && schedule.kind !== "off",
    schedule,
    activeHours,
    runTimeoutMs,
    catchUp: raw.catchUp ?? "once",
    catchUpWindowMs,
    // Deterministic from the id, so a restart keeps it.
    jitterMs: jitterBoundMs === 0 ? 0 : Math.floor(stableFraction(raw.id, "jitter") * (jitterBoundMs + 1)),
  };
}

function resolveSchedule(
  raw: { every?: unknown; cron?: string | undefined },
  timezone: string | undefined,
  at: string,
): Schedule {
  if (raw.cron !== undefined) {
    if (raw.every !== undefined) {
      throw new ConfigError(`${at}.cron`, "cannot be combined with every (give one schedule)");
    }
    const expression = raw.cron.trim();
    return { kind: "cron", expression, timezone, pattern: cronPattern(expression, timezone, `${at}.cron`) };
  }
  const everyMs = duration(raw.every ?? DEFAULT_EVERY, `${at}.every`);
  if (everyMs === 0) return OFF;
  if (everyMs < MIN_CADENCE_MS) {
    throw new ConfigError(`${at}.every`, `${formatDuration(everyMs)} is below the 1s minimum cadence (use "0m" to disable)`);
  }
  return intervalSchedule(everyMs);
}

export function resolvePolicy(input: unknown, field = "policy"): ResolvedPolicy {
  if (input === undefined) return DEFAULT_POLICY;
  const raw = parseShape(policySchema, input, field);
  const d = DEFAULT_POLICY;
  const policy: ResolvedPolicy = {
    minSpacingMs: raw.minSpacingMs ?? d.minSpacingMs,
    flood: raw.flood ?? d.flood,
    retry: raw.retry ?? d.retry,
    coalesceMs: raw.coalesceMs ?? d.coalesceMs,
    pastDueCadences: raw.pastDueCadences ?? d.pastDueCadences,
    busyWedgedCadences: raw.busyWedgedCadences ?? d.busyWedgedCadences,
    zeroWorkStreak: raw.zeroWorkStreak ?? d.zeroWorkStreak,
    restart: raw.restart ?? d.restart,
  };
  if (policy.retry.initialMs > policy.retry.maxMs) {
    throw new ConfigError(
      `${field}.retry.initialMs`,
      `must be <= retry.maxMs (${policy.retry.maxMs}), got ${policy.retry.initialMs}`,
    );
  }
  return policy;
}

/** Runs a zod schema and turns its first issue into a ConfigError at the issue's path. */
function parseShape<T extends z.ZodType>(schema: T, input: unknown, field: string): z.output<T> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new ConfigError(field, "invalid");
  return issueToError(issue, field);
}

function issueToError(issue: z.core.$ZodIssue, base: string): never {
  const at = joinPath(base, issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      throw new ConfigError(joinPath(at, [issue.keys[0] ?? "?"]), "unknown key");
    case "invalid_type": {
      const input = issue.input;
      if (input === undefined) throw new ConfigError(at, "required");
      if (typeof input === "number" && !Number.isFinite(input)) {
        throw new ConfigError(at, `expected a finite number, got ${input}`);
      }
      if (issue.expected === "int") throw new ConfigError(at, `expected an integer, got ${String(input)}`);
      throw new ConfigError(at, `expected ${withArticle(issue.expected)}, got ${typeName(input)}`);
    }
    case "too_small":
      if (issue.origin === "string") throw new ConfigError(at, "must not be empty");
      throw new ConfigError(at, `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}, got ${String(issue.input)}`);
    case "too_big":
      throw new ConfigError(at, `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}, got ${String(issue.input)}`);
    default:
      throw new ConfigError(at, issue.message);
  }
}

/** `agents` + [2, "activeHours", "start"] → `agents[2].activeHours.start`. */
function joinPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function withArticle(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
