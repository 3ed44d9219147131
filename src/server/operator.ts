/**
 * Operator controls (issue 11), over the gateway's own pause / resume / history / upcoming:
 *
 *   POST /api/agents/:id/pause      { "reason"?: "..." } (or no body); bearer token
 *                                   200 { agentId, paused: { reason, since }, changed }
 *   POST /api/agents/:id/resume     no body (or {}); bearer token
 *                                   200 { agentId, resumed, nextDueAt? }
 *   GET  /api/agents/:id/runs       ?limit=N (1–1000, default 20): { agentId, runs } newest first
 *   GET  /api/agents/:id/upcoming   ?n=N (1–1000, default 5): { agentId, upcoming: [wall ms], paused? }
 *
 * Mutations authenticate first (401 / 403 like POST /api/wake). A bad id, body or query is a
 * 400 naming the field; an unknown agent a 404; an agent that cannot be steered (disabled,
 * failed, not running) a 409. A refused request changes nothing.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ConfigError, type AgentHealth, type Gateway } from "../index.ts";
import { requireBearer, type TokenSource } from "./auth.ts";
import { badRequest, HttpError, zodProblem } from "./errors.ts";

export const DEFAULT_RUNS_LIMIT = 20;
export const DEFAULT_UPCOMING = 5;
const MAX = 1_000;

const idParams = z.strictObject({ id: z.string().min(1).max(256) });
const pauseBody = z.strictObject({
  reason: z.string().trim().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
});
const resumeBody = z.strictObject({});

export function operatorRoutes(app: FastifyInstance, gateway: Gateway, token: TokenSource): void {
  const auth = { onRequest: requireBearer(token) };

  app.post("/api/agents/:id/pause", auth, async (req) => {
    const id = agentIdOf(req.params);
    const body = parseBody(pauseBody, req.body, '{"reason": "..."}');
    const before = healthOf(gateway, id);
    const options = body.reason === undefined ? {} : { reason: body.reason };
    steer(() => gateway.pause(id, options));
    const paused = healthOf(gateway, id)?.paused;
    if (!paused) throw new HttpError(409, `agent "${id}" did not pause`);
    return { agentId: id, paused, changed: before?.paused === undefined };
  });

  app.post("/api/agents/:id/resume", auth, async (req) => {
    const id = agentIdOf(req.params);
    parseBody(resumeBody, req.body, "{}");
    const before = healthOf(gateway, id);
    steer(() => gateway.resume(id));
    const after = healthOf(gateway, id);
    return {
      agentId: id,
      resumed: before?.paused !== undefined,
      ...(after?.nextDueAt === undefined ? {} : { nextDueAt: after.nextDueAt }),
    };
  });

  app.get("/api/agents/:id/runs", async (req) => {
    const id = agentIdOf(req.params);
    const limit = countParam(req.query, "limit", DEFAULT_RUNS_LIMIT);
    const runs = await steerAsync(() => gateway.history(id, limit));
    return { agentId: id, runs };
  });

  app.get("/api/agents/:id/upcoming", async (req) => {
    const id = agentIdOf(req.params);
    const n = countParam(req.query, "n", DEFAULT_UPCOMING);
    const upcoming = steer(() => gateway.upcoming(id, n));
    const paused = healthOf(gateway, id)?.paused;
    return { agentId: id, upcoming, ...(paused ? { paused } : {}) };
  });
}

function agentIdOf(params: unknown): string {
  const p = idParams.safeParse(params);
  if (!p.success) throw badRequest("id: must be 1 to 256 characters");
  return p.data.id;
}

/** The route's one query parameter, an integer from 1 to MAX; any other parameter is refused. */
function countParam(query: unknown, name: string, fallback: number): number {
  const q = (query ?? {}) as Record<string, unknown>;
  const other = Object.keys(q).find((k) => k !== name);
  if (other !== undefined) throw badRequest(`query: ${other}: unknown parameter (only ?${name}=N)`);
  const raw = q[name];
  if (raw === undefined) return fallback;
  const value = typeof raw === "string" && /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= MAX)) throw badRequest(`query: ${name}: must be an integer from 1 to ${MAX} (got ${JSON.stringify(raw)})`);
  return value;
}

/** No body at all is `{}`; anything else must be a JSON object matching the schema. */
function parseBody<T extends z.ZodType>(schema: T, body: unknown, example: string): z.output<T> {
  const value = body === undefined ? {} : body;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw badRequest(`body: expected a JSON object like ${example}`);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(zodProblem(parsed.error));
  return parsed.data;
}

function healthOf(gateway: Gateway, id: string): AgentHealth | undefined {
  return gateway.health().agents.find((a) => a.id === id);
}

/** The gateway's ConfigErrors as HTTP: an unknown agent 404, one that cannot be steered 409, a bad value 400. */
function asHttp(err: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  if (err.field !== "agentId") return new HttpError(400, err.message);
  // The agent is the URL's :id, so its problem is said without the library's field name.
  return new HttpError(/^unknown agent/.test(err.problem) ? 404 : 409, err.problem);
}

function steer<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw asHttp(err);
  }
}

async function steerAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw asHttp(err);
  }
}
