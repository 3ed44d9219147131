import type { ClaimOutcome, RunClaim, RunRecord, StoredAgentState } from "./types.ts";

/**
 * Agent ownership for several gateways on one shared store (Postgres): each agent is
 * served by the one gateway holding its lease. Leases expire on the DATABASE clock; a
 * per-agent fencing epoch increments on every takeover, and every write for an agent
 * (run claim, renew, finish, state, history) carries the epoch its writer holds and is
 * refused by the store when the agent's lease has moved on (another owner or epoch).
 *
 * Implemented by `postgresStore({ …, shared: true })`; used by src/runtime/ownership.ts.
 */
export interface OwnershipPort {
  /** A lease lasts this long past its last renewal (database clock). */
  readonly leaseTtlMs: number;
  /** How often a gateway renews its leases and looks for agents to take. */
  readonly renewEveryMs: number;
  /** Renew just these leases (owner and epoch must still match): the ids renewed. Cheap, for a loop of its own. */
  renewLeases(owner: string, held: ReadonlyMap<string, number>): Promise<string[]>;
  /** One lease round for `owner`: heartbeat, fair share, take and shed (see LeaseRound). */
  tick(round: LeaseRoundInput): Promise<LeaseRound>;
  /** Current owner of these agents where another gateway holds them (for wake receipts). */
  owners(owner: string, agentIds: readonly string[]): Promise<Map<string, string>>;
  /** Give leases up (clean stop, shedding): others may take them at once. Only those still held at these epochs. */
  release(owner: string, leases: ReadonlyMap<string, number>): Promise<void>;
  /** The gateway is leaving: forget its heartbeat row, so others count it gone at once. */
  leave(owner: string): Promise<void>;
  /** Stored state of these agents (after taking them over). */
  loadStates(agentIds: readonly string[]): Promise<StoredAgentState[]>;
  /** When each agent's latest run claim was made (wall ms), whoever made it. */
  lastClaims(agentIds: readonly string[]): Promise<Map<string, number>>;

  /** A run claim inserted only while `owner` holds the agent's unexpired lease at `claim.epoch`. */
  claim(claim: RunClaim): Promise<"ok" | "slot-taken" | "lease-lost">;
  /** Raise an open claim's lease (never lower it); false when not open or the agent's lease moved on. */
  renew(owner: string, agentId: string, slotKey: string, epoch: number, leaseExpiresAt: number): Promise<boolean>;
  finish(owner: string, agentId: string, slotKey: string, epoch: number, outcome: ClaimOutcome, finishedAt: number): Promise<boolean>;
  /** Upsert states of agents whose lease `owner` holds at the given epoch; returns the ids refused. */
  saveStates(owner: string, states: readonly { state: StoredAgentState; epoch: number }[]): Promise<string[]>;
  deleteStates(owner: string, agents: readonly { agentId: string; epoch: number }[]): Promise<void>;
  /** Append runs of agents whose lease `owner` holds at the given epoch, keeping `keepPerAgent` per agent. */
  appendRuns(owner: string, records: readonly { run: RunRecord; epoch: number }[], keepPerAgent: number): Promise<void>;

  /** Queue wakes for whichever gateway owns their agent (an inbox row each, then NOTIFY). */
  forward(sender: string, wakes: readonly ForwardedWake[]): Promise<void>;
  /** Take the queued wakes of agents `owner` holds, oldest first. */
  drain(owner: string, agentIds: readonly string[]): Promise<ForwardedWake[]>;
  /** Hear forwarded wakes (LISTEN). Idempotent; resolves once listening. `onLost` when the listening connection dies. */
  listen(onWake: () => void, onLost: (err: unknown) => void): Promise<void>;
  /** Stop listening (before the store closes). */
  dispose(): Promise<void>;
}

export interface LeaseRoundInput {
  readonly owner: string;
  /** Every agent this gateway is configured to serve (the candidates to take). */
  readonly agentIds: readonly string[];
  /** The leases held now: agent id → epoch. */
  readonly held: ReadonlyMap<string, number>;
  /** Ids that are cheaper to give up first when over the fair share (not running). */
  readonly idle: (agentId: string) => boolean;
  /** false: renew only, take nothing (the store is not open for this gateway yet). */
  readonly take: boolean;
}

/**
 * What one round did: free or expired agents taken up to a fair share — ceil(agents / live
 * gateways) — and any excess named for shedding. (Held leases are renewed by `renewLeases`.)
 */
export interface LeaseRound {
  readonly taken: readonly { readonly agentId: string; readonly epoch: number }[];
  /** Held leases over the fair share, to give back: the caller saves their state, stops them, then releases. */
  readonly shed: readonly string[];
  /** Live gateways (heartbeat rows not expired), this one included. */
  readonly gateways: number;
}

/** A wake for an agent another gateway owns. */
export interface ForwardedWake {
  readonly agentId: string;
  readonly reason: string;
  readonly force: boolean;
  readonly coalesceMs?: number;
}
