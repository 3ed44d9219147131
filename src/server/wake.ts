/**
 * POST /api/wake   { "agentId": "a" } | { "all": true } | { "sessionKey": "s" }, optional "reason" (default "manual")
 *                  and "force": true (a manual wake only: it runs even while the agent is paused)
 * Bearer token required (401 without or with a wrong one; 403 when none is configured).
 * 202 with the receipt when accepted; 400 / 404 / 409 with `{ error }` otherwise, and nothing changes.
 * An unforced wake of a paused agent is accepted and recorded as skipped (`paused`): the
 * receipt then lists those agents under `paused`.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Gateway } from "../index.ts";
import { requireBearer, type TokenSource } from "./auth.ts";
import { badRequest, zodProblem } from "./errors.ts";

const wakeBody = z.strictObject({
  agentId: z.string().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
  sessionKey: z.string().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
  all: z.literal(true, { error: "must be true when given" }).optional(),
  reason: z.string().trim().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
  force: z.boolean().optional(),
});

export function wakeRoutes(app: FastifyInstance, gateway: Gateway, token: TokenSource, onWake: (targets: string[], at: number) => void): void {
  app.post(
    "/api/wake",
    // Authenticate before the body is even read: an unauthorized caller learns nothing else.
    { onRequest: requireBearer(token) },
    async (req, reply) => {
      if (typeof req.body !== "object" || req.body === null || Array.isArray(req.body)) {
        throw badRequest("body: expected a JSON object like {\"agentId\": \"...\"} or {\"all\": true}");
      }
      const parsed = wakeBody.safeParse(req.body);
      if (!parsed.success) throw badRequest(zodProblem(parsed.error));
      const { agentId, sessionKey, all, reason = "manual", force } = parsed.data;
      if (all && (agentId !== undefined || sessionKey !== undefined)) throw badRequest("all: cannot be combined with agentId or sessionKey");
      if (!all && agentId === undefined && sessionKey === undefined) {
        throw badRequest("body: name a target: agentId, sessionKey, or all: true");
      }
      const at = Date.now();
      const receipt = gateway.requestWake({
        reason,
        ...(agentId === undefined ? {} : { agentId }),
        ...(sessionKey === undefined ? {} : { sessionKey }),
        ...(force ? { force: true } : {}),
      });
      if (!receipt.accepted) {
        const error = receipt.error ?? "wake rejected";
        const status = /^(reason|force):/.test(error) ? 400 : /unknown agent|no enabled agent in session/.test(error) ? 404 : 409;
        return reply.code(status).send({ error, statusCode: status, accepted: false, targets: [] });
      }
      onWake(receipt.targets, at);
      if (!force) {
        const targets = new Set(receipt.targets);
        const paused = gateway
          .health()
          .agents.filter((a) => targets.has(a.id) && a.paused !== undefined)
          .map((a) => a.id);
        if (paused.length > 0) return reply.code(202).send({ ...receipt, paused });
      }
      return reply.code(202).send(receipt);
    },
  );
}
