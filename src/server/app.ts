/**
 * The daemon's HTTP surface as a fastify app, built around a running Gateway:
 *
 *   GET  /                 the live inspector page (assets under /assets/)
 *   GET  /healthz          200 ok / 503 while an alert is open
 *   GET  /api/agents       every agent (?recent=N adds its last N events)
 *   GET  /api/agents/:id   one agent: state, schedule, pause, recent events
 *   POST /api/agents/:id/pause | resume   steer one agent (bearer token)
 *   GET  /api/agents/:id/runs             its run history, newest first (?limit=N)
 *   GET  /api/agents/:id/upcoming         its next scheduled run times (?n=N)
 *   GET  /api/statechart   the heartbeat machine, laid out, with an SVG
 *   POST /api/wake         wake agents (bearer token)
 *   GET  /metrics          Prometheus text
 *   GET  /events           server-sent events
 *
 * `createServer` does not listen: tests use `app.inject`, the daemon calls `app.listen`.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { heartbeatMachine, type AgentConfig, type Gateway } from "../index.ts";
import { agentRoutes } from "./agents.ts";
import type { TokenSource } from "./auth.ts";
import { errorHandling } from "./errors.ts";
import { EventLog } from "./event-log.ts";
import { sseRoutes, type SseOptions } from "./events-sse.ts";
import { healthRoutes } from "./health.ts";
import { createMetrics, metricsRoutes } from "./metrics.ts";
import { operatorRoutes } from "./operator.ts";
import { pageRoutes } from "./page.ts";
import { statechartOf } from "./statechart.ts";
import { wakeRoutes } from "./wake.ts";

export interface ServerOptions {
  /** The bearer token for mutations, or a getter (a reload can change it). None: mutations are refused. */
  readonly token?: TokenSource;
  /** The agents as configured, for their schedules in /api/agents. */
  readonly agents?: () => readonly AgentConfig[];
  /** Largest accepted request body. Default 16 KiB. */
  readonly bodyLimit?: number;
  /** Events kept per agent for /api/agents/:id and the page. Default 200. */
  readonly recentPerAgent?: number;
  /** Include prom-client's process metrics. Default true. */
  readonly defaultMetrics?: boolean;
  readonly sse?: SseOptions;
}

export function createServer(gateway: Gateway, options: ServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 16 * 1024,
    // Hijacked SSE streams are ended in preClose; anything else idle is closed with the server.
    forceCloseConnections: "idle",
    return503OnClosing: true,
    routerOptions: { maxParamLength: 300 },
  });
  const log = new EventLog(gateway, options.recentPerAgent ?? 200);
  const metrics = createMetrics(gateway, { defaultMetrics: options.defaultMetrics ?? true });
  const statechart = statechartOf(heartbeatMachine);
  const configOf = options.agents ?? (() => []);

  errorHandling(app);
  healthRoutes(app, gateway);
  agentRoutes(app, gateway, log, configOf, statechart);
  wakeRoutes(app, gateway, options.token, (targets, at) => metrics.noteWake(targets, at));
  operatorRoutes(app, gateway, options.token);
  metricsRoutes(app, metrics);
  sseRoutes(app, gateway, log, options.sse);
  pageRoutes(app);

  app.addHook("onClose", async () => {
    log.close();
    metrics.close();
  });
  return app;
}
