import { describe, expect, it } from "vitest";
import { errorMessage, outcomeOfResult, type RunOutcome } from "../../src/policy/outcome.ts";

describe("outcomeOfResult", () => {
  it.each<[string, unknown, RunOutcome]>([
    ["ran without usage", { status: "ran" }, { status: "ran", usage: undefined }],
    ["ran with usage", { status: "ran", usage: { inputTokens: 10, outputTokens: 5 } }, { status: "ran", usage: { inputTokens: 10, outputTokens: 5 } }],
    ["ran with zero usage (zero work, not unknown)", { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } }, { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } }],
    ["extra usage fields are dropped", { status: "ran", usage: { inputTokens: 1, outputTokens: 2, cached: 9 } }, { status: "ran", usage: { inputTokens: 1, outputTokens: 2 } }],
    ["usage: null → unknown", { status: "ran", usage: null }, { status: "ran", usage: undefined }],
    ["usage: a number → unknown", { status: "ran", usage: 42 }, { status: "ran", usage: undefined }],
    ["usage missing outputTokens → unknown", { status: "ran", usage: { inputTokens: 3 } }, { status: "ran", usage: undefined }],
    ["usage tokens as strings → unknown", { status: "ran", usage: { inputTokens: "1", outputTokens: "2" } }, { status: "ran", usage: undefined }],
    ["usage NaN → unknown", { status: "ran", usage: { inputTokens: Number.NaN, outputTokens: 0 } }, { status: "ran", usage: undefined }],
    ["usage Infinity → unknown", { status: "ran", usage: { inputTokens: 0, outputTokens: Number.POSITIVE_INFINITY } }, { status: "ran", usage: undefined }],
    ["skipped with a reason", { status: "skipped", reason: "requests-in-flight" }, { status: "skipped", reason: "requests-in-flight" }],
    ["skipped with an empty reason", { status: "skipped", reason: "" }, { status: "skipped", reason: "host-skipped" }],
    ["skipped without a reason", { status: "skipped" }, { status: "skipped", reason: "host-skipped" }],
    ["skipped with a non-string reason", { status: "skipped", reason: 7 }, { status: "skipped", reason: "host-skipped" }],
    ["unknown status", { status: "done" }, { status: "failed", error: 'runHeartbeat resolved to an unreadable result: {"status":"done"}' }],
    ["status in another case", { status: "RAN" }, { status: "failed", error: 'runHeartbeat resolved to an unreadable result: {"status":"RAN"}' }],
    ["undefined", undefined, { status: "failed", error: "runHeartbeat resolved to an unreadable result: undefined" }],
    ["null", null, { status: "failed", error: "runHeartbeat resolved to an unreadable result: null" }],
    ["a bare string", "ran", { status: "failed", error: 'runHeartbeat resolved to an unreadable result: "ran"' }],
    ["an empty object", {}, { status: "failed", error: "runHeartbeat resolved to an unreadable result: {}" }],
  ])("%s", (_name, result, expected) => {
    expect(outcomeOfResult(result)).toEqual(expected);
  });

  it("an unserialisable result is still a failure with a message", () => {
    const circular: Record<string, unknown> = { status: "weird" };
    circular["self"] = circular;
    expect(outcomeOfResult(circular)).toEqual({
      status: "failed",
      error: "runHeartbeat resolved to an unreadable result: [object Object]",
    });
    expect(outcomeOfResult(10n)).toEqual({ status: "failed", error: "runHeartbeat resolved to an unreadable result: 10" });
  });
});

describe("errorMessage", () => {
  class NamedError extends Error {
    override name = "NamedError";
  }
  it.each<[string, unknown, string]>([
    ["an Error", new Error("boom"), "boom"],
    ["an Error without a message → its name", new NamedError(""), "NamedError"],
    ["a TypeError", new TypeError("bad type"), "bad type"],
    ["a string", "plain failure", "plain failure"],
    ["an object", { code: 7 }, '{"code":7}'],
    ["undefined", undefined, "undefined"],
    ["null", null, "null"],
  ])("%s", (_name, err, expected) => {
    expect(errorMessage(err)).toBe(expected);
  });
});
