/**
 * GET /api/agents            every agent: state, schedule, counters, open alerts (?recent=N adds its last N events)
 * GET /api/agents/:id        one agent, with its recent events
 * GET /api/statechart        the heartbeat machine's states and transitions, and an SVG of it (for the page)
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AgentConfig, AgentHealth, Alert, Gateway } from "../index.ts";
import type { EventLog, LoggedEvent } from "./event-log.ts";
import { badRequest } from "./errors.ts";
import type { Statechart } from "./statechart.ts";

export interface AgentView extends AgentHealth {
  readonly schedule: Schedule;
  readonly alerts: readonly Alert[];
  readonly recent?: readonly LoggedEvent[];
}

export interface Schedule {
  readonly every?: string | number;
  readonly cron?: string;
  readonly timezone?: string;
  readonly sessionKey?: string;
  readonly activeHours?: AgentConfig["activeHours"];
  readonly runTimeout?: string | number;
  readonly nextDueAt?: number;
}

const listQuery = z.strictObject({ recent: z.coerce.number().int().min(0).max(200).optional() });
const idParams = z.strictObject({ id: z.string().min(1).max(256) });

export function agentRoutes(
  app: FastifyInstance,
  gateway: Gateway,
  log: EventLog,
  configOf: () => readonly AgentConfig[],
  statechart: Statechart,
): void {
  const view = (a: AgentHealth, alerts: readonly Alert[], recent: number): AgentView => {
    const cfg = configOf().find((c) => c.id === a.id);
    const schedule: Schedule = {
      ...(cfg ? scheduleOf(cfg) : {}),
      ...(a.nextDueAt === undefined ? {} : { nextDueAt: a.nextDueAt }),
    };
    return {
      ...a,
      schedule,
      alerts: alerts.filter((x) => x.agentId === a.id),
      ...(recent > 0 ? { recent: log.recent(a.id, recent) } : {}),
    };
  };

  app.get("/api/agents", async (req) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) throw badRequest(`query: ${q.error.issues[0]?.path.join(".") || "?"}: ${q.error.issues[0]?.message ?? "invalid"}`);
    const h = gateway.health();
    return { ok: h.ok, agents: h.agents.map((a) => view(a, h.alerts, q.data.recent ?? 0)), alerts: h.alerts };
  });

  app.get("/api/agents/:id", async (req, reply) => {
    const p = idParams.safeParse(req.params);
    if (!p.success) throw badRequest("id: must be 1 to 256 characters");
    const h = gateway.health();
    const agent = h.agents.find((a) => a.id === p.data.id);
    if (!agent) return reply.code(404).send({ error: `unknown agent "${p.data.id}"` });
    return view(agent, h.alerts, 100);
  });

  app.get("/api/statechart", async () => statechart);
}

function scheduleOf(cfg: AgentConfig): Schedule {
  const out: { -readonly [K in keyof Schedule]: Schedule[K] } = {};
  if (cfg.cron !== undefined) out.cron = cfg.cron;
  else out.every = cfg.every ?? "30m";
  if (cfg.timezone !== undefined) out.timezone = cfg.timezone;
  if (cfg.sessionKey !== undefined) out.sessionKey = cfg.sessionKey;
  if (cfg.activeHours !== undefined) out.activeHours = cfg.activeHours;
  out.runTimeout = cfg.runTimeout ?? "10m";
  return out;
}
