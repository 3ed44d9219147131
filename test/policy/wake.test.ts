import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  classifyWake,
  intentOf,
  isHostWake,
  wakeFromReason,
  type WakeIntent,
  type WakeSource,
} from "../../src/policy/wake.ts";

describe("classifyWake / intentOf", () => {
  it.each<[string, WakeSource, WakeIntent]>([
    // scheduled: produced by the agent's own timer
    ["interval", { kind: "interval" }, "scheduled"],
    ["cron-slot", { kind: "cron-slot" }, "scheduled"],
    // immediate allowlist
    ["manual", { kind: "manual" }, "immediate"],
    ["wake", { kind: "wake" }, "immediate"],
    ["hook:wake", { kind: "hook-wake" }, "immediate"],
    ["background-task", { kind: "background-task" }, "immediate"],
    ["background-task-blocked", { kind: "background-task-blocked" }, "immediate"],
    ["cron:daily-report", { kind: "cron-job", job: "daily-report" }, "immediate"],
    ["cron:a:b", { kind: "cron-job", job: "a:b" }, "immediate"],
    ["cron:x", { kind: "cron-job", job: "x" }, "immediate"],
    // event
    ["exec-event", { kind: "exec-event" }, "event"],
    ["acp:spawn:worker-7", { kind: "acp-spawn", detail: "worker-7" }, "event"],
    ["acp:spawn:", { kind: "acp-spawn", detail: "" }, "event"],
    // unknown strings are events (seed 002: nothing unknown bypasses the cooldown)
    ["cron:", { kind: "unknown", raw: "cron:" }, "event"],
    ["cron", { kind: "unknown", raw: "cron" }, "event"],
    ["acp:spawn", { kind: "unknown", raw: "acp:spawn" }, "event"],
    ["hook-wake", { kind: "unknown", raw: "hook-wake" }, "event"],
    ["hook:wake:extra", { kind: "unknown", raw: "hook:wake:extra" }, "event"],
    ["Manual", { kind: "unknown", raw: "Manual" }, "event"],
    [" manual", { kind: "unknown", raw: " manual" }, "event"],
    ["INTERVAL", { kind: "unknown", raw: "INTERVAL" }, "event"],
    ["interval ", { kind: "unknown", raw: "interval " }, "event"],
    ["", { kind: "unknown", raw: "" }, "event"],
    ["heartbeat", { kind: "unknown", raw: "heartbeat" }, "event"],
    ["background-task-done", { kind: "unknown", raw: "background-task-done" }, "event"],
  ])("%j → %j (%s)", (reason, source, intent) => {
    expect(classifyWake(reason)).toEqual(source);
    expect(intentOf(classifyWake(reason))).toBe(intent);
  });
});

describe("isHostWake", () => {
  it.each<[string, boolean]>([
    ["interval", false],
    ["cron-slot", false],
    ["manual", true],
    ["hook:wake", true],
    ["cron:job", true],
    ["exec-event", true],
    ["acp:spawn:x", true],
    ["whatever", true],
  ])("%j → %s", (reason, expected) => {
    expect(isHostWake(classifyWake(reason))).toBe(expected);
  });
});

describe("wakeFromReason", () => {
  it.each<[string, WakeSource]>([
    ["hook:wake", { kind: "hook-wake" }],
    ["cron:nightly", { kind: "cron-job", job: "nightly" }],
    ["exec-event", { kind: "exec-event" }],
  ])("%j keeps the raw reason next to its source", (reason, source) => {
    expect(wakeFromReason(reason)).toEqual({ source, reason });
  });
});

describe("classification properties", () => {
  const allowlisted = new Set([
    "interval",
    "cron-slot",
    "manual",
    "wake",
    "hook:wake",
    "background-task",
    "background-task-blocked",
    "exec-event",
  ]);

  it("any string outside the allowlist and the cron:/acp:spawn: prefixes is an event", () => {
    fc.assert(
      fc.property(fc.string(), (reason) => {
        fc.pre(!allowlisted.has(reason) && !reason.startsWith("cron:") && !reason.startsWith("acp:spawn:"));
        expect(classifyWake(reason)).toEqual({ kind: "unknown", raw: reason });
        expect(intentOf(classifyWake(reason))).toBe("event");
      }),
      { numRuns: 500 },
    );
  });

  it("cron:<non-empty job> is always immediate and keeps the job name", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (job) => {
        const source = classifyWake(`cron:${job}`);
        expect(source).toEqual({ kind: "cron-job", job });
        expect(intentOf(source)).toBe("immediate");
      }),
      { numRuns: 300 },
    );
  });

  it("only interval and cron-slot are scheduled", () => {
    fc.assert(
      fc.property(fc.string(), (reason) => {
        const scheduled = intentOf(classifyWake(reason)) === "scheduled";
        expect(scheduled).toBe(reason === "interval" || reason === "cron-slot");
      }),
      { numRuns: 500 },
    );
  });
});
