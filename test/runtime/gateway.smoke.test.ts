import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { createGateway, type HeartbeatEvent } from "../../src/index.ts";
import { advance, useFakeTime } from "../support/fake-time.ts";

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

it("runs agents, wakes, reloads and stops with no timer left", async () => {
  const events: HeartbeatEvent[] = [];
  const calls: string[] = [];
  const gw = createGateway({
    agents: [{ id: "a", every: "1m" }, { id: "b", every: "2m" }],
    runHeartbeat: async (ctx) => {
      calls.push(`${ctx.agentId}:${ctx.reasons.join("+")}`);
      return { status: "ran", usage: { inputTokens: 1, outputTokens: 1 } };
    },
    onEvent: (e) => events.push(e),
  });
  gw.start();
  expect(gw.actor.system.get("heartbeat:a")).toBeDefined();
  await advance(10 * 60_000);
  expect(calls.filter((c) => c.startsWith("a:")).length).toBeGreaterThanOrEqual(9);
  const r = gw.requestWake({ reason: "manual", agentId: "b" });
  expect(r).toEqual({ accepted: true, targets: ["b"] });
  await advance(1_000);
  expect(calls.at(-1)).toBe("b:manual");
  expect(gw.requestWake({ reason: "manual", agentId: "zzz" }).accepted).toBe(false);
  await gw.reload([{ id: "a", every: "1m" }, { id: "c", every: "1m" }]);
  expect(gw.health().agents.map((a) => a.id)).toEqual(["a", "c"]);
  await advance(3 * 60_000);
  expect(calls.some((c) => c.startsWith("c:"))).toBe(true);
  await gw.stop();
  await gw.stop();
  expect(vi.getTimerCount()).toBe(0);
});
