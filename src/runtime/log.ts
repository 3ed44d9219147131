import { pino, type Logger } from "pino";
import type { HeartbeatEvent } from "../events.ts";
import { assertNever } from "../policy/wake.ts";

/** Library default: warnings and alerts only; silent under the test runner. HEARTBEAT_LOG_LEVEL overrides. */
export function defaultLogger(): Logger {
  const level = process.env.HEARTBEAT_LOG_LEVEL ?? (process.env.VITEST ? "silent" : "warn");
  return pino({ name: "heartbeat", level });
}

type Level = "debug" | "info" | "warn" | "error";

export function levelOf(e: HeartbeatEvent): Level {
  switch (e.type) {
    case "run-started":
    case "wake-deferred":
    case "wake-coalesced":
      return "debug";
    case "run-finished":
      return e.status === "failed" || e.status === "timed-out" ? "warn" : "info";
    case "wake-skipped":
    case "run-settled-late":
    case "agent-paused":
    case "agent-resumed":
      return "info";
    case "agent-restarted":
      return "warn";
    case "alert":
      return e.state === "resolved" ? "info" : e.kind === "restart-limit" ? "error" : "warn";
    default:
      return assertNever(e);
  }
}

/** One structured line per event, at a level by severity. */
export function logEvent(logger: Logger, e: HeartbeatEvent): void {
  const level = levelOf(e);
  if (!logger.isLevelEnabled(level)) return;
  logger[level]({ event: e.type, ...e }, e.type === "alert" ? e.message : e.type);
}
