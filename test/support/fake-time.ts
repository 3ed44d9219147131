import { vi } from "vitest";

/** Fake every clock the runtime reads: timers, Date and performance. */
export function useFakeTime(startWall = Date.UTC(2026, 0, 5, 12, 0, 0)): void {
  vi.useFakeTimers({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate", "Date", "performance"],
    now: startWall,
  });
}

/** Advance simulated time in steps so every due timer and the promises it settles run in order. */
export async function advance(ms: number, stepMs = 1_000): Promise<void> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(stepMs, left);
    await vi.advanceTimersByTimeAsync(step);
    left -= step;
  }
}
