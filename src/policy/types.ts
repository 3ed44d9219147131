import type { Cron } from "croner";

/** What an agent's scheduled slots follow. */
export type Schedule =
  | { readonly kind: "interval"; readonly everyMs: number }
  | {
      readonly kind: "cron";
      readonly expression: string;
      /** IANA zone; undefined = the host's local zone. */
      readonly timezone: string | undefined;
      /** Parsed once per distinct (expression, timezone) and shared (a Cron costs ~80 KB). */
      readonly pattern: Cron;
    }
  /** `every: "0m"`: never scheduled. */
  | { readonly kind: "off" };

/** Daily window [start, end) in minutes of the day; end may be 1440 ("24:00"). */
export interface ActiveHours {
  readonly startMinute: number;
  readonly endMinute: number;
  /** IANA zone; undefined = the agent's zone, else the host's local zone. */
  readonly timezone: string | undefined;
}

/** An agent's config after validation: every field resolved, defaults applied. */
export interface ResolvedAgent {
  readonly id: string;
  readonly sessionKey: string | undefined;
  /** false when `enabled: false` or the schedule is off. A disabled agent never runs. */
  readonly enabled: boolean;
  readonly schedule: Schedule;
  readonly activeHours: ActiveHours | undefined;
  readonly runTimeoutMs: number;
  /** Missed slots: "once" runs the latest one (if within the window), "skip" records them and waits for the next. */
  readonly catchUp: "once" | "skip";
  /** A missed slot older than this is skipped rather than run; undefined = one cadence. */
  readonly catchUpWindowMs: number | undefined;
  /** Stable per-agent offset added to every cron slot (from the id, within the configured bound). */
  readonly jitterMs: number;
}

/** Gateway-wide wake policy after validation. */
export interface ResolvedPolicy {
  /** Floor between runs, applied to event wakes only. */
  readonly minSpacingMs: number;
  readonly flood: { readonly maxRuns: number; readonly windowMs: number };
  /** Busy-lane retry: initial delay doubling up to max. */
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
  readonly coalesceMs: number;
  /** Alert when a due run is more than this many cadences late. */
  readonly pastDueCadences: number;
  /** Alert when a lane has been busy this many cadences in a row. */
  readonly busyWedgedCadences: number;
  /** Alert after this many consecutive `ran` results with zero tokens. */
  readonly zeroWorkStreak: number;
  /** Restart intensity: at most `maxRestarts` within `windowMs`. */
  readonly restart: { readonly maxRestarts: number; readonly windowMs: number };
}
