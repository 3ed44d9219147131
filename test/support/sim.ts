import { vi } from "vitest";
import type { HeartbeatEvent } from "../../src/events.ts";
import type { HostResult } from "../../src/policy/outcome.ts";
import type { RunContext } from "../../src/runtime/host.ts";

/** Small helpers for simulated-time machine tests (no real sleeping anywhere). */

export const SEC = 1_000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/**
 * Advance simulated time in steps, stopping early (and returning false) as soon as
 * `ok()` turns false. Used to fail fast when a bug makes the machine spin (e.g. a
 * deferral every millisecond) instead of grinding through millions of transitions.
 */
export async function advanceWhile(ms: number, stepMs: number, ok: () => boolean): Promise<boolean> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(stepMs, left);
    await vi.advanceTimersByTimeAsync(step);
    left -= step;
    if (!ok()) return false;
  }
  return true;
}

/** Advance simulated time until the wall clock reads `wall` (fake Date). */
export async function advanceTo(wall: number, stepMs = HOUR): Promise<void> {
  while (Date.now() < wall) {
    await vi.advanceTimersByTimeAsync(Math.min(stepMs, wall - Date.now()));
  }
}

/** A host run the test settles by hand (or never: a hung run). */
export interface ControlledRun {
  readonly ctx: RunContext;
  resolve(result: HostResult): void;
  reject(error: unknown): void;
}

/** A runHeartbeat whose every call is held until the test settles it. */
export function controlledHost() {
  const runs: ControlledRun[] = [];
  const run = (ctx: RunContext) =>
    new Promise<HostResult>((resolve, reject) => {
      runs.push({ ctx, resolve, reject });
    });
  return { runs, run };
}

/** A host that answers each call with the next scripted behaviour (then "ran"). */
export type Scripted = HostResult | "throw" | "hang" | ((ctx: RunContext) => Promise<HostResult>);

export function scriptedHost(script: readonly Scripted[], fallback: Scripted = { status: "ran" }) {
  let i = 0;
  return (ctx: RunContext): Promise<HostResult> => {
    const step = script[i++] ?? fallback;
    if (step === "throw") return Promise.reject(new Error(`host blew up on call ${i}`));
    if (step === "hang") return new Promise<HostResult>(() => {});
    if (typeof step === "function") return step(ctx);
    return Promise.resolve(step);
  };
}

/** Wall times of the events of one type, relative to `t0`. */
export function timesOf(events: readonly HeartbeatEvent[], type: HeartbeatEvent["type"], t0 = 0): number[] {
  return events.filter((e) => e.type === type).map((e) => e.at - t0);
}

export function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - (times[i] ?? 0));
}

/** Alert transitions of one kind, as "open"/"resolved" in order. */
export function alertTrail(events: readonly HeartbeatEvent[], kind: string): string[] {
  return events.flatMap((e) => (e.type === "alert" && e.kind === kind ? [e.state] : []));
}

/** Local "HH:MM" of a wall time in a zone. */
export function localHM(wall: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(wall);
}
