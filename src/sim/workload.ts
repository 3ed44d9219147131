import type { AgentConfig, WakeRequest } from "../index.ts";
import type { Outcome, Plan } from "./host.ts";
import type { Rng } from "./rng.ts";
import type { World } from "./world.ts";

export const SEC = 1_000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

const ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "UTC", "America/Los_Angeles", "Europe/London"];

const EVERY: readonly (readonly [number, number])[] = [
  [2 * MIN, 1],
  [5 * MIN, 3],
  [10 * MIN, 3],
  [15 * MIN, 4],
  [30 * MIN, 5],
  [HOUR, 4],
  [2 * HOUR, 2],
  [6 * HOUR, 1],
];

/** Mixed cadences; "30 2" and "30 1" fall in the DST gap / repeated hour of several zones. */
const CRONS: readonly (readonly [string, number])[] = [
  ["*/15 * * * *", 4],
  ["*/30 * * * *", 3],
  ["0 * * * *", 4],
  ["30 2 * * *", 2],
  ["30 1 * * *", 2],
  ["0 */4 * * *", 2],
  ["15 9 * * 1-5", 1],
  ["*/10 8-18 * * *", 2],
];

const RUN_TIMEOUTS: readonly (readonly [number, number])[] = [
  [2 * MIN, 1],
  [5 * MIN, 2],
  [10 * MIN, 3],
];

/** 2026 DST changes (UTC instants): US, EU, Australia, both directions. */
const DST_CHANGES = [
  Date.UTC(2026, 2, 8, 7),
  Date.UTC(2026, 2, 29, 1),
  Date.UTC(2026, 3, 4, 16),
  Date.UTC(2026, 9, 3, 16),
  Date.UTC(2026, 9, 25, 1),
  Date.UTC(2026, 10, 1, 6),
];

/** A start a little before a DST change, so every run of a few days crosses one. */
export function startWallFor(rng: Rng, days: number): number {
  const change = rng.pick(DST_CHANGES);
  const before = rng.int(0, Math.max(0, Math.min(days - 1, 3))) * DAY + rng.int(0, 23) * HOUR + rng.int(0, 59) * MIN;
  return change - before - HOUR;
}

export function makeAgent(rng: Rng, id: string): AgentConfig {
  const a: AgentConfig = { id, runTimeout: rng.weighted(RUN_TIMEOUTS) };
  if (rng.chance(0.6)) a.every = rng.weighted(EVERY);
  else {
    a.cron = rng.weighted(CRONS);
    a.timezone = rng.pick(ZONES);
  }
  if (rng.chance(0.5)) a.sessionKey = `s${rng.int(1, 4)}`;
  if (rng.chance(0.05)) a.enabled = false;
  return a;
}

export function makeAgents(rng: Rng, n: number): AgentConfig[] {
  return Array.from({ length: n }, (_, i) => makeAgent(rng, `agent-${i}`));
}

/** Per-agent host episodes (faults switch them on): calls hang, throw, or do no work for a while. */
export class HostEpisodes {
  readonly until = new Map<string, { outcome: Outcome; untilMono: number }>();

  constructor(
    private readonly rng: Rng,
    private readonly now: () => number,
  ) {}

  set(agentId: string, outcome: Outcome, forMs: number): void {
    this.until.set(agentId, { outcome, untilMono: this.now() + forMs });
  }

  /** The host's answer to one call: a baseline mix unless an episode is on. */
  plan = (agentId: string): Plan => {
    const r = this.rng;
    const ep = this.until.get(agentId);
    const durationMs = r.chance(0.6) ? r.int(0, 2 * SEC) : r.chance(0.9) ? Math.round(r.exp(20 * SEC)) : Math.round(r.exp(3 * MIN));
    if (ep && ep.untilMono > this.now()) return { outcome: ep.outcome, durationMs };
    const outcome = r.weighted<Outcome>([
      ["ran", 88],
      ["zero", 4],
      ["skipped", 4],
      ["throw", 1],
    ]);
    return { outcome, durationMs };
  };
}

const WAKE_REASONS: readonly (readonly [string, number])[] = [
  ["exec-event", 30],
  ["acp:spawn:subagent", 8],
  ["custom-signal", 5],
  ["manual", 10],
  ["wake", 10],
  ["hook:wake", 8],
  ["background-task", 6],
  ["background-task-blocked", 3],
  ["cron:digest", 6],
  ["interval", 1], // reserved for the agent's own schedule: must be rejected
];

/** Calls `fn` at the times of a Poisson process with the given mean gap, until `endMono`. */
export function poisson(world: World, rng: Rng, meanMs: number, endMono: number, fn: () => void | Promise<void>): void {
  const next = (): void => {
    const delay = Math.max(1, Math.round(rng.exp(meanMs)));
    if (world.clock.monoNow + delay >= endMono) return;
    world.clock.setTimeout("driver", async () => {
      next();
      await fn();
    }, delay);
  };
  next();
}

/** Repeats `fn` every `gapMs`, `count` times, starting now. */
export function burst(world: World, count: number, gapMs: number, fn: (i: number) => void): void {
  for (let i = 0; i < count; i++) world.clock.setTimeout("driver", () => fn(i), i * gapMs + 1);
}

function randomTarget(world: World, rng: Rng): string {
  const ids = world.configs.map((a) => a.id);
  // A reload may have removed every agent of a small fleet: then only ghosts are left to wake.
  return rng.chance(0.03) || ids.length === 0 ? "ghost-agent" : rng.pick(ids);
}

function coalesce(rng: Rng): Partial<WakeRequest> {
  const c = rng.weighted<number | undefined>([
    [undefined, 70],
    [0, 15],
    [rng.int(1, 5_000), 15],
  ]);
  return c === undefined ? {} : { coalesceMs: c };
}

/** Baseline traffic: wakes of every source (storms and floods too), lane flips, reloads, graceful restarts. */
export function scheduleWorkload(world: World, rng: Rng, endMono: number, nextId: () => string): void {
  const agents = Math.max(1, world.configs.length);
  // Single wakes: about one per agent every 2 hours.
  poisson(world, rng, (2 * HOUR) / agents, endMono, () => {
    if (!world.gw) return;
    const reason = rng.weighted(WAKE_REASONS);
    const roll = rng.next();
    const target: Partial<WakeRequest> =
      roll < 0.85 ? { agentId: randomTarget(world, rng) } : roll < 0.95 ? { sessionKey: `s${rng.int(1, 4)}` } : {};
    world.wake({ reason, ...target, ...coalesce(rng) });
  });
  // exec-event storms (seed 002): every ~10 s for minutes, at one agent.
  poisson(world, rng, (12 * HOUR) / Math.sqrt(agents), endMono, () => {
    const agentId = randomTarget(world, rng);
    burst(world, rng.int(5, 120), rng.int(2, 15) * SEC, () => world.gw && world.wake({ reason: "exec-event", agentId }));
  });
  // Immediate floods: the flood guard must hold the 6th within 60 s.
  poisson(world, rng, DAY / Math.sqrt(agents), endMono, () => {
    const agentId = randomTarget(world, rng);
    const reason = rng.pick(["wake", "hook:wake", "background-task", "manual"]);
    burst(world, rng.int(6, 30), rng.int(1, 8) * SEC, () => world.gw && world.wake({ reason, agentId, coalesceMs: 0 }));
  });
  // Lanes: short main-lane turns, longer session turns.
  poisson(world, rng, 30 * MIN, endMono, () => {
    world.lanes.hold("main");
    world.clock.setTimeout("driver", () => world.lanes.release("main"), Math.round(rng.exp(5 * SEC)) + 1);
  });
  for (let s = 1; s <= 4; s++) {
    const key = `s${s}`;
    poisson(world, rng, 20 * MIN, endMono, () => {
      world.lanes.hold(key);
      world.clock.setTimeout("driver", () => world.lanes.release(key), Math.round(rng.exp(MIN)) + 1);
    });
  }
  // Reloads: a few agents change, appear or go.
  poisson(world, rng, 8 * HOUR, endMono, async () => {
    if (!world.gw) return;
    await world.reload(mutateConfig(rng, world.configs, nextId));
  });
  // Graceful restarts on the same store.
  poisson(world, rng, 5 * DAY, endMono, async () => {
    if (world.gw) await world.stopAndRestart();
  });
}

export function mutateConfig(rng: Rng, configs: readonly AgentConfig[], nextId: () => string): AgentConfig[] {
  const out = configs.map((a) => ({ ...a }));
  const n = rng.int(1, 3);
  for (let i = 0; i < n && out.length > 0; i++) {
    const k = rng.int(0, out.length - 1);
    const a = out[k]!;
    switch (rng.int(0, 5)) {
      case 0: {
        const fresh = makeAgent(rng, a.id);
        out[k] = { ...fresh, ...(a.sessionKey === undefined ? {} : { sessionKey: a.sessionKey }) };
        break;
      }
      case 1:
        if (a.enabled === false) delete a.enabled;
        else a.enabled = false;
        break;
      case 2:
        if (a.sessionKey === undefined) a.sessionKey = `s${rng.int(1, 4)}`;
        else delete a.sessionKey;
        break;
      case 3:
        a.runTimeout = rng.weighted(RUN_TIMEOUTS);
        break;
      case 4:
        out.splice(k, 1);
        break;
      default:
        out.push(makeAgent(rng, nextId()));
    }
  }
  return out;
}
