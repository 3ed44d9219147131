import type { AgentAlertKind } from "../policy/alerts.ts";
import type { RunStatus } from "../policy/outcome.ts";
import type { Lane } from "../policy/state.ts";
import type { OwnershipPort } from "./ownership.ts";

/** A value now or later: the embedded stores answer synchronously, a networked one with a promise. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * One agent's state as stored. Wall-clock times only: monotonic time does not survive
 * a restart. Enough to resume the schedule where it was (not from zero, not with a new
 * phase), keep held wakes, counters and open alert episodes.
 */
export interface StoredAgentState {
  readonly agentId: string;
  /** The agent's config when saved; a different one on load means the schedule changed while down. */
  readonly configKey: string;
  /** Next due slot (wall ms), or null when the agent has none. */
  readonly dueAt: number | null;
  readonly lastRunAt: number | null;
  readonly lastRunStartAt: number | null;
  readonly lastStatus: RunStatus | null;
  /** Wall starts of recent runs (the flood window). */
  readonly runStarts: readonly number[];
  /** Reasons of wakes folded and not yet run. */
  readonly pending: readonly string[];
  readonly busy: { readonly lane: Lane; readonly attempt: number; readonly since: number } | null;
  readonly floodHeldAt: number | null;
  readonly runCount: number;
  readonly skipCount: number;
  readonly consecutiveZeroWork: number;
  readonly openAlerts: readonly AgentAlertKind[];
  readonly timedOut: boolean;
  /** The last run id used, so ids stay unique for the agent across restarts (absent in old rows). */
  readonly lastRunId?: number | null;
  /** Paused by an operator (survives a restart). */
  readonly paused: { readonly reason: string; readonly since: number } | null;
  readonly updatedAt: number;
}

/** One finished run, as the run history keeps it. */
export interface RunRecord {
  readonly agentId: string;
  readonly runId: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly durationMs: number;
  readonly status: RunStatus;
  readonly reasons: readonly string[];
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number } | null;
  /** Why the host skipped or the run was aborted. */
  readonly reason: string | null;
  readonly error: string | null;
}

/** A run's claim on its slot: unique per (agentId, slotKey), held under a lease. */
export interface RunClaim {
  readonly agentId: string;
  readonly slotKey: string;
  readonly runId: number;
  readonly owner: string;
  readonly epoch: number;
  readonly claimedAt: number;
  readonly leaseExpiresAt: number;
}

export type ClaimResult =
  | { readonly ok: true }
  /** The slot was already claimed (it ran, or runs, elsewhere or before a restart). */
  | { readonly ok: false; readonly reason: "slot-taken" }
  /** A newer owner holds the store: this one's writes are refused. */
  | { readonly ok: false; readonly reason: "fenced"; readonly currentEpoch: number }
  /** Shared store: this gateway does not hold the agent's lease (any more): the run must not happen. */
  | { readonly ok: false; readonly reason: "lease-lost" };

/** How a claim ended. */
export type ClaimOutcome = RunStatus;

/**
 * The store port: only what the gateway needs. Every write carries the writer's fencing
 * epoch; a write from an older epoch than the store's is refused (`fenced`), so a stale
 * process can never record over a newer one. Failures throw `StoreError` naming the
 * store's location and the problem.
 */
export interface HeartbeatStore {
  /** Where the data lives, for messages (a file path, a database URL without secrets). */
  readonly location: string;
  /** false for a store that does not outlive the process (memory): the gateway skips writes only a restart would read. */
  readonly durable?: boolean;
  /** Open (creating and migrating as needed) and take ownership: returns this owner's new epoch. */
  open(owner: string): MaybePromise<number>;
  loadAgents(): MaybePromise<StoredAgentState[]>;
  /** Upsert states in one transaction; false (nothing written) when `epoch` is fenced. */
  saveAgents(states: readonly StoredAgentState[], epoch: number): MaybePromise<boolean>;
  deleteAgents(agentIds: readonly string[], epoch: number): MaybePromise<boolean>;
  claim(claim: RunClaim): MaybePromise<ClaimResult>;
  /**
   * Extend an open claim's lease to `leaseExpiresAt`. Never clears or shortens a lease
   * (seed 003): the stored expiry becomes max(stored, given). False if the claim is not
   * open, not this owner's, or fenced.
   */
  renew(agentId: string, slotKey: string, epoch: number, leaseExpiresAt: number): MaybePromise<boolean>;
  /** Close an open claim with its outcome. False if it was not open (reaped) or fenced. */
  finish(agentId: string, slotKey: string, epoch: number, outcome: ClaimOutcome, finishedAt: number): MaybePromise<boolean>;
  /** Expire open claims whose lease has passed: recorded `aborted` / `lease-expired`, returned. */
  reap(now: number): MaybePromise<RunClaim[]>;
  /** Append finished runs, keeping the newest `keepPerAgent` per agent. False when fenced. */
  appendRuns(records: readonly RunRecord[], epoch: number, keepPerAgent: number): MaybePromise<boolean>;
  /** The newest `limit` runs of an agent, newest first. */
  loadRuns(agentId: string, limit: number): MaybePromise<RunRecord[]>;
  close(): MaybePromise<void>;
  /**
   * Present on a store shared by several gateways (`postgresStore({ shared })`): agents are
   * owned by lease and served by their owner only (src/runtime/ownership.ts). Absent: this
   * gateway serves every agent, as with memory and SQLite.
   */
  readonly ownership?: OwnershipPort;
}
