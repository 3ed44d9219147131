import type { DeferReason, SkipReason } from "./policy/decide.ts";
import type { AlertKind } from "./policy/alerts.ts";
import type { RunStatus } from "./policy/outcome.ts";

export type { AlertKind } from "./policy/alerts.ts";
export type { RunStatus } from "./policy/outcome.ts";

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** Every decision the runtime makes, as a record. Every event carries agentId and at (wall ms). */
export type HeartbeatEvent =
  | {
      readonly type: "run-started";
      readonly agentId: string;
      readonly at: number;
      readonly runId: number;
      readonly reasons: readonly string[];
    }
  | {
      readonly type: "run-finished";
      readonly agentId: string;
      readonly at: number;
      readonly runId: number;
      readonly status: RunStatus;
      readonly durationMs: number;
      readonly reasons: readonly string[];
      readonly usage?: Usage;
      /** Why the host skipped, or why the run was aborted. */
      readonly reason?: string;
      readonly error?: string;
    }
  | {
      readonly type: "wake-deferred";
      readonly agentId: string;
      readonly at: number;
      readonly reason: DeferReason;
      /** Wall time the held wakes are looked at again. */
      readonly retryAt: number;
      readonly reasons: readonly string[];
    }
  | {
      readonly type: "wake-skipped";
      readonly agentId: string;
      readonly at: number;
      readonly reason: SkipReason | "stopped" | "failed";
      readonly reasons: readonly string[];
    }
  | {
      readonly type: "wake-coalesced";
      readonly agentId: string;
      readonly at: number;
      readonly reasons: readonly string[];
      /** Wakes merged into this delivery. */
      readonly count: number;
    }
  | {
      readonly type: "run-settled-late";
      readonly agentId: string;
      readonly at: number;
      readonly runId: number;
      /** What the host's promise finally did after the watchdog had given up on it; never counted. */
      readonly settled: "resolved" | "rejected";
    }
  | {
      readonly type: "agent-paused";
      readonly agentId: string;
      readonly at: number;
      readonly reason: string;
    }
  | {
      readonly type: "agent-resumed";
      readonly agentId: string;
      readonly at: number;
      /** The next due time after resuming (wall ms), if any. */
      readonly nextDueAt?: number;
    }
  | {
      readonly type: "agent-restarted";
      readonly agentId: string;
      readonly at: number;
      /** What the crashed actor threw. */
      readonly error: string;
      readonly restartsInWindow: number;
    }
  | {
      readonly type: "alert";
      readonly agentId: string;
      readonly at: number;
      readonly kind: AlertKind;
      readonly state: "open" | "resolved";
      readonly message: string;
    };

export type HeartbeatEventType = HeartbeatEvent["type"];

/** An open alert as health() reports it. */
export interface Alert {
  readonly kind: AlertKind;
  readonly agentId: string;
  readonly since: number;
  readonly message: string;
}
