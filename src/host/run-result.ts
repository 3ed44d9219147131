import type { HostResult } from "../index.ts";

/**
 * What an agent's command printed (or its webhook answered) as a heartbeat result.
 * The last line of output that is a JSON object counts:
 *   {"status":"ran","usage":{"inputTokens":120,"outputTokens":30}}
 *   {"status":"skipped","reason":"nothing to do"}
 *   {"usage":{...}}            (status defaults to "ran")
 * No JSON line at all means `ran` with unknown usage.
 */
export function resultFromOutput(output: string): HostResult {
  const lines = output.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? "").trim();
    if (!line.startsWith("{")) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    return resultFromJson(value);
  }
  return { status: "ran" };
}

/** A parsed JSON result; anything unreadable throws (the run is recorded `failed` with the message). */
export function resultFromJson(value: unknown): HostResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`result must be a JSON object, got ${JSON.stringify(value)}`);
  }
  const v = value as { status?: unknown; reason?: unknown; usage?: unknown };
  const status = v.status ?? "ran";
  if (status === "skipped") {
    const reason = typeof v.reason === "string" && v.reason.trim() !== "" ? v.reason : "host-skipped";
    return { status: "skipped", reason };
  }
  if (status !== "ran") throw new Error(`result status must be "ran" or "skipped", got ${JSON.stringify(status)}`);
  if (v.usage === undefined) return { status: "ran" };
  const u = v.usage as { inputTokens?: unknown; outputTokens?: unknown } | null;
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0;
  if (typeof u !== "object" || u === null || !ok(u.inputTokens) || !ok(u.outputTokens)) {
    throw new Error(`result usage must be {"inputTokens": n, "outputTokens": n}, got ${JSON.stringify(v.usage)}`);
  }
  return { status: "ran", usage: { inputTokens: u.inputTokens, outputTokens: u.outputTokens } };
}

/** The last `max` characters of a text, for error messages. */
export function tail(text: string, max = 400): string {
  const t = text.trim();
  return t.length <= max ? t : `…${t.slice(t.length - max)}`;
}
