/** Ownership wiring kept out of gateway.ts and ownership.ts: the gateway's hooks, and restored state brought up to date. */
import type { HeartbeatRef } from "../../machines/gateway.ts";
import type { ResolvedAgent } from "../policy/types.ts";
import type { StoredAgentState } from "../store/types.ts";
import type { AlertBook } from "./alert-book.ts";
import type { Coalescer } from "./coalescer.ts";
import type { OwnershipHooks } from "./ownership.ts";

/** The gateway's side of ownership, from its parts (keeps src/runtime/gateway.ts small). */
export function gatewayHooks(g: {
  readonly agents: () => ReadonlyMap<string, ResolvedAgent>;
  readonly opened: () => boolean;
  readonly refOf: (agentId: string) => HeartbeatRef | undefined;
  readonly adopt: (agents: ResolvedAgent[], stored: ReadonlyMap<string, StoredAgentState>) => void;
  /** Stop these agents' actors now (an APPLY removing them: no store delete). */
  readonly stop: (agentIds: string[]) => void;
  readonly coalescer: () => Coalescer;
  readonly alerts: AlertBook;
  readonly coalesceMs: number;
  readonly snapshot: (agentId: string) => StoredAgentState | undefined;
}): OwnershipHooks {
  return {
    snapshot: g.snapshot,
    agents: g.agents,
    opened: g.opened,
    gained: g.adopt,
    lost: (ids) => {
      g.stop(ids);
      const pending = new Map<string, string[]>();
      for (const id of ids) {
        const reasons = g.coalescer().drop(id);
        if (reasons.length > 0) pending.set(id, reasons);
        // The alert episodes go on at the new owner (stored with the state): forgotten here, not resolved.
        for (const a of g.alerts.forAgent(id)) g.alerts.apply({ type: "alert", agentId: id, at: 0, kind: a.kind, state: "resolved", message: "" });
      }
      return pending;
    },
    running: (id) => g.refOf(id)?.getSnapshot().value === "running",
    deliver: (w) => g.coalescer().request(w.agentId, w.reason, w.coalesceMs ?? g.coalesceMs, w.force),
  };
}

/**
 * The stored state, brought up to a run its previous owner claimed but did not live to
 * record (killed or paused between the claim and the state write). An interval run claims
 * a key of its own process (`run:<epoch>:<id>`), not its slot, so the new owner would run
 * that slot again: the claim's time says it ran, and the next slot is one cadence after it.
 * (Cron slots claim `slot:<time>`: a repeat is refused as `slot-taken` by the claim itself.)
 */
export function knownRun(st: StoredAgentState, lastClaimAt: number | undefined, agent: ResolvedAgent | undefined): StoredAgentState {
  if (lastClaimAt === undefined || agent?.schedule.kind !== "interval" || st.dueAt === null) return st;
  if (lastClaimAt < st.dueAt || lastClaimAt <= (st.lastRunStartAt ?? -Infinity)) return st;
  return { ...st, dueAt: lastClaimAt + agent.schedule.everyMs, lastRunStartAt: lastClaimAt };
}
