import type { ActorSystem, AnyActorRef } from "xstate";
import type { Clock } from "./clock.ts";
import { DUE_TOLERANCE_MS, realTimeOf, TimerHeap, type HeapEntry } from "./timer-heap.ts";

type AnyActorSystem = ActorSystem<any>;

interface Scheduler {
  schedule(source: AnyActorRef, target: AnyActorRef, event: unknown, delay: number, id?: string): void;
  cancel(source: AnyActorRef, id: string): void;
  cancelAll(source: AnyActorRef): void;
}

interface SystemInternals {
  scheduler: Scheduler;
  _relay(source: AnyActorRef, target: AnyActorRef, event: unknown): void;
}

interface Scheduled extends HeapEntry {
  readonly source: AnyActorRef;
  readonly target: AnyActorRef;
  readonly event: unknown;
  readonly id: string;
  /** The next delayed event of the same source (an actor has one or two at a time). */
  next: Scheduled | undefined;
}

/**
 * Delayed events relayed per timer turn at most, and (on the real clock) milliseconds:
 * each relay is a macrostep that may start a run, so thousands due in the same
 * millisecond (a fleet's retries after a storm) are spread over turns, never one stall.
 */
const MAX_PER_TURN = 1_000;
const MAX_TURN_MS = 4;

const installed = new WeakSet<object>();

/**
 * Replaces the XState 5 system scheduler with one timer heap for every delayed event of
 * every actor in the system (the "one timer wheel for idle agents" of DESIGN's scale note).
 *
 * XState keeps one Node `setTimeout` per delayed event plus two string-keyed entries in
 * system-wide dictionaries, and `cancelAll` (every actor stop) scans all of them, so
 * stopping N timed children is O(N²). Here a delayed event is one small record in a
 * min-heap behind a single clock timer, indexed by its source actor, so `cancel` and
 * `cancelAll` touch only that actor's own records (stop is O(N) overall) and an idle agent
 * holds no Node timer at all. Behaviour is XState's: an event is relayed to its target
 * once its delay has elapsed, in due order (ties in scheduling order), unless cancelled;
 * scheduling an id again replaces the pending one. (The system's persisted
 * `_scheduledEvents` are not kept: the runtime restores agents from its own store.)
 */
export function indexScheduler(system: AnyActorSystem, clock: Clock): void {
  const internals = system as unknown as SystemInternals;
  const scheduler = internals.scheduler;
  if (installed.has(system) || typeof scheduler?.cancelAll !== "function") return;
  installed.add(system);
  const bySource = new Map<AnyActorRef, Scheduled>();

  const unlink = (e: Scheduled): void => {
    let head = bySource.get(e.source);
    if (head === e) {
      if (e.next) bySource.set(e.source, e.next);
      else bySource.delete(e.source);
      return;
    }
    for (; head; head = head.next) {
      if (head.next === e) {
        head.next = e.next;
        return;
      }
    }
  };

  const realNow = realTimeOf(clock);
  const heap: TimerHeap<Scheduled> = new TimerHeap<Scheduled>(clock, () => {
    // A machine that finds itself a fraction early re-checks (the heartbeat's guard does).
    const now = clock.now().mono + DUE_TOLERANCE_MS;
    const started = realNow?.();
    // Events scheduled while relaying wait for the next turn, as they would with Node's timers.
    const before = heap.nextSeq;
    for (let n = 0; n < MAX_PER_TURN; n++) {
      if (started !== undefined && n % 8 === 7 && realNow!() - started >= MAX_TURN_MS) break;
      const e = heap.popDue(now, before);
      if (!e) return;
      unlink(e);
      internals._relay(e.source, e.target, e.event);
    }
    // More may be due: the rest on the next turn of the timer queue, so I/O gets its turn.
    heap.continueSoon();
  });

  const find = (source: AnyActorRef, id: string): Scheduled | undefined => {
    for (let e = bySource.get(source); e; e = e.next) if (e.id === id) return e;
    return undefined;
  };

  scheduler.schedule = (source, target, event, delay, id = Math.random().toString(36).slice(2)) => {
    const old = find(source, id);
    if (old) {
      heap.remove(old);
      unlink(old);
    }
    const e: Scheduled = { due: clock.now().mono + delay, seq: 0, pos: -1, source, target, event, id, next: bySource.get(source) };
    bySource.set(source, e);
    heap.add(e);
  };
  scheduler.cancel = (source, id) => {
    const e = find(source, id);
    if (!e) return;
    heap.remove(e);
    unlink(e);
  };
  scheduler.cancelAll = (source) => {
    let e = bySource.get(source);
    if (!e) return;
    bySource.delete(source);
    for (; e; e = e.next) heap.remove(e);
  };
}
