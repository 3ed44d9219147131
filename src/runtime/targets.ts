import type { ResolvedAgent } from "../policy/types.ts";

export type Targets = { ok: true; targets: string[] } | { ok: false; error: string; disabled?: string };

/** Which agents a wake is for: one agent, the agents of a session, or every enabled agent. */
export function wakeTargets(
  agents: ReadonlyMap<string, ResolvedAgent>,
  failed: (id: string) => boolean,
  agentId: string | undefined,
  sessionKey: string | undefined,
): Targets {
  if (agentId !== undefined) {
    const agent = agents.get(agentId);
    if (!agent) return { ok: false, error: `agentId: unknown agent "${agentId}"` };
    if (sessionKey !== undefined && agent.sessionKey !== sessionKey) {
      return { ok: false, error: `sessionKey: agent "${agentId}" is not in session "${sessionKey}"` };
    }
    if (!agent.enabled) return { ok: false, error: `agentId: agent "${agentId}" is disabled`, disabled: agentId };
    if (failed(agentId)) return { ok: false, error: `agentId: agent "${agentId}" failed (restart limit); reload it to retry` };
    return { ok: true, targets: [agentId] };
  }
  const targets: string[] = [];
  for (const a of agents.values()) {
    if (a.enabled && !failed(a.id) && (sessionKey === undefined || a.sessionKey === sessionKey)) targets.push(a.id);
  }
  if (targets.length > 0) return { ok: true, targets };
  return {
    ok: false,
    error: sessionKey === undefined ? "agents: no enabled agent to wake" : `sessionKey: no enabled agent in session "${sessionKey}"`,
  };
}
