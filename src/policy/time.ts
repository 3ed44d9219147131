/**
 * A moment read from both clocks at once. Intervals, spacing and flood windows are
 * measured on `mono` (never jumps); cron slots and active hours follow `wall`.
 */
export interface Instant {
  readonly wall: number;
  readonly mono: number;
}

/** Node fires a timeout longer than this after 1 ms, so every wait is capped to it. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cron or active-hours wait re-checks the wall clock at least this often. */
export const WALL_RECHECK_MS = 30_000;

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
