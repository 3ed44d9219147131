import type { ConfigDiff } from "../../machines/gateway.ts";
import type { ResolvedAgent } from "../policy/types.ts";

/** What a reload changes: agents added, changed (updated in place) and removed. Unchanged ones are left alone. */
export function diffAgents(current: ReadonlyMap<string, ResolvedAgent>, next: ReadonlyMap<string, ResolvedAgent>): ConfigDiff {
  const add: ResolvedAgent[] = [];
  const update: ResolvedAgent[] = [];
  const remove: string[] = [];
  for (const [id, agent] of next) {
    const old = current.get(id);
    if (!old) add.push(agent);
    else if (agentKey(old) !== agentKey(agent)) update.push(agent);
  }
  for (const id of current.keys()) if (!next.has(id)) remove.push(id);
  return { add, update, remove };
}

/** A comparable form of an agent's config (the shared cron object is left out). */
export function agentKey(a: ResolvedAgent): string {
  // Every state save asks; a resolved agent never changes, so compute it once.
  let key = keys.get(a);
  if (key === undefined) {
    const s = a.schedule;
    const schedule = s.kind === "cron" ? { kind: s.kind, expression: s.expression, timezone: s.timezone } : s;
    key = JSON.stringify([a.id, a.sessionKey, a.enabled, schedule, a.activeHours, a.runTimeoutMs]);
    keys.set(a, key);
  }
  return key;
}
const keys = new WeakMap<ResolvedAgent, string>();
