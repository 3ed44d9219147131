import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createActor, createMachine, setup, type AnyActorRef } from "xstate";
import { systemClock } from "../../src/runtime/clock.ts";
import { indexScheduler } from "../../src/runtime/scheduler-index.ts";
import { useFakeTime } from "../support/fake-time.ts";

/**
 * The system scheduler replaced by one timer heap: XState's delayed transitions keep
 * their behaviour (fire after their delay, in due order, cancelled when their state is
 * left or their actor stops) while the whole system holds one clock timer.
 */

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

interface TickerContext {
  ticks: number;
  readonly every: number;
  readonly log: string[];
  readonly name: string;
}

/** A child that ticks every `every` ms and logs; WAIT moves it to a state with no timer; STOP ends it. */
const ticker = setup({
  types: { context: {} as TickerContext, input: {} as { every: number; log: string[]; name: string } },
  delays: { tick: ({ context }: { context: TickerContext }) => context.every },
}).createMachine({
  context: ({ input }) => ({ ticks: 0, every: input.every, log: input.log, name: input.name }),
  initial: "ticking",
  on: { STOP: ".done" },
  states: {
    ticking: {
      after: {
        tick: {
          target: "ticking",
          reenter: true,
          actions: ({ context }: { context: TickerContext }) => {
            context.ticks += 1;
            context.log.push(`${context.name}@${Date.now() - T0}`);
          },
        },
      },
      on: { WAIT: "waiting" },
    },
    waiting: { on: { GO: "ticking" } },
    done: { type: "final" },
  },
});

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

function systemOf(): { parent: ReturnType<typeof createActor>; spawn: (name: string, every: number) => AnyActorRef; log: string[] } {
  const parent = createActor(createMachine({}), {
    clock: { setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms), clearTimeout: (id) => systemClock.clearTimeout(id) },
  });
  indexScheduler(parent.system, systemClock);
  parent.start();
  const log: string[] = [];
  const spawn = (name: string, every: number): AnyActorRef => createActor(ticker, { parent, input: { every, log, name } }).start();
  return { parent, spawn, log };
}

describe("indexScheduler: one timer heap for the system", () => {
  it("delayed transitions fire after their delay, in due order, behind a single clock timer", async () => {
    const { spawn, log } = systemOf();
    spawn("a", 30);
    spawn("b", 20);
    spawn("c", 30);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(60);
    expect(log).toEqual(["b@20", "a@30", "c@30", "b@40", "a@60", "c@60", "b@60"]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it("leaving the state cancels its timer; entering it again schedules a fresh one", async () => {
    const { spawn, log } = systemOf();
    const a = spawn("a", 100);
    await vi.advanceTimersByTimeAsync(50);
    a.send({ type: "WAIT" });
    await vi.advanceTimersByTimeAsync(500);
    expect(log).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    a.send({ type: "GO" });
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(["a@650"]);
  });

  it("stopping an actor cancels only its own timers", async () => {
    const { spawn, log } = systemOf();
    const actors = Array.from({ length: 100 }, (_, i) => spawn(`x${i}`, 10 + i));
    for (const [i, x] of actors.entries()) if (i % 2 === 0) x.send({ type: "STOP" });
    await vi.advanceTimersByTimeAsync(109);
    const odd = actors.map((_, i) => i).filter((i) => i % 2 === 1);
    expect(new Set(log.map((l) => l.split("@")[0]))).toEqual(new Set(odd.map((i) => `x${i}`)));
    // Each live ticker kept its own cadence.
    expect(log).toHaveLength(odd.reduce((n, i) => n + Math.floor(109 / (10 + i)), 0));
    for (const x of actors) x.send({ type: "STOP" });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("installing twice on one system is a no-op", async () => {
    const { parent, spawn, log } = systemOf();
    indexScheduler(parent.system, systemClock);
    spawn("a", 10);
    await vi.advanceTimersByTimeAsync(10);
    expect(log).toEqual(["a@10"]);
  });
});
