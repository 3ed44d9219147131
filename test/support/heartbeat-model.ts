import { createEmptyActor, type ActorLogic, type ActorScope, type AnyActorScope, type AnyTransitionDefinition, type SnapshotFrom } from "xstate";
import { heartbeatMachine, type HeartbeatInput, type HeartbeatMachineEvent } from "../../machines/heartbeat.ts";
import type { HeartbeatEvent } from "../../src/events.ts";
import { resolveAgents, resolvePolicy, type AgentConfig } from "../../src/policy/config.ts";
import type { HostResult } from "../../src/policy/outcome.ts";
import { isDue } from "../../src/policy/schedule.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../../src/policy/types.ts";
import { intentOf, wakeFromReason } from "../../src/policy/wake.ts";
import type { HeartbeatDeps } from "../../src/runtime/host.ts";
import { NODE_TIMER_MAX } from "../../src/sim/clock.ts";

/**
 * A test model of the production heartbeat machine for xstate/graph. The traversal runs
 * the machine's own pure `transition`, inside a small world that supplies what the
 * machine reads from outside: time (moved only by the machine's own delayed events, by
 * exactly the delay the machine computes), the lanes, and the host's answers. Context is
 * collapsed in `serializeState` to what decides the next transitions (pending wake kinds,
 * the decision, run in flight, alerts, recent starts, lanes), so the graph is finite.
 */

export const W0 = Date.UTC(2026, 0, 5, 12, 0, 0);

export type Variant = "interval" | "cron" | "quiet";
export type Lane = "free" | "main" | "session";

export type ModelEvent =
  | { readonly type: "WAKE"; readonly reason: string; readonly force?: true }
  | { readonly type: "PAUSE" }
  | { readonly type: "RESUME" }
  | { readonly type: "UPDATE"; readonly variant: Variant }
  | { readonly type: "CHECK" }
  | { readonly type: "STOP" }
  /** Fire the machine's pending delayed transition (time moves to it). */
  | { readonly type: "TIMER" }
  | { readonly type: "RUN_DONE"; readonly result: "ran" | "zero" | "skipped" }
  | { readonly type: "RUN_FAIL" }
  /** The host's lanes change, then the gateway's sweep sends CHECK. */
  | { readonly type: "LANE"; readonly lane: Lane };

const CONFIGS: Record<Variant, AgentConfig> = {
  interval: { id: "m", every: "1m", sessionKey: "s", runTimeout: "20s" },
  // A yearly slot: the idle wait is the 30 s wall re-check, which finds the slot not due.
  cron: { id: "m", cron: "0 0 1 1 *", timezone: "UTC", sessionKey: "s", runTimeout: "20s" },
  // start == end is never active: every due slot is skipped with quiet-hours.
  quiet: { id: "m", every: "1m", sessionKey: "s", runTimeout: "20s", activeHours: { start: "00:00", end: "00:00" } },
};

export const AGENTS: Record<Variant, ResolvedAgent> = {
  interval: resolveAgents([CONFIGS.interval])[0]!,
  cron: resolveAgents([CONFIGS.cron])[0]!,
  quiet: resolveAgents([CONFIGS.quiet])[0]!,
};

export const POLICY: ResolvedPolicy = resolvePolicy({});

export function variantOf(agent: ResolvedAgent): Variant {
  if (agent.schedule.kind === "cron") return "cron";
  return agent.activeHours ? "quiet" : "interval";
}

export const RESULTS: Record<"ran" | "zero" | "skipped", HostResult> = {
  ran: { status: "ran", usage: { inputTokens: 10, outputTokens: 5 } },
  zero: { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } },
  skipped: { status: "skipped", reason: "host-busy" },
};

type Snap = SnapshotFrom<typeof heartbeatMachine>;

export interface World {
  readonly t: number;
  readonly lane: Lane;
}

/** One vertex of the model graph: the machine's snapshot, the world, and what the last step did. */
export interface ModelSnap {
  readonly status: "active" | "done" | "error" | "stopped";
  readonly output: undefined;
  readonly error: undefined;
  readonly snap: Snap;
  readonly world: World;
  /** Events the machine emitted in the step that led here (from its own emit actions). */
  readonly emitted: readonly HeartbeatEvent[];
  /** Transitions the machine took in that step, and the state it started from. */
  readonly taken: readonly AnyTransitionDefinition[];
  readonly from: string;
}

let current: World = { t: 0, lane: "free" };

/** The traversal's deps: time and lanes come from the world of the vertex being expanded. */
const deps: HeartbeatDeps = {
  clock: { now: () => ({ wall: W0 + current.t, mono: current.t }), setTimeout: () => 0, clearTimeout: () => {} },
  lanes: { mainBusy: () => current.lane === "main", sessionBusy: () => current.lane === "session" },
  runHeartbeat: () => new Promise<HostResult>(() => {}),
  onLateSettlement: () => {},
};

export const INPUT: HeartbeatInput = { agent: AGENTS.interval, policy: POLICY, deps };

/** Node's rule for a timeout: below 1 ms or above 2^31-1 it fires after 1 ms. */
export function nodeDelay(ms: number): number {
  return ms >= 1 && ms <= NODE_TIMER_MAX ? ms : 1;
}

/** The delayed transition the machine has armed in this state, and its delay (ms). */
export function pendingTimer(snap: Snap, world: World): { eventType: string; delay: number } | undefined {
  const leaf = String(snap.value);
  const node = heartbeatMachine.root.states[leaf];
  const after = node?.after[0];
  if (!after) return undefined;
  const impl = heartbeatMachine.implementations.delays as Record<string, (a: { context: unknown; event: unknown }) => number>;
  current = world;
  const raw = typeof after.delay === "number" ? after.delay : impl[String(after.delay)]!({ context: snap.context, event: { type: "" } });
  return { eventType: after.eventType, delay: nodeDelay(raw) };
}

/** The machine event a model event becomes (undefined: not applicable in this state). */
export function machineEvent(e: ModelEvent, snap: Snap, world: World): HeartbeatMachineEvent | undefined {
  switch (e.type) {
    case "WAKE":
      return { type: "WAKE", wakes: [e.force ? { ...wakeFromReason(e.reason), force: true } : wakeFromReason(e.reason)] };
    case "PAUSE":
      return { type: "PAUSE", reason: "operator" };
    case "RESUME":
      return { type: "RESUME" };
    case "UPDATE":
      return { type: "UPDATE", agent: AGENTS[e.variant], policy: POLICY };
    case "CHECK":
    case "LANE":
      return { type: "CHECK" };
    case "STOP":
      return { type: "STOP" };
    case "TIMER": {
      const t = pendingTimer(snap, world);
      return t ? ({ type: t.eventType } as unknown as HeartbeatMachineEvent) : undefined;
    }
    case "RUN_DONE":
      return { type: "xstate.done.actor.run", output: RESULTS[e.result], actorId: "run" } as unknown as HeartbeatMachineEvent;
    case "RUN_FAIL":
      return { type: "xstate.error.actor.run", error: new Error("host failed"), actorId: "run" } as unknown as HeartbeatMachineEvent;
  }
}

export function nextWorld(e: ModelEvent, snap: Snap, world: World): World {
  if (e.type === "TIMER") return { ...world, t: world.t + (pendingTimer(snap, world)?.delay ?? 0) };
  if (e.type === "LANE") return { ...world, lane: e.lane };
  return world;
}

/** The empty actor pure transitions run under; its system's inspection reports the microsteps. */
const host = createEmptyActor();
let capture: AnyTransitionDefinition[] | undefined;
host.system.inspect((ev) => {
  if (ev.type === "@xstate.microstep" && capture) capture.push(...((ev as { _transitions?: AnyTransitionDefinition[] })._transitions ?? []));
});

/** A pure-transition scope that records emitted events and executes nothing else. */
function recordingScope(emitted: HeartbeatEvent[]): AnyActorScope {
  return {
    self: host,
    logger: () => {},
    id: "model",
    sessionId: "model",
    defer: () => {},
    system: host.system,
    stopChild: () => {},
    emit: () => {},
    actionExecutor: (action: { type: string; params?: unknown }) => {
      if (action.type === "xstate.emit") emitted.push((action.params as { event: HeartbeatEvent }).event);
    },
  } as unknown as ActorScope<Snap, HeartbeatMachineEvent>;
}

function vertex(snap: Snap, world: World, emitted: HeartbeatEvent[], taken: AnyTransitionDefinition[], from: string): ModelSnap {
  return { status: snap.status, output: undefined, error: undefined, snap, world, emitted, taken, from };
}

/** The machine inside its world, as actor logic xstate/graph can traverse. */
export const heartbeatModel: ActorLogic<ModelSnap, ModelEvent, HeartbeatInput> = {
  config: heartbeatMachine.config,
  transition(ms, event) {
    const e = machineEvent(event, ms.snap, ms.world);
    const world = nextWorld(event, ms.snap, ms.world);
    if (!e) return { ...ms, emitted: [], taken: [] };
    current = world;
    const emitted: HeartbeatEvent[] = [];
    const taken: AnyTransitionDefinition[] = [];
    capture = taken;
    try {
      const snap = heartbeatMachine.transition(ms.snap, e, recordingScope(emitted) as never) as Snap;
      return vertex(snap, world, emitted, taken, String(ms.snap.value));
    } finally {
      capture = undefined;
    }
  },
  getInitialSnapshot(_scope, input) {
    current = { t: 0, lane: "free" };
    const emitted: HeartbeatEvent[] = [];
    const snap = heartbeatMachine.getInitialSnapshot(recordingScope(emitted) as never, input) as Snap;
    return vertex(snap, current, emitted, [], "");
  },
  getPersistedSnapshot: (ms) => ms,
} as ActorLogic<ModelSnap, ModelEvent, HeartbeatInput>;

const WAKES = ["manual", "wake", "exec-event", "interval"];
const PAUSABLE = (heartbeatMachine.root.transitions as Map<string, unknown>).has("PAUSE");

/** Events worth trying in a vertex (only those the machine can react to). */
export function eventsFor(ms: ModelSnap): ModelEvent[] {
  if (ms.snap.status !== "active") return [];
  const out: ModelEvent[] = [
    ...WAKES.map((reason) => ({ type: "WAKE" as const, reason })),
    ...(PAUSABLE ? [{ type: "WAKE" as const, reason: "manual", force: true as const }, { type: "PAUSE" as const }, { type: "RESUME" as const }] : []),
    { type: "CHECK" },
    { type: "STOP" },
    ...(["interval", "cron", "quiet"] as const).filter((v) => v !== variantOf(ms.snap.context.agent)).map((variant) => ({ type: "UPDATE" as const, variant })),
    ...(["free", "main", "session"] as const).filter((l) => l !== ms.world.lane).map((lane) => ({ type: "LANE" as const, lane })),
  ];
  if (pendingTimer(ms.snap, ms.world)) out.push({ type: "TIMER" });
  if (ms.snap.value === "running") {
    out.push({ type: "RUN_DONE", result: "ran" }, { type: "RUN_DONE", result: "zero" }, { type: "RUN_DONE", result: "skipped" }, { type: "RUN_FAIL" });
  }
  return out;
}

/**
 * The collapsed context: what decides the next transitions, without the ever-growing
 * clock values. Wakes are kept by intent (immediate / event / scheduled), recent starts
 * as none / some / a full flood window, time as "is the slot due now".
 */
export function serializeModel(ms: ModelSnap): string {
  const c = ms.snap.context;
  const t = ms.world.t;
  const d = c.decision;
  const recent = c.s.runStarts.filter((x) => x > t - POLICY.flood.windowMs).length;
  return JSON.stringify([
    ms.snap.value,
    variantOf(c.agent),
    [...new Set(c.s.pending.map((w) => `${intentOf(w.source)}${w.force ? "!" : ""}`))].sort(),
    c.s.paused !== undefined,
    d?.kind,
    d?.kind === "defer" || d?.kind === "skip" ? d.reason : undefined,
    c.timedOut,
    recent >= POLICY.flood.maxRuns ? 2 : recent > 0 ? 1 : 0,
    c.s.lastRunStartMono !== undefined,
    c.s.busy?.lane,
    ms.world.lane,
    isDue(c.s.due, { wall: W0 + t, mono: t }),
  ]);
}

export function describeEvent(e: ModelEvent): string {
  switch (e.type) {
    case "WAKE":
      return `WAKE(${e.reason}${e.force ? ", forced" : ""})`;
    case "UPDATE":
      return `UPDATE(${e.variant})`;
    case "RUN_DONE":
      return `RUN_DONE(${e.result})`;
    case "LANE":
      return `LANE(${e.lane})`;
    default:
      return e.type;
  }
}
