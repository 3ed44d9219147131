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
  ) {}

  begin(agentId: string, runId: number, slotKey: string): Promise<BeginResult> | BeginResult {
    const epoch = this.epoch();
    if (epoch === undefined) return { ok: true };
    const now = this.clock.now().wall;
    const claim: RunClaim = { agentId, slotKey, runId, owner: this.owner, epoch, claimedAt: now, leaseExpiresAt: now + this.leaseTtlMs };
    return andThen(
      (() => this.store.claim(claim)),
      (result): BeginResult => {
        this.health.succeeded();
        if (!result.ok) return { ok: false, reason: result.reason };
        this.open.set(key(agentId, runId), { slotKey, timer: this.armRenewal(agentId, runId, slotKey, epoch) });
        return { ok: true };
      },
      (err): BeginResult => {
        this.health.failed(err);
        return { ok: true };
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
      () => this.health.succeeded(),
      (err) => this.health.failed(err),
    );
  }

  /** Expire other runs' claims whose lease passed (their process died). */
  reap(): Promise<RunClaim[]> | RunClaim[] {
    return andThen(
      (() => this.store.reap(this.clock.now().wall)),
      (reaped) => reaped,
      (err) => {
        this.health.failed(err);
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
        () => this.health.succeeded(),
        (err) => this.health.failed(err),
      );
    }, every);
  }
}

const key = (agentId: string, runId: number): string => `${agentId}\u0000${runId}`;
