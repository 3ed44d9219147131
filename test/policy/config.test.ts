import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import { cronPattern } from "../../src/policy/cron.ts";
import { type AgentConfig, DEFAULT_POLICY, resolveAgents, resolvePolicy } from "../../src/policy/config.ts";
import type { ResolvedAgent } from "../../src/policy/types.ts";

function only(agent: unknown): ResolvedAgent {
  const [resolved] = resolveAgents([agent]);
  if (resolved === undefined) throw new Error("no agent");
  return resolved;
}

describe("resolveAgents", () => {
  it("applies the defaults", () => {
    expect(resolveAgents([{ id: "a" }])).toEqual([
      {
        id: "a",
        sessionKey: undefined,
        enabled: true,
        schedule: { kind: "interval", everyMs: 1_800_000 },
        activeHours: undefined,
        runTimeoutMs: 600_000,
        catchUp: "once",
        catchUpWindowMs: undefined,
        jitterMs: 0,
      },
    ]);
  });

  it("resolves catch-up and jitter: a stable offset within the bound, from the id", () => {
    const [a, b] = resolveAgents([
      { id: "fleet-1", cron: "0 * * * *", jitter: "5m", catchUp: "skip", catchUpWindow: "10m" },
      { id: "fleet-1b", cron: "0 * * * *", jitter: "5m" },
    ]);
    expect(a).toMatchObject({ catchUp: "skip", catchUpWindowMs: 600_000 });
    expect(a!.jitterMs).toBeGreaterThanOrEqual(0);
    expect(a!.jitterMs).toBeLessThanOrEqual(300_000);
    expect(resolveAgents([{ id: "fleet-1", cron: "0 * * * *", jitter: "5m" }])[0]!.jitterMs).toBe(a!.jitterMs);
    expect(b!.jitterMs).not.toBe(a!.jitterMs);
    expect(() => resolveAgents([{ id: "x", every: "1m", jitter: "1m" }])).toThrow("agents[0].jitter: 1m must be less than every (1m)");
    expect(() => resolveAgents([{ id: "x", catchUp: "always" }])).toThrow(/agents\[0\]\.catchUp/);
  });

  it("accepts an empty list", () => {
    expect(resolveAgents([])).toEqual([]);
  });

  it.each<[Partial<AgentConfig>, Pick<ResolvedAgent, "enabled" | "schedule">]>([
    [{ every: "90s" }, { enabled: true, schedule: { kind: "interval", everyMs: 90_000 } }],
    [{ every: 5_000 }, { enabled: true, schedule: { kind: "interval", everyMs: 5_000 } }],
    [{ every: "1s" }, { enabled: true, schedule: { kind: "interval", everyMs: 1_000 } }],
    [{ every: "30" }, { enabled: true, schedule: { kind: "interval", everyMs: 1_800_000 } }],
    [{ every: "0m" }, { enabled: false, schedule: { kind: "off" } }],
    [{ every: 0 }, { enabled: false, schedule: { kind: "off" } }],
    [{ every: "30m", enabled: false }, { enabled: false, schedule: { kind: "interval", everyMs: 1_800_000 } }],
    [{ enabled: true }, { enabled: true, schedule: { kind: "interval", everyMs: 1_800_000 } }],
  ])("%j → schedule", (extra, expected) => {
    const agent = only({ id: "a", ...extra });
    expect({ enabled: agent.enabled, schedule: agent.schedule }).toEqual(expected);
  });

  it("resolves a cron schedule in the agent's zone, sharing the parsed pattern", () => {
    const [a, b, c] = resolveAgents([
      { id: "a", cron: "0 9 * * 1-5", timezone: "Asia/Kolkata" },
      { id: "b", cron: " 0 9 * * 1-5 ", timezone: "Asia/Kolkata" },
      { id: "c", cron: "0 9 * * 1-5" },
    ]);
    expect(a?.schedule).toMatchObject({ kind: "cron", expression: "0 9 * * 1-5", timezone: "Asia/Kolkata" });
    expect(c?.schedule).toMatchObject({ kind: "cron", expression: "0 9 * * 1-5", timezone: undefined });
    if (a?.schedule.kind !== "cron" || b?.schedule.kind !== "cron" || c?.schedule.kind !== "cron") {
      throw new Error("expected cron schedules");
    }
    expect(b.schedule.pattern).toBe(a.schedule.pattern);
    expect(a.schedule.pattern).toBe(cronPattern("0 9 * * 1-5", "Asia/Kolkata", "x"));
    expect(c.schedule.pattern).not.toBe(a.schedule.pattern);
    expect(a.schedule.pattern.nextRun(new Date(Date.UTC(2026, 0, 16, 12)))?.getTime()).toBe(Date.UTC(2026, 0, 19, 3, 30));
  });

  it.each<[Partial<AgentConfig>, ResolvedAgent["activeHours"]]>([
    [{ activeHours: { start: "09:00", end: "17:00" } }, { startMinute: 540, endMinute: 1020, timezone: undefined }],
    [
      { timezone: "Europe/Berlin", activeHours: { start: "22:00", end: "06:00" } },
      { startMinute: 1320, endMinute: 360, timezone: "Europe/Berlin" },
    ],
    [
      { timezone: "Europe/Berlin", activeHours: { start: "00:00", end: "24:00", timezone: "Asia/Kolkata" } },
      { startMinute: 0, endMinute: 1440, timezone: "Asia/Kolkata" },
    ],
  ])("activeHours %j: the window's zone defaults to the agent's", (extra, expected) => {
    expect(only({ id: "a", ...extra }).activeHours).toEqual(expected);
  });

  it("keeps sessionKey and runTimeout", () => {
    const agent = only({ id: "a", sessionKey: "agent:a:main", runTimeout: "90s" });
    expect(agent.sessionKey).toBe("agent:a:main");
    expect(agent.runTimeoutMs).toBe(90_000);
    expect(only({ id: "a", runTimeout: 1_000 }).runTimeoutMs).toBe(1_000);
  });

  it.each<[unknown, string]>([
    [{}, "agents: expected an array of agents, got object"],
    [undefined, "agents: expected an array of agents, got undefined"],
    [[{}], "agents[0].id: required"],
    [["a"], "agents[0]: expected an object, got string"],
    [[null], "agents[0]: expected an object, got null"],
    [[{ id: 5 }], "agents[0].id: expected a string, got number"],
    [[{ id: "" }], "agents[0].id: must not be empty or whitespace"],
    [[{ id: "   " }], "agents[0].id: must not be empty or whitespace"],
    [[{ id: "a" }, { id: "b", evrey: "5m" }], "agents[1].evrey: unknown key"],
    [[{ id: "a", "every ": "5m" }], `agents[0]["every "]: unknown key`],
    [
      [{ id: "a" }, { id: "b" }, { id: "c", every: "banana" }],
      `agents[2].every: "banana" is not a duration (use e.g. "90s", "30m", "1.5h")`,
    ],
    [[{ id: "a", every: -5 }], "agents[0].every: -5 is negative; a duration must be >= 0"],
    [[{ id: "a", every: true }], "agents[0].every: expected a duration string or a number of milliseconds, got boolean"],
    [[{ id: "a", every: "500ms" }], `agents[0].every: 500ms is below the 1s minimum cadence (use "0m" to disable)`],
    [[{ id: "a", every: 999 }], `agents[0].every: 999ms is below the 1s minimum cadence (use "0m" to disable)`],
    [[{ id: "a" }, { id: "b" }, { id: "c" }, { id: "a" }], `agents[3].id: duplicate id "a"`],
    [[{ id: "a", every: "5m", cron: "0 9 * * *" }], "agents[0].cron: cannot be combined with every (give one schedule)"],
    [[{ id: "a", cron: 5 }], "agents[0].cron: expected a string, got number"],
    [[{ id: "a", cron: "61 * * * *" }], `agents[0].cron: "61 * * * *" is not a cron expression: CronPattern: Invalid value for minute: 61`],
    [[{ id: "a", timezone: "Mars/Olympus" }], `agents[0].timezone: unknown time zone "Mars/Olympus"`],
    [[{ id: "a", cron: "0 9 * * *", timezone: "Mars/Olympus" }], `agents[0].timezone: unknown time zone "Mars/Olympus"`],
    [[{ id: "a", enabled: "yes" }], "agents[0].enabled: expected a boolean, got string"],
    [[{ id: "a", sessionKey: "" }], "agents[0].sessionKey: must not be empty"],
    [[{ id: "a", runTimeout: "0" }], "agents[0].runTimeout: 0ms is below the 1s minimum"],
    [[{ id: "a", runTimeout: "30d" }], "agents[0].runTimeout: 30d is above the 24d20h31m23s647ms maximum"],
    [[{ id: "a", runTimeout: "soon" }], `agents[0].runTimeout: "soon" is not a duration (use e.g. "90s", "30m", "1.5h")`],
    [[{ id: "a", activeHours: { end: "17:00" } }], "agents[0].activeHours.start: required"],
    [
      [{ id: "a" }, { id: "b" }, { id: "c", activeHours: { start: "25:00", end: "17:00" } }],
      `agents[2].activeHours.start: "25:00" is not a time of day (use "HH:MM", 00:00 to 23:59)`,
    ],
    [
      [{ id: "a", activeHours: { start: "09:00", end: "24:01" } }],
      `agents[0].activeHours.end: "24:01" is past the end of the day (use "HH:MM", 00:00 to 24:00)`,
    ],
    [[{ id: "a", activeHours: { start: "09:00", end: "17:00", zone: "UTC" } }], "agents[0].activeHours.zone: unknown key"],
    [
      [{ id: "a", activeHours: { start: "09:00", end: "17:00", timezone: "Mars/Olympus" } }],
      `agents[0].activeHours.timezone: unknown time zone "Mars/Olympus"`,
    ],
    [[{ id: "a", activeHours: "9-5" }], "agents[0].activeHours: expected an object, got string"],
  ])("%j is rejected", (input, message) => {
    const attempt = () => resolveAgents(input);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as ConfigError).message).toBe(message);
    }
  });

  it("uses the given root field in every path", () => {
    expect(() => resolveAgents([{}], "config.agents")).toThrow("config.agents[0].id: required");
  });

  it("reports the first bad agent in list order", () => {
    expect(() => resolveAgents([{ id: "a", every: "x" }, { id: "b", bogus: 1 }])).toThrow(/^agents\[0\]\.every:/);
  });
});

describe("resolvePolicy", () => {
  it.each([undefined, {}])("%j → the defaults", (input) => {
    expect(resolvePolicy(input)).toEqual({
      minSpacingMs: 30_000,
      flood: { maxRuns: 5, windowMs: 60_000 },
      retry: { initialMs: 1_000, maxMs: 60_000 },
      coalesceMs: 250,
      pastDueCadences: 2,
      busyWedgedCadences: 2,
      zeroWorkStreak: 3,
      restart: { maxRestarts: 3, windowMs: 60_000 },
    });
  });

  it("the defaults cannot be mutated through a result", () => {
    const policy = resolvePolicy(undefined);
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.flood)).toBe(true);
    expect(DEFAULT_POLICY.flood.maxRuns).toBe(5);
  });

  it("overrides field by field", () => {
    expect(
      resolvePolicy({ minSpacingMs: 0, coalesceMs: 0, flood: { maxRuns: 10, windowMs: 1_000 }, retry: { initialMs: 5, maxMs: 5 } }),
    ).toEqual({
      ...DEFAULT_POLICY,
      minSpacingMs: 0,
      coalesceMs: 0,
      flood: { maxRuns: 10, windowMs: 1_000 },
      retry: { initialMs: 5, maxMs: 5 },
    });
  });

  it.each<[unknown, string]>([
    [null, "policy: expected an object, got null"],
    [[], "policy: expected an object, got array"],
    [{ floood: 1 }, "policy.floood: unknown key"],
    [{ minSpacingMs: -1 }, "policy.minSpacingMs: must be >= 0, got -1"],
    [{ minSpacingMs: "30s" }, "policy.minSpacingMs: expected a number, got string"],
    [{ minSpacingMs: Number.NaN }, "policy.minSpacingMs: expected a finite number, got NaN"],
    [{ coalesceMs: 1.5 }, "policy.coalesceMs: expected an integer, got 1.5"],
    [{ flood: { maxRuns: 0, windowMs: 1_000 } }, "policy.flood.maxRuns: must be >= 1, got 0"],
    [{ flood: { maxRuns: 5 } }, "policy.flood.windowMs: required"],
    [{ flood: { maxRuns: 5, windowMs: 1, extra: 1 } }, "policy.flood.extra: unknown key"],
    [{ retry: { initialMs: 0, maxMs: 0 } }, "policy.retry.initialMs: must be >= 1, got 0"],
    [{ retry: { initialMs: 5_000, maxMs: 1_000 } }, "policy.retry.initialMs: must be <= retry.maxMs (1000), got 5000"],
    [{ pastDueCadences: -2 }, "policy.pastDueCadences: must be >= 1, got -2"],
    [{ zeroWorkStreak: 0 }, "policy.zeroWorkStreak: must be >= 1, got 0"],
    [{ flood: { maxRuns: 5, windowMs: 0 } }, "policy.flood.windowMs: must be >= 1, got 0"],
    [{ busyWedgedCadences: 0.5 }, "policy.busyWedgedCadences: expected an integer, got 0.5"],
    [{ zeroWorkStreak: null }, "policy.zeroWorkStreak: expected a number, got null"],
    [{ restart: { maxRestarts: -1, windowMs: 60_000 } }, "policy.restart.maxRestarts: must be >= 0, got -1"],
  ])("%j is rejected", (input, message) => {
    let caught: unknown;
    try {
      resolvePolicy(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(message);
  });

  it("uses the given root field", () => {
    expect(() => resolvePolicy({ coalesceMs: -1 }, "options.policy")).toThrow("options.policy.coalesceMs: must be >= 0, got -1");
  });
});
