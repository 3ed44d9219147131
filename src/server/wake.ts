/**
 * POST /api/wake   { "agentId": "a" } | { "all": true } | { "sessionKey": "s" }, optional "reason" (default "manual")
 * Bearer token required (401 without or with a wrong one; 403 when none is configured).
 * 202 with the receipt when accepted; 400 / 404 / 409 with `{ error }` otherwise, and nothing changes.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Gateway } from "../index.ts";
import { checkBearer, type TokenSource } from "./auth.ts";
import { badRequest, HttpError } from "./errors.ts";

const wakeBody = z.strictObject({
  agentId: z.string().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
  sessionKey: z.string().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
  all: z.literal(true, { error: "must be true when given" }).optional(),
  reason: z.string().trim().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
});

export function wakeRoutes(app: FastifyInstance, gateway: Gateway, token: TokenSource, onWake: (targets: string[], at: number) => void): void {
  app.post(
    "/api/wake",
    {
      // Authenticate before the body is even read: an unauthorized caller learns nothing else.
      onRequest: async (req) => {
        const auth = checkBearer(req.headers.authorization, token);
        if (!auth.ok) throw new HttpError(auth.status, auth.error);
      },
    },
    async (req, reply) => {
      if (typeof req.body !== "object" || req.body === null || Array.isArray(req.body)) {
        throw badRequest("body: expected a JSON object like {\"agentId\": \"...\"} or {\"all\": true}");
      }
      const parsed = wakeBody.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        if (issue?.code === "unrecognized_keys") throw badRequest(`${issue.keys[0] ?? "?"}: unknown field`);
        const field = issue?.path.join(".") || "body";
        const problem = issue?.code === "invalid_type" ? `expected ${issue.expected}` : (issue?.message ?? "invalid");
        throw badRequest(`${field}: ${problem}`);
      }
      const { agentId, sessionKey, all, reason = "manual" } = parsed.data;
      if (all && (agentId !== undefined || sessionKey !== undefined)) throw badRequest("all: cannot be combined with agentId or sessionKey");
      if (!all && agentId === undefined && sessionKey === undefined) {
        throw badRequest("body: name a target: agentId, sessionKey, or all: true");
      }
      const at = Date.now();
      const receipt = gateway.requestWake({
        reason,
        ...(agentId === undefined ? {} : { agentId }),
        ...(sessionKey === undefined ? {} : { sessionKey }),
      });
      if (!receipt.accepted) {
        const error = receipt.error ?? "wake rejected";
        const status = error.startsWith("reason:") ? 400 : /unknown agent|no enabled agent in session/.test(error) ? 404 : 409;
        return reply.code(status).send({ error, statusCode: status, accepted: false, targets: [] });
      }
      onWake(receipt.targets, at);
      return reply.code(202).send(receipt);
    },
  );
}
