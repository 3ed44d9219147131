import { createServer } from "node:net";
import { createWebSocketReceiver } from "@statelyai/inspect";
import { createInspectorServer } from "@statelyai/inspect/server";
import { describe, expect, it } from "vitest";
import { attachInspector } from "../../src/host/inspect.ts";
import { createGateway } from "../../src/index.ts";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe("--inspect", () => {
  it("streams the gateway's actors to a Stately WebSocket inspector", async () => {
    const port = await freePort();
    const server = createInspectorServer({ port, autoOpen: false });
    const seen: { type: string; name?: string; sessionId?: string }[] = [];
    const receiver = createWebSocketReceiver({ server: `ws://127.0.0.1:${port}` });
    const sub = receiver.subscribe((e) => seen.push(e as (typeof seen)[number]));
    const gateway = createGateway({
      agents: [{ id: "inspected", every: "1h" }],
      logger: false,
      runHeartbeat: async () => ({ status: "ran" }),
    });
    const inspector = await attachInspector(gateway, `ws://127.0.0.1:${port}`, (err) => {
      throw err;
    });
    try {
      expect(inspector.description).toBe(`inspector: streaming to ws://127.0.0.1:${port}`);
      gateway.start();
      gateway.requestWake({ agentId: "inspected", reason: "manual", coalesceMs: 0 });
      const end = Date.now() + 10_000;
      while (!(seen.some((e) => e.type === "@xstate.actor") && seen.some((e) => e.type === "@xstate.snapshot"))) {
        if (Date.now() > end) throw new Error(`no inspection events (got ${seen.length})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      sub.unsubscribe();
      inspector.stop();
      await gateway.stop();
      server.stop();
    }
  }, 20_000);
});
