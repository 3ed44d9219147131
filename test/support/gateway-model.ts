import { createEmptyActor, type ActorLogic, type AnyActorScope, type AnyTransitionDefinition, type SnapshotFrom } from "xstate";
import { gatewayMachine, type GatewayContext, type GatewayDeps, type GatewayEvent, type GatewayInput } from "../../machines/gateway.ts";
import type { HeartbeatEvent } from "../../src/events.ts";
import { resolveAgents, resolvePolicy, type AgentConfig } from "../../src/policy/config.ts";
import type { HostResult } from "../../src/policy/outcome.ts";
import type { ResolvedAgent } from "../../src/policy/types.ts";

/**
 * A test model of the production gateway (supervisor) machine for xstate/graph. Its
 * transitions are self-loops whose meaning lives in the supervisor's context (which
 * children run, which failed, how often each restarted), so the model carries a small
 * reference world of that context and the graph is over the world: agents added,
 * changed, disabled, removed and crashed, time passing the restart window, STOP_ALL.
 * Each step is also run through the machine's own pure transition (on a copy of its
 * context) to record which of its transitions the step takes.
 */

export const AGENT_IDS = ["a", "b"] as const;
export type AgentId = (typeof AGENT_IDS)[number];

export const W0 = Date.UTC(2026, 0, 5, 12, 0, 0);
/** The restart intensity of the default policy: at most 3 restarts in 60 s. */
export const RESTART = { max: 3, windowMs: 60_000 };

export interface AgentWorld {
  readonly present: boolean;
  readonly enabled: boolean;
  /** Cadence variant (a change is an update). */
  readonly every: "1m" | "2m";
  readonly failed: boolean;
  /** Actor incarnation (the child id is heartbeat:<id>#<n>). */
  readonly n: number;
  /** Times (ms) of admitted restarts still counted by the supervisor. */
  readonly restarts: readonly number[];
}

export interface World {
  readonly t: number;
  readonly stopped: boolean;
  readonly agents: Readonly<Record<AgentId, AgentWorld>>;
}

export type GwEvent =
  | { readonly type: "ADD" | "REMOVE" | "DISABLE" | "ENABLE" | "CHANGE" | "CRASH"; readonly id: AgentId }
  /** Time passes beyond the restart window. */
  | { readonly type: "ADVANCE" }
  | { readonly type: "STOP_ALL" };

type Snap = SnapshotFrom<typeof gatewayMachine>;

export interface GwSnap {
  readonly status: "active";
  readonly output: undefined;
  readonly error: undefined;
  readonly snap: Snap;
  readonly world: World;
  readonly taken: readonly AnyTransitionDefinition[];
}

const ABSENT: AgentWorld = { present: false, enabled: true, every: "1m", failed: false, n: 0, restarts: [] };
export const INITIAL_WORLD: World = { t: 0, stopped: false, agents: { a: ABSENT, b: ABSENT } };

export function configOf(id: AgentId, a: AgentWorld): AgentConfig {
  return { id, every: a.every, ...(a.enabled ? {} : { enabled: false }) };
}

export function configsOf(w: World): AgentConfig[] {
  return AGENT_IDS.filter((id) => w.agents[id].present).map((id) => configOf(id, w.agents[id]));
}

export const live = (a: AgentWorld): boolean => a.present && a.enabled && !a.failed;

/** The reference supervisor: what each event does to the world. */
export function step(w: World, e: GwEvent): World {
  if (e.type === "STOP_ALL") return { ...w, stopped: true };
  if (e.type === "ADVANCE") return { ...w, t: w.t + RESTART.windowMs + 1_000 };
  const a = w.agents[e.id];
  const set = (next: AgentWorld): World => ({ ...w, agents: { ...w.agents, [e.id]: next } });
  switch (e.type) {
    case "ADD":
      return set({ ...ABSENT, present: true, n: a.n + 1 });
    case "REMOVE":
      return set({ ...ABSENT, n: a.n });
    case "DISABLE":
      return set({ ...a, enabled: false, failed: false });
    case "ENABLE":
      return set({ ...a, enabled: true, failed: false, n: a.n + 1 });
    case "CHANGE": {
      const restartNeeded = a.failed;
      return set({ ...a, every: a.every === "1m" ? "2m" : "1m", failed: false, n: restartNeeded ? a.n + 1 : a.n });
    }
    case "CRASH": {
      const recent = a.restarts.filter((t) => w.t - t < RESTART.windowMs);
      if (recent.length >= RESTART.max) return set({ ...a, failed: true, restarts: recent });
      return set({ ...a, n: a.n + 1, restarts: [...recent, w.t] });
    }
  }
}

export function eventsFor(ms: GwSnap): GwEvent[] {
  const w = ms.world;
  if (w.stopped) return [];
  const out: GwEvent[] = [{ type: "STOP_ALL" }];
  if (AGENT_IDS.some((id) => w.agents[id].restarts.length > 0)) out.push({ type: "ADVANCE" });
  for (const id of AGENT_IDS) {
    const a = w.agents[id];
    if (!a.present) out.push({ type: "ADD", id });
    else {
      out.push({ type: "REMOVE", id }, { type: "CHANGE", id }, { type: a.enabled ? "DISABLE" : "ENABLE", id });
      if (live(a)) out.push({ type: "CRASH", id });
    }
  }
  return out;
}

export function serializeWorld(w: World): string {
  return JSON.stringify([
    w.stopped,
    AGENT_IDS.map((id) => {
      const a = w.agents[id];
      return a.present ? [a.enabled, a.failed, a.restarts.filter((t) => w.t - t < RESTART.windowMs).length] : 0;
    }),
  ]);
}

export function describe(e: GwEvent): string {
  return "id" in e ? `${e.type}(${e.id})` : e.type;
}

// The traversal's deps: time from the world being expanded; children are created but never started.
let now = 0;
const deps = {
  clock: { now: () => ({ wall: W0 + now, mono: now }), setTimeout: () => 0, clearTimeout: () => {} },
  runHeartbeat: () => new Promise<HostResult>(() => {}),
  lanes: {},
  sink: () => {},
  lifecycle: () => {},
  onLateSettlement: () => {},
} as unknown as GatewayDeps;

export const POLICY = resolvePolicy({});
export const INPUT: GatewayInput = { deps, policy: POLICY };

const resolved = (id: AgentId, a: AgentWorld): ResolvedAgent => resolveAgents([configOf(id, a)])[0]!;

/** The machine event a model event is (undefined: the world changes, the supervisor sees nothing). */
export function machineEvent(before: World, e: GwEvent): GatewayEvent | undefined {
  if (e.type === "STOP_ALL") return { type: "STOP_ALL" };
  if (e.type === "ADVANCE") return undefined;
  if (e.type === "CRASH") return { type: `xstate.error.actor.heartbeat:${e.id}#${before.agents[e.id].n}`, error: new Error("crashed") };
  const after = step(before, e).agents[e.id];
  const a = resolved(e.id, after);
  const diff =
    e.type === "ADD" ? { add: [a], update: [], remove: [] } : e.type === "REMOVE" ? { add: [], update: [], remove: [e.id] } : { add: [], update: [a], remove: [] };
  return { type: "APPLY", diff, policy: POLICY, stored: new Map(), now: { wall: W0 + before.t, mono: before.t } } as GatewayEvent;
}

/**
 * A scope for one pure step: a fresh empty actor as parent (children register their
 * system ids there, so every step needs its own system), recording the microsteps.
 */
function stepScope(taken: AnyTransitionDefinition[]): AnyActorScope {
  const host = createEmptyActor();
  host.system.inspect((ev) => {
    if (ev.type === "@xstate.microstep") taken.push(...((ev as { _transitions?: AnyTransitionDefinition[] })._transitions ?? []));
  });
  return {
    self: host,
    logger: () => {},
    id: "model",
    sessionId: "model",
    defer: () => {},
    system: host.system,
    stopChild: () => {},
    emit: () => {},
    actionExecutor: () => {},
  } as unknown as AnyActorScope;
}

/** A copy of the supervisor's context (its maps are mutated in place by design). */
function copyContext(c: GatewayContext): GatewayContext {
  return {
    ...c,
    refs: new Map(c.refs),
    owners: new Map(c.owners),
    incarnation: new Map(c.incarnation),
    restarts: new Map(c.restarts),
    failed: new Set(c.failed),
    retired: new Map(c.retired),
  };
}

export const gatewayModel: ActorLogic<GwSnap, GwEvent, GatewayInput> = {
  config: gatewayMachine.config,
  transition(ms, e) {
    const world = step(ms.world, e);
    const me = machineEvent(ms.world, e);
    if (!me) return { ...ms, world, taken: [] };
    now = ms.world.t;
    const taken: AnyTransitionDefinition[] = [];
    const from = gatewayMachine.resolveState({ value: ms.snap.value, context: copyContext(ms.snap.context) });
    const snap = gatewayMachine.transition(from, me, stepScope(taken) as never) as Snap;
    return { status: "active", output: undefined, error: undefined, snap, world, taken };
  },
  getInitialSnapshot(_s, input) {
    now = 0;
    const snap = gatewayMachine.getInitialSnapshot(stepScope([]) as never, input) as Snap;
    return { status: "active", output: undefined, error: undefined, snap, world: INITIAL_WORLD, taken: [] };
  },
  getPersistedSnapshot: (ms) => ms,
} as ActorLogic<GwSnap, GwEvent, GatewayInput>;

export type { HeartbeatEvent };
