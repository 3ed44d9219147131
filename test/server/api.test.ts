import { afterEach, describe, expect, it } from "vitest";
import { AGENTS, auth, harness, until, type Harness } from "./support.ts";

let h: Harness;
afterEach(async () => h?.close());

describe("GET /healthz", () => {
  it("answers 200 while no alert is open and 503 with the alerts while one is", async () => {
    h = harness();
    const ok = await h.app.inject("/healthz");
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true, status: "ok", agents: 3, alerts: [] });

    h.results.set("alpha", { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } }); // zeroWorkStreak: 1
    expect((await h.app.inject({ method: "POST", url: "/api/wake", headers: auth(), payload: { agentId: "alpha" } })).statusCode).toBe(202);
    await until(() => h.events.some((e) => e.type === "alert" && e.state === "open"));
    const bad = await h.app.inject("/healthz");
    expect(bad.statusCode).toBe(503);
    expect(bad.json()).toMatchObject({ ok: false, status: "alerting", alerts: [{ kind: "zero-work-streak", agentId: "alpha" }] });
  });
});

describe("GET /api/agents", () => {
  it("lists every configured agent with its state, schedule and counters (disabled ones too)", async () => {
    h = harness();
    const res = await h.app.inject("/api/agents");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ok).toBe(true);
    expect(body.agents.map((a: { id: string }) => a.id)).toEqual(AGENTS.map((a) => a.id));
    const [alpha, beta, off] = body.agents;
    expect(alpha).toMatchObject({ id: "alpha", state: "idle", enabled: true, runCount: 0, schedule: { every: "1h", runTimeout: "10m" }, alerts: [] });
    expect(alpha.schedule.nextDueAt).toBeGreaterThan(Date.now());
    expect(beta.schedule).toMatchObject({ every: "1h", sessionKey: "s1" });
    expect(off).toMatchObject({ id: "off", enabled: false, state: "stopped" });
    expect(alpha.recent).toBeUndefined();
  });

  it("adds recent events with ?recent=N and refuses a bad query with 400", async () => {
    h = harness();
    await h.app.inject({ method: "POST", url: "/api/wake", headers: auth(), payload: { agentId: "alpha" } });
    await until(() => h.events.some((e) => e.type === "run-finished"));
    const res = await h.app.inject("/api/agents?recent=5");
    const alpha = res.json().agents[0];
    expect(alpha.recent.map((e: { type: string }) => e.type)).toEqual(["run-started", "run-finished"]);
    expect(alpha.recent[0].seq).toBeLessThan(alpha.recent[1].seq);
    for (const q of ["recent=abc", "recent=-1", "recent=1000", "colour=red"]) {
      const bad = await h.app.inject(`/api/agents?${q}`);
      expect(bad.statusCode, q).toBe(400);
      expect(bad.json().error, q).toMatch(/^query: /);
    }
  });
});

describe("GET /api/agents/:id", () => {
  it("shows one agent's state, schedule and recent events; 404 for an unknown one", async () => {
    h = harness();
    await h.app.inject({ method: "POST", url: "/api/wake", headers: auth(), payload: { agentId: "beta", reason: "hook:wake" } });
    await until(() => h.events.some((e) => e.type === "run-finished" && e.agentId === "beta"));
    const res = await h.app.inject("/api/agents/beta");
    expect(res.statusCode).toBe(200);
    const beta = res.json();
    expect(beta).toMatchObject({ id: "beta", state: "idle", runCount: 1, lastStatus: "ran", schedule: { every: "1h", sessionKey: "s1" } });
    expect(beta.recent).toEqual([
      expect.objectContaining({ type: "run-started", reasons: ["hook:wake"] }),
      expect.objectContaining({ type: "run-finished", status: "ran", usage: { inputTokens: 10, outputTokens: 2 } }),
    ]);
    const missing = await h.app.inject("/api/agents/nobody");
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'unknown agent "nobody"' });
    expect((await h.app.inject(`/api/agents/${"x".repeat(280)}`)).statusCode).toBe(400);
  });
});

describe("GET /api/statechart", () => {
  it("is the heartbeat machine from its definition, laid out, with an SVG", async () => {
    h = harness();
    const chart = (await h.app.inject("/api/statechart")).json();
    expect(chart.initial).toBe("idle");
    expect(chart.states.map((s: { id: string }) => s.id).sort()).toEqual(["deferred", "due", "idle", "running", "stopped"]);
    expect(chart.edges).toContainEqual(expect.objectContaining({ from: "running", to: "idle", labels: expect.arrayContaining(["after runTimeout"]) }));
    expect(chart.svg).toMatch(/^<svg [^>]*viewBox=/);
    expect(chart.svg).toContain('data-state="running"');
  });
});

describe("the page", () => {
  it("serves the page with a same-origin-only CSP, and its assets from disk", async () => {
    h = harness();
    const page = await h.app.inject("/");
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(page.headers["content-security-policy"]).toContain("connect-src 'self'");
    expect(page.body).toContain('<script type="module" src="/assets/app.js">');
    expect(page.body).not.toMatch(/https?:\/\//);
    for (const [asset, type] of [["app.js", "text/javascript"], ["app.css", "text/css"], ["favicon.svg", "image/svg+xml"]] as const) {
      const res = await h.app.inject(`/assets/${asset}`);
      expect(res.statusCode, asset).toBe(200);
      expect(res.headers["content-type"]).toContain(type);
    }
    const js = (await h.app.inject("/assets/app.js")).body;
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/); // nothing fetched from outside
    expect((await h.app.inject("/assets/..%2Fapp.ts")).statusCode).toBe(404);
    expect((await h.app.inject("/assets/index.html")).statusCode).toBe(404);
    const none = await h.app.inject("/nope");
    expect(none.statusCode).toBe(404);
    expect(none.json()).toEqual({ error: "no route GET /nope", statusCode: 404 });
  });
});
