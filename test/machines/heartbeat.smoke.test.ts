import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { advance, useFakeTime } from "../support/fake-time.ts";
import { startHeartbeat } from "../support/heartbeat.ts";

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

describe("smoke", () => {
  it("runs on its cadence", async () => {
    const h = startHeartbeat({ agent: { every: "1m" } });
    await advance(10 * 60_000);
    expect(h.calls.length).toBeGreaterThanOrEqual(9);
    expect(h.calls.length).toBeLessThanOrEqual(10);
    h.actor.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });
});
