import { createActor, enqueueActions, setup, type ActorRefFrom, type AnyActorRef } from "xstate";
import type { HeartbeatEvent } from "../src/events.ts";
import { alertMessage } from "../src/policy/alerts.ts";
import { admitRestart } from "../src/policy/restart.ts";
import type { AgentPolicyState } from "../src/policy/state.ts";
import { firstDue } from "../src/policy/schedule.ts";
import type { Instant } from "../src/policy/time.ts";
import { agentKey } from "../src/runtime/diff.ts";
import { decodeAgent, type CarriedState } from "../src/store/codec.ts";
import type { StoredAgentState } from "../src/store/types.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../src/policy/types.ts";
import type { HeartbeatDeps } from "../src/runtime/host.ts";
import { heartbeatMachine, type HeartbeatInput } from "./heartbeat.ts";

/**
 * The gateway: the supervisor of every agent's heartbeat actor. It creates them with
 * itself as parent (so they live in its system as `heartbeat:<agentId>` and their
 * crashes arrive here as `xstate.error.actor.<id>`), applies reload diffs, and restarts
 * a crashed child with its state, at most N times in T.
 *
 * Children are created with `createActor(…, { parent })` rather than `spawn`: XState
 * copies a parent's `children` object on every spawn and stop, so a parent of N spawned
 * children starts and stops in O(N²) (measured: 10 000 agents took 30 s to stop). With
 * `parent`, supervision and the system registry are the same, and stop is O(N).
 */

export type HeartbeatRef = ActorRefFrom<typeof heartbeatMachine>;

/**
 * A child lifecycle step decided by the supervisor and carried out by the runtime just
 * after the supervisor's step (never inside it: a child processes events synchronously,
 * and XState forbids one actor's actions running inside another's).
 */
export type LifecycleEffect =
  /** Start a created actor; `kick` when it carries held wakes to decide at once. */
  | {
      readonly kind: "start";
      readonly agentId: string;
      readonly ref: HeartbeatRef;
      readonly kick: boolean;
      /** A config newer than the one it was restarted with (the reload whose UPDATE crashed it): applied once started. */
      readonly update?: { readonly agent: ResolvedAgent; readonly policy: ResolvedPolicy } | undefined;
    }
  /**
   * Stop an actor (a run in flight is aborted and recorded); `retire` keeps its last state for
   * reports; `dropsWakes` when its held wakes end here (removed or disabled, not a gateway stop,
   * whose store keeps them) and must be recorded as skipped.
   */
  | { readonly kind: "stop"; readonly agentId: string; readonly ref: HeartbeatRef; readonly retire: boolean; readonly dropsWakes: boolean };

export interface GatewayDeps extends HeartbeatDeps {
  /** Where every child's emitted event goes (wired at creation, so no child is ever unheard). */
  readonly sink: (event: HeartbeatEvent) => void;
  /** Queue a lifecycle effect for the runtime to carry out after this step. */
  readonly lifecycle: (effect: LifecycleEffect) => void;
}

export interface GatewayInput {
  readonly deps: GatewayDeps;
  readonly policy: ResolvedPolicy;
}

export interface ConfigDiff {
  readonly add: readonly ResolvedAgent[];
  readonly update: readonly ResolvedAgent[];
  readonly remove: readonly string[];
}

export interface GatewayContext {
  readonly deps: GatewayDeps;
  readonly policy: ResolvedPolicy;
  /** Live heartbeat actor per agent id (mutated in place by the supervisor's actions: it is O(1) per change). */
  readonly refs: Map<string, HeartbeatRef>;
  /** Child actor id → agent id (child ids change on every restart). */
  readonly owners: Map<string, string>;
  readonly incarnation: Map<string, number>;
  /** Monotonic times of recent restarts per agent. */
  readonly restarts: Map<string, readonly number[]>;
  /** Agents that crashed past the restart limit; not restarted until a reload changes them. */
  readonly failed: Set<string>;
  /** Last state of agents whose actor was stopped (disabled, failed, gateway stopped), for reports and the store. */
  readonly retired: Map<string, CarriedState>;
  /**
   * The last run id of every agent whose actor was stopped, removed ones too: an agent
   * enabled or added back continues its ids (a wake-driven run's claim key is its id, and
   * a repeated id would find the earlier run's claim and be skipped 'slot-taken').
   */
  readonly lastRunIds: Map<string, number>;
  /**
   * Every agent's config as the last reload gave it. An actor that crashes deciding an
   * UPDATE rolls back to its old config; its restart is handed this one again.
   */
  readonly configs: Map<string, ResolvedAgent>;
}

export type GatewayEvent =
  | {
      readonly type: "APPLY";
      readonly diff: ConfigDiff;
      readonly policy: ResolvedPolicy;
      /** State loaded from the store, for added agents to resume from. */
      readonly stored: ReadonlyMap<string, StoredAgentState>;
      readonly now: Instant;
    }
  /** Stop every heartbeat (runs in flight are aborted and recorded). */
  | { readonly type: "STOP_ALL" }
  | { readonly type: `xstate.error.actor.${string}`; readonly error: unknown; readonly actorId?: string };

export const heartbeatSystemId = (agentId: string): string => `heartbeat:${agentId}`;

function startChild(
  context: GatewayContext,
  self: AnyActorRef,
  agent: ResolvedAgent,
  policy: ResolvedPolicy,
  carried?: Pick<HeartbeatInput, "restore" | "openAlerts" | "timedOut" | "runSeq">,
): HeartbeatRef {
  const n = (context.incarnation.get(agent.id) ?? 0) + 1;
  const id = `${heartbeatSystemId(agent.id)}#${n}`;
  const ref = createActor(heartbeatMachine, {
    parent: self,
    id,
    systemId: heartbeatSystemId(agent.id),
    input: { agent, policy, deps: context.deps, ...carried, runSeq: Math.max(carried?.runSeq ?? 0, context.lastRunIds.get(agent.id) ?? 0) },
  });
  ref.on("*", context.deps.sink);
  context.refs.set(agent.id, ref);
  context.owners.set(id, agent.id);
  context.incarnation.set(agent.id, n);
  context.retired.delete(agent.id);
  const latest = context.configs.get(agent.id);
  const update = latest !== undefined && latest !== agent ? { agent: latest, policy } : undefined;
  context.configs.set(agent.id, latest ?? agent);
  context.deps.lifecycle({ kind: "start", agentId: agent.id, ref, kick: (carried?.restore?.pending.length ?? 0) > 0, update });
  return ref;
}

/** An interval agent's restored slot counts in elapsed time; with active hours it may be an opening, a wall time. */
function restoredInterval(agent: ResolvedAgent): number | undefined {
  return agent.schedule.kind === "interval" && agent.activeHours === undefined ? agent.schedule.everyMs : undefined;
}

function stopChild(context: GatewayContext, agentId: string, retire = true, dropsWakes = true): void {
  const ref = context.refs.get(agentId);
  if (!ref) return;
  context.refs.delete(agentId);
  context.owners.delete(ref.id);
  context.lastRunIds.set(agentId, ref.getSnapshot().context.runSeq);
  context.deps.lifecycle({ kind: "stop", agentId, ref, retire, dropsWakes });
}

export const gatewayMachine = setup({
  types: {
    context: {} as GatewayContext,
    events: {} as GatewayEvent,
    input: {} as GatewayInput,
    emitted: {} as HeartbeatEvent,
  },
  guards: {
    isChildCrash: ({ event }) => event.type.startsWith("xstate.error.actor."),
  },
  actions: {
    applyDiff: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "APPLY") return;
      const { diff, policy } = event;
      // Children are created inside an assign resolver, not a custom action: creating an
      // actor resolves its initial context, which XState only allows outside custom actions.
      enqueue.assign(({ self }) => {
        // Stored agents not started now (disabled) continue their run ids when enabled later.
        for (const [id, stored] of event.stored) {
          const last = stored.lastRunId ?? stored.runCount + stored.skipCount;
          if (last > (context.lastRunIds.get(id) ?? 0)) context.lastRunIds.set(id, last);
        }
        for (const agent of [...diff.update, ...diff.add]) context.configs.set(agent.id, agent);
        for (const id of diff.remove) {
          context.configs.delete(id);
          stopChild(context, id, false);
          context.retired.delete(id);
          context.failed.delete(id);
          context.restarts.delete(id);
        }
        for (const agent of diff.update) {
          context.failed.delete(agent.id);
          const ref = context.refs.get(agent.id);
          // A disabled agent has no actor: disabling one is stopping it.
          if (!agent.enabled) stopChild(context, agent.id);
          else if (ref) ref.send({ type: "UPDATE", agent, policy });
          else startChild(context, self, agent, policy);
        }
        for (const agent of diff.add) {
          if (!agent.enabled || context.refs.has(agent.id)) continue;
          const stored = event.stored.get(agent.id);
          if (!stored) {
            startChild(context, self, agent, policy);
            continue;
          }
          // Resume where it was; a schedule changed while down starts a fresh phase.
          const fresh = stored.configKey === agentKey(agent) ? undefined : firstDue(agent, event.now);
          const c = decodeAgent(stored, event.now, fresh, restoredInterval(agent));
          startChild(context, self, agent, policy, {
            restore: c.s,
            openAlerts: c.openAlerts,
            timedOut: c.timedOut,
            runSeq: c.runSeq,
          });
        }
        return { policy };
      });
    }),
    /** A crashed child is restarted with its schedule state, at most N times in T; then failed and alerted. */
    restartCrashed: enqueueActions(({ context, event, enqueue }) => {
      const childId = event.type.slice("xstate.error.actor.".length);
      const agentId = context.owners.get(childId);
      const crashed = agentId === undefined ? undefined : context.refs.get(agentId);
      if (agentId === undefined || !crashed || crashed.id !== childId) return;
      const now = context.deps.clock.now();
      const admitted = admitRestart(context.restarts.get(agentId) ?? [], now.mono, context.policy.restart);
      const prev = crashed.getSnapshot().context;
      context.lastRunIds.set(agentId, prev.runSeq);
      context.owners.delete(childId);
      context.refs.delete(agentId);
      context.restarts.set(agentId, admitted.recent);
      const lost = prev.run;
      if (lost) {
        context.deps.runs?.abort(agentId, lost.id, "crashed");
        context.deps.ledger?.end(agentId, lost.id, "aborted");
      }
      if (lost) {
        // The run in flight died with the actor (its signal aborted): record it, never leave a start unfinished.
        enqueue.emit({
          type: "run-finished",
          agentId,
          at: now.wall,
          runId: lost.id,
          status: "aborted",
          durationMs: Math.max(0, Math.round(now.mono - lost.startedAt.mono)),
          reasons: lost.reasons,
          reason: "crashed",
        });
      }
      if (!admitted.ok) {
        context.failed.add(agentId);
        // Wakes it held die with it: recorded, never silently.
        const held = prev.s.pending.map((w) => w.reason);
        if (held.length > 0) enqueue.emit({ type: "wake-skipped", agentId, at: now.wall, reason: "failed", reasons: held });
        context.retired.set(agentId, { s: prev.s, openAlerts: prev.alerts, timedOut: prev.timedOut, runSeq: prev.runSeq });
        enqueue.emit({ type: "alert", agentId, at: now.wall, kind: "restart-limit", state: "open", message: alertMessage("restart-limit", agentId) });
        return;
      }
      const error = "error" in event ? event.error : undefined;
      enqueue.emit({
        type: "agent-restarted",
        agentId,
        at: now.wall,
        error: error instanceof Error ? error.message : String(error),
        restartsInWindow: admitted.recent.length,
      });
      // Keep the schedule and the folded wakes; a run in flight died with the crash.
      enqueue.assign(({ self }) => {
        startChild(context, self, prev.agent, context.policy, {
          restore: prev.s,
          openAlerts: prev.alerts,
          timedOut: prev.timedOut,
          runSeq: prev.runSeq,
        });
        return {};
      });
    }),
    stopAll: ({ context }) => {
      for (const id of [...context.refs.keys()]) stopChild(context, id, true, false);
    },
  },
}).createMachine({
  id: "gateway",
  context: ({ input }) => ({
    deps: input.deps,
    policy: input.policy,
    refs: new Map(),
    owners: new Map(),
    incarnation: new Map(),
    restarts: new Map(),
    failed: new Set(),
    retired: new Map(),
    lastRunIds: new Map(),
    configs: new Map(),
  }),
  initial: "serving",
  states: {
    serving: {
      on: {
        APPLY: { actions: "applyDiff" },
        // Stays serving until the runtime stops it, after the children have stopped (and said so).
        STOP_ALL: { actions: "stopAll" },
        "xstate.error.actor.*": { guard: "isChildCrash", actions: "restartCrashed" },
      },
    },
  },
});

export type GatewayMachine = typeof gatewayMachine;
