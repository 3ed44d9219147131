import type { HostResult } from "../policy/outcome.ts";
import type { Lanes, RunContext } from "../runtime/host.ts";
import type { SimClock } from "./clock.ts";

/** What a simulated host does with one runHeartbeat call. */
export type Outcome = "ran" | "zero" | "skipped" | "throw" | "hang";

export interface Plan {
  readonly outcome: Outcome;
  /** How long the host takes to answer (ignored for "hang", which never answers, even when aborted). */
  readonly durationMs: number;
}

export interface HostCall {
  readonly seq: number;
  readonly agentId: string;
  readonly reasons: readonly string[];
  readonly startMono: number;
  readonly signal: AbortSignal;
  readonly plan: Plan;
  /** The process incarnation that made the call. */
  readonly incarnation: number;
  settled: boolean;
  /** The process that made it crashed: the call died with it. */
  dead: boolean;
}

export const WORK: HostResult = { status: "ran", usage: { inputTokens: 120, outputTokens: 30 } };
export const ZERO_WORK: HostResult = { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } };

/**
 * A scripted host on the simulated clock. `plan` decides each call's outcome; answers
 * come after `durationMs` through a host-owned timer. The host records every call, so
 * the checker can count runs in flight per agent from the host's side too.
 */
export class SimHost {
  readonly calls: HostCall[] = [];
  private readonly open = new Map<string, Set<HostCall>>();
  private seq = 0;
  incarnation = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly plan: (agentId: string, reasons: readonly string[]) => Plan,
    private readonly onCall?: (call: HostCall) => void,
  ) {}

  private get owner(): string {
    return `host#${this.incarnation}`;
  }

  readonly run = (ctx: RunContext): Promise<HostResult> => {
    const plan = this.plan(ctx.agentId, ctx.reasons);
    const call: HostCall = {
      seq: ++this.seq,
      agentId: ctx.agentId,
      reasons: [...ctx.reasons],
      startMono: this.clock.monoNow,
      signal: ctx.signal,
      plan,
      incarnation: this.incarnation,
      settled: false,
      dead: false,
    };
    this.calls.push(call);
    if (this.calls.length > 2_000) this.calls.splice(0, 1_000);
    let set = this.open.get(call.agentId);
    if (!set) this.open.set(call.agentId, (set = new Set()));
    set.add(call);
    this.onCall?.(call);
    if (plan.outcome === "hang") return new Promise<HostResult>(() => {});
    return new Promise<HostResult>((resolve, reject) => {
      const answer = (): void => {
        if (call.dead) return;
        call.settled = true;
        this.open.get(call.agentId)?.delete(call);
        switch (plan.outcome) {
          case "ran":
            return resolve(WORK);
          case "zero":
            return resolve(ZERO_WORK);
          case "skipped":
            return resolve({ status: "skipped", reason: "host-busy" });
          case "throw":
            return reject(new Error(`simulated host failure for ${call.agentId}`));
        }
      };
      if (plan.durationMs <= 0) answer();
      else this.clock.setTimeout(this.owner, answer, plan.durationMs);
    });
  };

  /** Calls of an agent still in flight: not answered, not aborted, not died with a crash. */
  inFlight(agentId: string): HostCall[] {
    const set = this.open.get(agentId);
    if (!set) return [];
    const out: HostCall[] = [];
    for (const c of set) {
      if (c.settled || c.dead || c.signal.aborted) set.delete(c);
      else out.push(c);
    }
    return out;
  }

  agentsWithCalls(): string[] {
    return [...this.open.keys()];
  }

  /** The process crashed: every call in flight dies with it, and its timers are gone. */
  crash(): void {
    for (const set of this.open.values()) for (const c of set) c.dead = true;
    this.open.clear();
    this.clock.kill(this.owner);
    this.incarnation++;
  }
}

/**
 * The host's lanes: a main lane and per-session lanes. Busy is a count of holds, so a short
 * turn ending does not free a lane that a longer episode still holds (a lane stuck for hours).
 */
export class SimLanes {
  private mainHolds = 0;
  private readonly sessionHolds = new Map<string, number>();
  /** Throw from the next probe (an actor crash inside `decide`), then behave. */
  private throwNext = 0;

  readonly probe: Lanes = {
    mainBusy: () => {
      if (this.throwNext > 0) {
        this.throwNext--;
        throw new Error("simulated lane probe failure");
      }
      return this.main;
    },
    sessionBusy: (key) => this.sessionBusy(key),
  };

  get main(): boolean {
    return this.mainHolds > 0;
  }

  /** Sets the main lane busy or free outright (tests); episodes use hold/release. */
  set main(busy: boolean) {
    this.mainHolds = busy ? Math.max(1, this.mainHolds) : 0;
  }

  sessionBusy(key: string | undefined | null): boolean {
    return key !== undefined && key !== null && (this.sessionHolds.get(key) ?? 0) > 0;
  }

  /** Sets a session lane busy or free outright (tests); episodes use hold/release. */
  setSession(key: string, busy: boolean): void {
    if (busy) this.sessionHolds.set(key, Math.max(1, this.sessionHolds.get(key) ?? 0));
    else this.sessionHolds.delete(key);
  }

  /** One more episode holds the lane ("main" or a session key) busy. */
  hold(lane: string): void {
    if (lane === "main") this.mainHolds++;
    else this.sessionHolds.set(lane, (this.sessionHolds.get(lane) ?? 0) + 1);
  }

  release(lane: string): void {
    if (lane === "main") this.mainHolds = Math.max(0, this.mainHolds - 1);
    else {
      const n = (this.sessionHolds.get(lane) ?? 0) - 1;
      if (n > 0) this.sessionHolds.set(lane, n);
      else this.sessionHolds.delete(lane);
    }
  }

  /** Busy as a heartbeat of `sessionKey` sees it now. */
  busyFor(sessionKey: string | undefined): "main" | "session" | undefined {
    if (this.main) return "main";
    return this.sessionBusy(sessionKey) ? "session" : undefined;
  }

  armProbeFailure(times = 1): void {
    this.throwNext += times;
  }
}
