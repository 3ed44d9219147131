import type { FastifyInstance } from "fastify";
import type { Gateway } from "../index.ts";

/** GET /healthz: 200 when no alert is open, 503 while any is; the body says which. */
export function healthRoutes(app: FastifyInstance, gateway: Gateway): void {
  app.get("/healthz", async (_req, reply) => {
    const h = gateway.health();
    const states: Record<string, number> = {};
    for (const a of h.agents) states[a.state] = (states[a.state] ?? 0) + 1;
    return reply.code(h.ok ? 200 : 503).send({
      ok: h.ok,
      status: h.ok ? "ok" : "alerting",
      agents: h.agents.length,
      states,
      alerts: h.alerts,
      // Several gateways on one Postgres: who this one is and how many agents it serves.
      ...(h.ownership ? { ownership: h.ownership } : {}),
    });
  });
}
