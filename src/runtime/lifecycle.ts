import type { LifecycleEffect } from "../../machines/gateway.ts";
import type { HeartbeatEvent } from "../events.ts";
import { assertNever } from "../policy/wake.ts";
import type { CarriedState } from "../store/codec.ts";
import type { Clock } from "./clock.ts";
import type { CrashCarry } from "./crash-carry.ts";

export interface LifecycleHooks {
  readonly clock: Clock;
  readonly dispatch: (event: HeartbeatEvent) => void;
  /** Hands a started actor its carried wakes (held across a crash or a restart). */
  readonly carry: () => CrashCarry;
  /** Keeps a stopped agent's last state for reports and the store. */
  readonly retire: (agentId: string, state: CarriedState) => void;
}

/**
 * Child starts and stops decided by the supervisor, carried out right after its step (an
 * actor cannot be started or stopped from inside another's transition). Effects queued
 * while draining join the end; a throw leaves the rest for the next drain.
 */
export class LifecycleQueue {
  private effects: LifecycleEffect[] = [];
  private draining = false;
  private scheduled = false;

  constructor(private readonly hooks: LifecycleHooks) {}

  push(effect: LifecycleEffect): void {
    this.effects.push(effect);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  drain(): void {
    if (this.draining) return;
    this.draining = true;
    let i = 0;
    try {
      // Walk by index (shift() on a queue of 100k starts is O(N²)).
      for (; i < this.effects.length; i++) this.apply(this.effects[i]!);
    } finally {
      this.effects = this.effects.slice(i + 1);
      this.draining = false;
    }
  }

  private apply(e: LifecycleEffect): void {
    const { clock, dispatch } = this.hooks;
    switch (e.kind) {
      case "start":
        e.ref.start();
        if (e.update) e.ref.send({ type: "UPDATE", ...e.update });
        // Held wakes carried over (stored, or a crashed decision's) are decided at once, not at the next slot.
        this.hooks.carry().started(e.agentId, e.ref, e.kick);
        return;
      case "stop": {
        const held = e.dropsWakes ? e.ref.getSnapshot().context.s.pending.map((w) => w.reason) : [];
        e.ref.send({ type: "STOP" });
        if (held.length > 0) dispatch({ type: "wake-skipped", agentId: e.agentId, at: clock.now().wall, reason: "stopped", reasons: held });
        if (e.retire) {
          const c = e.ref.getSnapshot().context;
          this.hooks.retire(e.agentId, { s: c.s, openAlerts: c.alerts, timedOut: c.timedOut, runSeq: c.runSeq });
        }
        return;
      }
      default:
        return assertNever(e);
    }
  }
}

