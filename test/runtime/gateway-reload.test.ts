import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, type AgentConfig } from "../../src/index.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { gaps, MIN, SEC, settle, startGateway, stopAllGateways, T0, TestHost, type Harness } from "../support/gateway.ts";

/**
 * Contract: reload(agents) applies a diff in place — unchanged agents are left alone,
 * changed ones are updated, removed ones stop, new ones spawn — with no window where two
 * actors serve one agent; an invalid config rejects with a ConfigError naming the field and
 * nothing running is lost. Seed 000 at gateway level: reloads never leave an agent without
 * an armed timer, and wakes keep being delivered across them.
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

const ref = (h: Harness, id: string) => h.gw.actor.system.get(`heartbeat:${id}`);
const heartbeatIds = (h: Harness): string[] =>
  Object.keys(h.gw.actor.system.getAll() as Record<string, unknown>)
    .filter((k) => k.startsWith("heartbeat:"))
    .sort();

describe("reload by diff", () => {
  it("unchanged agents keep actor, timers and state; changed ones update in place; removed stop; new spawn", async () => {
    const h = startGateway({
      agents: [
        { id: "keep", every: "10m" },
        { id: "change", every: "30m" },
        { id: "gone", every: "10m" },
      ],
    });
    await vi.advanceTimersByTimeAsync(45 * MIN);
    const keepRef = ref(h, "keep");
    const changeRef = ref(h, "change");
    const keepBefore = h.agent("keep");
    expect(keepBefore.runCount).toBeGreaterThanOrEqual(4);
    const changeRuns = h.agent("change").runCount;
    const goneCalls = h.host.callsOf("gone").length;
    expect(goneCalls).toBeGreaterThan(0);

    await h.gw.reload([
      { id: "keep", every: "10m" },
      { id: "change", every: "1m" },
      { id: "fresh", every: "10m" },
    ]);
    const now = Date.now();
    // Unchanged: same actor object, same state, same armed slot.
    expect(ref(h, "keep")).toBe(keepRef);
    expect(h.agent("keep")).toEqual(keepBefore);
    // Changed: updated in place (same actor, counters kept), the new cadence takes effect now.
    expect(ref(h, "change")).toBe(changeRef);
    expect(h.agent("change").runCount).toBe(changeRuns);
    expect(h.agent("change").nextDueAt).toBeGreaterThan(now);
    expect(h.agent("change").nextDueAt).toBeLessThanOrEqual(now + MIN);
    // Removed: no actor, gone from health.
    expect(ref(h, "gone")).toBeUndefined();
    expect(h.gw.health().agents.map((a) => a.id)).toEqual(["keep", "change", "fresh"]);
    // New: spawned.
    expect(ref(h, "fresh")).toBeDefined();
    expect(heartbeatIds(h)).toEqual(["heartbeat:change", "heartbeat:fresh", "heartbeat:keep"]);

    await vi.advanceTimersByTimeAsync(20 * MIN);
    expect(h.host.callsOf("gone")).toHaveLength(goneCalls);
    expect(h.agent("keep").runCount).toBe(keepBefore.runCount + 2);
    expect(h.of("run-started", "keep").at(-1)!.at).toBe(keepBefore.nextDueAt! + 10 * MIN);
    const changeStarts = h.starts("change").filter((t) => t >= now - T0);
    expect(changeStarts.length).toBeGreaterThanOrEqual(19);
    expect(new Set(gaps(changeStarts))).toEqual(new Set([MIN]));
    expect(h.agent("fresh").runCount).toBe(2);
    expect(h.gw.requestWake({ reason: "manual", agentId: "gone" }).accepted).toBe(false);
  });

  it("a reload with an identical config changes nothing", async () => {
    const agents: AgentConfig[] = [{ id: "a", every: "10m" }, { id: "b", every: "7m", sessionKey: "s" }];
    const h = startGateway({ agents });
    await vi.advanceTimersByTimeAsync(25 * MIN);
    const before = h.gw.health();
    const refs = [ref(h, "a"), ref(h, "b")];
    await h.gw.reload(structuredClone(agents));
    expect(h.gw.health()).toEqual(before);
    expect([ref(h, "a"), ref(h, "b")]).toEqual(refs);
    expect(ref(h, "a")).toBe(refs[0]);
  });

  it("enabling a disabled agent spawns it; disabling stops it (and aborts its run in flight)", async () => {
    const host = new TestHost();
    const h = startGateway({ host, agents: [{ id: "a", every: "5m" }, { id: "x", every: "5m", enabled: false }] });
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(ref(h, "x")).toBeUndefined();
    expect(host.callsOf("x")).toHaveLength(0);

    await h.gw.reload([{ id: "a", every: "5m" }, { id: "x", every: "5m" }]);
    expect(ref(h, "x")).toBeDefined();
    expect(h.agent("x")).toMatchObject({ enabled: true, state: "idle" });
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(host.callsOf("x")).toHaveLength(2);

    host.set("x", "hold");
    await vi.advanceTimersByTimeAsync(5 * MIN);
    const inFlight = host.open("x")[0]!;
    expect(h.agent("x").state).toBe("running");
    await h.gw.reload([{ id: "a", every: "5m" }, { id: "x", every: "5m", enabled: false }]);
    expect(inFlight.ctx.signal.aborted).toBe(true);
    expect(h.of("run-finished", "x").at(-1)).toMatchObject({ status: "aborted" });
    expect(ref(h, "x")).toBeUndefined();
    expect(h.agent("x")).toMatchObject({ enabled: false, state: "stopped" });
    const calls = host.callsOf("x").length;
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(host.callsOf("x")).toHaveLength(calls);
    expect(h.gw.requestWake({ reason: "manual", agentId: "x" }).accepted).toBe(false);
    // The other agent never noticed.
    expect(new Set(gaps(h.starts("a")))).toEqual(new Set([5 * MIN]));
  });
});

describe("reload and alerts", () => {
  it("disabling an agent with open alerts resolves them: a disabled agent has nothing to alert on", async () => {
    const h = startGateway({
      agents: [{ id: "a", every: "5m", sessionKey: "chat" }],
      lanes: { sessionBusy: () => true },
      sweepMs: MIN,
    });
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(h.alertTrail("busy-wedged")).toEqual(["open"]);
    expect(h.alertTrail("past-due")).toEqual(["open"]);
    await h.gw.reload([{ id: "a", every: "5m", sessionKey: "chat", enabled: false }]);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.alertTrail("busy-wedged")).toEqual(["open", "resolved"]);
    expect(h.alertTrail("past-due")).toEqual(["open", "resolved"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
  });

  it("removing an agent with open alerts resolves them", async () => {
    const host = new TestHost().set("a", "hold");
    const h = startGateway({ host, agents: [{ id: "a", every: "5m", runTimeout: "1m" }, { id: "b", every: "5m" }] });
    await vi.advanceTimersByTimeAsync(6 * MIN);
    expect(h.alertTrail("run-timed-out", "a")).toEqual(["open"]);
    await h.gw.reload([{ id: "b", every: "5m" }]);
    expect(h.alertTrail("run-timed-out", "a")).toEqual(["open", "resolved"]);
    expect(h.gw.health()).toMatchObject({ ok: true, alerts: [] });
  });
});

describe("invalid reload", () => {
  const good: AgentConfig[] = [{ id: "a", every: "5m" }, { id: "b", every: "7m" }];

  it.each<[string, unknown, RegExp]>([
    ["a bad duration", [{ id: "a", every: "5m" }, { id: "b", every: "banana" }], /^agents\[1\]\.every: /],
    ["a duplicate id", [{ id: "a", every: "5m" }, { id: "a", every: "7m" }], /^agents\[1\]\.id: .*duplicate/],
    ["an unknown key", [{ id: "a", every: "5m" }, { id: "b", evry: "7m" }], /^agents\[1\]\.evry: /],
    ["an empty id", [{ id: "a", every: "5m" }, { id: "  " }], /^agents\[1\]\.id: /],
    ["a cadence below 1 s", [{ id: "a", every: "500ms" }], /^agents\[0\]\.every: /],
    ["a bad runTimeout", [{ id: "a", runTimeout: "soon" }], /^agents\[0\]\.runTimeout: /],
    ["an unknown time zone", [{ id: "a", cron: "0 * * * *", timezone: "Mars/Olympus" }], /^agents\[0\]\.timezone: /],
    ["every and cron together", [{ id: "a", every: "5m", cron: "0 * * * *" }], /^agents\[0\]\./],
    ["not an array", { id: "a" }, /^agents: /],
  ])("%s rejects with a ConfigError naming the field; the old config keeps running untouched", async (_name, bad, message) => {
    const h = startGateway({ agents: good });
    await vi.advanceTimersByTimeAsync(12 * MIN);
    const before = h.gw.health();
    const refs = [ref(h, "a"), ref(h, "b")];
    const runsBefore = h.host.calls.length;

    const error = await h.gw.reload(bad as AgentConfig[]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(message);
    expect(h.gw.health()).toEqual(before);
    expect([ref(h, "a"), ref(h, "b")]).toEqual(refs);
    expect(ref(h, "a")).toBe(refs[0]);

    await vi.advanceTimersByTimeAsync(35 * MIN);
    expect(h.agent("a").runCount).toBe(before.agents[0]!.runCount + 7);
    expect(h.agent("b").runCount).toBe(before.agents[1]!.runCount + 5);
    expect(h.host.calls.length).toBe(runsBefore + 12);
    // A rejected reload does not poison later ones.
    await h.gw.reload([{ id: "a", every: "5m" }]);
    expect(h.gw.health().agents.map((a) => a.id)).toEqual(["a"]);
  });
});

describe("overlapping reloads", () => {
  it("100 reloads fired without awaiting serialize and leave exactly the last config, one actor per agent", async () => {
    const X: AgentConfig[] = [{ id: "a", every: "1m" }, { id: "b", every: "1m" }];
    const Y: AgentConfig[] = [{ id: "a", every: "1m" }, { id: "b", every: "2m" }, { id: "c", every: "1m", sessionKey: "s" }];
    const h = startGateway({ agents: X });
    await vi.advanceTimersByTimeAsync(90 * SEC);
    const aRef = ref(h, "a");
    // Watch every actor created in the gateway's system; after each reload is applied, no two
    // live actors may hold one agent's systemId (never two actors serving one agent).
    type Seen = { systemId?: string; getSnapshot(): { status: string } };
    const created: Seen[] = [];
    h.gw.actor.system.inspect((ev) => {
      if (ev.type === "@xstate.actor") created.push(ev.actorRef as unknown as Seen);
    });
    const overlaps: string[] = [];
    const checkOneActorPerAgent = (): void => {
      const live = created.filter((r) => r.systemId?.startsWith("heartbeat:") && r.getSnapshot().status === "active");
      const ids = live.map((r) => r.systemId!);
      if (new Set(ids).size !== ids.length) overlaps.push(ids.sort().join(","));
    };
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) pending.push(h.gw.reload(i % 2 === 0 ? X : Y).then(checkOneActorPerAgent));
    // A wake sent while the reloads are queued is still delivered.
    expect(h.gw.requestWake({ reason: "manual", agentId: "a" }).accepted).toBe(true);
    await Promise.all(pending);
    expect(overlaps).toEqual([]);
    const spawned = (id: string) => created.filter((r) => r.systemId === `heartbeat:${id}`).length;
    expect(spawned("c")).toBe(50); // added by every Y, removed by every X
    expect(spawned("a")).toBe(0); // never touched
    expect(spawned("b")).toBe(0); // updated in place

    expect(h.gw.health().agents.map((a) => a.id)).toEqual(["a", "b", "c"]);
    expect(heartbeatIds(h)).toEqual(["heartbeat:a", "heartbeat:b", "heartbeat:c"]);
    expect(ref(h, "a")).toBe(aRef); // never changed, never replaced
    for (const id of ["a", "b", "c"]) expect(ref(h, id).getSnapshot().status).toBe("active");

    const t = Date.now() - T0;
    await vi.advanceTimersByTimeAsync(20 * MIN);
    expect(h.of("run-started", "a").some((e) => e.reasons.includes("manual"))).toBe(true);
    const after = (id: string) => h.starts(id).filter((s) => s > t + SEC); // past the manual wake
    // No doubled runs: each agent runs on exactly its last cadence, one run at a time.
    expect(new Set(gaps(after("a")))).toEqual(new Set([MIN]));
    expect(new Set(gaps(after("b")))).toEqual(new Set([2 * MIN]));
    expect(new Set(gaps(after("c")))).toEqual(new Set([MIN]));
    expect(after("b").length).toBeGreaterThanOrEqual(9);
    expect(after("b").length).toBeLessThanOrEqual(11);
    for (const id of ["a", "b", "c"]) expect(h.host.peakConcurrency(id)).toBe(1);
    // The counters move once per host call (c was started fresh by its last add).
    const cStarted = h.of("run-started", "c").filter((e) => e.at - T0 >= t);
    expect(h.agent("c").runCount).toBe(cStarted.length);
    expect(h.agent("a").runCount).toBe(h.host.callsOf("a").length);
  });

  it("overlapping reloads with an invalid one in the middle: the invalid one rejects, the rest apply in order", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1m" }] });
    const p1 = h.gw.reload([{ id: "a", every: "1m" }, { id: "b", every: "1m" }]);
    const p2 = h.gw.reload([{ id: "a", every: "nope" }]);
    const p3 = h.gw.reload([{ id: "b", every: "2m" }]);
    await expect(p1).resolves.toBeUndefined();
    await expect(p2).rejects.toBeInstanceOf(ConfigError);
    await expect(p3).resolves.toBeUndefined();
    expect(h.gw.health().agents.map((a) => a.id)).toEqual(["b"]);
    expect(heartbeatIds(h)).toEqual(["heartbeat:b"]);
  });
});

describe("seed 000 at gateway level", () => {
  it.each<[string, AgentConfig[][]]>([
    ["an identical config", [[{ id: "a", every: "10m" }]]],
    ["a changed cadence", [[{ id: "a", every: "5m" }]]],
    ["a changed runTimeout", [[{ id: "a", every: "10m", runTimeout: "20m" }]]],
    ["removing and re-adding the agent", [[{ id: "other", every: "10m" }], [{ id: "a", every: "10m" }]]],
  ])("a reload (%s) while a run is in flight cannot leave the agent without an armed timer", async (_name, reloads) => {
    const host = new TestHost().set("a", "hold");
    const h = startGateway({ host, agents: [{ id: "a", every: "10m" }] });
    await vi.advanceTimersByTimeAsync(h.agent("a").nextDueAt! - T0);
    await settle();
    const first = host.open("a")[0]!;
    expect(h.agent("a").state).toBe("running");
    for (const agents of reloads) await h.gw.reload(agents);
    first.resolve();
    host.set("a", { status: "ran", usage: { inputTokens: 1, outputTokens: 1 } });
    await settle();
    const agent = h.agent("a");
    expect(agent.state).toBe("idle");
    expect(agent.nextDueAt).toBeGreaterThan(Date.now());
    const calls = host.callsOf("a").length;
    await vi.advanceTimersByTimeAsync(60 * MIN);
    expect(host.callsOf("a").length).toBeGreaterThanOrEqual(calls + 5);
    expect(h.agent("a").state).toBe("idle");
    expect(host.peakConcurrency("a")).toBe(1);
  });

  it("wakes sent right after reloads are delivered; a stale generation never swallows them", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1d" }, { id: "b", every: "1d" }] });
    for (let i = 0; i < 5; i++) {
      await h.gw.reload(i % 2 ? [{ id: "a", every: "1d" }, { id: "b", every: "1d" }] : [{ id: "a", every: "1d" }, { id: "b", every: "1d", sessionKey: "s" }]);
      expect(h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 }).accepted).toBe(true);
      await settle();
      expect(h.host.callsOf("a")).toHaveLength(i + 1);
      await vi.advanceTimersByTimeAsync(30 * SEC);
    }
    // A wake pending in the coalescer across a reload of its target is delivered, not lost.
    h.gw.requestWake({ reason: "hook:wake", agentId: "b", coalesceMs: 5_000 });
    const reloading = h.gw.reload([{ id: "a", every: "1d" }, { id: "b", every: "12h" }]);
    h.gw.requestWake({ reason: "background-task", agentId: "a" });
    await reloading;
    await vi.advanceTimersByTimeAsync(5 * SEC);
    expect(h.of("run-started", "b")).toMatchObject([{ reasons: ["hook:wake"] }]);
    expect(h.of("run-started", "a").at(-1)).toMatchObject({ reasons: ["background-task"] });
  });

  it("a wake pending for an agent that a reload removes is recorded as skipped, not silently dropped", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1d" }, { id: "b", every: "1d" }] });
    h.gw.requestWake({ reason: "manual", agentId: "b", coalesceMs: 5_000 });
    await h.gw.reload([{ id: "a", every: "1d" }]);
    await vi.advanceTimersByTimeAsync(10 * SEC);
    expect(h.host.callsOf("b")).toHaveLength(0);
    expect(h.of("wake-skipped", "b")).toMatchObject([{ reasons: ["manual"] }]);
  });
});
