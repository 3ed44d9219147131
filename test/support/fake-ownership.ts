import type { ForwardedWake, LeaseRound, LeaseRoundInput, OwnershipPort } from "../../src/store/ownership.ts";
import type { ClaimOutcome, RunClaim, RunRecord, StoredAgentState } from "../../src/store/types.ts";

/**
 * An in-memory OwnershipPort for runtime tests on fake time: leases with owner and epoch
 * (expiry is not modelled: a test takes a lease away with `steal`), fenced claims and
 * state, an inbox, and a switch that makes every call fail (a database out of reach).
 */
export class FakeOwnership implements OwnershipPort {
  readonly leases = new Map<string, { owner: string; epoch: number }>();
  readonly claims = new Map<string, { owner: string; epoch: number; status: string; leaseExpiresAt: number }>();
  readonly states = new Map<string, StoredAgentState>();
  readonly runs: RunRecord[] = [];
  readonly inbox: ForwardedWake[] = [];
  down = false;
  /** Claim renewals answer false while set (the claim was reaped, or the lease moved on). */
  refuseRenewals = false;
  /** Run claims fail (a statement timeout) while set; everything else works. */
  failClaims = false;
  private onWake: (() => void) | undefined;

  constructor(
    readonly leaseTtlMs = 3_000,
    readonly renewEveryMs = 1_000,
  ) {}

  /** Another gateway takes the agent over (epoch + 1). */
  steal(agentId: string, owner = "other"): void {
    const l = this.leases.get(agentId);
    this.leases.set(agentId, { owner, epoch: (l?.epoch ?? 0) + 1 });
  }

  private check(): void {
    if (this.down) throw new Error("connection refused (fake)");
  }
  private holds(agentId: string, owner: string, epoch: number): boolean {
    const l = this.leases.get(agentId);
    return l !== undefined && l.owner === owner && l.epoch === epoch;
  }

  async renewLeases(owner: string, held: ReadonlyMap<string, number>): Promise<string[]> {
    this.check();
    return [...held].filter(([id, e]) => this.holds(id, owner, e)).map(([id]) => id);
  }
  async tick({ owner, agentIds, held, take }: LeaseRoundInput): Promise<LeaseRound> {
    this.check();
    const taken: { agentId: string; epoch: number }[] = [];
    if (take) {
      for (const id of agentIds) {
        const l = this.leases.get(id);
        if (held.has(id) || (l && l.owner !== "" && l.owner !== owner)) continue;
        const epoch = (l?.epoch ?? 0) + 1;
        this.leases.set(id, { owner, epoch });
        taken.push({ agentId: id, epoch });
      }
    }
    return { taken, shed: [], gateways: 1 };
  }
  async owners(owner: string, agentIds: readonly string[]): Promise<Map<string, string>> {
    this.check();
    return new Map(agentIds.flatMap((id) => {
      const l = this.leases.get(id);
      return l && l.owner !== "" && l.owner !== owner ? [[id, l.owner] as const] : [];
    }));
  }
  async release(owner: string, leases: ReadonlyMap<string, number>): Promise<void> {
    this.check();
    for (const [id, e] of leases) if (this.holds(id, owner, e)) this.leases.set(id, { owner: "", epoch: e });
  }
  async leave(): Promise<void> {
    this.check();
  }
  async loadStates(agentIds: readonly string[]): Promise<StoredAgentState[]> {
    this.check();
    return agentIds.flatMap((id) => (this.states.has(id) ? [this.states.get(id)!] : []));
  }
  async lastClaims(): Promise<Map<string, number>> {
    this.check();
    return new Map();
  }
  async claim(c: RunClaim): Promise<"ok" | "slot-taken" | "lease-lost"> {
    this.check();
    if (this.failClaims) throw new Error("statement timeout (fake)");
    if (!this.holds(c.agentId, c.owner, c.epoch)) return "lease-lost";
    const k = `${c.agentId} ${c.slotKey}`;
    if (this.claims.has(k)) return "slot-taken";
    this.claims.set(k, { owner: c.owner, epoch: c.epoch, status: "open", leaseExpiresAt: c.leaseExpiresAt });
    return "ok";
  }
  async renew(owner: string, agentId: string, slotKey: string, epoch: number): Promise<boolean> {
    this.check();
    return !this.refuseRenewals && this.holds(agentId, owner, epoch) && this.claims.get(`${agentId} ${slotKey}`)?.status === "open";
  }
  async finish(owner: string, agentId: string, slotKey: string, epoch: number, outcome: ClaimOutcome): Promise<boolean> {
    this.check();
    const c = this.claims.get(`${agentId} ${slotKey}`);
    if (!c || c.status !== "open" || !this.holds(agentId, owner, epoch)) return false;
    c.status = outcome;
    return true;
  }
  async saveStates(owner: string, states: readonly { state: StoredAgentState; epoch: number }[]): Promise<string[]> {
    this.check();
    const refused: string[] = [];
    for (const { state, epoch } of states) {
      if (this.holds(state.agentId, owner, epoch)) this.states.set(state.agentId, state);
      else refused.push(state.agentId);
    }
    return refused;
  }
  async deleteStates(owner: string, agents: readonly { agentId: string; epoch: number }[]): Promise<void> {
    this.check();
    for (const a of agents) if (this.holds(a.agentId, owner, a.epoch)) this.states.delete(a.agentId);
  }
  async appendRuns(owner: string, records: readonly { run: RunRecord; epoch: number }[]): Promise<void> {
    this.check();
    for (const r of records) if (this.holds(r.run.agentId, owner, r.epoch)) this.runs.push(r.run);
  }
  async forward(_sender: string, wakes: readonly ForwardedWake[]): Promise<void> {
    this.check();
    this.inbox.push(...wakes);
    this.onWake?.();
  }
  async drain(owner: string, agentIds: readonly string[]): Promise<ForwardedWake[]> {
    this.check();
    const mine = this.inbox.filter((w) => agentIds.includes(w.agentId) && this.leases.get(w.agentId)?.owner === owner);
    for (const w of mine) this.inbox.splice(this.inbox.indexOf(w), 1);
    return mine;
  }
  async listen(onWake: () => void): Promise<void> {
    this.check();
    this.onWake = onWake;
  }
  async dispose(): Promise<void> {}
}
