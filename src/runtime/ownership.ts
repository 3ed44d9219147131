import type { Logger } from "pino";
import type { ConfigDiff } from "../../machines/gateway.ts";
import { backoffDelay } from "../policy/backoff.ts";
import type { ResolvedAgent } from "../policy/types.ts";
import type { ForwardedWake, LeaseRound, OwnershipPort } from "../store/ownership.ts";
import type { HeartbeatStore, StoredAgentState } from "../store/types.ts";
import type { Clock } from "./clock.ts";
import { leasedStore } from "./leased-store.ts";
import { knownRun } from "./ownership-glue.ts";
import type { StoreHealth } from "./store-health.ts";
import type { WakeReceipt } from "./wake-request.ts";

/** What the gateway does when this gateway gains or loses agents (src/runtime/gateway.ts). */
export interface OwnershipHooks {
  /** The configured agents (the enabled ones are the candidates to own). */
  agents(): ReadonlyMap<string, ResolvedAgent>;
  /** The store is open for this gateway (its claims can be fenced): only then are agents taken. */
  opened(): boolean;
  /** Start these agents' actors from their stored state. */
  gained(agents: ResolvedAgent[], stored: ReadonlyMap<string, StoredAgentState>): void;
  /** Stop these agents' actors at once (a run in flight is aborted); returns wakes they still held, to hand on. */
  lost(agentIds: string[]): Map<string, string[]>;
  /** A run is in flight: prefer giving up other agents. */
  running(agentId: string): boolean;
  /** A forwarded wake for an agent this gateway owns: into the local coalescer. */
  deliver(wake: ForwardedWake): void;
  /** The agent's state as it would be stored now (undefined when it has none). */
  snapshot(agentId: string): StoredAgentState | undefined;
}

/** A wake receipt that also says which targets went to another gateway. */
export type SharedWakeReceipt = WakeReceipt & {
  /** Some targets are owned by another gateway: their wake was accepted for forwarding (delivered asynchronously). */
  readonly forwarded?: true;
  /** Single target owned elsewhere: its owner as last seen (absent while nobody holds it: the next owner gets it). */
  readonly owner?: string;
  /** The targets handed on for forwarding. */
  readonly forwardedTargets?: string[];
};

export interface OwnershipReport {
  readonly owner: string;
  /** Agents whose lease this gateway holds. */
  readonly owned: number;
  /** Live gateways sharing the store, as of the last lease round. */
  readonly gateways: number;
  /** Wall time of the last successful lease round. */
  readonly lastRoundAt?: number;
}

interface Held {
  readonly epoch: number;
  /** Monotonic time until which the lease is proven (when its renewal or take was sent + TTL: the DB set now() + TTL after that). */
  validUntil: number;
}

/**
 * Agent ownership for a gateway on a shared store: two loops every `renewEveryMs` — one
 * renews the leases held (nothing else, so nothing delays it), one takes and sheds agents
 * (OwnershipPort.tick), starts gained agents from their stored state, delivers forwarded
 * wakes — and lost agents are stopped at once. Leases are proven by the database; when it
 * cannot be reached the loop retries with backoff, raises `store-unavailable`, and stops
 * every agent whose lease has run out by the local monotonic estimate (it may already be
 * someone else's) — the fencing epoch refuses anything it would still try to write.
 */
export class Ownership {
  private readonly held = new Map<string, Held>();
  /** The last epoch held per agent, kept after a lease is dropped: state writes carry it and the database decides (it refuses them once the lease moved on). */
  private readonly written = new Map<string, number>();
  private owners = new Map<string, string>();
  private outbox: ForwardedWake[] = [];
  private gateways = 1;
  private lastRoundAt: number | undefined;
  private timer: unknown;
  private renewTimer: unknown;
  private watchdog: unknown;
  private failures = 0;
  private renewFailures = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private state: "new" | "started" | "halted" | "stopped" = "new";
  readonly store: HeartbeatStore;

  constructor(
    private readonly port: OwnershipPort,
    inner: HeartbeatStore,
    private readonly owner: string,
    private readonly clock: Clock,
    private readonly health: StoreHealth,
    private readonly hooks: OwnershipHooks,
    private readonly logger?: Logger,
  ) {
    this.store = leasedStore(inner, port, owner, {
      claimEpoch: (id) => this.epochOf(id),
      writeEpoch: (id) => this.written.get(id),
      onRenewRefused: (id) => void this.drop([id], "run-claim renewal refused"),
    });
  }

  owns(agentId: string): boolean {
    return this.held.has(agentId);
  }

  /** The epoch of a lease this gateway can still prove by its own monotonic clock, else undefined (no run may start). */
  epochOf(agentId: string): number | undefined {
    const h = this.held.get(agentId);
    return h && this.clock.now().mono < h.validUntil ? h.epoch : undefined;
  }

  start(): void {
    if (this.state !== "new") return;
    this.state = "started";
    this.round();
    this.renewTimer = this.clock.setTimeout(() => this.renew(), this.port.renewEveryMs);
  }

  /**
   * Renewal on a loop of its own (one statement on the lease connections), so taking over
   * or adopting many agents in a round never delays the proof of the leases held.
   */
  private renew(): void {
    if (this.state !== "started") return;
    const started = this.clock.now().mono;
    const every = this.port.renewEveryMs;
    const held = new Map([...this.held].map(([id, h]) => [id, h.epoch] as const));
    const next = (delay: number): void => {
      if (this.state === "started") this.renewTimer = this.clock.setTimeout(() => this.renew(), delay);
    };
    this.port.renewLeases(this.owner, held).then(
      (renewed) => {
        if (this.state !== "started") return;
        this.renewFailures = 0;
        const ok = new Set(renewed);
        const lost: string[] = [];
        for (const [id, epoch] of held) {
          const h = this.held.get(id);
          if (!h || h.epoch !== epoch) continue; // retaken meanwhile: its own proof
          if (ok.has(id)) h.validUntil = Math.max(h.validUntil, started + this.port.leaseTtlMs);
          else lost.push(id);
        }
        void this.drop(lost, "lease lost");
        this.armWatchdog();
        next(Math.max(0, every - (this.clock.now().mono - started)));
      },
      (err: unknown) => {
        this.health.failed("leases", err);
        this.expire();
        next(backoffDelay({ initialMs: Math.min(250, every), maxMs: every }, this.renewFailures++));
      },
    );
  }

  /** Run a lease round now (after a reload, on a NOTIFY); coalesced with one in flight. */
  round(): void {
    if (this.state !== "started") return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const startedAt = this.clock.now().mono;
    this.running = this.tick().finally(() => {
      this.running = undefined;
      if (this.state !== "started") return;
      if (this.again) {
        this.again = false;
        this.round();
        return;
      }
      const every = this.port.renewEveryMs;
      const took = this.clock.now().mono - startedAt;
      if (took > every) this.logger?.warn({ owner: this.owner, ms: Math.round(took), renewEveryMs: every }, "slow lease round");
      // Fixed rate from the round's start: a slow round (adopting agents, a loaded host) must not push the next renewal toward expiry.
      const delay =
        this.failures === 0
          ? Math.max(0, every - took)
          : backoffDelay({ initialMs: Math.min(250, every), maxMs: Math.max(every, 5_000) }, this.failures - 1);
      this.timer = this.clock.setTimeout(() => this.round(), delay);
    });
  }

  /**
   * Route a wake's targets: those owned here are delivered locally; the others are
   * queued for their owner (forwarded asynchronously: the receipt says accepted-for-forwarding).
   */
  route(targets: readonly string[], req: { readonly reason: string; readonly force?: boolean | undefined; readonly coalesceMs?: number | undefined }): { local: string[]; receipt: Partial<SharedWakeReceipt> } {
    const local: string[] = [];
    const remote: string[] = [];
    for (const id of targets) (this.held.has(id) ? local : remote).push(id);
    if (remote.length === 0) return { local, receipt: {} };
    this.forward(remote.map((agentId) => wakeOf(agentId, req.reason, req.force === true, req.coalesceMs)));
    const owner = remote.length === 1 && targets.length === 1 ? this.owners.get(remote[0]!) : undefined;
    return { local, receipt: { forwarded: true, forwardedTargets: remote, ...(owner === undefined ? {} : { owner }) } };
  }

  /** A wake that reached the actor table after its agent left this gateway: hand it on. False when it is still ours. */
  forwardLate(agentId: string, reasons: readonly string[], force: boolean): boolean {
    if (this.held.has(agentId) || !this.hooks.agents().has(agentId)) return false;
    this.forward(reasons.map((r) => wakeOf(agentId, r, force)));
    return true;
  }

  /** A reload's diff as it applies here: only agents this gateway owns are started or updated. */
  scope(diff: ConfigDiff): ConfigDiff {
    // New agents need lease rows, removed ones are given back: a round now rather than later.
    this.round();
    const mine = (a: ResolvedAgent): boolean => this.held.has(a.id);
    return { add: diff.add.filter(mine), update: diff.update.filter(mine), remove: diff.remove };
  }

  /** No more lease rounds (the gateway is stopping); leases are kept until stop() releases them. */
  halt(): void {
    if (this.state === "started") this.state = "halted";
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.renewTimer);
    this.clock.clearTimeout(this.watchdog);
  }

  report(): OwnershipReport {
    return { owner: this.owner, owned: this.held.size, gateways: this.gateways, ...(this.lastRoundAt === undefined ? {} : { lastRoundAt: this.lastRoundAt }) };
  }

  /** Clean stop: no more rounds; every lease released so other gateways take the agents at once. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.renewTimer);
    this.clock.clearTimeout(this.watchdog);
    await this.running?.catch(() => undefined);
    const leases = new Map([...this.held].map(([id, h]) => [id, h.epoch] as const));
    this.held.clear();
    try {
      await this.flushOutbox();
      await this.port.release(this.owner, leases);
      await this.port.leave(this.owner);
    } catch (err) {
      // They expire on their own within a TTL.
      this.logger?.warn({ err }, "releasing agent leases failed");
    }
  }

  private forward(wakes: ForwardedWake[]): void {
    this.outbox.push(...wakes);
    void this.flushOutbox().catch((err: unknown) => {
      this.logger?.warn({ err }, "forwarding wakes failed; retried with the next lease round");
    });
  }

  private async flushOutbox(): Promise<void> {
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    try {
      await this.port.forward(this.owner, batch);
    } catch (err) {
      this.outbox = [...batch, ...this.outbox];
      throw err;
    }
  }

  private async tick(): Promise<void> {
    const startedMono = this.clock.now().mono;
    const configured = [...this.hooks.agents().values()].filter((a) => a.enabled).map((a) => a.id);
    this.expire();
    const heldAtStart = new Map([...this.held].map(([id, h]) => [id, h.epoch] as const));
    let round: LeaseRound;
    try {
      round = await this.port.tick({ owner: this.owner, agentIds: configured, held: heldAtStart, idle: (id) => !this.hooks.running(id), take: this.hooks.opened() });
    } catch (err) {
      this.failures++;
      this.health.failed("leases", err);
      this.expire();
      return;
    }
    // The database set now() + TTL after the round started: that bounds the proof.
    const validUntil = startedMono + this.port.leaseTtlMs;
    for (const t of round.taken) this.hold(t.agentId, { epoch: t.epoch, validUntil });
    // Stopped while the round was in flight: what it took is given back by stop().
    if (this.state !== "started") return;
    this.failures = 0;
    this.lastRoundAt = this.clock.now().wall;
    this.gateways = round.gateways;
    const wanted = new Set(configured);
    try {
      // Taken agents start first: their due slots may already have passed.
      if (round.taken.length > 0) await this.adopt(round.taken.map((t) => t.agentId));
      // Over the fair share, or removed from the config: save, stop, then release (others take them at once).
      await this.giveUp([...round.shed, ...[...this.held.keys()].filter((id) => !wanted.has(id))]);
      await this.port.listen(
        () => void this.drainInbox().catch(() => undefined),
        (err) => this.logger?.warn({ err }, "the wake listener's connection was lost; reconnecting"),
      );
      await this.flushOutbox();
      await this.drainInbox();
      this.owners = await this.port.owners(this.owner, configured);
      this.health.succeeded("leases");
    } catch (err) {
      this.failures++;
      this.health.failed("leases", err);
    }
    this.armWatchdog();
  }

  private hold(agentId: string, h: Held): void {
    this.held.set(agentId, h);
    this.written.set(agentId, h.epoch);
  }

  private async giveUp(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const leases = new Map(ids.flatMap((id) => (this.held.has(id) ? [[id, this.held.get(id)!.epoch] as const] : [])));
    // Their last state is written while the lease still proves it, so the next owner resumes exactly here.
    await this.drop(ids, "given up (fair share or config)");
    for (const id of ids) this.written.delete(id);
    await this.port.release(this.owner, leases);
  }

  /** Start taken agents from their stored state (loaded after the takeover: the old owner's writes are in). */
  private async adopt(ids: string[]): Promise<void> {
    let stored: StoredAgentState[];
    try {
      const [states, claims] = await Promise.all([this.port.loadStates(ids), this.port.lastClaims(ids)]);
      const agents = this.hooks.agents();
      stored = states.map((st) => knownRun(st, claims.get(st.agentId), agents.get(st.agentId)));
    } catch (err) {
      // Cannot start them without their state (their slots would restart from zero): give them back.
      const leases = new Map(ids.map((id) => [id, this.held.get(id)?.epoch ?? -1] as const));
      for (const id of ids) this.held.delete(id);
      await this.port.release(this.owner, leases).catch(() => undefined);
      throw err;
    }
    if (this.state !== "started") return; // stopping: stop() gives them back
    const agents = this.hooks.agents();
    const list = ids.filter((id) => this.held.has(id)).map((id) => agents.get(id)).filter((a): a is ResolvedAgent => a !== undefined);
    this.hooks.gained(list, new Map(stored.map((s) => [s.agentId, s])));
    this.logger?.info({ owner: this.owner, agents: list.length }, "took over agents");
  }

  private async drainInbox(): Promise<void> {
    if (this.held.size === 0 || this.state !== "started") return;
    const wakes = await this.port.drain(this.owner, [...this.held.keys()]);
    for (const w of wakes) {
      if (this.held.has(w.agentId)) this.hooks.deliver(w);
      else this.outbox.push(w); // lost meanwhile: back in the inbox for the next owner
    }
  }

  /** Stop agents at once; wakes they held go to the inbox for their next owner. */
  private drop(ids: readonly string[], why: string): Promise<void> {
    const mine = ids.filter((id) => this.held.delete(id));
    if (mine.length === 0) return Promise.resolve();
    this.logger?.warn({ owner: this.owner, agents: mine.length, why }, "stopped serving agents");
    // Their state as of now, taken before the actors stop: written with the last epoch held (the
    // database keeps it only if the lease is still this gateway's, e.g. not yet taken over).
    const states = mine.flatMap((id) => {
      const state = this.hooks.snapshot(id);
      const epoch = this.written.get(id);
      return state && epoch !== undefined ? [{ state, epoch }] : [];
    });
    const pending = this.hooks.lost(mine);
    for (const [agentId, reasons] of pending) this.forward(reasons.map((r) => wakeOf(agentId, r, false)));
    return this.port.saveStates(this.owner, states).then(
      () => undefined,
      (err: unknown) => this.logger?.warn({ err }, "saving the state of agents given up failed"),
    );
  }

  /** Drop every lease this gateway can no longer prove (its TTL ran out by the local monotonic clock). */
  private expire(): void {
    const now = this.clock.now().mono;
    const expired = [...this.held].filter(([, h]) => now >= h.validUntil).map(([id]) => id);
    if (expired.length > 0) void this.drop(expired, "lease could not be renewed in time");
  }

  private armWatchdog(): void {
    this.clock.clearTimeout(this.watchdog);
    let first = Infinity;
    for (const h of this.held.values()) first = Math.min(first, h.validUntil);
    if (first === Infinity || this.state !== "started") return;
    this.watchdog = this.clock.setTimeout(() => {
      this.expire();
      this.armWatchdog();
    }, Math.max(1, first - this.clock.now().mono));
  }
}

const wakeOf = (agentId: string, reason: string, force: boolean, coalesceMs?: number): ForwardedWake => ({
  agentId,
  reason,
  force,
  ...(coalesceMs === undefined ? {} : { coalesceMs }),
});
