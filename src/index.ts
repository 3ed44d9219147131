/** heartbeat-runtime: supervised, policy-driven periodic heartbeats for AI agents, on XState v5. */
export { createGateway, type Gateway, type GatewayOptions } from "./runtime/gateway.ts";
export type { WakeReceipt, WakeRequest } from "./runtime/wake-request.ts";
export type { AgentHealth, AgentMachineState, HealthReport } from "./runtime/health.ts";
export type { Lanes, RunContext, RunHeartbeat } from "./runtime/host.ts";
export { systemClock, simulatedClock, type Clock } from "./runtime/clock.ts";
export type { Alert, AlertKind, HeartbeatEvent, HeartbeatEventType, RunStatus, Usage } from "./events.ts";
export type { AgentConfig, PolicyConfig } from "./policy/config.ts";
export type { HostResult } from "./policy/outcome.ts";
export { ConfigError, StoreError } from "./errors.ts";
export { memoryStore } from "./store/memory.ts";
export { sqliteStore, type SqliteStoreOptions } from "./store/sqlite.ts";
export { postgresStore, type PostgresStoreOptions } from "./store/postgres.ts";
export type { HeartbeatStore, StoredAgentState, RunClaim, RunRecord, ClaimResult, MaybePromise } from "./store/types.ts";
export { parseDuration, formatDuration } from "./policy/duration.ts";
export { classifyWake, intentOf, type WakeSource, type WakeIntent } from "./policy/wake.ts";
export { heartbeatMachine } from "../machines/heartbeat.ts";
export { gatewayMachine } from "../machines/gateway.ts";
