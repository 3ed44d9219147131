import { MAX_TIMER_MS } from "../policy/time.ts";
import { systemClock, type Clock } from "./clock.ts";
import { MinHeap, type HeapEntry } from "./min-heap.ts";

export type { HeapEntry } from "./min-heap.ts";

/**
 * Real elapsed time for a slice budget, on the real clock only: on a simulated or fake
 * clock a slice is bounded by count alone, so what runs when stays deterministic.
 */
export function realTimeOf(clock: Clock): (() => number) | undefined {
  return clock === systemClock ? () => performance.now() : undefined;
}

/**
 * Entries due within this much of now count as due when the timer fires (pass
 * `now + DUE_TOLERANCE_MS` to popDue): Node's timers work in whole milliseconds and fire up
 * to a fraction early, and waiting a whole extra turn for that fraction made every entry
 * ~1 ms late. Under one, so on a whole-millisecond (fake or simulated) clock nothing fires early.
 */
export const DUE_TOLERANCE_MS = 0.999;

/**
 * A binary min-heap of entries by (due, seq) with removal by position, behind ONE clock
 * timer. Node keeps a timer object, a list per distinct duration and a dictionary entry
 * for each `setTimeout` (~0.5 KiB each when every agent has its own phase); 100 000 idle
 * agents or 10 000 coalescing windows need one timer here, armed for the earliest entry.
 */
export class TimerHeap<E extends HeapEntry> {
  private readonly heap = new MinHeap<E>();
  private seq = 0;
  private timer: unknown;
  /** Monotonic time the clock timer is armed for (Infinity: not armed). */
  private armedFor = Infinity;

  /**
   * `fire` is called when the earliest entry may be due; it pops what is due (see
   * `popDue`) and returns. The heap re-arms itself afterwards for what is left.
   */
  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  get size(): number {
    return this.heap.size;
  }

  /** The next sequence number (for callers that pop only entries older than a turn). */
  get nextSeq(): number {
    return this.seq;
  }

  peek(): E | undefined {
    return this.heap.peek();
  }

  add(entry: E): void {
    entry.seq = this.seq++;
    this.heap.push(entry);
    if (entry.pos === 0) this.arm();
  }

  /**
   * Remove an entry (no-op when it is not in the heap). The timer stays armed while
   * anything is left (it re-arms on firing); an empty heap leaves no timer behind.
   */
  remove(entry: E): void {
    this.heap.remove(entry);
    if (this.heap.size === 0) this.disarm(); // nothing left: not even a pending continuation
  }

  /** Move an entry to a new due time (keeps its seq). */
  reschedule(entry: E, due: number): void {
    if (entry.pos < 0) return;
    this.heap.update(entry, due);
    if (entry.pos === 0) this.arm();
  }

  /** Pop the earliest entry if it is due at `now` and was added before `beforeSeq`. */
  popDue(now: number, beforeSeq = Infinity): E | undefined {
    const top = this.heap.peek();
    if (top === undefined || top.due > now || top.seq >= beforeSeq) return undefined;
    this.remove(top);
    return top;
  }

  /** Drop every entry and the timer. */
  clear(): void {
    this.heap.clear();
    this.disarm();
  }

  /** Arm the clock timer for the earliest entry, unless it already fires by then. */
  arm(): void {
    const top = this.heap.peek();
    if (top === undefined) return this.disarm();
    if (top.due >= this.armedFor) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.armedFor = top.due;
    // Rounded, not rounded up: Node compares whole milliseconds, and with DUE_TOLERANCE_MS
    // this fires as close to the due time as Node's own timers do (measured: ceil made
    // the median ~0.4 ms later than a native timer per entry).
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, Math.round(top.due - this.clock.now().mono)));
    this.timer = this.clock.setTimeout(this.onTimer, wait);
  }

  /** Run `fire` on the next turn of the timer queue (a slice that hit its budget continues there). */
  continueSoon(): void {
    if (this.armedFor === -Infinity) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.armedFor = -Infinity;
    this.timer = this.clock.setTimeout(this.onTimer, 0);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    try {
      this.fire();
    } finally {
      // Whatever is left (not yet due, or beyond this turn's budget) gets the timer again.
      if (this.armedFor === Infinity) this.arm();
    }
  };
}
