import type { HeartbeatRef } from "../../machines/gateway.ts";
import { ConfigError } from "../errors.ts";
import type { HeartbeatEvent } from "../events.ts";
import type { Instant } from "../policy/time.ts";
import type { ResolvedAgent } from "../policy/types.ts";
import { upcomingRuns } from "../policy/upcoming.ts";
import type { HeartbeatStore, RunRecord } from "../store/types.ts";
import type { Persister } from "./persistence.ts";

export interface OperatorDeps {
  agents(): ReadonlyMap<string, ResolvedAgent>;
  refOf(agentId: string): HeartbeatRef | undefined;
  failed(agentId: string): boolean;
  started(): boolean;
  now(): Instant;
  readonly store: HeartbeatStore;
  readonly persister: Persister;
}

/** Steering a live gateway without editing config: pause, resume, upcoming runs, run history. */
export function operatorControls(d: OperatorDeps) {
  /** The live actor of an agent an operator can steer, or a ConfigError naming the problem. */
  const controllable = (agentId: string): HeartbeatRef => {
    const agent = typeof agentId === "string" ? d.agents().get(agentId) : undefined;
    if (!agent) throw new ConfigError("agentId", `unknown agent "${String(agentId)}"`);
    if (!agent.enabled) throw new ConfigError("agentId", `agent "${agentId}" is disabled`);
    if (d.failed(agentId)) throw new ConfigError("agentId", `agent "${agentId}" failed (restart limit); reload it to retry`);
    const ref = d.refOf(agentId);
    if (!ref || !d.started()) throw new ConfigError("agentId", `agent "${agentId}" is not running (start the gateway first)`);
    return ref;
  };
  const known = (agentId: string): ResolvedAgent => {
    const agent = d.agents().get(agentId);
    if (!agent) throw new ConfigError("agentId", `unknown agent "${String(agentId)}"`);
    return agent;
  };
  const intIn = (field: string, v: number, max: number): void => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new ConfigError(field, `must be an integer from 1 to ${max}`);
  };

  return {
    pause(agentId: string, opts?: { reason?: string }): void {
      const ref = controllable(agentId);
      const reason = opts?.reason ?? "paused by operator";
      if (typeof reason !== "string" || reason.length > 256) {
        throw new ConfigError("reason", "must be a string of at most 256 characters");
      }
      ref.send({ type: "PAUSE", reason });
    },

    resume(agentId: string): void {
      controllable(agentId).send({ type: "RESUME" });
    },

    upcoming(agentId: string, n = 5): number[] {
      intIn("n", n, 1_000);
      known(agentId);
      const ctx = d.refOf(agentId)?.getSnapshot().context;
      return ctx ? upcomingRuns(ctx.agent, ctx.s, d.now(), n) : [];
    },

    async history(agentId: string, limit = 100): Promise<RunRecord[]> {
      known(agentId);
      intIn("limit", limit, 1_000);
      await d.persister.flush();
      return await d.store.loadRuns(agentId, limit);
    },
  };
}

/** A finished run as the history keeps it. */
export function runRecord(e: Extract<HeartbeatEvent, { type: "run-finished" }>): RunRecord {
  return {
    agentId: e.agentId,
    runId: e.runId,
    startedAt: e.at - e.durationMs,
    finishedAt: e.at,
    durationMs: e.durationMs,
    status: e.status,
    reasons: e.reasons,
    usage: e.usage ?? null,
    reason: e.reason ?? null,
    error: e.error ?? null,
  };
}
