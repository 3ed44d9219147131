import { createActor } from "xstate";
import { heartbeatMachine } from "../../machines/heartbeat.ts";
import type { HeartbeatEvent } from "../../src/events.ts";
import { resolveAgents, resolvePolicy, type AgentConfig, type PolicyConfig } from "../../src/policy/config.ts";
import type { HostResult } from "../../src/policy/outcome.ts";
import type { AgentPolicyState } from "../../src/policy/state.ts";
import { wakeFromReason } from "../../src/policy/wake.ts";
import { systemClock, type Clock } from "../../src/runtime/clock.ts";
import type { HeartbeatDeps, Lanes, RunContext } from "../../src/runtime/host.ts";

export interface HeartbeatHarnessOptions {
  agent?: Partial<AgentConfig>;
  policy?: PolicyConfig;
  run?: (ctx: RunContext) => Promise<HostResult>;
  lanes?: Lanes;
  clock?: Clock;
  restore?: AgentPolicyState;
}

/** One heartbeat actor on the injected clock, recording every emitted event and every host call. */
export function startHeartbeat(options: HeartbeatHarnessOptions = {}) {
  const [agent] = resolveAgents([{ id: "a1", ...options.agent }]);
  const policy = resolvePolicy(options.policy ?? {});
  const calls: RunContext[] = [];
  const events: HeartbeatEvent[] = [];
  const deps: HeartbeatDeps = {
    clock: options.clock ?? systemClock,
    lanes: options.lanes ?? {},
    runHeartbeat: (ctx) => {
      calls.push(ctx);
      return options.run ? options.run(ctx) : Promise.resolve({ status: "ran" });
    },
    onLateSettlement: (agentId, runId, settled) =>
      events.push({ type: "run-settled-late", agentId, at: deps.clock.now().wall, runId, settled }),
  };
  const actor = createActor(heartbeatMachine, {
    input: { agent: agent!, policy, deps, restore: options.restore },
    clock: { setTimeout: (fn, ms) => deps.clock.setTimeout(fn, ms), clearTimeout: (id) => deps.clock.clearTimeout(id) },
  });
  actor.on("*", (e) => events.push(e as HeartbeatEvent));
  actor.start();
  return {
    actor,
    agent: agent!,
    policy,
    calls,
    events,
    wake: (...reasons: string[]) => actor.send({ type: "WAKE", wakes: reasons.map(wakeFromReason) }),
    state: () => actor.getSnapshot().value as string,
    of: <T extends HeartbeatEvent["type"]>(type: T) =>
      events.filter((e): e is Extract<HeartbeatEvent, { type: T }> => e.type === type),
  };
}
