import { isWithinActiveHours, nextWindowOpening } from "./active-hours.ts";
import { dueMono, dueWall, nextDueAfterRun, zoneOf } from "./schedule.ts";
import type { AgentPolicyState, Due } from "./state.ts";
import type { Instant } from "./time.ts";
import type { ResolvedAgent } from "./types.ts";

/**
 * The next `n` times the agent will run on its schedule (wall ms), computed with the
 * same step functions the machine uses — phase, jitter, cron and its time zone, active
 * hours — so what is shown is what will happen (wakes aside). A paused or disabled
 * agent has none.
 */
export function upcomingRuns(agent: ResolvedAgent, state: AgentPolicyState, now: Instant, n: number): number[] {
  const out: number[] = [];
  if (!agent.enabled || state.paused || n <= 0) return out;
  let due: Due = state.due;
  // Each slot is evaluated at its own instant, as the machine will when its timer fires.
  for (let guard = 0; out.length < n && guard < n * 50; guard++) {
    const wall = dueWall(due, now);
    const mono = dueMono(due, now);
    if (wall === undefined || mono === undefined) break;
    const at: Instant = { wall: Math.max(wall, now.wall), mono: Math.max(mono, now.mono) };
    if (agent.activeHours && !isWithinActiveHours(agent.activeHours, at.wall, zoneOf(agent))) {
      const opening = nextWindowOpening(agent.activeHours, at.wall, zoneOf(agent));
      if (opening === undefined) break;
      due = { kind: "wall", at: opening };
      continue;
    }
    out.push(Math.round(at.wall));
    due = nextDueAfterRun(agent, due, at, true);
  }
  return out;
}
