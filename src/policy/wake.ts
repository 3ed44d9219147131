/**
 * Wake sources as a discriminated union. A host hands us a raw reason string;
 * `classifyWake` places it, and `intentOf` is an exhaustive switch, so a new source
 * is a compile error until it is given an intent (seed 002: `reason === "interval"`
 * was the only gate, and every other string bypassed the cooldown).
 */
export type WakeSource =
  | { readonly kind: "interval" }
  | { readonly kind: "cron-slot" }
  | { readonly kind: "manual" }
  | { readonly kind: "wake" }
  | { readonly kind: "hook-wake" }
  | { readonly kind: "background-task" }
  | { readonly kind: "background-task-blocked" }
  | { readonly kind: "cron-job"; readonly job: string }
  | { readonly kind: "exec-event" }
  | { readonly kind: "acp-spawn"; readonly detail: string }
  | { readonly kind: "unknown"; readonly raw: string };

export type WakeIntent = "scheduled" | "immediate" | "event";

/** A wake as the machine holds it: its source and the raw reason it is reported by. */
export interface Wake {
  readonly source: WakeSource;
  readonly reason: string;
  /** A manual wake an operator forced through a pause. */
  readonly force?: boolean;
}

export function classifyWake(reason: string): WakeSource {
  switch (reason) {
    case "interval":
      return { kind: "interval" };
    case "cron-slot":
      return { kind: "cron-slot" };
    case "manual":
      return { kind: "manual" };
    case "wake":
      return { kind: "wake" };
    case "hook:wake":
      return { kind: "hook-wake" };
    case "background-task":
      return { kind: "background-task" };
    case "background-task-blocked":
      return { kind: "background-task-blocked" };
    case "exec-event":
      return { kind: "exec-event" };
  }
  if (reason.startsWith("cron:") && reason.length > "cron:".length) {
    return { kind: "cron-job", job: reason.slice("cron:".length) };
  }
  if (reason.startsWith("acp:spawn:")) {
    return { kind: "acp-spawn", detail: reason.slice("acp:spawn:".length) };
  }
  return { kind: "unknown", raw: reason };
}

export function intentOf(source: WakeSource): WakeIntent {
  switch (source.kind) {
    case "interval":
    case "cron-slot":
      return "scheduled";
    case "manual":
    case "wake":
    case "hook-wake":
    case "background-task":
    case "background-task-blocked":
    case "cron-job":
      return "immediate";
    case "exec-event":
    case "acp-spawn":
    case "unknown":
      return "event";
    default:
      return assertNever(source);
  }
}

/** Scheduled wakes are produced by the agent's own timer, never accepted from a host. */
export function isHostWake(source: WakeSource): boolean {
  return intentOf(source) !== "scheduled";
}

export function wakeFromReason(reason: string): Wake {
  return { source: classifyWake(reason), reason };
}

/** A wake delivered with `force`: a manual one gets through a pause; others are unchanged. */
export function forcedWake(reason: string): Wake {
  const source = classifyWake(reason);
  return source.kind === "manual" ? { source, reason, force: true } : { source, reason };
}

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
