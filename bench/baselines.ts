/**
 * The baselines every benchmark measures beside the gateway, doing the same work:
 *
 *   bare         one setTimeout loop per agent (the floor): a cadence with the agent's
 *                own phase, and a wake that coalesces its reasons for the same window
 *                as the gateway (250 ms by default; 0 runs at once) and then runs
 *   croner       one croner job per agent; a wake is `job.trigger()`
 *   naive-spawn  the naive XState structure: every agent's heartbeat machine `spawn`ed
 *                as a child of one machine in one actor system; a wake is a WAKE event
 *                sent to the child (no coalescing)
 */
import { Cron } from "croner";
import { assign, createActor, setup, type AnyActorRef } from "xstate";
import { heartbeatMachine } from "../machines/heartbeat.ts";
import type { Clock, RunHeartbeat } from "../src/index.ts";
import { resolveAgents, resolvePolicy } from "../src/policy/config.ts";
import { phaseOffset } from "../src/policy/phase.ts";
import { wakeFromReason } from "../src/policy/wake.ts";
import { systemClock } from "../src/runtime/clock.ts";

export interface Fleet {
  /** Returns false for a rejected wake (unknown agent or bad reason). */
  wake(agentId: string, reason: string, coalesceMs?: number): boolean;
  stop(): void | Promise<void>;
}

export interface FleetOptions {
  readonly ids: readonly string[];
  readonly everyMs: number;
  /** Called for every run, with its reasons ("interval" for the cadence) and, for a scheduled run of the bare fleet, the slot (mono ms). */
  readonly run: (agentId: string, reasons: string[], slotMono?: number) => void;
  readonly clock?: Clock;
}

/** One setTimeout loop per agent, on the agent's grid; a wake coalesces and then runs. */
export function bareFleet({ ids, everyMs, run, clock = systemClock }: FleetOptions): Fleet {
  interface Agent {
    readonly id: string;
    due: number;
    timer: unknown;
    wakeTimer: unknown;
    pending: Set<string> | undefined;
  }
  const agents = new Map<string, Agent>();
  const t0 = clock.now().mono;
  const arm = (a: Agent): void => {
    a.timer = clock.setTimeout(() => fire(a), Math.max(0, a.due - clock.now().mono));
  };
  const fire = (a: Agent): void => {
    const slot = a.due;
    a.due += everyMs;
    arm(a);
    run(a.id, ["interval"], slot);
  };
  const deliver = (a: Agent): void => {
    const reasons = [...(a.pending ?? [])];
    a.pending = undefined;
    a.wakeTimer = undefined;
    run(a.id, reasons);
  };
  for (const id of ids) {
    const a: Agent = { id, due: t0 + phaseOffset(id, everyMs), timer: undefined, wakeTimer: undefined, pending: undefined };
    agents.set(id, a);
    arm(a);
  }
  return {
    wake(agentId, reason, coalesceMs = 250) {
      const a = agents.get(agentId);
      if (!a || typeof reason !== "string" || reason.length === 0) return false;
      (a.pending ??= new Set()).add(reason);
      if (coalesceMs <= 0) {
        if (a.wakeTimer !== undefined) clock.clearTimeout(a.wakeTimer);
        deliver(a);
      } else if (a.wakeTimer === undefined) {
        a.wakeTimer = clock.setTimeout(() => deliver(a), coalesceMs);
      }
      return true;
    },
    stop() {
      for (const a of agents.values()) {
        clock.clearTimeout(a.timer);
        if (a.wakeTimer !== undefined) clock.clearTimeout(a.wakeTimer);
      }
      agents.clear();
    },
  };
}

/** One croner job per agent at its phase, every `everyMs` (whole seconds); a wake triggers the job. */
export function cronerFleet({ ids, everyMs, run }: FleetOptions): Fleet {
  const jobs = new Map<string, Cron>();
  const sec = Math.max(1, Math.round(everyMs / 1000));
  for (const id of ids) {
    let pattern: string;
    if (sec < 60 && 60 % sec === 0) pattern = `*/${sec} * * * * *`;
    else {
      // Minute cadences dividing the hour, at the agent's phase (second and minute).
      const phase = phaseOffset(id, everyMs);
      const min = Math.max(1, Math.round(sec / 60));
      const s = Math.floor(phase / 1000) % 60;
      const m = Math.floor(phase / 60_000) % min;
      const minutes = Array.from({ length: Math.ceil(60 / min) }, (_, k) => m + k * min).filter((x) => x < 60);
      pattern = `${s} ${minutes.join(",")} * * * *`;
    }
    let reason = "interval";
    const job = new Cron(pattern, () => {
      const r = reason;
      reason = "interval";
      run(id, [r]);
    });
    jobs.set(id, job);
    // A wake: the job's own manual trigger.
    (job as Cron & { wakeReason?: (r: string) => void }).wakeReason = (r) => {
      reason = r;
    };
  }
  return {
    wake(agentId, reason) {
      const job = jobs.get(agentId) as (Cron & { wakeReason?: (r: string) => void }) | undefined;
      if (!job) return false;
      job.wakeReason?.(reason);
      void job.trigger();
      return true;
    },
    stop() {
      for (const j of jobs.values()) j.stop();
      jobs.clear();
    },
  };
}

/** Every agent's heartbeat machine spawned as a child of one machine (one actor system). */
export function naiveFleet({ ids, everyMs, run, clock = systemClock }: FleetOptions): Fleet & { root: AnyActorRef } {
  const agents = resolveAgents(ids.map((id) => ({ id, every: everyMs })));
  const policy = resolvePolicy({});
  const runHeartbeat: RunHeartbeat = async ({ agentId, reasons }) => {
    run(agentId, reasons);
    return { status: "ran" };
  };
  const deps = { clock, runHeartbeat, lanes: {}, onLateSettlement: () => {} };
  const parent = setup({ actors: { heartbeat: heartbeatMachine } }).createMachine({
    context: {},
    entry: assign(({ spawn }) => {
      for (const agent of agents) {
        spawn("heartbeat", { id: agent.id, systemId: `heartbeat:${agent.id}`, input: { agent, policy, deps } as never });
      }
      return {};
    }),
  });
  const root = createActor(parent, {
    clock: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id) },
  }).start();
  const refs = new Map<string, AnyActorRef>();
  for (const id of ids) {
    const ref = root.system.get(`heartbeat:${id}`) as AnyActorRef | undefined;
    if (ref) refs.set(id, ref);
  }
  return {
    root,
    wake(agentId, reason) {
      const ref = refs.get(agentId);
      if (!ref) return false;
      ref.send({ type: "WAKE", wakes: [wakeFromReason(reason)] });
      return true;
    },
    stop() {
      root.stop();
    },
  };
}
