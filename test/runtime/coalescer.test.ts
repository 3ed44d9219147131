import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/runtime/clock.ts";
import { Coalescer, type SliceBudget } from "../../src/runtime/coalescer.ts";
import { useFakeTime } from "../support/fake-time.ts";

/**
 * The coalescer's structure: one clock timer for every pending target, deliveries in
 * bounded slices per turn, and wakes that arrive while a target waits for its slice
 * merged into it (never lost, never a second delivery).
 */

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

interface Delivered {
  readonly target: string;
  readonly reasons: string[];
  readonly count: number;
  readonly forced: boolean;
}

function coalescerOf(budget?: SliceBudget): { c: Coalescer; delivered: Delivered[] } {
  const delivered: Delivered[] = [];
  const c = new Coalescer(systemClock, (target, reasons, count, forced) => delivered.push({ target, reasons, count, forced }), undefined, budget);
  return { c, delivered };
}

describe("Coalescer: one timer", () => {
  it("10 000 pending targets hold one clock timer, and each is delivered once with its reasons", async () => {
    const { c, delivered } = coalescerOf();
    for (let i = 0; i < 10_000; i++) c.request(`a${i}`, "wake", 250);
    for (let i = 0; i < 10_000; i += 2) c.request(`a${i}`, "exec-event", 250);
    expect(vi.getTimerCount()).toBe(1);
    expect(c.size).toBe(10_000);
    await vi.advanceTimersByTimeAsync(250);
    // 512 per turn: the first slice at 250 ms, the rest in continuation turns (a 0 ms timer: 1 ms apart here).
    expect(delivered).toHaveLength(512);
    await vi.advanceTimersByTimeAsync(19);
    expect(delivered).toHaveLength(10_000);
    expect(delivered[0]).toMatchObject({ target: "a0", reasons: ["wake", "exec-event"], count: 2 });
    expect(delivered[1]).toMatchObject({ target: "a1", reasons: ["wake"], count: 1 });
    expect(c.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("targets with different windows are delivered in due order", async () => {
    const { c, delivered } = coalescerOf();
    c.request("slow", "wake", 1_000);
    c.request("fast", "wake", 10);
    c.request("mid", "wake", 500);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(delivered.map((d) => d.target)).toEqual(["fast", "mid", "slow"]);
  });

  it("reasons stay distinct and in arrival order, also past the short-list size; count counts every wake", async () => {
    const { c, delivered } = coalescerOf();
    const reasons = Array.from({ length: 40 }, (_, i) => `acp:spawn:${i}`);
    for (const r of [...reasons, ...reasons]) c.request("a", r, 100);
    c.request("a", "manual", 100, true);
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered).toEqual([{ target: "a", reasons: [...reasons, "manual"], count: 81, forced: true }]);
  });

  it("drop and clear leave no timer behind", () => {
    const { c } = coalescerOf();
    c.request("a", "wake", 100);
    c.request("b", "wake", 200);
    expect(c.drop("a")).toEqual(["wake"]);
    expect(vi.getTimerCount()).toBe(1);
    c.clear();
    expect(c.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("Coalescer: bounded slices", () => {
  it("due deliveries go out at most maxDeliveries per turn; the rest follow on later turns, in due order", async () => {
    const { c, delivered } = coalescerOf({ maxDeliveries: 3, maxMs: Infinity });
    for (let i = 0; i < 10; i++) c.request(`a${i}`, "wake", 100);
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered).toHaveLength(3);
    // The continuation turns (0 ms timers, which fake timers run 1 ms apart) deliver the rest, 3 at a time.
    await vi.advanceTimersByTimeAsync(1);
    expect(delivered).toHaveLength(6);
    await vi.advanceTimersByTimeAsync(2);
    expect(delivered.map((d) => d.target)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("each turn delivers no more than the budget, and a wake for a target still waiting merges into its delivery", async () => {
    const seen: number[] = [];
    const delivered: { target: string; reasons: string[]; count: number }[] = [];
    let inTurn = 0;
    const c: Coalescer = new Coalescer(
      systemClock,
      (target, reasons, count) => {
        inTurn += 1;
        delivered.push({ target, reasons, count });
        // While a0's slice runs, a wake comes for a9, which waits for a later slice.
        if (target === "a0") c.request("a9", "manual", 100);
      },
      undefined,
      { maxDeliveries: 4, maxMs: Infinity },
    );
    for (let i = 0; i < 10; i++) c.request(`a${i}`, "wake", 100);
    // Observe the slices: after each timer turn, record how many were delivered in it.
    for (let step = 0; step < 6 && c.size > 0; step++) {
      await vi.advanceTimersToNextTimerAsync();
      seen.push(inTurn);
      inTurn = 0;
    }
    expect(seen.filter((n) => n > 0)).toEqual([4, 4, 2]);
    expect(delivered.find((d) => d.target === "a9")).toEqual({ target: "a9", reasons: ["wake", "manual"], count: 2 });
    expect(delivered).toHaveLength(10);
    expect(c.size).toBe(0);
  });

  it("a request that preempts a pending one moves it earlier in the queue", async () => {
    const { c, delivered } = coalescerOf();
    c.request("a", "background-task", 10_000);
    c.request("b", "wake", 500);
    c.request("a", "manual", 100);
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered.map((d) => [d.target, d.reasons])).toEqual([["a", ["background-task", "manual"]]]);
    expect(c.nextDueMono("b")).toBe(performance.now() + 400);
  });
});
