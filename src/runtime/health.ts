import type { Alert } from "../events.ts";
import type { OwnershipReport } from "./ownership.ts";
import type { RunStatus } from "../policy/outcome.ts";
import { dueWall } from "../policy/schedule.ts";
import type { AgentPolicyState } from "../policy/state.ts";
import type { Instant } from "../policy/time.ts";
import type { ResolvedAgent } from "../policy/types.ts";

export type AgentMachineState = "idle" | "due" | "deferred" | "running" | "stopped";

export interface AgentHealth {
  readonly id: string;
  readonly state: AgentMachineState;
  readonly enabled: boolean;
  /** Crashed past the restart limit; not running until reloaded. */
  readonly failed: boolean;
  readonly nextDueAt?: number;
  readonly lastRunAt?: number;
  readonly lastStatus?: RunStatus;
  readonly runCount: number;
  readonly skipCount: number;
  readonly consecutiveZeroWork: number;
  /** Wakes folded and waiting for a run. */
  readonly pendingReasons: readonly string[];
  /** Present while an operator has the agent paused. */
  readonly paused?: { readonly reason: string; readonly since: number };
}

export interface HealthReport {
  /** false while any alert is open. */
  readonly ok: boolean;
  readonly agents: AgentHealth[];
  readonly alerts: Alert[];
  /** On a shared store: this gateway's id, how many agents it owns, how many gateways share the store. Agents it does not own are listed `stopped`. */
  readonly ownership?: OwnershipReport;
}

export function agentHealth(
  agent: ResolvedAgent,
  live: { state: AgentMachineState; s: AgentPolicyState } | undefined,
  failed: boolean,
  now: Instant,
): AgentHealth {
  const s = live?.s;
  const nextDueAt = live && live.state !== "stopped" ? dueWall(live.s.due, now) : undefined;
  return {
    id: agent.id,
    state: live?.state ?? "stopped",
    enabled: agent.enabled,
    failed,
    ...(nextDueAt === undefined ? {} : { nextDueAt: Math.round(nextDueAt) }),
    ...(s?.lastRunAt === undefined ? {} : { lastRunAt: s.lastRunAt }),
    ...(s?.lastStatus === undefined ? {} : { lastStatus: s.lastStatus }),
    runCount: s?.runCount ?? 0,
    skipCount: s?.skipCount ?? 0,
    consecutiveZeroWork: s?.consecutiveZeroWork ?? 0,
    pendingReasons: s ? s.pending.map((w) => w.reason) : [],
    ...(s?.paused ? { paused: { reason: s.paused.reason, since: s.paused.sinceWall } } : {}),
  };
}
