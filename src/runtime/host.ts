import type { HostResult, RunStatus } from "../policy/outcome.ts";
import type { Clock } from "./clock.ts";

export interface RunContext {
  readonly agentId: string;
  readonly sessionKey?: string;
  readonly reasons: string[];
  /** Aborts when the run times out, the agent is stopped or reloaded away. */
  readonly signal: AbortSignal;
}

export type RunHeartbeat = (ctx: RunContext) => Promise<HostResult>;

/** The host's lane probes: is the main lane busy, is this session's lane busy. */
export interface Lanes {
  mainBusy?(): boolean;
  sessionBusy?(sessionKey: string): boolean;
}

/** Run claims under a lease (src/runtime/ledger.ts): a run claims its slot before the host is called. */
export interface RunLedgerPort {
  begin(agentId: string, runId: number, slotKey: string): Promise<{ ok: true } | { ok: false; reason: string }> | { ok: true } | { ok: false; reason: string };
  end(agentId: string, runId: number, status: RunStatus): void;
}

/** Runs in flight, so the supervisor can abort one whose actor crashed (its own signal would never fire). */
export interface RunRegistryPort {
  started(agentId: string, runId: number, abort: AbortController): void;
  ended(agentId: string, runId: number): void;
  abort(agentId: string, runId: number, reason: string): void;
}

/** What a heartbeat actor needs from outside. One object shared by every agent of a gateway. */
export interface HeartbeatDeps {
  readonly clock: Clock;
  readonly runHeartbeat: RunHeartbeat;
  readonly lanes: Lanes;
  readonly ledger?: RunLedgerPort | undefined;
  readonly runs?: RunRegistryPort | undefined;
  /** A timed-out or aborted run's promise settled after all; recorded, never counted. */
  onLateSettlement(agentId: string, runId: number, settled: "resolved" | "rejected"): void;
}
