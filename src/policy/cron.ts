import { Cron } from "croner";
import { ConfigError } from "../errors.ts";

/**
 * Cron expressions are parsed by croner once per distinct (zone, expression) and
 * shared: a Cron object is large (~80 KB) and 100 000 agents often use a handful of
 * expressions. Patterns are created paused and are never scheduled: the heartbeat
 * machine owns every timer, croner only answers "when is the next slot".
 */
const patterns = new Map<string, Cron>();

export function cronPattern(expression: string, timezone: string | undefined, field: string): Cron {
  const key = `${timezone ?? ""}\u0000${expression}`;
  const cached = patterns.get(key);
  if (cached !== undefined) return cached;
  let pattern: Cron;
  try {
    // exactOptionalPropertyTypes: only pass `timezone` when there is one.
    pattern = new Cron(expression, timezone === undefined ? { paused: true } : { timezone, paused: true });
    // croner reads an ISO date string as a one-off job; a heartbeat needs a repeating pattern.
    if (pattern.getPattern() === undefined) throw new Error("a one-off date, not a repeating pattern");
    // croner checks the zone only when computing a slot: probe once so a bad zone fails here.
    pattern.nextRun(new Date(0));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(field, `"${expression}" is not a cron expression: ${reason}`);
  }
  patterns.set(key, pattern);
  return pattern;
}

/** Wall ms of the first slot strictly after `afterWall`; undefined when the pattern has no more slots. */
export function nextCronSlot(pattern: Cron, afterWall: number): number | undefined {
  // Agents sharing a pattern ask for the same slots, each run asks several times, and a
  // croner look-up is costly: remember a few answers. The first slot after any w in
  // [from, next) is `next`, since the pattern has no slot in between.
  let ranges = slotRanges.get(pattern);
  if (ranges === undefined) slotRanges.set(pattern, (ranges = []));
  for (const r of ranges) if (afterWall >= r.from && afterWall < r.next) return r.next;
  const found = pattern.nextRun(new Date(afterWall));
  if (found === null) return undefined;
  const next = found.getTime();
  ranges.push({ from: afterWall, next });
  if (ranges.length > SLOT_RANGES) ranges.shift();
  return next;
}

const SLOT_RANGES = 8;
const slotRanges = new WeakMap<Cron, { from: number; next: number }[]>();

/** Number of distinct parsed patterns (tests and benchmarks check sharing). */
export function cronPatternCacheSize(): number {
  return patterns.size;
}
