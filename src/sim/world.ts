import {
  createGateway,
  memoryStore,
  type AgentConfig,
  type Gateway,
  type HeartbeatEvent,
  type HeartbeatStore,
  type PolicyConfig,
  type WakeReceipt,
  type WakeRequest,
} from "../index.ts";
import { SimClock } from "./clock.ts";
import { SimHost, SimLanes, type HostCall, type Plan } from "./host.ts";
import { Checker } from "./invariants.ts";
import type { Rule } from "./rules.ts";
import type { RefAgent, RefPolicy } from "./reference.ts";

export interface WorldOptions {
  readonly startWall: number;
  readonly agents: readonly AgentConfig[];
  readonly policy?: PolicyConfig;
  readonly refPolicy: RefPolicy;
  /** What the host does on each call. */
  readonly plan: (agentId: string, reasons: readonly string[]) => Plan;
  readonly tolerate?: ReadonlySet<Rule>;
  /** Count violations recognised as known runtime bugs (rules.ts) as tolerated. */
  readonly tolerateKnown?: boolean;
  /** Share one memoryStore across process restarts (state survives a crash). Default true. */
  readonly durable?: boolean;
  readonly sweepMs?: number;
  readonly onEvent?: (e: HeartbeatEvent) => void;
  readonly onCall?: (call: HostCall) => void;
}

/**
 * One simulated deployment: the real runtime (`createGateway` from src/index.ts) on a
 * discrete-event clock, a scripted host, lanes, and the checker listening to it all.
 * "Process crash" abandons the gateway without stop(): its timers are killed, its runs
 * die with it, and a new gateway is created (on the same store when `durable`).
 */
export class World {
  readonly clock: SimClock;
  readonly lanes = new SimLanes();
  readonly host: SimHost;
  readonly checker: Checker;
  readonly store: HeartbeatStore | undefined;
  gw: Gateway | undefined;
  incarnation = 0;
  configs: AgentConfig[];
  /** The last driver actions, for failure reports. */
  readonly trace: string[] = [];
  events = 0;
  staleEvents = 0;
  private jumpedSinceStart = false;

  constructor(readonly opts: WorldOptions) {
    this.clock = new SimClock(opts.startWall);
    this.host = new SimHost(this.clock, opts.plan, opts.onCall);
    this.checker = new Checker({
      clock: this.clock,
      lanes: this.lanes,
      host: this.host,
      policy: opts.refPolicy,
      ...(opts.tolerate ? { tolerate: opts.tolerate } : {}),
      tolerateKnown: opts.tolerateKnown ?? false,
    });
    this.store = opts.durable === false ? undefined : memoryStore();
    this.configs = [...opts.agents];
  }

  get owner(): string {
    return `gw#${this.incarnation}`;
  }

  note(action: string): void {
    const { mono, wall } = this.clock.now();
    this.trace.push(`t+${fmtMs(mono)} ${new Date(wall).toISOString()} ${action}`);
    if (this.trace.length > 300) this.trace.shift();
  }

  /** Creates and starts a gateway on the current config. */
  async start(kind: "first" | "restart" = "first"): Promise<void> {
    const incarnation = this.incarnation;
    const stored = this.store ? new Set((await this.store.loadAgents()).map((s) => s.agentId)) : new Set<string>();
    const gw = createGateway({
      agents: this.configs.map((a) => ({ ...a })),
      runHeartbeat: this.host.run,
      lanes: this.lanes.probe,
      clock: this.clock.port(this.owner),
      logger: false,
      ownerId: `sim-${incarnation}`,
      ...(this.opts.policy ? { policy: this.opts.policy } : {}),
      ...(this.store ? { store: this.store } : {}),
      ...(this.opts.sweepMs !== undefined ? { sweepMs: this.opts.sweepMs } : {}),
      onEvent: (e) => {
        if (incarnation !== this.incarnation) {
          this.staleEvents++;
          return;
        }
        this.events++;
        this.checker.record(e);
        this.opts.onEvent?.(e);
      },
    });
    this.gw = gw;
    const refs = this.configs.map(refAgentOf);
    if (kind === "first" || !this.store) {
      this.checker.configure(refs, { fresh: "all" });
    } else {
      const fresh = new Set(this.configs.filter((a) => !stored.has(a.id)).map((a) => a.id));
      this.checker.configure(refs, { fresh, restart: true, uncertain: this.jumpedSinceStart });
    }
    this.checker.wakes.resumed(kind === "restart" && this.store !== undefined);
    this.jumpedSinceStart = false;
    this.checker.wakes.gatewayOpen = true;
    gw.start();
    await this.clock.flush();
    if (kind === "restart") this.checker.adoptAlerts(gw.health().alerts);
  }

  wake(req: WakeRequest): WakeReceipt {
    this.note(`wake ${JSON.stringify(req)}`);
    const gw = this.gw;
    return this.checker.wakes.request(req, () => (gw ? gw.requestWake(req) : { accepted: false, targets: [], error: "no gateway" }));
  }

  /** Applies a new config through reload(), telling the checker what the runtime will reset. */
  async reload(next: AgentConfig[]): Promise<void> {
    this.note(`reload ${describeDiff(this.configs, next)}`);
    const before = new Map(this.configs.map((a) => [a.id, a]));
    const fresh = new Set<string>();
    const scheduleChanged = new Set<string>();
    for (const a of next) {
      const old = before.get(a.id);
      const m = this.checker.agents.get(a.id);
      const changed = old !== undefined && JSON.stringify(old) !== JSON.stringify(a);
      if (!old || (isEnabled(a) && !isEnabled(old)) || (changed && m?.failed)) fresh.add(a.id);
      else if (old && scheduleKey(old) !== scheduleKey(a)) scheduleChanged.add(a.id);
    }
    this.checker.reloading(next.map(refAgentOf));
    if (this.gw) await this.gw.reload(next.map((a) => ({ ...a })));
    this.configs = next;
    for (const id of fresh) {
      const m = this.checker.agents.get(id);
      if (m) m.failed = false;
    }
    this.checker.configure(next.map(refAgentOf), { fresh, scheduleChanged });
  }

  /** A graceful stop: every run aborted and recorded, no timer left. */
  async stop(): Promise<void> {
    if (!this.gw) return;
    this.note("stop()");
    await this.gw.stop();
    await this.clock.flush();
    this.checker.stopped(this.clock.pending(this.owner));
    this.gw = undefined;
  }

  /** The process dies: no stop(), its timers and the host's calls vanish with it. */
  crash(): void {
    if (!this.gw) return;
    this.note("process crash");
    this.clock.kill(this.owner);
    this.host.crash();
    this.checker.crashed();
    this.gw = undefined;
    this.incarnation++;
  }

  async restart(): Promise<void> {
    if (this.gw) return;
    this.note(`process start (incarnation ${this.incarnation}${this.store ? ", same store" : ", fresh state"})`);
    await this.start("restart");
  }

  /** Stop gracefully and start a new process on the same store. */
  async stopAndRestart(): Promise<void> {
    await this.stop();
    this.incarnation++;
    await this.restart();
  }

  jumpWall(deltaMs: number): void {
    this.note(`wall clock jump ${deltaMs > 0 ? "+" : ""}${fmtMs(deltaMs)}`);
    this.clock.jumpWall(deltaMs);
    this.checker.wallJumped(deltaMs);
    this.jumpedSinceStart = true;
  }
}

/** The reference model's view of an agent config (the sim writes durations as ms). */
export function refAgentOf(a: AgentConfig): RefAgent {
  const schedule: RefAgent["schedule"] =
    a.cron !== undefined ? { kind: "cron", expression: a.cron, timezone: a.timezone } : { kind: "interval", everyMs: msOf(a.every, 30 * 60_000) };
  return {
    id: a.id,
    schedule,
    sessionKey: a.sessionKey,
    enabled: isEnabled(a),
    runTimeoutMs: msOf(a.runTimeout, 10 * 60_000),
  };
}

function msOf(v: string | number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === "number") return v;
  throw new Error(`the simulator writes durations as milliseconds, got ${JSON.stringify(v)}`);
}

export function isEnabled(a: AgentConfig): boolean {
  return a.enabled !== false && a.every !== 0;
}

function scheduleKey(a: AgentConfig): string {
  return JSON.stringify([a.every, a.cron, a.timezone]);
}

function describeDiff(before: readonly AgentConfig[], after: readonly AgentConfig[]): string {
  const b = new Map(before.map((a) => [a.id, JSON.stringify(a)]));
  const out: string[] = [];
  for (const a of after) {
    const old = b.get(a.id);
    if (old === undefined) out.push(`+${a.id}`);
    else if (old !== JSON.stringify(a)) out.push(`~${JSON.stringify(a)}`);
    b.delete(a.id);
  }
  for (const id of b.keys()) out.push(`-${id}`);
  return out.join(" ") || "(no change)";
}

export function fmtMs(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  let s = Math.abs(ms);
  const d = Math.floor(s / 86_400_000);
  s -= d * 86_400_000;
  const h = Math.floor(s / 3_600_000);
  s -= h * 3_600_000;
  const m = Math.floor(s / 60_000);
  s -= m * 60_000;
  const sec = s / 1000;
  return `${sign}${d ? `${d}d` : ""}${h ? `${h}h` : ""}${m ? `${m}m` : ""}${sec ? `${+sec.toFixed(3)}s` : ""}` || "0s";
}
