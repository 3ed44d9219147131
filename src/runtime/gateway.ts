import { hostname } from "node:os";
import { createActor } from "xstate";
import { gatewayMachine, type ConfigDiff, type GatewayDeps, type HeartbeatRef } from "../../machines/gateway.ts";
import { ConfigError } from "../errors.ts";
import type { HeartbeatEvent } from "../events.ts";
import { alertMessage, openAgentAlerts } from "../policy/alerts.ts";
import { resolveAgents, resolvePolicy } from "../policy/config.ts";
import { backoffDelay } from "../policy/backoff.ts";
import { parseDuration } from "../policy/duration.ts";
import type { Instant } from "../policy/time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../policy/types.ts";
import { forcedWake, wakeFromReason } from "../policy/wake.ts";
import { encodeAgent } from "../store/codec.ts";
import { memoryStore } from "../store/memory.ts";
import type { RunRecord, StoredAgentState } from "../store/types.ts";
import { AlertBook } from "./alert-book.ts";
import { systemClock } from "./clock.ts";
import { agentKey, diffAgents } from "./diff.ts";
import { HandlerSlot } from "./handler-slot.ts";
import { agentHealth, type AgentMachineState } from "./health.ts";
import { RunLedger } from "./ledger.ts";
import { RunRegistry } from "./run-registry.ts";
import { LifecycleQueue } from "./lifecycle.ts";
import { CrashCarry } from "./crash-carry.ts";
import { operatorControls, runRecord } from "./operator.ts";
import { defaultLogger, logEvent } from "./log.ts";
import { Persister } from "./persistence.ts";
import { indexScheduler } from "./scheduler-index.ts";
import { Ownership } from "./ownership.ts";
import { gatewayHooks } from "./ownership-glue.ts";
import { openStore } from "./startup.ts";
import { StoreHealth } from "./store-health.ts";
import { wakeTargets } from "./targets.ts";
import { parseWakeRequest, rejected } from "./wake-request.ts";
import { deliveryCoalescer, type Delivery } from "./wake-intake.ts";
import type { Gateway, GatewayOptions } from "./gateway-api.ts";

export type { Gateway, GatewayOptions } from "./gateway-api.ts";

/** Events after which an agent's stored state is out of date. */
const PERSISTED = new Set<HeartbeatEvent["type"]>([
  "run-started", "run-finished", "wake-deferred", "wake-skipped", "alert", "agent-restarted", "agent-paused", "agent-resumed",
]);

export function createGateway(options: GatewayOptions): Gateway {
  if (typeof options !== "object" || options === null) throw new ConfigError("options", "must be an object");
  if (typeof options.runHeartbeat !== "function") throw new ConfigError("runHeartbeat", "must be a function");
  let agents = indexById(resolveAgents(options.agents, "agents"));
  const policy: ResolvedPolicy = resolvePolicy(options.policy ?? {}, "policy");
  const leaseTtlMs = parseDuration(options.leaseTtl ?? "30s", "leaseTtl");
  if (leaseTtlMs < 3) throw new ConfigError("leaseTtl", "must be at least 3 ms");
  const clock = options.clock ?? systemClock;
  const store = options.store ?? memoryStore();
  const owner = options.ownerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const logger = options.logger === false ? undefined : (options.logger ?? defaultLogger());
  const sweepMs = options.sweepMs ?? 15_000;
  const listeners = new Set<(event: HeartbeatEvent) => void>();
  const alerts = new AlertBook();
  let status: "new" | "started" | "stopping" | "stopped" = "new";
  let stopping: Promise<void> | undefined;
  let sweepTimer: unknown;
  let reapTimer: unknown;
  let reopenTimer: unknown;
  let epoch: number | undefined;
  let reloads: Promise<void> = Promise.resolve();

  const notify = <E>(fn: ((e: E) => void) | undefined, e: E): void => {
    try {
      fn?.(e);
    } catch (err) {
      // A host listener that throws must not break a heartbeat.
      logger?.error({ err }, "event listener threw");
    }
  };
  const dispatch = (event: HeartbeatEvent): void => {
    if (event.type === "alert" && !alerts.apply(event)) return;
    if (PERSISTED.has(event.type) && agents.has(event.agentId)) persister.markDirty(event.agentId);
    if (event.type === "run-finished" && agents.has(event.agentId)) persister.recordRun(runRecord(event));
    if (logger) logEvent(logger, event);
    notify(options.onEvent, event);
    for (const l of listeners) notify(l, event);
    if (event.type === "alert" && options.onAlert) notify(options.onAlert, event);
  };

  const storeHealth = new StoreHealth(clock, dispatch, store.location);
  // A shared store (several gateways): only the agents whose lease this gateway holds run here.
  const shared = store.ownership && new Ownership(store.ownership, store, owner, clock, storeHealth, gatewayHooks({
    agents: () => agents, opened: () => epoch !== undefined, refOf: (id) => refOf(id), adopt: (list, stored) => adopt(list, stored),
    stop: (remove) => send({ type: "APPLY", diff: { add: [], update: [], remove }, policy, stored: new Map(), now: clock.now() }),
    coalescer: () => coalescer, alerts, coalesceMs: policy.coalesceMs, snapshot: (id): StoredAgentState | undefined => snapshotOf(id, clock.now()),
  }), logger || undefined);
  const ledger = new RunLedger(shared?.store ?? store, clock, storeHealth, owner, () => epoch, leaseTtlMs, shared !== undefined);

  const lifecycle = new LifecycleQueue({
    clock,
    dispatch,
    carry: () => carry,
    retire: (agentId, state) => void actor.getSnapshot().context.retired.set(agentId, state),
  });
  const deps: GatewayDeps = {
    clock,
    runHeartbeat: options.runHeartbeat,
    lanes: options.lanes ?? {},
    ledger,
    runs: new RunRegistry(),
    sink: dispatch,
    lifecycle: (effect) => lifecycle.push(effect),
    onLateSettlement: (agentId, runId, settled) =>
      dispatch({ type: "run-settled-late", agentId, at: clock.now().wall, runId, settled }),
  };

  const actor = createActor(gatewayMachine, {
    input: { deps, policy },
    clock: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id) },
  });
  indexScheduler(actor.system, clock);
  actor.on("*", (e) => dispatch(e as HeartbeatEvent));
  const send = (event: Parameters<typeof actor.send>[0]): void => {
    actor.send(event);
    lifecycle.drain();
  };

  const refOf = (agentId: string): HeartbeatRef | undefined => actor.getSnapshot().context.refs.get(agentId);
  const failed = (id: string): boolean => actor.getSnapshot().context.failed.has(id);

  const snapshotOf = (agentId: string, now: Instant): StoredAgentState | undefined => {
    const agent = agents.get(agentId);
    if (!agent) return undefined;
    const ctx = refOf(agentId)?.getSnapshot().context;
    if (ctx) {
      return encodeAgent(agentId, agentKey(agent), { s: ctx.s, openAlerts: ctx.alerts, timedOut: ctx.timedOut, runSeq: ctx.runSeq }, now);
    }
    const retired = actor.getSnapshot().context.retired.get(agentId);
    return retired ? encodeAgent(agentId, agentKey(agent), retired, now) : undefined;
  };
  const persister = new Persister(shared?.store ?? store, clock, storeHealth, () => epoch, snapshotOf);

  const deliverToActor = ({ agentId, reasons, forced }: Delivery): void => {
    const ref = refOf(agentId);
    const wakes = reasons.map(forced ? forcedWake : wakeFromReason);
    if (!ref && shared?.forwardLate(agentId, reasons, forced)) return;
    if (!ref) {
      const agent = agents.get(agentId);
      const reason = failed(agentId) ? "failed" : agent && !agent.enabled ? "disabled" : "stopped";
      dispatch({ type: "wake-skipped", agentId, at: clock.now().wall, reason, reasons });
      return;
    }
    ref.send({ type: "WAKE", wakes });
    // Deciding this wake crashed the actor, and its state rolled back to before it.
    if (ref.getSnapshot().status === "error") carry.crashed(agentId, ref, wakes);
  };
  const carry = new CrashCarry(refOf, dispatch, clock);

  // Seed 000: the delivery handler is owned by generation; a reload installs a new one
  // and disposes the old through its own disposer, which can never clear the newer one.
  const handlers = new HandlerSlot<Delivery>();
  let disposeHandler: () => void = () => {};
  const installHandler = (): void => {
    const disposeOld = disposeHandler;
    disposeHandler = handlers.install(deliverToActor);
    disposeOld();
  };

  const coalescer = deliveryCoalescer(clock, handlers, dispatch);

  const sweep = (): void => {
    sweepTimer = clock.setTimeout(sweep, sweepMs);
    const now = clock.now();
    for (const ref of actor.getSnapshot().context.refs.values()) {
      const snap = ref.getSnapshot();
      if (snap.status !== "active") continue;
      const c = snap.context;
      const open = openAgentAlerts(c.agent, c.s, now, c.policy, { timedOut: c.timedOut, running: c.run !== undefined });
      if (open.length !== c.alerts.length || !open.every((k) => c.alerts.includes(k))) ref.send({ type: "CHECK" });
    }
  };

  const reap = (): void => {
    reapTimer = clock.setTimeout(reap, leaseTtlMs);
    const record = (claims: Awaited<ReturnType<RunLedger["reap"]>>): void => {
      for (const c of claims) {
        if (!agents.has(c.agentId) || (shared && !shared.owns(c.agentId))) continue;
        const now = clock.now().wall;
        dispatch({
          type: "run-finished",
          agentId: c.agentId,
          at: now,
          runId: c.runId,
          status: "aborted",
          durationMs: Math.max(0, now - c.claimedAt),
          reasons: [],
          reason: "lease-expired",
        });
      }
    };
    const claims = ledger.reap();
    if (claims instanceof Promise) void claims.then(record);
    else record(claims);
  };

  const adopt = (list: ResolvedAgent[], stored: ReadonlyMap<string, StoredAgentState>): void => {
    const diff: ConfigDiff = { add: list, update: [], remove: [] };
    send({ type: "APPLY", diff, policy, stored, now: clock.now() });
    // Alert episodes open before the restart are still open: health() reports them, their resolution is heard.
    for (const st of stored.values()) {
      const agent = agents.get(st.agentId);
      if (!agent?.enabled) continue;
      for (const kind of st.openAlerts) {
        alerts.apply({ type: "alert", agentId: st.agentId, at: st.updatedAt, kind, state: "open", message: alertMessage(kind, st.agentId) });
      }
    }
    // Agents new to a durable store (or changed while down) get their phase recorded now, so
    // a restart before their first run keeps it. (A memory store is not worth that at 100k agents.)
    if (store.durable !== false) {
      for (const a of list) if (stored.get(a.id)?.configKey !== agentKey(a)) persister.markDirty(a.id);
    }
  };
  const spawnAll = (stored: ReadonlyMap<string, StoredAgentState>): void => {
    if (status !== "started") return;
    if (shared) shared.start();
    else adopt([...agents.values()], stored);
    installHandler();
    sweepTimer = clock.setTimeout(sweep, sweepMs);
    reapTimer = clock.setTimeout(reap, leaseTtlMs);
  };

  /**
   * A store that failed at start is tried again with backoff; once open, the live state
   * (not what the store held) is written to it, and persisting resumes.
   */
  const retryOpen = (attempt: number): void => {
    reopenTimer = clock.setTimeout(() => {
      reopenTimer = undefined;
      if (status !== "started") return;
      const again = openStore(store, owner, storeHealth);
      const go = ({ epoch: e }: { epoch: number | undefined }): void => {
        if (status !== "started") return;
        if (e === undefined) return retryOpen(attempt + 1);
        epoch = e;
        for (const id of agents.keys()) persister.markDirty(id);
      };
      if (again instanceof Promise) void again.then(go);
      else go(again);
    }, backoffDelay({ initialMs: 1_000, maxMs: 30_000 }, attempt));
  };

  const resolveAlertsOf = (agentId: string): void => {
    for (const a of alerts.forAgent(agentId)) {
      dispatch({ type: "alert", agentId, at: clock.now().wall, kind: a.kind, state: "resolved", message: alertMessage(a.kind, agentId) });
    }
  };

  const operator = operatorControls({
    agents: () => agents,
    refOf,
    failed,
    started: () => status === "started",
    now: () => clock.now(),
    store,
    persister,
  });

  const gateway: Gateway = {
    actor,
    start() {
      if (status !== "new") return;
      status = "started";
      actor.start();
      const opened = openStore(store, owner, storeHealth);
      const go = ({ epoch: e, stored }: { epoch: number | undefined; stored: Map<string, StoredAgentState> }): void => {
        epoch = e;
        spawnAll(stored);
        if (e === undefined) retryOpen(0);
      };
      if (opened instanceof Promise) void opened.then(go);
      else go(opened);
    },

    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        const wasStarted = status === "started";
        status = "stopping";
        clock.clearTimeout(sweepTimer);
        clock.clearTimeout(reapTimer);
        clock.clearTimeout(reopenTimer);
        shared?.halt();
        // Wakes still coalescing are not silently dropped: each is recorded as skipped.
        for (const [agentId, reasons] of coalescer.clear()) {
          dispatch({ type: "wake-skipped", agentId, at: clock.now().wall, reason: "stopped", reasons });
        }
        carry.clear();
        handlers.clearQueue();
        disposeHandler();
        if (wasStarted) {
          // Every heartbeat gets STOP (runs in flight abort and record `aborted`), then the supervisor stops.
          send({ type: "STOP_ALL" });
          actor.stop();
          ledger.clear();
          await persister.close();
          await shared?.stop(); // leases released after the last state is saved
          try {
            await store.close();
          } catch (err) {
            logger?.warn({ err }, "closing the store failed");
          }
        }
        status = "stopped";
      })();
      return stopping;
    },

    requestWake(request) {
      const parsed = parseWakeRequest(request);
      if (!parsed.ok) return rejected(parsed.error);
      if (status === "stopping" || status === "stopped") return rejected("gateway: stopped");
      const { reason, agentId, sessionKey } = parsed.value;
      const t = wakeTargets(agents, failed, agentId, sessionKey);
      if (!t.ok) {
        if (t.disabled !== undefined) {
          dispatch({ type: "wake-skipped", agentId: t.disabled, at: clock.now().wall, reason: "disabled", reasons: [reason] });
        }
        return rejected(t.error);
      }
      const coalesceMs = parsed.value.coalesceMs ?? policy.coalesceMs;
      const routed = shared?.route(t.targets, parsed.value); // targets owned by another gateway are forwarded
      for (const id of routed?.local ?? t.targets) coalescer.request(id, reason, coalesceMs, parsed.value.force === true);
      return { accepted: true, targets: t.targets, ...routed?.receipt };
    },

    reload(next) {
      const run = async (): Promise<void> => {
        // Validate everything first: a bad config rejects and the running one is untouched.
        const resolved = indexById(resolveAgents(next, "agents"));
        if (status === "stopping" || status === "stopped") throw new Error("gateway: stopped");
        const diff = diffAgents(agents, resolved);
        agents = resolved;
        if (status !== "started") return;
        for (const id of diff.remove) {
          for (const reason of coalescer.drop(id)) {
            dispatch({ type: "wake-skipped", agentId: id, at: clock.now().wall, reason: "stopped", reasons: [reason] });
          }
          resolveAlertsOf(id);
        }
        // A failed agent that is changed gets a fresh start; a disabled one has nothing left to alert on.
        for (const a of diff.update) if (failed(a.id) || !a.enabled) resolveAlertsOf(a.id);
        send({ type: "APPLY", diff: shared ? shared.scope(diff) : diff, policy, stored: new Map(), now: clock.now() });
        persister.remove(diff.remove);
        // Added agents are saved at once: one added back keeps its run ids across a restart.
        for (const a of [...diff.update, ...diff.add]) persister.markDirty(a.id);
        installHandler();
      };
      const result = reloads.then(run);
      reloads = result.catch(() => undefined);
      return result;
    },

    health() {
      const now = clock.now();
      const retired = actor.getSnapshot().context.retired;
      const list = [...agents.values()].map((agent) => {
        const snap = refOf(agent.id)?.getSnapshot();
        if (snap?.status === "active") {
          return agentHealth(agent, { state: snap.value as AgentMachineState, s: snap.context.s }, failed(agent.id), now);
        }
        const s = snap?.context.s ?? retired.get(agent.id)?.s;
        return agentHealth(agent, s ? { state: "stopped", s } : undefined, failed(agent.id), now);
      });
      const open = alerts.list();
      return { ok: open.length === 0, agents: list, alerts: open, ...(shared && { ownership: shared.report() }) };
    },

    ...operator,

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
  return gateway;
}

function indexById(list: ResolvedAgent[]): Map<string, ResolvedAgent> {
  return new Map(list.map((a) => [a.id, a]));
}
