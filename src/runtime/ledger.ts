import type { RunStatus } from "../policy/outcome.ts";
import { andThen } from "../store/maybe.ts";
import type { HeartbeatStore, RunClaim } from "../store/types.ts";
import type { Clock } from "./clock.ts";
import type { StoreHealth } from "./store-health.ts";

export type BeginResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Run claims: a run starts by claiming its slot under a lease, renews the lease every
 * TTL/3 while alive (extending, never clearing — seed 003), and finishing releases it
 * with the outcome. If the store is down the run goes ahead unclaimed (a heartbeat
 * that cannot record is better than none) and `store-unavailable` is raised.
 */
export class RunLedger {
  private readonly open = new Map<string, { slotKey: string; timer: unknown }>();

  constructor(
    private readonly store: HeartbeatStore,
    private readonly clock: Clock,
    private readonly health: StoreHealth,
    private readonly owner: string,
    private readonly epoch: () => number | undefined,
    readonly leaseTtlMs: number,
    /** Shared store (several gateways): a claim that cannot be made means no run — ownership is unproven. */
    private readonly failClosed = false,
  ) {}

  begin(agentId: string, runId: number, slotKey: string): Promise<BeginResult> | BeginResult {
    const epoch = this.epoch();
    if (epoch === undefined) return { ok: true };
    const now = this.clock.now().wall;
    // A wake-driven run's key is unique to this process's epoch; a scheduled slot's is global.
    if (slotKey.startsWith("run:")) slotKey = `run:${epoch}:${slotKey.slice(4)}`;
    const claim: RunClaim = { agentId, slotKey, runId, owner: this.owner, epoch, claimedAt: now, leaseExpiresAt: now + this.leaseTtlMs };
    return andThen(
      (() => this.store.claim(claim)),
      (result): BeginResult => {
        if (!result.ok && result.reason === "fenced") {
          // A newer process owns the store: this one's records are refused. That is a store failure here.
          this.health.failed("claims", new Error(`fenced: epoch ${epoch} is stale (the store is at ${result.currentEpoch})`));
          return { ok: false, reason: result.reason };
        }
        this.health.succeeded("claims");
        if (!result.ok) return { ok: false, reason: result.reason };
        this.open.set(key(agentId, runId), { slotKey, timer: this.armRenewal(agentId, runId, slotKey, epoch) });
        return { ok: true };
      },
      (err): BeginResult => {
        this.health.failed("claims", err);
        return this.failClosed ? { ok: false, reason: "store-unavailable" } : { ok: true };
      },
    );
  }

  end(agentId: string, runId: number, status: RunStatus): void {
    const k = key(agentId, runId);
    const entry = this.open.get(k);
    if (!entry) return;
    this.open.delete(k);
    this.clock.clearTimeout(entry.timer);
    const epoch = this.epoch();
    if (epoch === undefined) return;
    void andThen(
      (() => this.store.finish(agentId, entry.slotKey, epoch, status, this.clock.now().wall)),
      () => undefined,
      (err) => this.health.failed("claims", err),
    );
  }

  /** Expire other runs' claims whose lease passed (their process died). */
  reap(): Promise<RunClaim[]> | RunClaim[] {
    return andThen(
      (() => this.store.reap(this.clock.now().wall)),
      (reaped) => {
        this.health.succeeded("reaper");
        return reaped;
      },
      (err) => {
        this.health.failed("reaper", err);
        return [];
      },
    );
  }

  /** Stop renewing everything (the gateway is stopping; finishing is recorded by the runs). */
  clear(): void {
    for (const entry of this.open.values()) this.clock.clearTimeout(entry.timer);
    this.open.clear();
  }

  private armRenewal(agentId: string, runId: number, slotKey: string, epoch: number): unknown {
    const every = Math.max(1, Math.floor(this.leaseTtlMs / 3));
    return this.clock.setTimeout(() => {
      const entry = this.open.get(key(agentId, runId));
      if (!entry) return;
      entry.timer = this.armRenewal(agentId, runId, slotKey, epoch);
      void andThen(
        (() => this.store.renew(agentId, slotKey, epoch, this.clock.now().wall + this.leaseTtlMs)),
        () => undefined,
        (err) => this.health.failed("claims", err),
      );
    }, every);
  }
}

const key = (agentId: string, runId: number): string => `${agentId}\u0000${runId}`;
