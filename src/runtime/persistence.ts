import { backoffDelay } from "../policy/backoff.ts";
import type { Instant } from "../policy/time.ts";
import { andThen } from "../store/maybe.ts";
import type { HeartbeatStore, RunRecord, StoredAgentState } from "../store/types.ts";
import type { Clock } from "./clock.ts";
import type { StoreHealth } from "./store-health.ts";

/**
 * Writes agent state behind the runtime: agents are marked dirty as their decisions
 * are recorded and flushed together (one transaction per turn of the event loop).
 * A failed flush keeps everything dirty and retries with backoff; nothing is lost
 * while the store is down, and the gateway never waits on it.
 */
export class Persister {
  private readonly dirty = new Set<string>();
  private runs: RunRecord[] = [];
  private scheduled = false;
  private retryTimer: unknown;
  private failures = 0;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: HeartbeatStore,
    private readonly clock: Clock,
    private readonly health: StoreHealth,
    private readonly epoch: () => number | undefined,
    private readonly snapshot: (agentId: string, now: Instant) => StoredAgentState | undefined,
    private readonly historyPerAgent = 100,
  ) {}

  markDirty(agentId: string): void {
    if (this.closed) return;
    this.dirty.add(agentId);
    this.schedule();
  }

  /** A finished run for the history (bounded per agent), written with the next flush. */
  recordRun(run: RunRecord): void {
    if (this.closed) return;
    this.runs.push(run);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.retryTimer !== undefined) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Write everything dirty now. Resolves when written (or failed and scheduled for retry). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    const epoch = this.epoch();
    if ((this.dirty.size === 0 && this.runs.length === 0) || epoch === undefined) return Promise.resolve();
    const now = this.clock.now();
    const ids = [...this.dirty];
    this.dirty.clear();
    const runs = this.runs;
    this.runs = [];
    const states = ids.map((id) => this.snapshot(id, now)).filter((s): s is StoredAgentState => s !== undefined);
    const fenced = (): never => {
      throw new Error(`fenced: another process took over this store (epoch ${epoch} is stale)`);
    };
    const result = andThen(
      () =>
        andThen(
          () => (states.length > 0 ? this.store.saveAgents(states, epoch) : true),
          (saved) => (saved ? (runs.length > 0 ? this.store.appendRuns(runs, epoch, this.historyPerAgent) : true) : fenced()),
          (err) => {
            throw err;
          },
        ),
      (saved) => {
        if (!saved) fenced();
        this.failures = 0;
        this.health.succeeded("state");
      },
      (err) => {
        for (const id of ids) this.dirty.add(id);
        this.runs = [...runs, ...this.runs];
        this.health.failed("state", err);
        this.scheduleRetry();
      },
    );
    if (!(result instanceof Promise)) return Promise.resolve();
    this.flushing = result.finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  remove(agentIds: readonly string[]): void {
    const epoch = this.epoch();
    for (const id of agentIds) this.dirty.delete(id);
    if (epoch === undefined || agentIds.length === 0) return;
    void andThen(
      (() => this.store.deleteAgents(agentIds, epoch)),
      () => undefined,
      (err) => this.health.failed("state", err),
    );
  }

  /** Final flush, then no more writes or timers. */
  async close(): Promise<void> {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.flush();
    this.closed = true;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = backoffDelay({ initialMs: 1_000, maxMs: 30_000 }, this.failures++);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
  }
}
