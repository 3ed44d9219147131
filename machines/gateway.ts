import { enqueueActions, setup, type ActorRefFrom } from "xstate";
import type { HeartbeatEvent } from "../src/events.ts";
import { alertMessage } from "../src/policy/alerts.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../src/policy/types.ts";
import type { HeartbeatDeps } from "../src/runtime/host.ts";
import { admitRestart } from "../src/policy/restart.ts";
import { heartbeatMachine } from "./heartbeat.ts";

/** The supervisor: spawns one heartbeat actor per enabled agent, applies reload diffs, restarts crashed children. */

export type HeartbeatRef = ActorRefFrom<typeof heartbeatMachine>;

export interface GatewayDeps extends HeartbeatDeps {
  /** Where every child's emitted event goes (wired at spawn, so no child is ever unheard). */
  readonly sink: (event: HeartbeatEvent) => void;
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
  /** Live heartbeat actor per agent id. */
  readonly refs: Readonly<Record<string, HeartbeatRef>>;
  /** Child actor id → agent id (child ids change on every restart). */
  readonly owners: Readonly<Record<string, string>>;
  readonly incarnation: Readonly<Record<string, number>>;
  /** Monotonic times of recent restarts per agent. */
  readonly restarts: Readonly<Record<string, readonly number[]>>;
  /** Agents that crashed past the restart limit; not respawned until reloaded. */
  readonly failed: Readonly<Record<string, true>>;
}

export type GatewayEvent =
  | { readonly type: "APPLY"; readonly diff: ConfigDiff; readonly policy: ResolvedPolicy }
  | { readonly type: "CHECK" }
  | { readonly type: `xstate.error.actor.${string}`; readonly error: unknown; readonly actorId?: string };

export const heartbeatSystemId = (agentId: string): string => `heartbeat:${agentId}`;

export const gatewayMachine = setup({
  types: {
    context: {} as GatewayContext,
    events: {} as GatewayEvent,
    input: {} as GatewayInput,
    emitted: {} as HeartbeatEvent,
  },
  actors: { heartbeat: heartbeatMachine },
  guards: {
    isChildCrash: ({ event }) => event.type.startsWith("xstate.error.actor."),
  },
  actions: {
    /** One assign for the whole diff: spawning N children costs O(N), not O(N²). */
    applyDiff: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "APPLY") return;
      const { diff, policy } = event;
      // A disabled agent has no actor: disabling one is stopping it.
      const stopping = [...diff.remove, ...diff.update.filter((a) => !a.enabled).map((a) => a.id)];
      for (const id of stopping) {
        const ref = context.refs[id];
        if (ref) {
          enqueue.sendTo(ref, { type: "STOP" });
          enqueue.stopChild(ref);
        }
      }
      for (const agent of diff.update) {
        const ref = context.refs[agent.id];
        if (ref && agent.enabled) enqueue.sendTo(ref, { type: "UPDATE", agent, policy });
      }
      enqueue.assign(({ spawn }) => {
        const refs = { ...context.refs };
        const owners = { ...context.owners };
        const incarnation = { ...context.incarnation };
        const failed = { ...context.failed };
        for (const id of stopping) {
          delete refs[id];
          delete failed[id];
        }
        for (const agent of [...diff.add, ...diff.update]) {
          delete failed[agent.id];
          if (refs[agent.id] || !agent.enabled) continue;
          const n = (incarnation[agent.id] ?? 0) + 1;
          const childId = `${heartbeatSystemId(agent.id)}#${n}`;
          const ref = spawn("heartbeat", {
            id: childId,
            systemId: heartbeatSystemId(agent.id),
            input: { agent, policy, deps: context.deps },
          });
          ref.on("*", context.deps.sink);
          refs[agent.id] = ref;
          owners[childId] = agent.id;
          incarnation[agent.id] = n;
        }
        return { refs, owners, incarnation, failed, policy };
      });
    }),
    /** A crashed child is restarted with its schedule state, at most N times in T. */
    restartCrashed: enqueueActions(({ context, event, enqueue }) => {
      const childId = event.type.slice("xstate.error.actor.".length);
      const agentId = context.owners[childId];
      const crashed = agentId === undefined ? undefined : context.refs[agentId];
      if (agentId === undefined || !crashed || crashed.id !== childId) return;
      const now = context.deps.clock.now();
      const admitted = admitRestart(context.restarts[agentId] ?? [], now.mono, context.policy.restart);
      const snapshot = crashed.getSnapshot();
      const owners = { ...context.owners };
      delete owners[childId];
      if (!admitted.ok) {
        const refs = { ...context.refs };
        delete refs[agentId];
        enqueue.assign({ refs, owners, failed: { ...context.failed, [agentId]: true }, restarts: { ...context.restarts, [agentId]: admitted.recent } });
        enqueue.emit({ type: "alert", agentId, at: now.wall, kind: "restart-limit", state: "open", message: alertMessage("restart-limit", agentId) });
        return;
      }
      const error = "error" in event ? event.error : undefined;
      enqueue.assign(({ spawn }) => {
        const n = (context.incarnation[agentId] ?? 0) + 1;
        const id = `${heartbeatSystemId(agentId)}#${n}`;
        const prev = snapshot.context;
        const ref = spawn("heartbeat", {
          id,
          systemId: heartbeatSystemId(agentId),
          // Keep the schedule and the folded wakes; a run in flight died with the crash.
          input: { agent: prev.agent, policy: context.policy, deps: context.deps, restore: prev.s },
        });
        ref.on("*", context.deps.sink);
        return {
          refs: { ...context.refs, [agentId]: ref },
          owners: { ...owners, [id]: agentId },
          incarnation: { ...context.incarnation, [agentId]: n },
          restarts: { ...context.restarts, [agentId]: admitted.recent },
        };
      });
      enqueue.emit({
        type: "agent-restarted",
        agentId,
        at: now.wall,
        error: error instanceof Error ? error.message : String(error),
        restartsInWindow: admitted.recent.length,
      });
    }),
    checkAll: enqueueActions(({ context, enqueue }) => {
      for (const ref of Object.values(context.refs)) enqueue.sendTo(ref, { type: "CHECK" });
    }),
  },
}).createMachine({
  id: "gateway",
  context: ({ input }) => ({
    deps: input.deps,
    policy: input.policy,
    refs: {},
    owners: {},
    incarnation: {},
    restarts: {},
    failed: {},
  }),
  initial: "serving",
  states: {
    serving: {
      on: {
        APPLY: { actions: "applyDiff" },
        CHECK: { actions: "checkAll" },
        "xstate.error.actor.*": { guard: "isChildCrash", actions: "restartCrashed" },
      },
    },
  },
});

export type GatewayMachine = typeof gatewayMachine;
