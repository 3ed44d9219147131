/**
 * Fixtures shared by the pure-policy tests. Agents and policies go through the real
 * config resolution (resolveAgents / resolvePolicy), so a fixture is always a value
 * the runtime could actually hold.
 */
import { type AgentConfig, type PolicyConfig, resolveAgents, resolvePolicy } from "../../src/policy/config.ts";
import { initialPolicyState, type AgentPolicyState, type Due } from "../../src/policy/state.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../../src/policy/types.ts";
import { wakeFromReason, type Wake } from "../../src/policy/wake.ts";

export function agentOf(config: Partial<AgentConfig> = {}): ResolvedAgent {
  const [agent] = resolveAgents([{ id: "a1", ...config }]);
  if (agent === undefined) throw new Error("resolveAgents returned no agent");
  return agent;
}

export function policyOf(config: PolicyConfig = {}): ResolvedPolicy {
  return resolvePolicy(config);
}

/** A policy state: the initial one (due never) with the given fields replaced. */
export function stateOf(overrides: Partial<AgentPolicyState> = {}): AgentPolicyState {
  return { ...initialPolicyState({ kind: "never" }), ...overrides };
}

export function wakes(...reasons: string[]): Wake[] {
  return reasons.map(wakeFromReason);
}

export const mono = (at: number): Due => ({ kind: "mono", at });
export const wall = (at: number): Due => ({ kind: "wall", at });
export const never: Due = { kind: "never" };

/** 2026-01-15 (a Thursday) at hh:mm UTC. */
export const utc = (h: number, m = 0, s = 0): number => Date.UTC(2026, 0, 15, h, m, s);
