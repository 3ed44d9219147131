import type { Logger } from "pino";
import type { Actor } from "xstate";
import type { gatewayMachine } from "../../machines/gateway.ts";
import type { HeartbeatEvent } from "../events.ts";
import type { AgentConfig, PolicyConfig } from "../policy/config.ts";
import type { HeartbeatStore, RunRecord } from "../store/types.ts";
import type { Clock } from "./clock.ts";
import type { HealthReport } from "./health.ts";
import type { Lanes, RunHeartbeat } from "./host.ts";
import type { SharedWakeReceipt } from "./ownership.ts";
import type { WakeRequest } from "./wake-request.ts";

/** The public contract of createGateway (DESIGN.md, "Public contract"). */

export type AlertEvent = Extract<HeartbeatEvent, { type: "alert" }>;

export interface GatewayOptions {
  agents: AgentConfig[];
  runHeartbeat: RunHeartbeat;
  lanes?: Lanes;
  policy?: PolicyConfig;
  onEvent?(event: HeartbeatEvent): void;
  onAlert?(alert: AlertEvent): void;
  clock?: Clock;
  /** Where state, run claims and leases live. Default: `memoryStore()` (this process only). */
  store?: HeartbeatStore;
  /** This gateway's name in run claims. Default: host:pid:random. */
  ownerId?: string;
  /** Run-claim lease: renewed every third of it while a run is alive; the reaper runs every lease. Default "30s". */
  leaseTtl?: string | number;
  /** A pino logger, or false for none. Default: warnings and alerts to stdout (silent under vitest). */
  logger?: Logger | false;
  /** How often the independent detector sweep looks at every agent. Default 15 s. */
  sweepMs?: number;
}

export interface Gateway {
  start(): void;
  stop(): Promise<void>;
  /** On a shared store, targets owned by another gateway are forwarded to it: the receipt says `forwarded`. */
  requestWake(request: WakeRequest): SharedWakeReceipt;
  reload(agents: AgentConfig[]): Promise<void>;
  health(): HealthReport;
  subscribe(listener: (event: HeartbeatEvent) => void): () => void;
  /** Pause an agent: due slots are recorded as skipped (`paused`), only `{ force: true }` manual wakes run. Stored. */
  pause(agentId: string, options?: { reason?: string }): void;
  /** Resume a paused agent: the next due time is re-armed, a slot that passed while paused is not made up. */
  resume(agentId: string): void;
  /** The next `n` scheduled run times (wall ms), from the same policy the machine runs. */
  upcoming(agentId: string, n?: number): number[];
  /** The agent's last runs, newest first (kept in the store, default 100 per agent). */
  history(agentId: string, limit?: number): Promise<RunRecord[]>;
  /** The root XState actor (the supervisor). Heartbeat actors are in its system as `heartbeat:<agentId>`. */
  readonly actor: Actor<typeof gatewayMachine>;
}

