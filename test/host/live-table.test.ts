import { describe, expect, it } from "vitest";
import type { AgentHealth } from "../../src/index.ts";
import { describeEvent, relative, renderTable } from "../../src/host/live-table.ts";

const agent = (over: Partial<AgentHealth>): AgentHealth => ({
  id: "a",
  state: "idle",
  enabled: true,
  failed: false,
  runCount: 0,
  skipCount: 0,
  consecutiveZeroWork: 0,
  pendingReasons: [],
  ...over,
});

describe("live table", () => {
  const now = 1_000_000;
  it("has a row per agent: state, next due, last status, counters and open alerts", () => {
    const lines = renderTable({
      agents: [
        agent({ id: "scout", nextDueAt: now + 4_200, lastStatus: "ran", lastRunAt: now - 3_000, runCount: 7, skipCount: 1 }),
        agent({ id: "flaky", state: "running", lastStatus: "timed-out", lastRunAt: now - 65_000, runCount: 2 }),
        agent({ id: "off", state: "stopped", enabled: false }),
      ],
      alerts: [{ kind: "run-timed-out", agentId: "flaky", since: now - 1000, message: "m" }],
      now,
      width: 200,
      color: false,
    });
    expect(lines[0]).toMatch(/^AGENT\s+STATE\s+NEXT DUE\s+LAST\s+RUNS\s+SKIPS\s+ALERTS$/);
    expect(lines[1]).toMatch(/^scout\s+idle\s+in 4s\s+ran 3s ago\s+7\s+1\s+-$/);
    expect(lines[2]).toMatch(/^flaky\s+running\s+-\s+timed-out 65s ago\s+2\s+0\s+run-timed-out$/);
    expect(lines[3]).toMatch(/^off\s+disabled\s+-\s+-\s+0\s+0\s+-$/);
  });

  it("marks a paused agent in its state column and describes pause and resume", () => {
    const lines = renderTable({
      agents: [agent({ id: "p", nextDueAt: now - 200, paused: { reason: "incident", since: now - 5_000 } })],
      alerts: [],
      now,
      width: 200,
      color: false,
    });
    expect(lines[1]).toMatch(/^p\s+idle \(paused\)\s+-\s+-\s+0\s+0\s+-$/); // no next due while paused
    expect(describeEvent({ type: "agent-paused", agentId: "p", at: now, reason: "incident" })).toBe("p: paused (incident)");
    expect(describeEvent({ type: "agent-resumed", agentId: "p", at: now })).toBe("p: resumed");
  });

  it("never draws a line wider than the terminal", () => {
    const lines = renderTable({ agents: [agent({ id: "x".repeat(80) })], alerts: [], now, width: 50, color: false });
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(50);
  });

  it("describes events and times for people", () => {
    expect(relative(now + 89 * 60_000, now)).toBe("in 89m");
    expect(relative(now + 3 * 3_600_000, now)).toBe("in 3.0h");
    expect(relative(now - 500, now)).toBe("now");
    expect(describeEvent({ type: "wake-deferred", agentId: "w", at: now, reason: "session-lane-busy", retryAt: now + 1000, reasons: ["interval"] })).toBe(
      "w: deferred (session-lane-busy) [interval]",
    );
  });
});
