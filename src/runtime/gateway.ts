import type { Logger } from "pino";
import { createActor, type Actor } from "xstate";
import { gatewayMachine, type ConfigDiff, type GatewayDeps, type HeartbeatRef } from "../../machines/gateway.ts";
import { ConfigError } from "../errors.ts";
import type { HeartbeatEvent } from "../events.ts";
import { alertMessage, openAgentAlerts } from "../policy/alerts.ts";
import { resolveAgents, resolvePolicy, type AgentConfig, type PolicyConfig } from "../policy/config.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../policy/types.ts";
import { wakeFromReason } from "../policy/wake.ts";
import { AlertBook } from "./alert-book.ts";
import { systemClock, type Clock } from "./clock.ts";
import { Coalescer } from "./coalescer.ts";
import { diffAgents } from "./diff.ts";
import { HandlerSlot } from "./handler-slot.ts";
import { agentHealth, type AgentMachineState, type HealthReport } from "./health.ts";
import type { Lanes, RunHeartbeat } from "./host.ts";
import { defaultLogger, logEvent } from "./log.ts";
import { parseWakeRequest, rejected, type WakeReceipt, type WakeRequest } from "./wake-request.ts";
import { indexScheduler } from "./scheduler-index.ts";

type AlertEvent = Extract<HeartbeatEvent, { type: "alert" }>;

export interface GatewayOptions {
  agents: AgentConfig[];
  runHeartbeat: RunHeartbeat;
  lanes?: Lanes;
  policy?: PolicyConfig;
  onEvent?(event: HeartbeatEvent): void;
  onAlert?(alert: AlertEvent): void;
  clock?: Clock;
  /** A pino logger, or false for none. Default: warnings and alerts to stdout (silent under vitest). */
  logger?: Logger | false;
  /** How often the independent detector sweep looks at every agent. Default 15 s. */
  sweepMs?: number;

}

export interface Gateway {
  start(): void;
  stop(): Promise<void>;
  requestWake(request: WakeRequest): WakeReceipt;
  reload(agents: AgentConfig[]): Promise<void>;
  health(): HealthReport;
  subscribe(listener: (event: HeartbeatEvent) => void): () => void;
  /** The root XState actor (the supervisor). Heartbeat actors are in its system as `heartbeat:<agentId>`. */
  readonly actor: Actor<typeof gatewayMachine>;
}

interface Delivery {
  readonly agentId: string;
  readonly reasons: string[];
  readonly count: number;
}

export function createGateway(options: GatewayOptions): Gateway {
  if (typeof options !== "object" || options === null) throw new ConfigError("options", "must be an object");
  if (typeof options.runHeartbeat !== "function") throw new ConfigError("runHeartbeat", "must be a function");
  let agents = indexById(resolveAgents(options.agents, "agents"));
  const policy: ResolvedPolicy = resolvePolicy(options.policy ?? {}, "policy");
  const clock = options.clock ?? systemClock;
  const logger = options.logger === false ? undefined : (options.logger ?? defaultLogger());
  const sweepMs = options.sweepMs ?? 15_000;
  const listeners = new Set<(event: HeartbeatEvent) => void>();
  const alerts = new AlertBook();
  let status: "new" | "started" | "stopping" | "stopped" = "new";
  let stopping: Promise<void> | undefined;
  let sweepTimer: unknown;
  let reloads: Promise<void> = Promise.resolve();

  const dispatch = (event: HeartbeatEvent): void => {
    if (event.type === "alert" && !alerts.apply(event)) return;
    if (logger) logEvent(logger, event);
    notify(options.onEvent, event);
    for (const l of listeners) notify(l, event);
    if (event.type === "alert" && options.onAlert) notify(options.onAlert, event);
  };
  const notify = <E>(fn: ((e: E) => void) | undefined, e: E): void => {
    try {
      fn?.(e);
    } catch (err) {
      // A host listener that throws must not break a heartbeat.
      logger?.error({ err }, "event listener threw");
    }
  };

  const deps: GatewayDeps = {
    clock,
    runHeartbeat: options.runHeartbeat,
    lanes: options.lanes ?? {},
    sink: dispatch,
    onLateSettlement: (agentId, runId, settled) =>
      dispatch({ type: "run-settled-late", agentId, at: clock.now().wall, runId, settled }),
  };

  const actor = createActor(gatewayMachine, {
    input: { deps, policy },
    clock: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id) },
  });
  indexScheduler(actor.system);
  actor.on("*", (e) => dispatch(e as HeartbeatEvent));

  const refOf = (agentId: string): HeartbeatRef | undefined => actor.getSnapshot().context.refs.get(agentId);
  const liveRefs = (): Iterable<HeartbeatRef> => actor.getSnapshot().context.refs.values();
  const failed = (id: string): boolean => actor.getSnapshot().context.failed.has(id);

  const deliverToActor = ({ agentId, reasons }: Delivery): void => {
    const ref = refOf(agentId);
    if (!ref) {
      const agent = agents.get(agentId);
      const reason = agent && !agent.enabled ? "disabled" : "stopped";
      dispatch({ type: "wake-skipped", agentId, at: clock.now().wall, reason, reasons });
      return;
    }
    ref.send({ type: "WAKE", wakes: reasons.map(wakeFromReason) });
  };

  // Seed 000: the delivery handler is owned by generation; a reload installs a new one
  // and disposes the old through its own disposer, which can never clear the newer one.
  const handlers = new HandlerSlot<Delivery>();
  let disposeHandler: () => void = () => {};
  const installHandler = (): void => {
    const disposeOld = disposeHandler;
    disposeHandler = handlers.install(deliverToActor);
    disposeOld();
  };

  const coalescer = new Coalescer(
    clock,
    (agentId, reasons, count) => {
      if (!handlers.call({ agentId, reasons, count })) {
        dispatch({ type: "wake-skipped", agentId, at: clock.now().wall, reason: "stopped", reasons });
      }
    },
    (agentId, reasons, count) => dispatch({ type: "wake-coalesced", agentId, at: clock.now().wall, reasons, count }),
  );

  const sweep = (): void => {
    sweepTimer = clock.setTimeout(sweep, sweepMs);
    const now = clock.now();
    for (const ref of liveRefs()) {
      const snap = ref.getSnapshot();
      if (snap.status !== "active") continue;
      const c = snap.context;
      const open = openAgentAlerts(c.agent, c.s, now, c.policy, { timedOut: c.timedOut, running: c.run !== undefined });
      const same = open.length === c.alerts.length && open.every((k) => c.alerts.includes(k));
      if (!same) ref.send({ type: "CHECK" });
    }
  };

  const applyDiff = (diff: ConfigDiff): void => {
    actor.send({ type: "APPLY", diff, policy });
  };

  const resolveAlertsOf = (agentId: string): void => {
    for (const a of alerts.forAgent(agentId)) {
      dispatch({ type: "alert", agentId, at: clock.now().wall, kind: a.kind, state: "resolved", message: alertMessage(a.kind, agentId) });
    }
  };

  const gateway: Gateway = {
    actor,
    start() {
      if (status !== "new") return;
      status = "started";
      actor.start();
      applyDiff({ add: [...agents.values()], update: [], remove: [] });
      installHandler();
      sweepTimer = clock.setTimeout(sweep, sweepMs);
    },

    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        const wasStarted = status === "started";
        status = "stopping";
        clock.clearTimeout(sweepTimer);
        coalescer.clear();
        handlers.clearQueue();
        disposeHandler();
        if (wasStarted) {
          // Every heartbeat gets STOP (runs in flight abort and record `aborted`), then the supervisor stops.
          actor.send({ type: "STOP_ALL" });
          actor.stop();
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
      const coalesceMs = parsed.value.coalesceMs ?? policy.coalesceMs;
      let targets: string[];
      if (agentId !== undefined) {
        const agent = agents.get(agentId);
        if (!agent) return rejected(`agentId: unknown agent "${agentId}"`);
        if (sessionKey !== undefined && agent.sessionKey !== sessionKey) {
          return rejected(`sessionKey: agent "${agentId}" is not in session "${sessionKey}"`);
        }
        if (!agent.enabled) {
          dispatch({ type: "wake-skipped", agentId, at: clock.now().wall, reason: "disabled", reasons: [reason] });
          return rejected(`agentId: agent "${agentId}" is disabled`);
        }
        if (failed(agentId)) return rejected(`agentId: agent "${agentId}" failed (restart limit); reload it to retry`);
        targets = [agentId];
      } else {
        targets = [];
        for (const a of agents.values()) {
          if (a.enabled && !failed(a.id) && (sessionKey === undefined || a.sessionKey === sessionKey)) targets.push(a.id);
        }
        if (targets.length === 0) {
          return rejected(sessionKey === undefined ? "agents: no enabled agent to wake" : `sessionKey: no enabled agent in session "${sessionKey}"`);
        }
      }
      for (const id of targets) coalescer.request(id, reason, coalesceMs);
      return { accepted: true, targets };
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
        applyDiff(diff);
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
        const s = snap?.context.s ?? retired.get(agent.id);
        return agentHealth(agent, s ? { state: "stopped", s } : undefined, failed(agent.id), now);
      });
      const open = alerts.list();
      return { ok: open.length === 0, agents: list, alerts: open };
    },

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
