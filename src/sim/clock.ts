import type { Instant } from "../policy/time.ts";
import type { Clock } from "../runtime/clock.ts";
import { MinHeap } from "../runtime/min-heap.ts";

/** Node's limit: a timeout above it (or below 1 ms) fires after 1 ms. */
export const NODE_TIMER_MAX = 2 ** 31 - 1;

interface Timer {
  readonly id: number;
  due: number;
  seq: number;
  pos: number;
  readonly owner: string;
  readonly fn: () => unknown;
}

export interface OverLimitTimer {
  readonly owner: string;
  readonly ms: number;
  readonly at: number;
}

/**
 * A discrete-event clock (FoundationDB-style simulation). `setTimeout` pushes
 * (due, seq, fn) onto a heap; the run loop pops the earliest timer, sets simulated
 * time to its due time, fires it, then lets microtasks settle (so `fromPromise` actors
 * and host promises resolve) before the next one. Nothing ever sleeps.
 *
 * Two clocks, as in the runtime: `mono` only moves forward with the timers; `wall` is
 * mono plus an offset that faults may jump (a host that slept, an NTP step).
 *
 * Timers belong to an owner (a gateway incarnation, the host, the driver), so a test can
 * ask "did this gateway leave a timer behind?" and a process crash can kill one owner.
 * Timeouts follow Node's rules: below 1 ms (or NaN) they fire after 1 ms; above 2^31-1 ms
 * they also fire after 1 ms, and that is recorded in `overLimit` (the runtime must cap).
 */
export class SimClock {
  private mono = 0;
  private wallOffset: number;
  private seq = 0;
  private readonly heap = new MinHeap<Timer>();
  private readonly live = new Map<number, Timer>();
  private readonly perOwner = new Map<string, number>();
  private readonly dead = new Set<string>();
  readonly overLimit: OverLimitTimer[] = [];
  /** Timers fired so far (a work measure). */
  fired = 0;

  constructor(startWall: number) {
    this.wallOffset = startWall;
  }

  now(): Instant {
    return { wall: this.wallOffset + this.mono, mono: this.mono };
  }

  get monoNow(): number {
    return this.mono;
  }

  get wallNow(): number {
    return this.wallOffset + this.mono;
  }

  /** A Clock port for the runtime (or a host), whose timers are tagged with `owner`. */
  port(owner: string): Clock {
    return {
      now: () => this.now(),
      setTimeout: (fn, ms) => this.setTimeout(owner, fn, ms),
      clearTimeout: (id) => this.clearTimeout(id),
    };
  }

  setTimeout(owner: string, fn: (...args: unknown[]) => unknown, ms: number): number {
    const id = ++this.seq;
    if (this.dead.has(owner)) return id; // a crashed process schedules nothing
    let after = Number(ms);
    if (after > NODE_TIMER_MAX) {
      this.overLimit.push({ owner, ms: after, at: this.mono });
      after = 1;
    } else if (!(after >= 1)) {
      after = 1;
    }
    const timer: Timer = { id, due: this.mono + after, seq: id, pos: -1, owner, fn: () => fn() };
    this.live.set(id, timer);
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    this.heap.push(timer);
    return id;
  }

  clearTimeout(id: unknown): void {
    if (typeof id !== "number") return;
    const timer = this.live.get(id);
    if (!timer) return;
    this.forget(timer);
  }

  /** Live timers of one owner (or of all). */
  pending(owner?: string): number {
    return owner === undefined ? this.live.size : (this.perOwner.get(owner) ?? 0);
  }

  /** Cancels every timer of an owner and refuses new ones: the process holding them died. */
  kill(owner: string): void {
    this.dead.add(owner);
    for (const timer of this.live.values()) if (timer.owner === owner) this.forget(timer);
  }

  /** Moves wall time only (a clock step); monotonic time and every timer are unaffected. */
  jumpWall(deltaMs: number): void {
    this.wallOffset += deltaMs;
  }

  /** Due time of the earliest live timer. */
  nextDue(): number | undefined {
    return this.heap.peek()?.due;
  }

  /** Lets every pending microtask (and promise chain) settle without moving time. */
  flush(): Promise<void> {
    return new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * Lets the promise chains a timer started settle, on microtasks only: a macrotask per
   * timer (setImmediate) was a third of the simulator's time. Everything the runtime does
   * on a simulated timer settles within a few promise turns; MICROTASK_TURNS is generous.
   */
  async settle(): Promise<void> {
    for (let i = 0; i < MICROTASK_TURNS; i++) await undefined;
  }

  /** Fires the earliest timer (moving time to it), then settles microtasks. False when none is left. */
  async step(): Promise<boolean> {
    const timer = this.heap.pop();
    if (!timer) return false;
    this.forget(timer);
    if (timer.due > this.mono) this.mono = timer.due;
    this.fired++;
    const result = timer.fn();
    // A driver action (reload, stop, restart) is atomic in simulated time: no timer fires until it is done.
    if (result instanceof Promise) await settleWithin(result, this);
    await this.settle();
    return true;
  }

  /** Fires every timer due up to `mono` in order, then sets time to `mono`. */
  async runUntil(mono: number): Promise<void> {
    // Work the caller started synchronously (a wake delivered just now) settles before time moves, as on a real clock.
    await this.settle();
    for (;;) {
      const due = this.nextDue();
      if (due === undefined || due > mono) break;
      await this.step();
    }
    if (mono > this.mono) this.mono = mono;
    await this.flush();
  }

  /** Advances by `ms` (see runUntil). */
  advance(ms: number): Promise<void> {
    return this.runUntil(this.mono + ms);
  }

  /** Driver actions that did not settle on microtasks alone (each one is a finding). */
  readonly stalls: { owner: string; at: number }[] = [];

  private forget(timer: Timer): void {
    if (!this.live.delete(timer.id)) return;
    this.heap.remove(timer);
    const n = (this.perOwner.get(timer.owner) ?? 1) - 1;
    if (n <= 0) this.perOwner.delete(timer.owner);
    else this.perOwner.set(timer.owner, n);
  }
}

/**
 * Awaits a driver action, flushing the event loop between checks. If it depends on a
 * simulated timer it would never settle while time is frozen: after a bounded number of
 * turns it is left to finish on its own, and the stall is recorded.
 */
/** Promise turns a timer's work gets before the next timer fires. */
const MICROTASK_TURNS = 16;

async function settleWithin(p: Promise<void>, clock: SimClock, turns = 2_000): Promise<void> {
  let done = false;
  let error: unknown;
  p.then(
    () => (done = true),
    (err: unknown) => {
      done = true;
      error = err;
    },
  );
  for (let i = 0; i < turns && !done; i++) await clock.flush();
  if (!done) clock.stalls.push({ owner: "driver", at: clock.monoNow });
  if (error !== undefined) throw error;
}
