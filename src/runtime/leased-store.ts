import type { OwnershipPort } from "../store/ownership.ts";
import type { ClaimResult, HeartbeatStore, StoredAgentState } from "../store/types.ts";

/**
 * The store as a gateway in shared mode writes to it: the same HeartbeatStore port (so
 * the ledger and the persister are unchanged), but every write for an agent carries the
 * epoch of that agent's lease instead of the gateway's store epoch, and is fenced by the
 * database on it. A claim is sent only under a lease this gateway can prove now (else
 * `lease-lost`: the run does not happen); state and history go with the last epoch it
 * held, and the database refuses them once another owner took the agent.
 *
 * The gateway's store epoch (from `open`) still names wake-driven claim keys
 * (`run:<epoch>:<runId>`), which keeps them unique per process.
 */
export function leasedStore(
  inner: HeartbeatStore,
  port: OwnershipPort,
  owner: string,
  epochs: {
    /** The epoch of a lease this gateway can prove now (a run may start under it), else undefined. */
    readonly claimEpoch: (agentId: string) => number | undefined;
    /** The last epoch it held: state, history and a run's renew/finish carry it; the database refuses them if the lease moved on. */
    readonly writeEpoch: (agentId: string) => number | undefined;
    /** A run's claim renewal was refused: the agent's lease moved on under it. */
    readonly onRenewRefused: (agentId: string) => void;
  },
): HeartbeatStore {
  const { claimEpoch, writeEpoch, onRenewRefused } = epochs;
  const withEpochs = <T>(list: readonly T[], idOf: (x: T) => string): { item: T; epoch: number }[] => {
    const out: { item: T; epoch: number }[] = [];
    for (const item of list) {
      const epoch = writeEpoch(idOf(item));
      if (epoch !== undefined) out.push({ item, epoch });
    }
    return out;
  };
  return {
    location: inner.location,
    durable: true,
    open: (o) => inner.open(o),
    loadAgents: () => inner.loadAgents(),
    loadRuns: (agentId, limit) => inner.loadRuns(agentId, limit),
    // Expired claims are reaped by whichever gateway gets there first (one UPDATE … RETURNING).
    reap: (now) => inner.reap(now),
    close: () => inner.close(),

    async saveAgents(states, _epoch) {
      const list = withEpochs(states, (s: StoredAgentState) => s.agentId).map(({ item, epoch }) => ({ state: item, epoch }));
      await port.saveStates(owner, list);
      // Refused rows belong to agents taken over meanwhile: not a failure of this store.
      return true;
    },

    async deleteAgents(agentIds, _epoch) {
      await port.deleteStates(owner, withEpochs(agentIds, (id) => id).map(({ item, epoch }) => ({ agentId: item, epoch })));
      return true;
    },

    async appendRuns(records, _epoch, keepPerAgent) {
      await port.appendRuns(owner, withEpochs(records, (r) => r.agentId).map(({ item, epoch }) => ({ run: item, epoch })), keepPerAgent);
      return true;
    },

    async claim(c): Promise<ClaimResult> {
      const epoch = claimEpoch(c.agentId);
      if (epoch === undefined) return { ok: false, reason: "lease-lost" };
      const r = await port.claim({ ...c, epoch });
      switch (r) {
        case "ok":
          // The answer may come late (a paused process): the host is called only while the lease is still proven.
          return claimEpoch(c.agentId) === epoch ? { ok: true } : { ok: false, reason: "lease-lost" };
        case "slot-taken":
        case "lease-lost":
          return { ok: false, reason: r };
      }
    },

    async renew(agentId, slotKey, _epoch, leaseExpiresAt) {
      const epoch = writeEpoch(agentId);
      const ok = epoch !== undefined && (await port.renew(owner, agentId, slotKey, epoch, leaseExpiresAt));
      // The agent's lease moved on under a run in flight: stop it now (the run is aborted).
      if (!ok) onRenewRefused(agentId);
      return ok;
    },

    async finish(agentId, slotKey, _epoch, outcome, finishedAt) {
      const epoch = writeEpoch(agentId);
      return epoch !== undefined && port.finish(owner, agentId, slotKey, epoch, outcome, finishedAt);
    },
  };
}
