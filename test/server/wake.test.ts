import { afterEach, describe, expect, it } from "vitest";
import { auth, harness, TOKEN, until, type Harness } from "./support.ts";

let h: Harness;
afterEach(async () => h?.close());

const wake = (payload: unknown, headers: Record<string, string> = auth()) =>
  h.app.inject({ method: "POST", url: "/api/wake", headers, payload: payload as Record<string, unknown> });

describe("POST /api/wake", () => {
  it("wakes one agent (202 with the receipt) and the run follows", async () => {
    h = harness();
    const res = await wake({ agentId: "alpha" });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: true, targets: ["alpha"] });
    await until(() => h.events.some((e) => e.type === "run-started" && e.agentId === "alpha"));
    expect(h.events.find((e) => e.type === "run-started")).toMatchObject({ reasons: ["manual"] });
  });

  it("wakes every enabled agent with all: true, or a session's with sessionKey", async () => {
    h = harness();
    expect((await wake({ all: true, reason: "hook:wake" })).json()).toEqual({ accepted: true, targets: ["alpha", "beta"] });
    expect((await wake({ sessionKey: "s1" })).json()).toEqual({ accepted: true, targets: ["beta"] });
  });

  it("refuses without a token, with a wrong one, and with another scheme (401), changing nothing", async () => {
    h = harness();
    const cases: [Record<string, string>, string][] = [
      [{}, "missing bearer token (Authorization: Bearer <token>)"],
      [auth("wrong"), "wrong token"],
      [auth(`${TOKEN}x`), "wrong token"],
      [{ authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString("base64")}` }, "missing bearer token (Authorization: Bearer <token>)"],
    ];
    for (const [headers, error] of cases) {
      const res = await wake({ agentId: "alpha" }, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error, statusCode: 401 });
    }
    // Unauthorized requests are refused before their body is even looked at.
    const junk = await h.app.inject({ method: "POST", url: "/api/wake", headers: { "content-type": "application/json" }, payload: "{nope" });
    expect(junk.statusCode).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.events).toEqual([]);
  });

  it("refuses every mutation (403) when no token is configured", async () => {
    h = harness({});
    for (const headers of [{}, auth(), auth("")]) {
      const res = await wake({ agentId: "alpha" }, headers);
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe("mutations are disabled: no token is configured (set `token` in the config file or HEARTBEAT_TOKEN)");
    }
  });

  it("reads the token at request time (a reload may change it)", async () => {
    let token: string | undefined = "one";
    h = harness({ token: () => token });
    expect((await wake({ agentId: "alpha" }, auth("one"))).statusCode).toBe(202);
    token = "two";
    expect((await wake({ agentId: "alpha" }, auth("one"))).statusCode).toBe(401);
    expect((await wake({ agentId: "alpha" }, auth("two"))).statusCode).toBe(202);
  });

  it("answers a bad request with a 4xx and a clear message, and changes nothing", async () => {
    h = harness();
    const raw = (payload: string, type = "application/json") =>
      h.app.inject({ method: "POST", url: "/api/wake", headers: { ...auth(), "content-type": type }, payload });
    const cases: [Promise<{ statusCode: number; json(): { error: string } }>, number, string | RegExp][] = [
      [raw("{nope"), 400, /^request body is not valid JSON: /],
      [raw(""), 400, "request body is empty: send a JSON object"],
      [raw(JSON.stringify({ agentId: "alpha", pad: "x".repeat(20_000) })), 413, "request body is too large (limit 16384 bytes)"],
      [raw("agentId=alpha", "application/x-www-form-urlencoded"), 415, "unsupported content type: send application/json"],
      [raw("[]"), 400, 'body: expected a JSON object like {"agentId": "..."} or {"all": true}'],
      [raw("null"), 400, 'body: expected a JSON object like {"agentId": "..."} or {"all": true}'],
      [wake({ agentId: "alpha", colour: "red" }), 400, "colour: unknown field"],
      [wake({ agentId: 7 }), 400, "agentId: expected string"],
      [wake({ agentId: "" }), 400, "agentId: must be a non-empty string"],
      [wake({ agentId: "alpha", reason: " " }), 400, "reason: must be a non-empty string"],
      [wake({ agentId: "alpha", reason: "r".repeat(300) }), 400, "reason: must be at most 256 characters"],
      [wake({ all: false }), 400, "all: must be true when given"],
      [wake({}), 400, "body: name a target: agentId, sessionKey, or all: true"],
      [wake({ all: true, agentId: "alpha" }), 400, "all: cannot be combined with agentId or sessionKey"],
      [wake({ agentId: "alpha", reason: "interval" }), 400, 'reason: "interval" is reserved for the agent\'s own schedule'],
      [wake({ agentId: "nobody" }), 404, 'agentId: unknown agent "nobody"'],
      [wake({ sessionKey: "s9" }), 404, 'sessionKey: no enabled agent in session "s9"'],
      [wake({ agentId: "off" }), 409, 'agentId: agent "off" is disabled'],
    ];
    for (const [pending, status, error] of cases) {
      const res = await pending;
      expect(res.statusCode, String(error)).toBe(status);
      if (typeof error === "string") expect(res.json().error).toBe(error);
      else expect(res.json().error).toMatch(error);
    }
    await new Promise((r) => setTimeout(r, 50));
    // Nothing ran; the only trace is the disabled agent's recorded skip.
    expect(h.events.filter((e) => e.type !== "wake-skipped")).toEqual([]);
    expect(h.gateway.health().agents.every((a) => a.runCount === 0 && a.pendingReasons.length === 0)).toBe(true);
  });

  it("answers other methods on the route with 404", async () => {
    h = harness();
    expect((await h.app.inject({ method: "GET", url: "/api/wake" })).statusCode).toBe(404);
  });
});
