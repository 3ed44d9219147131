/** The rules the fleet simulator and the property tests hold the runtime to. */
export const RULES = {
  "one-run-in-flight": "at most one run per agent in flight, counted from events and from the host's own calls",
  "wake-accounted": "every wake runs, folds into a later run, or gets a skip/deferral event with a reason",
  "immediate-on-time": "an immediate wake runs within its coalesce window unless the flood guard or a busy lane holds it",
  "min-spacing": "no event-driven run closer than minSpacingMs to the previous run",
  "event-before-due": "after the first run, event wakes wait for the next due slot",
  "flood-guard": "no 6th non-manual wake-driven start within the flood window; no flood hold without a flood",
  "busy-lane": "no run starts on a busy lane; no busy deferral on a free lane",
  "silent-gap": "a due slot runs, or a past-due/busy-wedged alert is open, within 2 cadences (+ detector latency)",
  "slot-budget": "scheduled runs never exceed the schedule (no double slot, no backfill storm)",
  "phantom-run": "a run that is not a due slot carries a wake that was requested",
  "disabled-ran": "disabled, removed and failed agents never run",
  "run-watchdog": "no run stays in flight past its runTimeout",
  "deferral-retry": "held wakes are looked at again by the retry time their deferral announced",
  "zero-work-alert": "N zero-token runs in a row open a zero-work-streak alert",
  "wake-routing": "a receipt names exactly the agents the wake should reach (unknown, disabled, reserved reasons rejected)",
  "timer-after-stop": "stop() leaves no timer behind",
  "run-after-stop": "stop() aborts and records every run in flight",
  "run-ids": "run ids never repeat for an agent (they continue across restarts on a store, disable/enable and remove/re-add; removal deletes the stored state, so an agent re-added by a later process starts anew)",
  "claim-collision": "a run never fails to claim its own slot (skipped 'slot-taken' in a single-process fleet)",
  "timer-over-limit": "no timeout above 2^31-1 ms (Node fires it after 1 ms)",
} as const;

export type Rule = keyof typeof RULES;

/**
 * Runtime bugs this suite found, recognised by their circumstances, so the suites can stay
 * green while they are open (`--strict` counts them). Each has a failing reproduction in
 * test/sim/known-bugs.test.ts; when one is fixed, that test fails and the entry goes.
 */
export const KNOWN_BUGS = {} as const satisfies Record<string, string>;

export type KnownBug = keyof typeof KNOWN_BUGS;

export interface Violation {
  readonly rule: Rule;
  readonly agentId: string | undefined;
  /** Simulated time (ms since the simulation began) and wall time. */
  readonly mono: number;
  readonly wall: number;
  readonly detail: string;
}
