import { scheduleFaults, type Fault } from "./faults.ts";
import type { Rule, Violation } from "./invariants.ts";
import { DEFAULT_REF_POLICY } from "./reference.ts";
import { Rng } from "./rng.ts";
import { DAY, HostEpisodes, makeAgents, scheduleWorkload, startWallFor } from "./workload.ts";
import { World } from "./world.ts";

export interface FleetOptions {
  readonly seed: number;
  readonly agents: number;
  readonly days: number;
  readonly faults: ReadonlySet<Fault>;
  /** How often the time-based invariants are checked (simulated ms). Default 30 s. */
  readonly checkEveryMs?: number;
  readonly tolerate?: ReadonlySet<Rule>;
  /** Count violations of the known runtime bugs (rules.ts KNOWN_BUGS) too. Default false: they are tolerated and reported. */
  readonly strict?: boolean;
  /** Keep state across process crashes in a shared memoryStore (default true). */
  readonly durable?: boolean;
}

export interface FleetResult {
  readonly seed: number;
  readonly violations: readonly Violation[];
  readonly tolerated: Readonly<Record<string, number>>;
  /** Simulated and real duration (ms). */
  readonly simMs: number;
  readonly realMs: number;
  /** CPU time of this process while simulating (user + system), a load-independent speed measure. */
  readonly cpuMs: number;
  readonly runs: number;
  readonly events: number;
  readonly timersFired: number;
  readonly checks: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly stalls: number;
  /** The last driver actions before the first violation (or the end). */
  readonly trace: readonly string[];
}

/**
 * One seed of the fleet simulator: `agents` agents with mixed interval and cron
 * schedules (several zones, across a DST change) for `days` simulated days, driven by
 * the real runtime on the discrete-event clock, with faults injected and every
 * invariant checked. Everything is drawn from the seed: the same seed replays exactly.
 */
export async function runFleet(opts: FleetOptions): Promise<FleetResult> {
  const root = new Rng(opts.seed);
  const scenario = root.fork(1);
  const hostRng = root.fork(2);
  const workRng = root.fork(3);
  const faultRng = root.fork(4);
  const startWall = startWallFor(scenario, opts.days);
  const agents = makeAgents(scenario, opts.agents);
  let nextAgent = opts.agents;

  let episodes: HostEpisodes | undefined;
  const world = new World({
    startWall,
    agents,
    refPolicy: DEFAULT_REF_POLICY,
    plan: (agentId) => episodes!.plan(agentId),
    ...(opts.tolerate ? { tolerate: opts.tolerate } : {}),
    tolerateKnown: !opts.strict,
    durable: opts.durable ?? true,
  });
  episodes = new HostEpisodes(hostRng, () => world.clock.monoNow);
  const endMono = opts.days * DAY;
  const checkEvery = opts.checkEveryMs ?? 30_000;

  const realStart = performance.now();
  const cpuStart = process.cpuUsage();
  await world.start();
  scheduleWorkload(world, workRng, endMono, () => `agent-${nextAgent++}`);
  const faultCounts = scheduleFaults(world, faultRng, opts.faults, endMono, episodes);

  let traceAtFailure: string[] | undefined;
  const check = (): void => {
    world.checker.check();
    if (!traceAtFailure && world.checker.violations.length > 0) traceAtFailure = [...world.trace];
  };
  const tick = (): void => {
    check();
    if (world.clock.monoNow + checkEvery <= endMono) world.clock.setTimeout("driver", tick, checkEvery);
  };
  world.clock.setTimeout("driver", tick, checkEvery);
  await world.clock.runUntil(endMono);
  check();
  if (!world.gw) await world.restart();
  await world.stop();
  check();
  const realMs = performance.now() - realStart;
  const cpu = process.cpuUsage(cpuStart);

  return {
    seed: opts.seed,
    violations: world.checker.violations,
    tolerated: Object.fromEntries(world.checker.tolerated),
    simMs: endMono,
    realMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    runs: world.checker.runStarts,
    events: world.events,
    timersFired: world.clock.fired,
    checks: world.checker.checks,
    faults: faultCounts,
    stalls: world.clock.stalls.length,
    trace: traceAtFailure ?? world.trace.slice(-20),
  };
}
