import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, createGateway, type GatewayOptions, type HeartbeatEvent } from "../../src/index.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { DAY, gaps, HOUR, MIN, SEC, settle, startGateway, stopAllGateways, T0, TestHost, WORK } from "../support/gateway.ts";

/**
 * Contract: start/stop, wakes around them, listeners, and option validation.
 * stop() aborts runs in flight (recorded "aborted"), leaves no timer and is idempotent;
 * start() twice is harmless; listeners that throw never break a heartbeat.
 */

beforeEach(() => useFakeTime(T0));
afterEach(async () => {
  await stopAllGateways();
  vi.useRealTimers();
});

describe("stop()", () => {
  it("is idempotent: a second call returns the same promise, and later calls resolve too", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1m" }] });
    await vi.advanceTimersByTimeAsync(5 * MIN);
    const first = h.gw.stop();
    const second = h.gw.stop();
    expect(second).toBe(first);
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    await expect(h.gw.stop()).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("aborts runs in flight (their AbortSignal fires, run-finished 'aborted'), leaves no timer, stops every actor", async () => {
    const host = new TestHost().set("a", "hold").set("b", "hold");
    const h = startGateway({ host, agents: [{ id: "a", every: "5m" }, { id: "b", every: "5m" }, { id: "c", every: "5m" }] });
    await vi.advanceTimersByTimeAsync(5 * MIN);
    const inFlight = [...host.open("a"), ...host.open("b")];
    expect(inFlight).toHaveLength(2);
    const aborts: string[] = [];
    for (const call of inFlight) call.ctx.signal.addEventListener("abort", () => aborts.push(call.agentId));
    const refs = ["a", "b", "c"].map((id) => h.gw.actor.system.get(`heartbeat:${id}`));

    await h.gw.stop();
    expect(aborts.sort()).toEqual(["a", "b"]);
    for (const call of inFlight) expect(call.ctx.signal.aborted).toBe(true);
    for (const id of ["a", "b"]) expect(h.of("run-finished", id).at(-1)).toMatchObject({ status: "aborted" });
    expect(vi.getTimerCount()).toBe(0);
    for (const r of refs) expect(r.getSnapshot().status).not.toBe("active");
    expect(h.gw.actor.getSnapshot().status).not.toBe("active");
    expect(h.gw.health().agents.map((x) => x.state)).toEqual(["stopped", "stopped", "stopped"]);

    // Nothing happens after stop() resolved, whatever the host does later.
    const seen = h.events.length;
    const calls = host.calls.length;
    inFlight[0]!.resolve(WORK);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(host.calls).toHaveLength(calls);
    expect(h.events.slice(seen).filter((e) => e.type !== "run-settled-late")).toEqual([]);
  });

  it("health() after stop() agrees with the recorded events: an aborted run is the last status and is counted", async () => {
    const host = new TestHost().set("a", "hold");
    const h = startGateway({ host, agents: [{ id: "a", every: "5m" }] });
    await vi.advanceTimersByTimeAsync(h.agent("a").nextDueAt! - T0);
    host.open("a")[0]!.resolve(WORK); // first run ran
    await settle();
    await vi.advanceTimersByTimeAsync(5 * MIN); // second run in flight
    expect(host.open("a")).toHaveLength(1);
    const live = h.agent("a");
    expect(live).toMatchObject({ state: "running", runCount: 1, lastStatus: "ran" });
    await h.gw.stop();
    const finished = h.of("run-finished", "a");
    expect(finished.map((e) => e.status)).toEqual(["ran", "aborted"]);
    // Counters move for every run that reached the host (DESIGN "counters"); the live actor
    // counts an aborted run too, so the report after stop must not roll it back.
    expect(h.agent("a")).toMatchObject({ state: "stopped", lastStatus: "aborted", runCount: 2 });
  });

  it("stop() before start() resolves and leaves no timer, even with wakes pending", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1m" }], start: false });
    expect(h.gw.requestWake({ reason: "manual", agentId: "a" }).accepted).toBe(true);
    await h.gw.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(h.host.calls).toHaveLength(0);
  });

  it("after stop, requestWake is rejected and reload rejects", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1m" }] });
    await h.gw.stop();
    const receipt = h.gw.requestWake({ reason: "manual", agentId: "a" });
    expect(receipt).toMatchObject({ accepted: false, targets: [] });
    expect(receipt.error).toMatch(/stop/);
    expect(h.gw.requestWake({ reason: "manual" }).accepted).toBe(false);
    await expect(h.gw.reload([{ id: "a", every: "2m" }])).rejects.toThrow();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("start() after stop() does not resurrect the gateway", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1m" }] });
    await h.gw.stop();
    h.gw.start();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.host.calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("start()", () => {
  it("twice is harmless: no doubled actors or runs", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "10m" }, { id: "b", every: "15m" }] });
    const a = h.gw.actor.system.get("heartbeat:a");
    h.gw.start();
    h.gw.start();
    expect(h.gw.actor.system.get("heartbeat:a")).toBe(a);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(h.starts("a")).toHaveLength(12);
    expect(h.starts("b")).toHaveLength(8);
    expect(new Set(gaps(h.starts("a")))).toEqual(new Set([10 * MIN]));
    expect(h.host.peakConcurrency("a")).toBe(1);
  });

  it("nothing runs before start(); the first run comes one phase after start()", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "10m" }], start: false });
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(h.host.calls).toHaveLength(0);
    const started = Date.now();
    h.gw.start();
    const due = h.agent("a").nextDueAt!;
    expect(due).toBeGreaterThan(started);
    expect(due).toBeLessThanOrEqual(started + 10 * MIN);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.of("run-started", "a")).toMatchObject([{ at: due }]);
  });

  it("wakes requested before start() are accepted, queued and delivered after start()", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1d" }, { id: "b", every: "1d" }], start: false });
    expect(h.gw.requestWake({ reason: "manual", agentId: "a" })).toEqual({ accepted: true, targets: ["a"] });
    expect(h.gw.requestWake({ reason: "hook:wake", agentId: "b", coalesceMs: 0 })).toEqual({ accepted: true, targets: ["b"] });
    await vi.advanceTimersByTimeAsync(10 * SEC); // the coalescing window passes before start
    expect(h.host.calls).toHaveLength(0);
    h.gw.start();
    await vi.advanceTimersByTimeAsync(SEC);
    expect(h.of("run-started", "a")).toMatchObject([{ reasons: ["manual"] }]);
    expect(h.of("run-started", "b")).toMatchObject([{ reasons: ["hook:wake"] }]);
  });

  it("a reload before start() is what start() runs", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "10m" }], start: false });
    await h.gw.reload([{ id: "b", every: "10m" }]);
    expect(h.gw.health().agents.map((x) => x.id)).toEqual(["b"]);
    h.gw.start();
    expect(h.gw.actor.system.get("heartbeat:a")).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(h.host.calls.map((c) => c.agentId)).toEqual(["b"]);
  });

  it("a wake requested just before start() within its coalescing window is delivered once", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "1d" }], start: false });
    h.gw.requestWake({ reason: "manual", agentId: "a" });
    h.gw.start();
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.of("run-started", "a")).toMatchObject([{ at: T0 + 250, reasons: ["manual"] }]);
  });
});

describe("events and listeners", () => {
  it("subscribe() receives every event in order; its unsubscribe works", async () => {
    const h = startGateway({ agents: [{ id: "a", every: "5m" }, { id: "b", every: "5m" }] });
    const got: HeartbeatEvent[] = [];
    const from = h.events.length;
    const unsubscribe = h.gw.subscribe((e) => got.push(e));
    h.gw.requestWake({ reason: "manual", agentId: "a" });
    await vi.advanceTimersByTimeAsync(20 * MIN);
    expect(got.length).toBeGreaterThan(5);
    expect(got).toEqual(h.events.slice(from));
    for (const e of got) {
      expect(typeof e.agentId).toBe("string");
      expect(typeof e.at).toBe("number");
    }
    unsubscribe();
    unsubscribe(); // twice is harmless
    const n = got.length;
    await vi.advanceTimersByTimeAsync(20 * MIN);
    expect(got).toHaveLength(n);
    expect(h.events.length).toBeGreaterThan(from + n);
  });

  it("onEvent and onAlert are called; onAlert gets alert events only", async () => {
    const alerts: HeartbeatEvent[] = [];
    const host = new TestHost().set("a", "hold");
    const h = startGateway({ host, agents: [{ id: "a", every: "5m", runTimeout: "1m" }], onAlert: (a) => alerts.push(a) });
    await vi.advanceTimersByTimeAsync(6 * MIN);
    expect(h.of("run-finished", "a")).toMatchObject([{ status: "timed-out" }]);
    expect(alerts).toMatchObject([{ type: "alert", kind: "run-timed-out", state: "open", agentId: "a" }]);
    expect(h.of("alert")).toEqual(alerts);
    expect(h.of("run-started").length).toBeGreaterThan(0); // onEvent got the rest
  });

  it("listeners that throw (onEvent, onAlert, subscribe) break neither heartbeats nor other listeners", async () => {
    const host = new TestHost().set("a", "hold");
    const seen: string[] = [];
    const gw = createGateway({
      agents: [{ id: "a", every: "5m", runTimeout: "1m" }, { id: "b", every: "5m" }],
      runHeartbeat: host.run,
      logger: false,
      onEvent: () => {
        throw new Error("onEvent is broken");
      },
      onAlert: () => {
        throw new Error("onAlert is broken");
      },
    });
    gw.subscribe(() => {
      throw new Error("listener is broken");
    });
    gw.subscribe((e) => seen.push(`${e.type}:${e.agentId}`));
    gw.start();
    try {
      await vi.advanceTimersByTimeAsync(HOUR);
      expect(host.callsOf("b")).toHaveLength(12);
      expect(host.callsOf("a")).toHaveLength(12);
      expect(seen.filter((s) => s === "run-finished:b")).toHaveLength(12);
      expect(seen).toContain("alert:a");
      expect(gw.health().agents.find((x) => x.id === "b")).toMatchObject({ runCount: 12, state: "idle" });
      expect(gw.actor.getSnapshot().status).toBe("active");
    } finally {
      await gw.stop();
    }
  });
});

describe("re-entrant host calls", () => {
  it("stop() called from inside an event listener aborts the run and leaves nothing behind", async () => {
    let stopping: Promise<void> | undefined;
    const host = new TestHost().set("a", "hold");
    const holder: { gw?: { stop(): Promise<void> } } = {};
    const h = startGateway({
      host,
      agents: [{ id: "a", every: "5m" }, { id: "b", every: "5m" }],
      onEvent: (e) => {
        if (e.type === "run-started" && !stopping) stopping = holder.gw!.stop();
      },
    });
    holder.gw = h.gw;
    await vi.advanceTimersByTimeAsync(5 * MIN);
    await stopping;
    expect(host.calls.every((c) => c.ctx.signal.aborted)).toBe(true);
    expect(h.of("run-finished").map((e) => e.status)).toEqual(["aborted"]);
    expect(vi.getTimerCount()).toBe(0);
    expect(h.gw.health().agents.map((a) => a.state)).toEqual(["stopped", "stopped"]);
  });

  it("requestWake() called from inside a run-finished listener is delivered", async () => {
    let n = 0;
    const holder: { gw?: { requestWake(r: { reason: string; agentId: string; coalesceMs: number }): { accepted: boolean } } } = {};
    const h = startGateway({
      agents: [{ id: "a", every: "1d" }],
      onEvent: (e) => {
        if (e.type === "run-finished" && n++ < 2) holder.gw!.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
      },
    });
    holder.gw = h.gw;
    h.gw.requestWake({ reason: "manual", agentId: "a", coalesceMs: 0 });
    await vi.advanceTimersByTimeAsync(MIN);
    expect(h.starts("a")).toHaveLength(3);
    expect(h.host.peakConcurrency("a")).toBe(1);
  });
});

describe("createGateway option validation", () => {
  const run = async () => WORK;
  it.each<[string, unknown, RegExp]>([
    ["options not an object", null, /^options: /],
    ["agents not an array", { agents: { id: "a" }, runHeartbeat: run }, /^agents: /],
    ["agents missing", { runHeartbeat: run }, /^agents: /],
    ["runHeartbeat missing", { agents: [{ id: "a" }] }, /^runHeartbeat: /],
    ["runHeartbeat not a function", { agents: [], runHeartbeat: "go" }, /^runHeartbeat: /],
    ["a bad agent", { agents: [{ id: "a" }, { id: "b", every: "soon" }], runHeartbeat: run }, /^agents\[1\]\.every: /],
    ["bad policy flood", { agents: [], runHeartbeat: run, policy: { flood: { maxRuns: 0, windowMs: 60_000 } } }, /^policy\.flood\.maxRuns: /],
    ["bad policy minSpacingMs", { agents: [], runHeartbeat: run, policy: { minSpacingMs: -5 } }, /^policy\.minSpacingMs: /],
    ["unknown policy key", { agents: [], runHeartbeat: run, policy: { cooldown: 5 } }, /^policy\.cooldown: /],
    ["policy retry initial > max", { agents: [], runHeartbeat: run, policy: { retry: { initialMs: 5_000, maxMs: 1_000 } } }, /^policy\.retry\.initialMs: /],
  ])("%s throws a ConfigError naming the field", (_name, options, message) => {
    let error: unknown;
    try {
      createGateway(options as GatewayOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(message);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("an empty agent list is valid", async () => {
    const h = startGateway({ agents: [] });
    expect(h.gw.health()).toEqual({ ok: true, agents: [], alerts: [] });
    expect(h.gw.requestWake({ reason: "manual" }).accepted).toBe(false);
    await settle();
  });
});
