import type { Rng } from "./rng.ts";
import { DAY, HOUR, MIN, poisson, type HostEpisodes } from "./workload.ts";
import type { World } from "./world.ts";

/**
 * Injected faults, VOPR-style: each is a process over simulated time, drawn from the
 * seed. They are the failures the seeds in ../shared/seeds describe, and then some.
 */
export const FAULTS = ["hang", "throw", "busy", "clock", "crash", "actor-crash"] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_HELP: Record<Fault, string> = {
  hang: "runs that never answer (the watchdog must abort them)",
  throw: "runs that throw for hours",
  busy: "a main or session lane stuck busy for hours",
  clock: "wall-clock jumps of -1 h, +1 h and +25 days (monotonic time never jumps)",
  crash: "process crash (no stop()) and restart on the same store after 0-10 min down",
  "actor-crash": "a lane probe that throws inside a heartbeat actor (the supervisor restarts it)",
};

export function parseFaults(spec: string | undefined): Set<Fault> {
  if (spec === undefined || spec === "" || spec === "none") return new Set();
  if (spec === "all") return new Set(FAULTS);
  const out = new Set<Fault>();
  for (const name of spec.split(",")) {
    const f = name.trim() as Fault;
    if (!FAULTS.includes(f)) throw new Error(`unknown fault "${name}" (known: ${FAULTS.join(", ")}, all, none)`);
    out.add(f);
  }
  return out;
}

/** Fault rates scale with the fleet so that a large fleet is not drowned and a small one still sees them. */
export function scheduleFaults(world: World, rng: Rng, faults: ReadonlySet<Fault>, endMono: number, episodes: HostEpisodes): Record<Fault, number> {
  const count: Record<Fault, number> = { hang: 0, throw: 0, busy: 0, clock: 0, crash: 0, "actor-crash": 0 };
  const pickAgent = (): string | undefined => (world.configs.length ? rng.pick(world.configs).id : undefined);

  if (faults.has("hang")) {
    poisson(world, rng, 12 * HOUR, endMono, () => {
      const id = pickAgent();
      if (!id) return;
      count.hang++;
      const forMs = rng.int(10 * MIN, 12 * HOUR);
      world.note(`fault: ${id}'s runs hang for ${Math.round(forMs / MIN)} min`);
      episodes.set(id, "hang", forMs);
    });
  }
  if (faults.has("throw")) {
    poisson(world, rng, 12 * HOUR, endMono, () => {
      const id = pickAgent();
      if (!id) return;
      count.throw++;
      const forMs = rng.int(10 * MIN, 6 * HOUR);
      world.note(`fault: ${id}'s runs throw for ${Math.round(forMs / MIN)} min`);
      episodes.set(id, "throw", forMs);
    });
  }
  if (faults.has("busy")) {
    poisson(world, rng, 2 * DAY, endMono, () => {
      count.busy++;
      const forMs = rng.int(HOUR, 8 * HOUR);
      if (rng.chance(0.25)) {
        world.note(`fault: main lane stuck busy for ${Math.round(forMs / MIN)} min`);
        world.lanes.hold("main");
        world.clock.setTimeout("driver", () => world.lanes.release("main"), forMs);
      } else {
        const key = `s${rng.int(1, 4)}`;
        world.note(`fault: session ${key} stuck busy for ${Math.round(forMs / MIN)} min`);
        world.lanes.hold(key);
        world.clock.setTimeout("driver", () => world.lanes.release(key), forMs);
      }
    });
  }
  if (faults.has("clock")) {
    let farJumps = 0;
    poisson(world, rng, 3 * DAY, endMono, () => {
      count.clock++;
      const far = farJumps === 0 && rng.chance(0.25);
      if (far) farJumps++;
      world.jumpWall(far ? 25 * DAY : rng.pick([-HOUR, HOUR]));
    });
  }
  if (faults.has("crash")) {
    poisson(world, rng, 4 * DAY, endMono, async () => {
      if (!world.gw) return;
      count.crash++;
      world.crash();
      const down = rng.int(0, 10 * MIN);
      world.clock.setTimeout("driver", () => world.restart(), down + 1);
    });
  }
  if (faults.has("actor-crash")) {
    poisson(world, rng, 2 * DAY, endMono, () => {
      count["actor-crash"]++;
      const n = rng.int(1, 5);
      world.note(`fault: the next ${n} lane probe(s) throw`);
      world.lanes.armProbeFailure(n);
    });
  }
  return count;
}
