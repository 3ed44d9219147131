import type { HeartbeatEvent } from "../../src/index.ts";
import type { Plan } from "../../src/sim/host.ts";
import { DEFAULT_REF_POLICY } from "../../src/sim/reference.ts";
import { World } from "../../src/sim/world.ts";

/** Deterministic reproductions on the real runtime (createGateway on the simulated clock). */

export const MIN = 60_000;
export const HOUR = 60 * MIN;

export type SimWorld = World & { log: HeartbeatEvent[] };

export async function world(agents: World["configs"], plan: (agentId: string) => Plan = () => ({ outcome: "ran", durationMs: 0 })): Promise<SimWorld> {
  const log: HeartbeatEvent[] = [];
  const w = new World({ startWall: Date.UTC(2026, 0, 5, 12), agents, refPolicy: DEFAULT_REF_POLICY, plan, tolerateKnown: true, onEvent: (e) => log.push(e) });
  await w.start();
  return Object.assign(w, { log });
}

export const carried = (w: SimWorld, reason: string): boolean =>
  w.log.some((e) => (e.type === "run-started" || e.type === "wake-deferred" || e.type === "wake-skipped") && e.reasons.includes(reason));

export interface Repro {
  /** Sets the trap; returns the world for the checks. */
  run(): Promise<SimWorld>;
  /** The scenario did what it must to exercise the bug (holds with or without the bug). */
  trap(w: SimWorld): void;
  /** The behaviour the design asks for (fails while the bug is open). */
  correct(w: SimWorld): void;
}

