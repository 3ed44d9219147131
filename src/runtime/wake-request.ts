import { z } from "zod";
import { classifyWake, intentOf } from "../policy/wake.ts";

export interface WakeRequest {
  readonly reason: string;
  readonly agentId?: string;
  readonly sessionKey?: string;
  /** Coalescing window for this wake; default the policy's coalesceMs (250 ms); 0 delivers at once. */
  readonly coalesceMs?: number;
  /** A manual wake that gets through a pause. */
  readonly force?: boolean;
}

export interface WakeReceipt {
  readonly accepted: boolean;
  readonly targets: string[];
  readonly error?: string;
}

const wakeRequestSchema = z
  .object({
    reason: z.string().trim().min(1, "must be a non-empty string").max(256, "must be at most 256 characters"),
    agentId: z.string().min(1, "must be a non-empty string").optional(),
    sessionKey: z.string().min(1, "must be a non-empty string").optional(),
    coalesceMs: z.number().finite().min(0, "must be >= 0").max(3_600_000, "must be <= 3600000").optional(),
    force: z.boolean().optional(),
  })
  .strict();

export type ParsedWake = { ok: true; value: z.infer<typeof wakeRequestSchema> } | { ok: false; error: string };

/** Validates a wake request; the error names the field and the problem. Never throws. */
export function parseWakeRequest(input: unknown): ParsedWake {
  const parsed = wakeRequestSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue) return { ok: false, error: "wake: invalid request" };
    if (issue.code === "unrecognized_keys") return { ok: false, error: `${issue.keys[0] ?? "?"}: unknown field` };
    const field = issue.path.length ? issue.path.join(".") : "wake";
    const problem = issue.code === "invalid_type" && issue.input === undefined ? "required" : issue.message;
    return { ok: false, error: `${field}: ${problem}` };
  }
  if (parsed.data.force && classifyWake(parsed.data.reason).kind !== "manual") {
    return { ok: false, error: `force: only a manual wake can be forced (reason is "${parsed.data.reason}")` };
  }
  if (intentOf(classifyWake(parsed.data.reason)) === "scheduled") {
    return { ok: false, error: `reason: "${parsed.data.reason}" is reserved for the agent's own schedule` };
  }
  return { ok: true, value: parsed.data };
}

export function rejected(error: string): WakeReceipt {
  return { accepted: false, targets: [], error };
}
