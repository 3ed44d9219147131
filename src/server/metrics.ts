/**
 * GET /metrics: Prometheus text from prom-client, on the server's own Registry (never the
 * global one, so several servers in one process do not collide). Counters follow the
 * gateway's events; gauges (agents by state, open alerts) are read from health() at
 * scrape time. No per-agent labels: a fleet of 100 000 agents must not become 100 000
 * series.
 */
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AgentMachineState, AlertKind, Gateway, HeartbeatEvent } from "../index.ts";

const STATES: readonly AgentMachineState[] = ["idle", "due", "deferred", "running", "stopped"];
const ALERT_KINDS: readonly AlertKind[] = [
  "past-due",
  "zero-work-streak",
  "flood",
  "busy-wedged",
  "run-timed-out",
  "restart-limit",
  "store-unavailable",
];

export interface Metrics {
  readonly registry: Registry;
  /** A wake was requested for these agents now (starts the wake-to-run clock). */
  noteWake(agentIds: readonly string[], at: number): void;
  close(): void;
}

export function createMetrics(gateway: Gateway, options: { defaultMetrics?: boolean; now?: () => number } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const runs = new Counter({ name: "heartbeat_runs_total", help: "Finished heartbeat runs by status.", labelNames: ["status"], registers });
  const starts = new Counter({ name: "heartbeat_runs_started_total", help: "Heartbeat runs started.", registers });
  const skips = new Counter({ name: "heartbeat_skips_total", help: "Wakes or due slots skipped, by reason.", labelNames: ["reason"], registers });
  const deferrals = new Counter({ name: "heartbeat_deferrals_total", help: "Wakes or due slots deferred, by reason.", labelNames: ["reason"], registers });
  const alerts = new Counter({ name: "heartbeat_alerts_total", help: "Alerts opened, by kind.", labelNames: ["kind"], registers });
  const tokens = new Counter({ name: "heartbeat_tokens_total", help: "Tokens reported by runs.", labelNames: ["direction"], registers });
  const restarts = new Counter({ name: "heartbeat_agent_restarts_total", help: "Heartbeat actors restarted after a crash.", registers });
  const coalesced = new Counter({ name: "heartbeat_wakes_coalesced_total", help: "Wakes merged into one delivery.", registers });
  const duration = new Histogram({
    name: "heartbeat_run_duration_seconds",
    help: "Run duration by status.",
    labelNames: ["status"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600],
    registers,
  });
  const latency = new Histogram({
    name: "heartbeat_wake_to_run_latency_seconds",
    help: "From a wake (an API wake, or the first deferral of a due slot or wake) to the run that serves it.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers,
  });
  new Gauge({
    name: "heartbeat_agents",
    help: "Agents by heartbeat machine state.",
    labelNames: ["state"],
    registers,
    collect() {
      const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
      for (const a of gateway.health().agents) counts.set(a.state, (counts.get(a.state) ?? 0) + 1);
      this.reset();
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "heartbeat_alerts_open",
    help: "Open alerts by kind.",
    labelNames: ["kind"],
    registers,
    collect() {
      const counts = new Map<string, number>(ALERT_KINDS.map((k) => [k, 0]));
      for (const a of gateway.health().alerts) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
      this.reset();
      for (const [kind, n] of counts) this.set({ kind }, n);
    },
  });
  new Gauge({
    name: "heartbeat_agents_paused",
    help: "Agents an operator has paused.",
    registers,
    collect() {
      this.set(gateway.health().agents.filter((a) => a.paused !== undefined).length);
    },
  });
  new Gauge({
    name: "heartbeat_up",
    help: "1 while health() is ok (no open alert), else 0.",
    registers,
    collect() {
      this.set(gateway.health().ok ? 1 : 0);
    },
  });

  const pendingSince = new Map<string, number>();
  /** Last run start per agent: a wake delivered at once has started its run before noteWake is called. */
  const lastStart = new Map<string, number>();
  const onEvent = (e: HeartbeatEvent): void => {
    switch (e.type) {
      case "run-started": {
        starts.inc();
        lastStart.set(e.agentId, e.at);
        const since = pendingSince.get(e.agentId);
        if (since !== undefined) {
          latency.observe(Math.max(0, e.at - since) / 1000);
          pendingSince.delete(e.agentId);
        }
        return;
      }
      case "run-finished":
        runs.inc({ status: e.status });
        duration.observe({ status: e.status }, Math.max(0, e.durationMs) / 1000);
        if (e.usage) {
          tokens.inc({ direction: "input" }, e.usage.inputTokens);
          tokens.inc({ direction: "output" }, e.usage.outputTokens);
        }
        return;
      case "wake-deferred":
        deferrals.inc({ reason: e.reason });
        if (!pendingSince.has(e.agentId)) pendingSince.set(e.agentId, e.at);
        return;
      case "wake-skipped":
        skips.inc({ reason: e.reason });
        if (e.reason !== "quiet-hours") pendingSince.delete(e.agentId);
        return;
      case "wake-coalesced":
        coalesced.inc(e.count);
        return;
      case "alert":
        if (e.state === "open") alerts.inc({ kind: e.kind });
        return;
      case "agent-restarted":
        restarts.inc();
        return;
      case "run-settled-late":
      case "agent-paused":
      case "agent-resumed":
        return;
    }
  };
  const unsubscribe = gateway.subscribe(onEvent);

  return {
    registry,
    noteWake(agentIds, at) {
      for (const id of agentIds) {
        const started = lastStart.get(id);
        if (started !== undefined && started >= at) latency.observe((started - at) / 1000);
        else if (!pendingSince.has(id)) pendingSince.set(id, at);
      }
    },
    close() {
      unsubscribe();
      registry.clear();
    },
  };
}

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.get("/metrics", async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
