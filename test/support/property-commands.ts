import fc from "fast-check";
import type { AgentConfig } from "../../src/index.ts";
import type { Outcome, Plan } from "../../src/sim/host.ts";
import { DEFAULT_REF_POLICY } from "../../src/sim/reference.ts";
import { World, fmtMs } from "../../src/sim/world.ts";

/**
 * Model-based commands for fast-check (fc.asyncModelRun): random sequences of wakes of
 * every source, time advances, lane flips, run outcomes, reloads, stops, restarts,
 * crashes and clock jumps against the real runtime in a simulated World. The reference
 * model is the World's Checker (src/sim/invariants.ts); after every command every
 * invariant is checked, and the first violation fails the command with its details.
 */

export interface Model {
  /** Per-agent host behaviour chosen by OutcomeCmd. */
  readonly outcomes: Map<string, Plan>;
}

export type Cmd = fc.AsyncCommand<Model, World, false>;

const T0 = Date.UTC(2026, 2, 28, 22, 0, 0); // a few hours before Europe/Berlin's DST change

export const BASE_AGENTS: readonly AgentConfig[] = [
  { id: "a1", every: 60_000, sessionKey: "s1", runTimeout: 45_000 },
  { id: "a2", every: 120_000, runTimeout: 45_000 },
  { id: "a3", cron: "*/2 * * * *", timezone: "Europe/Berlin", sessionKey: "s1", runTimeout: 45_000 },
];

export async function setupWorld(): Promise<{ model: Model; real: World }> {
  const outcomes = new Map<string, Plan>();
  const real = new World({
    startWall: T0,
    agents: BASE_AGENTS,
    refPolicy: DEFAULT_REF_POLICY,
    plan: (agentId) => outcomes.get(agentId) ?? { outcome: "ran", durationMs: 0 },
    tolerateKnown: process.env.HEARTBEAT_STRICT !== "1",
  });
  await real.start();
  return { model: { outcomes }, real };
}

/** Throws with every violation the checker found (fast-check then shrinks the sequence). */
export function assertNoViolations(w: World): void {
  w.checker.check();
  const v = w.checker.violations;
  if (v.length === 0) return;
  const lines = v.slice(0, 5).map((x) => `  t+${fmtMs(x.mono)} ${x.rule} ${x.agentId ?? "-"}: ${x.detail}`);
  throw new Error(`invariant violated:\n${lines.join("\n")}\nlast actions:\n  ${w.trace.slice(-12).join("\n  ")}`);
}

abstract class Base implements Cmd {
  check(): boolean {
    return true;
  }
  abstract act(m: Model, w: World): Promise<void> | void;
  abstract toString(): string;
  async run(m: Model, w: World): Promise<void> {
    await this.act(m, w);
    await w.clock.flush();
    assertNoViolations(w);
  }
}

class Noop extends Base {
  act(): void {}
  toString(): string {
    return "noop";
  }
}

class Wake extends Base {
  constructor(
    readonly reason: string,
    readonly target: { agentId?: string; sessionKey?: string },
    readonly coalesceMs: number | undefined,
  ) {
    super();
  }
  act(_m: Model, w: World): void {
    w.wake({ reason: this.reason, ...this.target, ...(this.coalesceMs === undefined ? {} : { coalesceMs: this.coalesceMs }) });
  }
  toString(): string {
    const to = this.target.agentId ?? (this.target.sessionKey ? `session ${this.target.sessionKey}` : "all");
    return `wake(${this.reason} → ${to}${this.coalesceMs === undefined ? "" : `, coalesce ${this.coalesceMs}`})`;
  }
}

/** A storm: `count` wakes of one reason at one agent, `gapMs` apart (time moves between them). */
class Burst extends Base {
  constructor(
    readonly reason: string,
    readonly agentId: string,
    readonly count: number,
    readonly gapMs: number,
  ) {
    super();
  }
  async act(_m: Model, w: World): Promise<void> {
    for (let i = 0; i < this.count; i++) {
      w.wake({ reason: this.reason, agentId: this.agentId, coalesceMs: 0 });
      await w.clock.advance(this.gapMs);
      assertNoViolations(w);
    }
  }
  toString(): string {
    return `burst(${this.count}× ${this.reason} → ${this.agentId}, every ${fmtMs(this.gapMs)})`;
  }
}

class Advance extends Base {
  constructor(readonly ms: number) {
    super();
  }
  async act(_m: Model, w: World): Promise<void> {
    // In steps, so time-based invariants are checked along the way, not only at the end.
    const end = w.clock.monoNow + this.ms;
    while (w.clock.monoNow < end) {
      await w.clock.runUntil(Math.min(end, w.clock.monoNow + 30_000));
      assertNoViolations(w);
    }
  }
  toString(): string {
    return `advance(${fmtMs(this.ms)})`;
  }
}

class Lane extends Base {
  constructor(
    readonly lane: "main" | "s1",
    readonly busy: boolean,
  ) {
    super();
  }
  act(_m: Model, w: World): void {
    w.note(`lane ${this.lane} ${this.busy ? "busy" : "free"}`);
    if (this.lane === "main") w.lanes.main = this.busy;
    else w.lanes.setSession(this.lane, this.busy);
  }
  toString(): string {
    return `lane(${this.lane} ${this.busy ? "busy" : "free"})`;
  }
}

class Outcomes extends Base {
  constructor(
    readonly agentId: string,
    readonly outcome: Outcome,
    readonly durationMs: number,
  ) {
    super();
  }
  act(m: Model, w: World): void {
    w.note(`host: ${this.agentId} runs → ${this.outcome} after ${this.durationMs} ms`);
    m.outcomes.set(this.agentId, { outcome: this.outcome, durationMs: this.durationMs });
  }
  toString(): string {
    return `host(${this.agentId} → ${this.outcome}${this.outcome === "hang" ? "" : ` in ${fmtMs(this.durationMs)}`})`;
  }
}

const RELOADS: Record<string, (a: AgentConfig[]) => AgentConfig[]> = {
  "a1 every 90s": (a) => a.map((x) => (x.id === "a1" ? { ...x, every: x.every === 90_000 ? 60_000 : 90_000 } : x)),
  "toggle a2": (a) => a.map((x) => (x.id === "a2" ? (x.enabled === false ? { id: x.id, every: x.every!, runTimeout: x.runTimeout! } : { ...x, enabled: false }) : x)),
  "remove/add a3": (a) => (a.some((x) => x.id === "a3") ? a.filter((x) => x.id !== "a3") : [...a, { ...BASE_AGENTS[2]! }]),
  "a2 session s1": (a) => a.map((x) => (x.id === "a2" ? (x.sessionKey ? { id: x.id, every: x.every!, runTimeout: x.runTimeout!, ...(x.enabled === false ? { enabled: false } : {}) } : { ...x, sessionKey: "s1" }) : x)),
  unchanged: (a) => a,
};

class Reload extends Base {
  constructor(readonly name: string) {
    super();
  }
  async act(_m: Model, w: World): Promise<void> {
    if (w.gw) await w.reload(RELOADS[this.name]!(w.configs));
  }
  toString(): string {
    return `reload(${this.name})`;
  }
}

class Lifecycle extends Base {
  constructor(readonly what: "stop" | "start" | "restart" | "crash" | "actor-crash" | "jump+1h" | "jump-1h") {
    super();
  }
  async act(_m: Model, w: World): Promise<void> {
    switch (this.what) {
      case "stop":
        return w.stop();
      case "start":
        if (!w.gw) {
          w.incarnation++;
          await w.restart();
        }
        return;
      case "restart":
        return w.gw ? w.stopAndRestart() : undefined;
      case "crash":
        if (!w.gw) return;
        w.crash();
        return w.restart();
      case "actor-crash":
        w.note("the next lane probe throws");
        return w.lanes.armProbeFailure(1);
      case "jump+1h":
        return w.jumpWall(3_600_000);
      case "jump-1h":
        return w.jumpWall(-3_600_000);
    }
  }
  toString(): string {
    return this.what;
  }
}

const REASONS = ["manual", "wake", "hook:wake", "background-task", "background-task-blocked", "cron:digest", "exec-event", "acp:spawn:x", "custom-signal", "interval"];

/** One command; shrinking moves towards `noop` (fc.oneof withCrossShrink), so a shrunk sequence shows only what matters. */
export const command: fc.Arbitrary<Cmd> = fc.oneof(
  { withCrossShrink: true },
  { arbitrary: fc.constant(new Noop()), weight: 1 },
  {
    arbitrary: fc
      .tuple(
        fc.constantFrom(...REASONS),
        fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom("a1", "a2", "a3").map((agentId) => ({ agentId })) },
          { weight: 1, arbitrary: fc.constant({ agentId: "ghost" }) },
          { weight: 1, arbitrary: fc.constant({ sessionKey: "s1" }) },
          { weight: 1, arbitrary: fc.constant({}) },
        ),
        fc.constantFrom(undefined, undefined, 0, 100, 1_000),
      )
      .map(([r, t, c]) => new Wake(r, t, c)),
    weight: 12,
  },
  { arbitrary: fc.constantFrom(1, 249, 250, 1_000, 5_000, 15_000, 30_000, 61_000, 150_000, 600_000).map((ms) => new Advance(ms)), weight: 10 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom("wake", "manual", "hook:wake", "exec-event"), fc.constantFrom("a1", "a2", "a3"), fc.integer({ min: 2, max: 8 }), fc.constantFrom(500, 2_000, 6_000))
      .map(([r, a, n, g]) => new Burst(r, a, n, g)),
    weight: 2,
  },
  { arbitrary: fc.tuple(fc.constantFrom("main" as const, "s1" as const), fc.boolean()).map(([l, b]) => new Lane(l, b)), weight: 3 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom("a1", "a2", "a3"), fc.constantFrom<Outcome>("ran", "zero", "skipped", "throw", "hang"), fc.constantFrom(0, 500, 5_000, 50_000))
      .map(([a, o, d]) => new Outcomes(a, o, d)),
    weight: 3,
  },
  { arbitrary: fc.constantFrom(...Object.keys(RELOADS)).map((n) => new Reload(n)), weight: 1 },
  {
    arbitrary: fc.constantFrom("stop" as const, "start" as const, "restart" as const, "crash" as const, "actor-crash" as const, "jump+1h" as const, "jump-1h" as const).map((x) => new Lifecycle(x)),
    weight: 1,
  },
);

/** A sequence of exactly `n` commands, printed without its no-ops. */
export class Scenario {
  constructor(readonly cmds: readonly Cmd[]) {}
  [fc.toStringMethod](): string {
    const shown = this.cmds.map((c, i) => `#${i} ${c.toString()}`).filter((s) => !s.endsWith(" noop"));
    return `${shown.length} non-noop steps of ${this.cmds.length}:\n  ${shown.join("\n  ")}`;
  }
}

export const scenario = (steps: number): fc.Arbitrary<Scenario> =>
  fc.array(command, { minLength: steps, maxLength: steps }).map((cmds) => new Scenario(cmds));
