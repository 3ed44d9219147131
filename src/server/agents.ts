/**
 * GET /api/agents            every agent: state, schedule, counters, pause, open alerts
 *                            (?recent=N adds its last N events, ?runs=N its last N runs, ?upcoming=N its next N run times)
 * GET /api/agents/:id        one agent, with its recent events
 * GET /api/statechart        the heartbeat machine's states and transitions, and an SVG of it (for the page)
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AgentConfig, AgentHealth, Alert, Gateway, RunRecord } from "../index.ts";
import type { EventLog, LoggedEvent } from "./event-log.ts";
import { badRequest } from "./errors.ts";
import type { Statechart } from "./statechart.ts";

export interface AgentView extends AgentHealth {
  readonly schedule: Schedule;
  readonly alerts: readonly Alert[];
  readonly recent?: readonly LoggedEvent[];
  /** The last runs, newest first (?runs=N). */
  readonly runs?: readonly RunRecord[];
  /** The next scheduled run times, wall ms (?upcoming=N); empty while paused or disabled. */
  readonly upcoming?: readonly number[];
}

export interface Schedule {
  readonly every?: string | number;
  readonly cron?: string;
  readonly timezone?: string;
  readonly sessionKey?: string;
  readonly activeHours?: AgentConfig["activeHours"];
  readonly runTimeout?: string | number;
  readonly catchUp?: "once" | "skip";
  readonly catchUpWindow?: string | number;
  readonly jitter?: string | number;
  readonly nextDueAt?: number;
}

const listQuery = z.strictObject({
  recent: z.coerce.number().int().min(0).max(200).optional(),
  runs: z.coerce.number().int().min(0).max(100).optional(),
  upcoming: z.coerce.number().int().min(0).max(20).optional(),
});
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

  /** Adds runs and upcoming times (an agent removed meanwhile by a reload just has none). */
  const extras = async (v: AgentView, runs: number, upcoming: number): Promise<AgentView> => {
    if (runs === 0 && upcoming === 0) return v;
    const out: { -readonly [K in keyof AgentView]: AgentView[K] } = { ...v };
    if (runs > 0) out.runs = await gateway.history(v.id, runs).catch(() => []);
    if (upcoming > 0) {
      try {
        out.upcoming = gateway.upcoming(v.id, upcoming);
      } catch {
        out.upcoming = [];
      }
    }
    return out;
  };

  app.get("/api/agents", async (req) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) {
      const issue = q.error.issues[0];
      const what = issue?.code === "unrecognized_keys" ? `${issue.keys[0] ?? "?"}: unknown parameter` : `${issue?.path.join(".") || "?"}: ${issue?.message ?? "invalid"}`;
      throw badRequest(`query: ${what}`);
    }
    const h = gateway.health();
    const { recent = 0, runs = 0, upcoming = 0 } = q.data;
    const agents = await Promise.all(h.agents.map((a) => extras(view(a, h.alerts, recent), runs, upcoming)));
    return { ok: h.ok, agents, alerts: h.alerts };
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
  if (cfg.catchUp !== undefined) out.catchUp = cfg.catchUp;
  if (cfg.catchUpWindow !== undefined) out.catchUpWindow = cfg.catchUpWindow;
  if (cfg.jitter !== undefined) out.jitter = cfg.jitter;
  return out;
}
