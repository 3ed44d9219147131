import type { Instant } from "../policy/time.ts";

/**
 * The one source of time. XState's scheduler uses `setTimeout`/`clearTimeout`; policy
 * reads `now()`. The default reads the globals at call time, so vitest fake timers
 * (with fake Date and performance) drive it.
 */
export interface Clock {
  now(): Instant;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemClock: Clock = {
  now: () => ({ wall: Date.now(), mono: performance.now() }),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof globalThis.setTimeout>),
};

/** Minimal shape of xstate's SimulatedClock, so tests can drive the runtime with it. */
export interface SimulatedClockLike {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Adapts a SimulatedClock: monotonic time is its `now()`, wall time is `wallAtZero + now()`. */
export function simulatedClock(sim: SimulatedClockLike, wallAtZero = Date.UTC(2026, 0, 1)): Clock {
  return {
    now: () => ({ wall: wallAtZero + sim.now(), mono: sim.now() }),
    setTimeout: (fn, ms) => sim.setTimeout(fn, ms),
    clearTimeout: (id) => sim.clearTimeout(id),
  };
}
