import type { FastifyInstance } from "fastify";
import { createGateway, type AgentConfig, type Gateway, type HeartbeatEvent, type HostResult, type PolicyConfig } from "../../src/index.ts";
import { createServer, type ServerOptions } from "../../src/server/app.ts";

export const TOKEN = "test-token-123";

export const AGENTS: AgentConfig[] = [
  { id: "alpha", every: "1h" },
  { id: "beta", every: "1h", sessionKey: "s1" },
  { id: "off", every: "0m" },
];

export interface Harness {
  readonly gateway: Gateway;
  readonly app: FastifyInstance;
  readonly events: HeartbeatEvent[];
  /** What the next runs of an agent return (default: ran with work). */
  readonly results: Map<string, HostResult>;
  close(): Promise<void>;
}

/** A real gateway (hour-long cadences: nothing runs unless woken) behind the real server. */
export function harness(options: ServerOptions = { token: TOKEN }, policy: PolicyConfig = {}, agents: AgentConfig[] = AGENTS): Harness {
  const results = new Map<string, HostResult>();
  const events: HeartbeatEvent[] = [];
  const gateway = createGateway({
    agents,
    policy: { coalesceMs: 0, zeroWorkStreak: 1, ...policy },
    logger: false,
    runHeartbeat: async ({ agentId }) => results.get(agentId) ?? { status: "ran", usage: { inputTokens: 10, outputTokens: 2 } },
    onEvent: (e) => events.push(e),
  });
  gateway.start();
  const app = createServer(gateway, { agents: () => agents, defaultMetrics: false, ...options });
  return {
    gateway,
    app,
    events,
    results,
    async close() {
      await app.close();
      await gateway.stop();
    },
  };
}

export async function until(ok: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const auth = (token = TOKEN): Record<string, string> => ({ authorization: `Bearer ${token}` });
