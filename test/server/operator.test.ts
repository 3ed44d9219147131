import { afterEach, describe, expect, it } from "vitest";
import type { AgentConfig, HeartbeatEvent } from "../../src/index.ts";
import { AGENTS, auth, harness, TOKEN, until, type Harness } from "./support.ts";

// Operator controls (issue 11) through the HTTP API: pause / resume, run history, upcoming
// runs, forced wakes. A real gateway in real time behind the real server (app.inject).

let h: Harness;
afterEach(async () => h?.close());

const HOUR = 3_600_000;
/** `tick` fires every second (the shortest cadence), so a paused slot comes along quickly. */
const WITH_TICK: AgentConfig[] = [{ id: "tick", every: "1s" }, ...AGENTS];

type Res = Awaited<ReturnType<Harness["app"]["inject"]>>;
const post = (url: string, payload?: unknown, headers: Record<string, string> = auth()): Promise<Res> =>
  h.app.inject({ method: "POST", url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
const raw = (url: string, payload: string, type = "application/json"): Promise<Res> =>
  h.app.inject({ method: "POST", url, headers: { ...auth(), "content-type": type }, payload });
const get = (url: string): Promise<Res> => h.app.inject(url);
const of = <T extends HeartbeatEvent["type"]>(type: T, agentId: string) =>
  h.events.filter((e): e is Extract<HeartbeatEvent, { type: T }> => e.type === type && e.agentId === agentId);
const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe("POST /api/agents/:id/pause and /resume", () => {
  it("pause: due slots are skipped (paused), the agent shows paused; resume re-arms it and it runs again", async () => {
    h = harness(undefined, {}, WITH_TICK);
    await until(() => of("run-started", "tick").length >= 1, 5_000);

    const paused = await post("/api/agents/tick/pause", { reason: "incident 42" });
    expect(paused.statusCode).toBe(200);
    const body = paused.json();
    expect(body).toEqual({ agentId: "tick", paused: { reason: "incident 42", since: expect.any(Number) }, changed: true });
    expect(Math.abs(body.paused.since - Date.now())).toBeLessThan(2_000);
    expect(of("agent-paused", "tick")).toMatchObject([{ reason: "incident 42" }]);

    // Shown in GET /api/agents and /api/agents/:id (from health()), with the pause event in recent.
    const one = (await get("/api/agents/tick")).json();
    expect(one.paused).toEqual(body.paused);
    expect(one.recent.at(-1)).toMatchObject({ type: "agent-paused", reason: "incident 42" });
    const list = (await get("/api/agents")).json();
    expect(list.agents.find((a: { id: string }) => a.id === "tick").paused).toEqual(body.paused);
    expect(list.agents.find((a: { id: string }) => a.id === "alpha").paused).toBeUndefined();

    // The next due slot is skipped with reason "paused"; nothing runs; no alert.
    const startsAtPause = of("run-started", "tick").length;
    const skippedAtPause = of("wake-skipped", "tick").length;
    await until(() => of("wake-skipped", "tick").length > skippedAtPause, 5_000);
    expect(of("wake-skipped", "tick").at(-1)).toMatchObject({ reason: "paused", reasons: ["interval"] });
    // (a run already in flight when the pause came may still finish; none starts)
    expect(of("run-started", "tick").length).toBe(startsAtPause);
    expect((await get("/api/agents")).json().alerts).toEqual([]);
    expect((await get("/api/agents/tick/upcoming")).json()).toEqual({ agentId: "tick", upcoming: [], paused: body.paused });

    // Pausing again changes nothing: the first pause and its reason are kept.
    const again = await post("/api/agents/tick/pause", { reason: "another" });
    expect(again.json()).toEqual({ agentId: "tick", paused: body.paused, changed: false });
    expect(of("agent-paused", "tick")).toHaveLength(1);

    const resumed = await post("/api/agents/tick/resume");
    expect(resumed.statusCode).toBe(200);
    const r = resumed.json();
    expect(r).toEqual({ agentId: "tick", resumed: true, nextDueAt: expect.any(Number) });
    expect(r.nextDueAt - Date.now()).toBeLessThanOrEqual(1_100);
    expect(of("agent-resumed", "tick")).toHaveLength(1);
    expect((await get("/api/agents/tick")).json().paused).toBeUndefined();
    expect((await get("/api/agents/tick/upcoming?n=3")).json().upcoming).toHaveLength(3);
    await until(() => of("run-started", "tick").length > startsAtPause, 5_000);
    // One run at the next slot: no burst for the skipped ones.
    expect(of("run-started", "tick").length).toBe(startsAtPause + 1);

    // Resuming an agent that is not paused is harmless and says so.
    expect((await post("/api/agents/tick/resume", {})).json()).toMatchObject({ agentId: "tick", resumed: false });
    expect(of("agent-resumed", "tick")).toHaveLength(1);
  });

  it("takes no body at all (default reason), an empty object, and ids that need escaping", async () => {
    const odd = "team/ops agent #1";
    h = harness(undefined, {}, [...AGENTS, { id: odd, every: "1h" }]);
    const res = await post("/api/agents/alpha/pause");
    expect(res.statusCode).toBe(200);
    expect(res.json().paused.reason).toBe("paused by operator");
    expect((await post(`/api/agents/${encodeURIComponent(odd)}/pause`, {})).json()).toMatchObject({ agentId: odd, changed: true });
    expect((await get(`/api/agents/${encodeURIComponent(odd)}`)).json().paused).toMatchObject({ reason: "paused by operator" });
    expect((await post(`/api/agents/${encodeURIComponent(odd)}/resume`)).json()).toMatchObject({ agentId: odd, resumed: true });
  });

  it("refuses without a token or with a wrong one (401), and every mutation without a configured token (403), changing nothing", async () => {
    h = harness();
    for (const url of ["/api/agents/alpha/pause", "/api/agents/alpha/resume", "/api/agents/nobody/pause"]) {
      const none = await post(url, {}, {});
      expect(none.statusCode, url).toBe(401);
      expect(none.json()).toEqual({ error: "missing bearer token (Authorization: Bearer <token>)", statusCode: 401 });
      const wrong = await post(url, {}, auth(`${TOKEN}x`));
      expect(wrong.json()).toEqual({ error: "wrong token", statusCode: 401 });
    }
    // Refused before the body is looked at (an unauthorized caller learns nothing, not even the agent exists).
    const junk = await h.app.inject({ method: "POST", url: "/api/agents/nobody/pause", headers: { "content-type": "application/json" }, payload: "{nope" });
    expect(junk.statusCode).toBe(401);
    await h.close();

    h = harness({});
    const res = await post("/api/agents/alpha/pause", {});
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatch(/^mutations are disabled: no token is configured/);
    await settle();
    expect(h.events.filter((e) => e.type === "agent-paused" || e.type === "agent-resumed")).toEqual([]);
    expect(h.gateway.health().agents.every((a) => a.paused === undefined)).toBe(true);
  });

  it("answers bad ids and bodies with a 4xx and a clear error naming the field, and changes nothing", async () => {
    h = harness();
    const cases: [Promise<Res>, number, string | RegExp][] = [
      [post("/api/agents/nobody/pause", {}), 404, 'unknown agent "nobody"'],
      [post("/api/agents/nobody/resume"), 404, 'unknown agent "nobody"'],
      [post("/api/agents/off/pause", {}), 409, 'agent "off" is disabled'],
      [post("/api/agents/off/resume"), 409, 'agent "off" is disabled'],
      [post(`/api/agents/${"x".repeat(280)}/pause`, {}), 400, "id: must be 1 to 256 characters"],
      [post("/api/agents/alpha/pause", { colour: "red" }), 400, "colour: unknown field"],
      [post("/api/agents/alpha/pause", { reason: 7 }), 400, "reason: expected string"],
      [post("/api/agents/alpha/pause", { reason: "  " }), 400, "reason: must be a non-empty string"],
      [post("/api/agents/alpha/pause", { reason: "r".repeat(300) }), 400, "reason: must be at most 256 characters"],
      [raw("/api/agents/alpha/pause", "[]"), 400, 'body: expected a JSON object like {"reason": "..."}'],
      [raw("/api/agents/alpha/pause", "null"), 400, 'body: expected a JSON object like {"reason": "..."}'],
      [raw("/api/agents/alpha/pause", '"stop"'), 400, 'body: expected a JSON object like {"reason": "..."}'],
      [raw("/api/agents/alpha/pause", "{nope"), 400, /^request body is not valid JSON: /],
      [raw("/api/agents/alpha/pause", "reason=x", "application/x-www-form-urlencoded"), 415, "unsupported content type: send application/json"],
      [post("/api/agents/alpha/resume", { force: true }), 400, "force: unknown field"],
      [raw("/api/agents/alpha/resume", "[]"), 400, "body: expected a JSON object like {}"],
      [h.app.inject("/api/agents/alpha/pause"), 404, "no route GET /api/agents/alpha/pause"],
    ];
    for (const [pending, status, error] of cases) {
      const res = await pending;
      expect(res.statusCode, String(error)).toBe(status);
      if (typeof error === "string") expect(res.json().error).toBe(error);
      else expect(res.json().error).toMatch(error);
    }
    await settle();
    expect(h.events.filter((e) => e.type === "agent-paused" || e.type === "agent-resumed")).toEqual([]);
    expect(h.gateway.health().agents.every((a) => a.paused === undefined && a.runCount === 0)).toBe(true);
  });
});

describe("GET /api/agents/:id/runs", () => {
  it("lists the last runs newest first with start, end, duration, status, reasons, usage and errors", async () => {
    h = harness();
    expect((await get("/api/agents/alpha/runs")).json()).toEqual({ agentId: "alpha", runs: [] });
    expect((await post("/api/wake", { agentId: "alpha" })).statusCode).toBe(202);
    await until(() => of("run-finished", "alpha").length === 1);
    h.results.set("alpha", { status: "skipped", reason: "nothing to do" });
    expect((await post("/api/wake", { agentId: "alpha", reason: "hook:wake" })).statusCode).toBe(202);
    await until(() => of("run-finished", "alpha").length === 2);

    const res = await get("/api/agents/alpha/runs");
    expect(res.statusCode).toBe(200);
    const { agentId, runs } = res.json();
    expect(agentId).toBe("alpha");
    expect(runs).toEqual([
      expect.objectContaining({ agentId: "alpha", runId: 2, status: "skipped", reasons: ["hook:wake"], reason: "nothing to do", usage: null, error: null }),
      expect.objectContaining({ agentId: "alpha", runId: 1, status: "ran", reasons: ["manual"], usage: { inputTokens: 10, outputTokens: 2 } }),
    ]);
    for (const r of runs) {
      expect(r.finishedAt - r.startedAt).toBe(r.durationMs);
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
    }
    const finished = of("run-finished", "alpha");
    expect(runs.map((r: { finishedAt: number }) => r.finishedAt)).toEqual(finished.map((e) => e.at).reverse());

    expect((await get("/api/agents/alpha/runs?limit=1")).json().runs.map((r: { runId: number }) => r.runId)).toEqual([2]);
    expect((await get("/api/agents/off/runs")).json()).toEqual({ agentId: "off", runs: [] });
  });

  it("refuses a bad limit or an unknown agent", async () => {
    h = harness();
    for (const q of ["limit=0", "limit=abc", "limit=1001", "limit=1.5", "limit=", "limit=-3", "limit=1&limit=2"]) {
      const res = await get(`/api/agents/alpha/runs?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error, q).toMatch(/^query: limit: must be an integer from 1 to 1000 \(got .*\)$/);
    }
    const other = await get("/api/agents/alpha/runs?colour=red");
    expect(other.json()).toEqual({ error: "query: colour: unknown parameter (only ?limit=N)", statusCode: 400 });
    const missing = await get("/api/agents/nobody/runs");
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe('unknown agent "nobody"');
  });
});

describe("GET /api/agents/:id/upcoming", () => {
  it("is the next n run times (wall ms) under the agent's schedule, phase and jitter", async () => {
    const agents: AgentConfig[] = [...AGENTS, { id: "hourly", cron: "0 * * * *", timezone: "UTC", jitter: "5m", catchUp: "skip", catchUpWindow: "10m" }];
    h = harness(undefined, {}, agents);
    const alpha = (await get("/api/agents/alpha/upcoming")).json();
    expect(alpha.agentId).toBe("alpha");
    expect(alpha.upcoming).toHaveLength(5);
    const nextDue = h.gateway.health().agents.find((a) => a.id === "alpha")?.nextDueAt ?? 0;
    expect(Math.abs((alpha.upcoming[0] as number) - nextDue)).toBeLessThan(1_000);
    for (let i = 1; i < 5; i++) expect(alpha.upcoming[i] - alpha.upcoming[i - 1]).toBe(HOUR);

    const hourly = (await get("/api/agents/hourly/upcoming?n=3")).json().upcoming as number[];
    expect(hourly).toHaveLength(3);
    const offset = (hourly[0] as number) % HOUR;
    expect(offset).toBeLessThanOrEqual(5 * 60_000);
    expect(hourly.map((t) => t % HOUR)).toEqual([offset, offset, offset]);
    expect(hourly[0]).toBeGreaterThan(Date.now());
    // The library's catch-up and jitter fields are part of the schedule the API shows.
    expect((await get("/api/agents/hourly")).json().schedule).toMatchObject({ cron: "0 * * * *", timezone: "UTC", jitter: "5m", catchUp: "skip", catchUpWindow: "10m" });

    expect((await get("/api/agents/off/upcoming")).json()).toEqual({ agentId: "off", upcoming: [] });
  });

  it("refuses a bad n or an unknown agent", async () => {
    h = harness();
    for (const q of ["n=0", "n=x", "n=1001", "n=2e2"]) {
      const res = await get(`/api/agents/alpha/upcoming?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error, q).toMatch(/^query: n: must be an integer from 1 to 1000/);
    }
    expect((await get("/api/agents/alpha/upcoming?limit=3")).json().error).toBe("query: limit: unknown parameter (only ?n=N)");
    const missing = await get("/api/agents/nobody/upcoming");
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe('unknown agent "nobody"');
  });
});

describe("GET /api/agents with ?runs=N&upcoming=N (the page's one request)", () => {
  it("adds every agent's last runs and next run times", async () => {
    h = harness();
    await post("/api/wake", { agentId: "beta" });
    await until(() => of("run-finished", "beta").length === 1);
    const body = (await get("/api/agents?runs=5&upcoming=2")).json();
    const byId = new Map(body.agents.map((a: { id: string }) => [a.id, a]));
    expect(byId.get("beta")).toMatchObject({ runs: [{ runId: 1, status: "ran" }], upcoming: [expect.any(Number), expect.any(Number)] });
    expect(byId.get("alpha")).toMatchObject({ runs: [], upcoming: [expect.any(Number), expect.any(Number)] });
    expect(byId.get("off")).toMatchObject({ runs: [], upcoming: [] });
    expect((await get("/api/agents")).json().agents[0].runs).toBeUndefined();
    for (const q of ["runs=101", "upcoming=21", "runs=x"]) expect((await get(`/api/agents?${q}`)).statusCode, q).toBe(400);
  });
});

describe("POST /api/wake with force", () => {
  it("a paused agent skips an unforced manual wake (the receipt says so); force: true runs it; only manual wakes can be forced", async () => {
    h = harness();
    expect((await post("/api/agents/alpha/pause", { reason: "deploy" })).statusCode).toBe(200);

    const plain = await post("/api/wake", { agentId: "alpha" });
    expect(plain.statusCode).toBe(202);
    expect(plain.json()).toEqual({ accepted: true, targets: ["alpha"], paused: ["alpha"] });
    await until(() => of("wake-skipped", "alpha").length === 1);
    expect(of("wake-skipped", "alpha")[0]).toMatchObject({ reason: "paused", reasons: ["manual"] });
    expect(of("run-started", "alpha")).toEqual([]);

    const forced = await post("/api/wake", { agentId: "alpha", force: true });
    expect(forced.statusCode).toBe(202);
    expect(forced.json()).toEqual({ accepted: true, targets: ["alpha"] });
    await until(() => of("run-finished", "alpha").length === 1);
    expect(of("run-started", "alpha")).toMatchObject([{ reasons: ["manual"] }]);
    // Still paused after the forced run.
    expect((await get("/api/agents/alpha")).json().paused).toMatchObject({ reason: "deploy" });

    // `all` lists which of its targets are paused.
    expect((await post("/api/wake", { all: true, reason: "hook:wake" })).json()).toEqual({ accepted: true, targets: ["alpha", "beta"], paused: ["alpha"] });

    const cases: [unknown, string][] = [
      [{ agentId: "alpha", reason: "wake", force: true }, 'force: only a manual wake can be forced (reason is "wake")'],
      [{ agentId: "alpha", force: "yes" }, "force: expected boolean"],
    ];
    const before = h.events.length;
    for (const [payload, error] of cases) {
      const res = await post("/api/wake", payload);
      expect(res.statusCode, error).toBe(400);
      expect(res.json().error).toBe(error);
    }
    await settle();
    expect(h.events.slice(before).filter((e) => e.agentId === "alpha")).toEqual([]);
  });
});
