import type { Clock } from "./clock.ts";
import { DUE_TOLERANCE_MS, realTimeOf, TimerHeap, type HeapEntry } from "./timer-heap.ts";

interface Pending extends HeapEntry {
  readonly target: string;
  /** Distinct reasons in arrival order (a short array: a target rarely has more than a few). */
  readonly reasons: string[];
  /** The window that set `due`: a later request with a window as long cannot preempt it (no clock read). */
  window: number;
  /** Membership for a long reasons list (hosts that put ids in reasons), so merging stays O(1). */
  seen: Set<string> | undefined;
  count: number;
  /** A forced manual wake is among them (it gets through a pause). */
  forced: boolean;
}

/** How much delivery one turn of the event loop may do before yielding (the rest go on the next turn). */
export interface SliceBudget {
  /** Deliveries per turn at most (deterministic: the only limit on a simulated or fake clock). */
  readonly maxDeliveries: number;
  /** Wall-clock milliseconds of delivery per turn at most, measured only on the real clock. */
  readonly maxMs: number;
}

/**
 * 2 ms of deliveries per turn, plus the runs they start settling in the microtasks after
 * it, keeps a turn well under the 20 ms event-loop-delay goal, while wakes keep being
 * accepted between slices (and merge into the deliveries still waiting).
 */
export const DEFAULT_SLICE: SliceBudget = { maxDeliveries: 512, maxMs: 2 };

/**
 * Per-target wake coalescing. Wakes for one target within its window merge into one
 * delivery; a request due earlier than the pending delivery preempts it (seed 000: the
 * old `if (timer) return` dropped the sooner request). Delivery never loses a reason.
 *
 * Every pending target is one record in a min-heap by due time behind ONE clock timer
 * (not a timer per window: thousands of windows closing in the same millisecond were
 * thousands of timers run in one macrotask, stalling the event loop for seconds in a
 * storm). Due deliveries go out in bounded slices per turn; a target still waiting for
 * its slice keeps absorbing new wakes, so an overloaded gateway delivers fewer, fuller
 * wakes instead of falling further behind.
 */
export class Coalescer {
  private readonly pending = new Map<string, Pending>();
  private readonly heap: TimerHeap<Pending>;
  /** Real time, for the slice budget; undefined on a simulated or fake clock (count only, deterministic). */
  private readonly realNow: (() => number) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (target: string, reasons: string[], count: number, forced: boolean) => void,
    /** Told of every merge as it happens (the gateway records merges per delivery instead: pass undefined). */
    private readonly onMerged: ((target: string, reasons: string[], count: number) => void) | undefined,
    private readonly budget: SliceBudget = DEFAULT_SLICE,
  ) {
    this.heap = new TimerHeap<Pending>(clock, () => this.deliverDue());
    this.realNow = realTimeOf(clock);
  }

  request(target: string, reason: string, coalesceMs: number, forced = false): void {
    const existing = this.pending.get(target);
    if (coalesceMs <= 0) {
      if (existing) this.cancel(existing);
      const reasons = existing ? existing.reasons : [reason];
      if (existing) addReason(existing, reason);
      this.deliver(target, reasons, (existing?.count ?? 0) + 1, forced || existing?.forced === true);
      return;
    }
    if (!existing) {
      const due = this.clock.now().mono + coalesceMs;
      const entry: Pending = { due, seq: 0, pos: -1, target, window: coalesceMs, reasons: [reason], seen: undefined, count: 1, forced };
      this.pending.set(target, entry);
      this.heap.add(entry);
      return;
    }
    addReason(existing, reason);
    existing.count += 1;
    existing.forced ||= forced;
    // An earlier due time preempts the later pending one. Time only moves forward, so a
    // window at least as long as the one that set `due` ends later: no need to read the clock.
    if (coalesceMs < existing.window) {
      const due = this.clock.now().mono + coalesceMs;
      if (due < existing.due) {
        existing.window = coalesceMs;
        this.heap.reschedule(existing, due);
      }
    }
    this.onMerged?.(target, existing.reasons.slice(), existing.count);
  }

  /** Deliver everything pending now (used before a stop or a reload removes targets). */
  flush(target: string): void {
    const entry = this.pending.get(target);
    if (!entry) return;
    this.cancel(entry);
    this.deliver(target, entry.reasons, entry.count, entry.forced);
  }

  /** Drop a target's pending delivery, returning what it held (the caller records it). */
  drop(target: string): string[] {
    const entry = this.pending.get(target);
    if (!entry) return [];
    this.cancel(entry);
    return entry.reasons;
  }

  /** Drop everything pending; returns what was dropped, per target, for the caller to record (stop). */
  clear(): Array<[string, string[]]> {
    const dropped: Array<[string, string[]]> = [];
    for (const [target, entry] of this.pending) dropped.push([target, entry.reasons]);
    this.pending.clear();
    this.heap.clear();
    return dropped;
  }

  get size(): number {
    return this.pending.size;
  }

  nextDueMono(target: string): number | undefined {
    return this.pending.get(target)?.due;
  }

  /** One slice: due deliveries in due order, until the budget is spent; the rest continue next turn. */
  private deliverDue(): void {
    const now = this.clock.now().mono + DUE_TOLERANCE_MS;
    const started = this.realNow?.();
    const { maxDeliveries, maxMs } = this.budget;
    for (let n = 0; ; n++) {
      if (n >= maxDeliveries || (started !== undefined && n % 16 === 15 && this.realNow!() - started >= maxMs)) {
        const next = this.heap.peek();
        if (next !== undefined && next.due <= now) this.heap.continueSoon();
        return;
      }
      const entry = this.heap.popDue(now);
      if (!entry) return;
      this.pending.delete(entry.target);
      this.deliver(entry.target, entry.reasons, entry.count, entry.forced);
    }
  }

  private cancel(entry: Pending): void {
    this.heap.remove(entry);
    this.pending.delete(entry.target);
  }
}

function addReason(entry: Pending, reason: string): void {
  const reasons = entry.reasons;
  if (entry.seen) {
    if (entry.seen.has(reason)) return;
    entry.seen.add(reason);
  } else {
    // A plain loop: most reasons are the same interned strings, compared by pointer.
    for (let i = 0; i < reasons.length; i++) if (reasons[i] === reason) return;
    if (reasons.length >= 16) entry.seen = new Set(reasons).add(reason);
  }
  reasons.push(reason);
}
