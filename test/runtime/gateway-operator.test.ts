import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, sqliteStore } from "../../src/index.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { DAY, HOUR, MIN, SEC, T0, settle, startGateway, stopAllGateways } from "../support/gateway.ts";

/** Operator controls (issue 11) through the library API: pause/resume, history, upcoming, catch-up, jitter. */

let dir: string;
beforeEach(() => {
  useFakeTime(T0);
  dir = mkdtempSync(join(tmpdir(), "hb-operator-"));
});
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe("pause and resume", () => {
  it("a paused agent's due slots are skipped with reason paused, without a past-due alert; resume re-arms without a burst", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "10m" }], sweepMs: MIN });
    await vi.advanceTimersByTimeAsync(11 * MIN);
    expect(h.of("run-started", "a")).toHaveLength(1);
    h.gw.pause("a", { reason: "incident 42" });
    expect(h.of("agent-paused", "a")).toMatchObject([{ reason: "incident 42" }]);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(h.of("run-started", "a")).toHaveLength(1);
    const skipped = h.of("wake-skipped", "a");
    expect(skipped.length).toBeGreaterThanOrEqual(11);
    expect(skipped.every((e) => e.reason === "paused")).toBe(true);
    expect(h.gw.health().alerts).toEqual([]);
    expect(h.gw.upcoming("a", 3)).toEqual([]);

    h.gw.resume("a");
    const resumed = h.of("agent-resumed", "a")[0];
    expect(resumed?.nextDueAt).toBeGreaterThan(Date.now());
    expect(resumed!.nextDueAt! - Date.now()).toBeLessThanOrEqual(10 * MIN);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    // One run at the next slot, not a burst for the skipped ones.
    expect(h.of("run-started", "a")).toHaveLength(2);
  });

  it("manual wakes run through a pause only with force: true", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1h" }] });
    h.gw.pause("a");
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
    await settle();
    expect(h.of("run-started", "a")).toHaveLength(0);
    expect(h.of("wake-skipped", "a").at(-1)).toMatchObject({ reason: "paused", reasons: ["manual"] });
    expect(h.gw.requestWake({ reason: "wake", agentId: "a", force: true })).toMatchObject({
      accepted: false,
      error: expect.stringContaining("force: only a manual wake"),
    });
    expect(h.gw.requestWake({ reason: "manual", agentId: "a", force: true, coalesceMs: 0 }).accepted).toBe(true);
    await settle();
    expect(h.of("run-started", "a")).toMatchObject([{ reasons: ["manual"] }]);
  });

  it("rejects unknown and disabled agents with a ConfigError naming agentId", () => {
    const h = startGateway({ agents: [{ id: "a" }, { id: "off", enabled: false }] });
    expect(() => h.gw.pause("nope")).toThrow(ConfigError);
    expect(() => h.gw.pause("nope")).toThrow('agentId: unknown agent "nope"');
    expect(() => h.gw.resume("off")).toThrow('agentId: agent "off" is disabled');
    expect(() => h.gw.upcoming("a", 0)).toThrow("n: must be an integer from 1 to 1000");
  });

  it("a pause survives a restart on SQLite", async () => {
    const path = join(dir, "state.db");
    const first = startGateway({ agents: [{ id: "a", every: "5m" }], store: sqliteStore({ path }) });
    first.gw.pause("a", { reason: "maintenance" });
    await first.gw.stop();
    const second = startGateway({ agents: [{ id: "a", every: "5m" }], store: sqliteStore({ path }) });
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(second.of("run-started", "a")).toHaveLength(0);
    expect(second.of("wake-skipped", "a").every((e) => e.reason === "paused")).toBe(true);
    second.gw.resume("a");
    await vi.advanceTimersByTimeAsync(5 * MIN);
    expect(second.of("run-started", "a")).toHaveLength(1);
  });
});

describe("run history", () => {
  it("keeps the last runs with status, reasons, usage and errors, newest first, bounded", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1m" }] });
    h.host.set("a", async (ctx) => {
      if (ctx.reasons.includes("manual")) throw new Error("boom");
      return { status: "ran", usage: { inputTokens: 5, outputTokens: 1 } };
    });
    await vi.advanceTimersByTimeAsync(3 * MIN);
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
    await settle();
    const runs = await h.gw.history("a", 10);
    expect(runs[0]).toMatchObject({ agentId: "a", status: "failed", error: "boom", reasons: ["manual"] });
    expect(runs[1]).toMatchObject({ status: "ran", usage: { inputTokens: 5, outputTokens: 1 }, reasons: ["interval"] });
    expect(runs.map((r) => r.runId)).toEqual([...runs.map((r) => r.runId)].sort((x, y) => y - x));
    await vi.advanceTimersByTimeAsync(200 * MIN);
    expect(await h.gw.history("a", 1_000)).toHaveLength(100);
    await expect(h.gw.history("zzz")).rejects.toThrow('agentId: unknown agent "zzz"');
  });

  it("is kept in the SQLite store across a restart", async () => {
    const path = join(dir, "state.db");
    const first = startGateway({ agents: [{ id: "a", every: "1m" }], store: sqliteStore({ path }) });
    await vi.advanceTimersByTimeAsync(5 * MIN);
    const before = await first.gw.history("a");
    await first.gw.stop();
    const second = startGateway({ agents: [{ id: "a", every: "1m" }], store: sqliteStore({ path }) });
    expect((await second.gw.history("a")).map((r) => r.runId)).toEqual(before.map((r) => r.runId));
  });
});

describe("upcoming runs agree with what the machine fires", () => {
  it.each([
    ["interval with jitter", { id: "i", every: "45m", jitter: "3m" }],
    ["cron across DST in a zone", { id: "c", cron: "30 1,3 * * *", timezone: "America/New_York" }],
    ["cron with active hours and jitter", { id: "h", cron: "*/20 * * * *", timezone: "Europe/Berlin", activeHours: { start: "09:00", end: "17:00" }, jitter: "5m" }],
  ])("%s over a simulated week", async (_name, agent) => {
    // 2026-03-05: the week contains the US spring-forward change (2026-03-08).
    vi.setSystemTime(Date.UTC(2026, 2, 5, 12));
    const h = startGateway({ agents: [agent], sweepMs: DAY });
    const predicted = h.gw.upcoming(agent.id, 1_000).filter((t) => t < Date.now() + 7 * DAY);
    await vi.advanceTimersByTimeAsync(7 * DAY);
    const fired = h.of("run-started", agent.id).map((e) => e.at);
    expect(fired.length).toBeGreaterThan(10);
    expect(fired).toEqual(predicted);
  });

  it("jitter is stable per agent: the same id gets the same offset after a restart", () => {
    const a = startGateway({ agents: [{ id: "fleet-7", cron: "0 * * * *", jitter: "10m" }] });
    const first = a.gw.upcoming("fleet-7", 3);
    const b = startGateway({ agents: [{ id: "fleet-7", cron: "0 * * * *", jitter: "10m" }] });
    expect(b.gw.upcoming("fleet-7", 3)).toEqual(first);
    const offset = (first[0]! - T0) % HOUR;
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThanOrEqual(10 * MIN);
  });
});

describe("catch-up after a 5-hour sleep", () => {
  const sleep = async (ms: number) => {
    vi.setSystemTime(Date.now() + ms); // the wall clock jumps; timers did not run meanwhile
    await vi.advanceTimersByTimeAsync(31 * SEC); // a cron wait re-checks the wall clock within 30 s
  };

  it('"once" (default) runs the latest missed slot once, never a backfill', async () => {
    const h = startGateway({ agents: [{ id: "c", cron: "0 * * * *", timezone: "UTC" }], sweepMs: DAY });
    await vi.advanceTimersByTimeAsync(HOUR);
    const before = h.of("run-started", "c").length;
    await sleep(5 * HOUR);
    expect(h.of("run-started", "c").length - before).toBe(1);
    expect(h.of("wake-skipped", "c")).toHaveLength(0);
  });

  it('"skip" records the missed slot as skipped (reason missed) and runs the next slot on time', async () => {
    const h = startGateway({ agents: [{ id: "c", cron: "0 * * * *", timezone: "UTC", catchUp: "skip" }], sweepMs: DAY });
    await vi.advanceTimersByTimeAsync(HOUR);
    const before = h.of("run-started", "c").length;
    await sleep(5 * HOUR + 10 * MIN);
    expect(h.of("run-started", "c").length).toBe(before);
    expect(h.of("wake-skipped", "c")).toMatchObject([{ reason: "missed", reasons: ["cron-slot"] }]);
    const next = h.agent("c").nextDueAt!;
    expect(next % HOUR).toBe(0);
    await vi.advanceTimersByTimeAsync(next - Date.now());
    expect(h.of("run-started", "c").at(-1)?.at).toBe(next);
  });

  it("catchUpWindow: a missed slot older than the window is skipped rather than run", async () => {
    const h = startGateway({ agents: [{ id: "c", cron: "0 */6 * * *", timezone: "UTC", catchUpWindow: "30m" }], sweepMs: DAY });
    await vi.advanceTimersByTimeAsync(6 * HOUR);
    const before = h.of("run-started", "c").length;
    await sleep(7 * HOUR); // past the next slot by ~1 h: beyond the 30 min window
    expect(h.of("run-started", "c").length).toBe(before);
    expect(h.of("wake-skipped", "c").at(-1)).toMatchObject({ reason: "missed" });
  });
});
