import type { Clock } from "./clock.ts";

interface Pending {
  readonly reasons: Set<string>;
  count: number;
  /** A forced manual wake is among them (it gets through a pause). */
  forced: boolean;
  dueMono: number;
  timer: unknown;
}

/**
 * Per-target wake coalescing. Wakes for one target within its window merge into one
 * delivery; a request due earlier than the pending delivery preempts it (seed 000: the
 * old `if (timer) return` dropped the sooner request). Delivery never loses a reason.
 */
export class Coalescer {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (target: string, reasons: string[], count: number, forced: boolean) => void,
    private readonly onMerged: (target: string, reasons: string[], count: number) => void,
  ) {}

  request(target: string, reason: string, coalesceMs: number, forced = false): void {
    const existing = this.pending.get(target);
    if (coalesceMs <= 0) {
      if (existing) this.cancel(target, existing);
      const reasons = existing ? [...existing.reasons, reason] : [reason];
      this.deliver(target, dedupe(reasons), (existing?.count ?? 0) + 1, forced || existing?.forced === true);
      return;
    }
    const dueMono = this.clock.now().mono + coalesceMs;
    if (!existing) {
      const entry: Pending = { reasons: new Set([reason]), count: 1, forced, dueMono, timer: undefined };
      entry.timer = this.arm(target, coalesceMs);
      this.pending.set(target, entry);
      return;
    }
    existing.reasons.add(reason);
    existing.count += 1;
    existing.forced ||= forced;
    if (dueMono < existing.dueMono) {
      // An earlier due time preempts the later pending one.
      this.clock.clearTimeout(existing.timer);
      existing.dueMono = dueMono;
      existing.timer = this.arm(target, coalesceMs);
    }
    this.onMerged(target, [...existing.reasons], existing.count);
  }

  /** Deliver everything pending now (used before a stop or a reload removes targets). */
  flush(target: string): void {
    const entry = this.pending.get(target);
    if (!entry) return;
    this.cancel(target, entry);
    this.deliver(target, [...entry.reasons], entry.count, entry.forced);
  }

  /** Drop a target's pending delivery, returning what it held (the caller records it). */
  drop(target: string): string[] {
    const entry = this.pending.get(target);
    if (!entry) return [];
    this.cancel(target, entry);
    return [...entry.reasons];
  }

  /** Drop everything pending; returns what was dropped, per target, for the caller to record. */
  clear(): Array<[string, string[]]> {
    const dropped: Array<[string, string[]]> = [];
    for (const [target, entry] of this.pending) {
      this.cancel(target, entry);
      dropped.push([target, [...entry.reasons]]);
    }
    return dropped;
  }

  get size(): number {
    return this.pending.size;
  }

  nextDueMono(target: string): number | undefined {
    return this.pending.get(target)?.dueMono;
  }

  private arm(target: string, ms: number): unknown {
    return this.clock.setTimeout(() => {
      const entry = this.pending.get(target);
      if (!entry) return;
      this.pending.delete(target);
      this.deliver(target, [...entry.reasons], entry.count, entry.forced);
    }, ms);
  }

  private cancel(target: string, entry: Pending): void {
    this.clock.clearTimeout(entry.timer);
    this.pending.delete(target);
  }
}

function dedupe(reasons: string[]): string[] {
  return [...new Set(reasons)];
}
