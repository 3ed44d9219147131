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

type WakeFields = z.infer<typeof wakeRequestSchema>;

/** What the checks after the shape need to know about a reason, cached per reason string. */
type ReasonKind = "manual" | "scheduled" | "other";
const reasonKinds = new Map<string, ReasonKind>();
const MAX_CACHED_REASONS = 4_096;

function reasonKind(reason: string): ReasonKind {
  let kind = reasonKinds.get(reason);
  if (kind !== undefined) return kind;
  const source = classifyWake(reason);
  kind = source.kind === "manual" ? "manual" : intentOf(source) === "scheduled" ? "scheduled" : "other";
  // Hosts may put ids in reasons ("acp:spawn:<id>"): a bounded cache, never a leak.
  if (reasonKinds.size >= MAX_CACHED_REASONS) reasonKinds.clear();
  reasonKinds.set(reason, kind);
  return kind;
}

const isNonEmptyString = (v: unknown): boolean => typeof v === "string" && v.length > 0;

/**
 * The common valid request, checked by hand: a wake storm calls this hundreds of
 * thousands of times a second, and zod costs ~1–2 µs a call. Returns the request as
 * zod would, or undefined for anything this check is not sure of (zod then decides
 * and words the error, so messages come from one place).
 */
function fastShape(input: unknown): WakeFields | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const proto = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const o = input as Record<string, unknown>;
  for (const key in o) {
    switch (key) {
      case "reason":
      case "agentId":
      case "sessionKey":
      case "coalesceMs":
      case "force":
        continue;
      default:
        return undefined;
    }
  }
  const { reason, agentId, sessionKey, coalesceMs, force } = o;
  if (typeof reason !== "string" || reason.length === 0 || reason.length > 256) return undefined;
  // zod trims the reason before checking it; a reason that needs trimming takes the slow path.
  const first = reason.charCodeAt(0);
  const last = reason.charCodeAt(reason.length - 1);
  if (first <= 32 || last <= 32 || first === 0xa0 || last === 0xa0 || first > 0x7e || last > 0x7e) return undefined;
  if (agentId !== undefined && !isNonEmptyString(agentId)) return undefined;
  if (sessionKey !== undefined && !isNonEmptyString(sessionKey)) return undefined;
  if (coalesceMs !== undefined && !(typeof coalesceMs === "number" && coalesceMs >= 0 && coalesceMs <= 3_600_000)) return undefined;
  if (force !== undefined && typeof force !== "boolean") return undefined;
  return o as WakeFields;
}

/** Validates a wake request; the error names the field and the problem. Never throws. */
export function parseWakeRequest(input: unknown): ParsedWake {
  const fast = fastShape(input);
  if (fast !== undefined) return checkReason(fast);
  const parsed = wakeRequestSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue) return { ok: false, error: "wake: invalid request" };
    if (issue.code === "unrecognized_keys") return { ok: false, error: `${issue.keys[0] ?? "?"}: unknown field` };
    const field = issue.path.length ? issue.path.join(".") : "wake";
    const problem = issue.code === "invalid_type" && issue.input === undefined ? "required" : issue.message;
    return { ok: false, error: `${field}: ${problem}` };
  }
  return checkReason(parsed.data);
}

function checkReason(value: WakeFields): ParsedWake {
  const kind = reasonKind(value.reason);
  if (value.force && kind !== "manual") {
    return { ok: false, error: `force: only a manual wake can be forced (reason is "${value.reason}")` };
  }
  if (kind === "scheduled") {
    return { ok: false, error: `reason: "${value.reason}" is reserved for the agent's own schedule` };
  }
  return { ok: true, value };
}

export function rejected(error: string): WakeReceipt {
  return { accepted: false, targets: [], error };
}
