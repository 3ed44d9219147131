import type { HeartbeatRef } from "../../machines/gateway.ts";
import type { HeartbeatEvent } from "../events.ts";
import type { Wake } from "../policy/wake.ts";
import type { Clock } from "./clock.ts";

/**
 * Wakes whose decision crashed the actor. A crashed actor's state rolls back to before the
 * event, so the supervisor's restarted actor would never see them: they are held here and
 * sent to the new actor the moment it starts (not before: an actor not yet started only
 * looks at its mailbox on its next event, which could be a sweep 15 s later). If deciding
 * them crashes that one too they move on to the next; with no actor left (restart limit)
 * they are recorded as skipped 'failed'. Never dropped without a record.
 */
export class CrashCarry {
  private readonly held = new Map<string, Wake[]>();

  constructor(
    private readonly refOf: (agentId: string) => HeartbeatRef | undefined,
    private readonly dispatch: (event: HeartbeatEvent) => void,
    private readonly clock: Clock,
  ) {}

  /** `ref` crashed deciding `wakes`: hold them for its successor, or record them. */
  crashed(agentId: string, ref: HeartbeatRef, wakes: readonly Wake[]): void {
    const next = this.refOf(agentId);
    if (next && next !== ref) {
      this.held.set(agentId, [...(this.held.get(agentId) ?? []), ...wakes]);
      return;
    }
    const reasons = wakes.map((w) => w.reason);
    if (reasons.length > 0) this.dispatch({ type: "wake-skipped", agentId, at: this.clock.now().wall, reason: "failed", reasons });
  }

  /** A (restarted) actor just started: hand it what it must decide, and `kick` it even with nothing carried. */
  started(agentId: string, ref: HeartbeatRef, kick: boolean): void {
    const wakes = this.held.get(agentId);
    this.held.delete(agentId);
    if (!wakes && !kick) return;
    ref.send({ type: "WAKE", wakes: wakes ?? [] });
    if (wakes && ref.getSnapshot().status === "error") this.crashed(agentId, ref, wakes);
  }

  /** The gateway stopped: whatever is still held is recorded. */
  clear(): void {
    for (const [agentId, wakes] of this.held) {
      this.dispatch({ type: "wake-skipped", agentId, at: this.clock.now().wall, reason: "stopped", reasons: wakes.map((w) => w.reason) });
    }
    this.held.clear();
  }
}
