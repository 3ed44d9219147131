import { describe, expect, it } from "vitest";
import { formatAgentStatus, type AgentStatusData } from "../../src/host/client.ts";

const now = new Date(2026, 2, 5, 12, 0, 0).getTime(); // local time: the output is local
const agent = (over: Partial<AgentStatusData["agent"]> = {}): AgentStatusData["agent"] => ({
  id: "digest",
  state: "idle",
  enabled: true,
  failed: false,
  runCount: 7,
  skipCount: 2,
  consecutiveZeroWork: 0,
  pendingReasons: [],
  nextDueAt: now + 4 * 60_000,
  lastStatus: "ran",
  lastRunAt: now - 26 * 60_000,
  schedule: { cron: "*/30 * * * *", timezone: "UTC", runTimeout: "10m", jitter: "2m", catchUp: "skip" },
  alerts: [],
  ...over,
});

describe("status <id> output", () => {
  it("shows state, schedule, next due, the upcoming runs and the last runs with durations and status", () => {
    const text = formatAgentStatus(
      {
        agent: agent(),
        upcoming: [now + 4 * 60_000, now + 34 * 60_000],
        runs: [
          { agentId: "digest", runId: 7, startedAt: now - 26 * 60_000, finishedAt: now - 26 * 60_000 + 1_234, durationMs: 1_234, status: "ran", reasons: ["interval"], usage: { inputTokens: 40, outputTokens: 8 }, reason: null, error: null },
          { agentId: "digest", runId: 6, startedAt: now - 56 * 60_000, finishedAt: now - 46 * 60_000, durationMs: 600_000, status: "timed-out", reasons: ["manual", "exec-event"], usage: null, reason: null, error: "run timed out after 10m" },
          { agentId: "digest", runId: 5, startedAt: now - 86 * 60_000, finishedAt: now - 86 * 60_000 + 80, durationMs: 80, status: "skipped", reasons: ["interval"], usage: null, reason: "nothing new", error: null },
        ],
      },
      now,
    );
    expect(text.split("\n")).toEqual([
      "agent:     digest",
      "state:     idle",
      "schedule:  cron */30 * * * * · in UTC · timeout 10m · catch-up skip · jitter 2m",
      "next due:  2026-03-05 12:04:00 (in 4m)",
      "counts:    7 runs · 2 skips · last ran 26m ago",
      "alerts:    none",
      "",
      "upcoming runs (next 2):",
      "  2026-03-05 12:04:00  in 4m",
      "  2026-03-05 12:34:00  in 34m",
      "",
      "last runs (3, newest first):",
      "  #7  2026-03-05 11:34:00  ran         1.2 s  interval           48 tokens",
      "  #6  2026-03-05 11:04:00  timed-out  10m00s  manual,exec-event  run timed out after 10m",
      "  #5  2026-03-05 10:34:00  skipped     80 ms  interval           nothing new",
    ]);
  });

  it("says when the agent is paused (no next due, no upcoming runs) and when it has not run yet", () => {
    const text = formatAgentStatus({ agent: agent({ paused: { reason: "incident 42", since: now - 3 * 60_000 }, runCount: 0 }), upcoming: [], runs: [] }, now);
    expect(text).toContain("paused:    since 2026-03-05 11:57:00 (3m ago): incident 42");
    expect(text).toContain("next due:  - (paused)");
    expect(text).toContain("upcoming runs (next 0):\n  none while paused (resume to re-arm)");
    expect(text).toContain("last runs (0, newest first):\n  none yet");
  });
});
