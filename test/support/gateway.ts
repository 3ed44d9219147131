import { vi } from "vitest";
import {
  createGateway,
  type AgentHealth,
  type Gateway,
  type GatewayOptions,
  type HeartbeatEvent,
  type HostResult,
  type RunContext,
} from "../../src/index.ts";

/**
 * Contract-test helpers: everything goes through `createGateway` from src/index.ts, as a
 * host would use it. Time is vitest's fake time (see fake-time.ts); nothing sleeps.
 */

export const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
export const SEC = 1_000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** A run that did some work (tokens > 0), so no zero-work streak. */
export const WORK: HostResult = { status: "ran", usage: { inputTokens: 120, outputTokens: 30 } };
export const ZERO: HostResult = { status: "ran", usage: { inputTokens: 0, outputTokens: 0 } };

/**
 * What the host does on a call: answer with a result, "hold" (the test settles it through
 * the recorded call, or never: a hung run), "throw" (runHeartbeat rejects), or a function.
 */
export type Behaviour = HostResult | "hold" | "throw" | ((ctx: RunContext) => Promise<HostResult>);

export interface HostCall {
  readonly ctx: RunContext;
  readonly agentId: string;
  /** Wall time of the call. */
  readonly at: number;
  settled: boolean;
  resolve(result?: HostResult): void;
  reject(error: unknown): void;
}

/** A scripted host: records every call and tracks how many runs of one agent are in flight at once. */
export class TestHost {
  readonly calls: HostCall[] = [];
  fallback: Behaviour = WORK;
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly active = new Map<string, number>();
  private readonly peak = new Map<string, number>();

  set(agentId: string, behaviour: Behaviour): this {
    this.behaviours.set(agentId, behaviour);
    return this;
  }

  readonly run = (ctx: RunContext): Promise<HostResult> => {
    const behaviour = this.behaviours.get(ctx.agentId) ?? this.fallback;
    const id = ctx.agentId;
    const n = (this.active.get(id) ?? 0) + 1;
    this.active.set(id, n);
    this.peak.set(id, Math.max(n, this.peak.get(id) ?? 0));
    let done = false;
    const release = (): void => {
      if (done) return;
      done = true;
      this.active.set(id, (this.active.get(id) ?? 1) - 1);
    };
    ctx.signal.addEventListener("abort", release, { once: true });
    let resolveFn: (r: HostResult) => void = () => {};
    let rejectFn: (e: unknown) => void = () => {};
    const promise = new Promise<HostResult>((resolve, reject) => {
      resolveFn = resolve;
      rejectFn = reject;
    });
    const call: HostCall = {
      ctx,
      agentId: id,
      at: Date.now(),
      settled: false,
      resolve: (r = WORK) => {
        call.settled = true;
        release();
        resolveFn(r);
      },
      reject: (e) => {
        call.settled = true;
        release();
        rejectFn(e);
      },
    };
    this.calls.push(call);
    if (behaviour === "hold") return promise;
    if (behaviour === "throw") call.reject(new Error(`host failed for ${id}`));
    else if (typeof behaviour === "function") behaviour(ctx).then(call.resolve, call.reject);
    else call.resolve(behaviour);
    return promise;
  };

  callsOf(agentId: string): HostCall[] {
    return this.calls.filter((c) => c.agentId === agentId);
  }

  /** Held calls of an agent not yet settled (and not aborted). */
  open(agentId: string): HostCall[] {
    return this.callsOf(agentId).filter((c) => !c.settled && !c.ctx.signal.aborted);
  }

  /** The most runs of one agent that were ever in flight at the same time. */
  peakConcurrency(agentId: string): number {
    return this.peak.get(agentId) ?? 0;
  }
}

export type HarnessOptions = Omit<GatewayOptions, "runHeartbeat" | "logger"> & {
  host?: TestHost;
  /** Call start() right away (default true). */
  start?: boolean;
};

export interface Harness {
  readonly gw: Gateway;
  readonly host: TestHost;
  readonly events: HeartbeatEvent[];
  of<T extends HeartbeatEvent["type"]>(type: T, agentId?: string): Extract<HeartbeatEvent, { type: T }>[];
  /** Wall times (relative to T0) of an agent's run-started events. */
  starts(agentId: string): number[];
  agent(agentId: string): AgentHealth;
  /** "open"/"resolved" transitions of one alert kind, in order (optionally for one agent). */
  alertTrail(kind: string, agentId?: string): string[];
}

const live = new Set<Gateway>();

/** A gateway on the fake clock, recording every event it dispatches. */
export function startGateway(options: HarnessOptions): Harness {
  const { host = new TestHost(), start = true, onEvent, ...rest } = options;
  const events: HeartbeatEvent[] = [];
  const gw = createGateway({
    ...rest,
    runHeartbeat: host.run,
    logger: false,
    onEvent: (e) => {
      events.push(e);
      onEvent?.(e);
    },
  });
  live.add(gw);
  if (start) gw.start();
  const of = <T extends HeartbeatEvent["type"]>(type: T, agentId?: string) =>
    events.filter(
      (e): e is Extract<HeartbeatEvent, { type: T }> => e.type === type && (agentId === undefined || e.agentId === agentId),
    );
  return {
    gw,
    host,
    events,
    of,
    starts: (agentId) => of("run-started", agentId).map((e) => e.at - T0),
    agent: (agentId) => {
      const a = gw.health().agents.find((x) => x.id === agentId);
      if (!a) throw new Error(`health() does not list ${agentId}`);
      return a;
    },
    alertTrail: (kind, agentId) =>
      events.flatMap((e) => (e.type === "alert" && e.kind === kind && (agentId === undefined || e.agentId === agentId) ? [e.state] : [])),
  };
}

/** Stop every gateway a test created (call from afterEach, before restoring real timers). */
export async function stopAllGateways(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.all(all.map((gw) => gw.stop().catch(() => undefined)));
}

/** Let microtasks (and zero-delay timers) settle without moving the clock. */
export async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

export function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - (times[i] ?? 0));
}
