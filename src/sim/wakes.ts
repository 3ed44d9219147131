import type { WakeReceipt, WakeRequest } from "../runtime/wake-request.ts";
import type { Checker } from "./invariants.ts";
import { refIntent } from "./reference.ts";

interface WakeRec {
  readonly agentId: string;
  readonly reason: string;
  readonly seq: number;
  readonly requestMono: number;
  /** Latest delivery time: request time + its coalescing window, or earlier when a later request preempts it. */
  deadline: number;
  readonly immediate: boolean;
}

/** Deferral reasons that may hold an immediate wake (DESIGN: flood guard, busy lanes). */
const MAY_HOLD_IMMEDIATE = new Set(["flood", "main-lane-busy", "session-lane-busy"]);
/** An agent that cannot run ends an immediate wake with a record: stopped, disabled, or failed (past its restart limit). */
const MAY_END_IMMEDIATE = new Set(["stopped", "disabled", "failed"]);

/**
 * The wake side of the reference model: every accepted wake is outstanding until an
 * event accounts for it (a run that carries its reason, a deferral or a skip that names
 * it). A wake still unaccounted when it should have been decided is a violation, as is
 * an immediate wake held for a reason other than the flood guard or a busy lane.
 */
export class WakeBook {
  private readonly outstanding = new Map<string, WakeRec[]>();
  /** Requests per agent and reason not yet carried by a run (a run that is not a slot needs one): seq and delivery deadline. */
  private readonly requested = new Map<string, Map<string, { seq: number; deadline: number }[]>>();
  /** Wakes held by agents when the gateway stopped (kept in the store for the next process). */
  private readonly carried: WakeRec[] = [];
  gatewayOpen = false;

  constructor(private readonly c: Checker) {}

  /**
   * A host calls requestWake (through `call`). The wake is opened before the call, since a
   * delivery with coalesceMs 0 decides (and may run) inside it; the receipt's routing is
   * then checked against the targets the model expects.
   */
  request(req: WakeRequest, call: () => WakeReceipt): WakeReceipt {
    const expected = this.expectedTargets(req);
    const { mono } = this.c.opts.clock.now();
    const window = req.coalesceMs ?? this.c.policy.coalesceMs;
    const seq = this.c.nextSeq();
    const open = (agentId: string, deadline = mono + window): void => {
      const rec: WakeRec = { agentId, reason: req.reason, seq, requestMono: mono, deadline, immediate: refIntent(req.reason) === "immediate" };
      let list = this.outstanding.get(agentId);
      if (!list) this.outstanding.set(agentId, (list = []));
      list.push(rec);
      let byReason = this.requested.get(agentId);
      if (!byReason) this.requested.set(agentId, (byReason = new Map()));
      byReason.set(req.reason, [...(byReason.get(req.reason) ?? []), { seq, deadline }]);
    };
    for (const id of expected) {
      // The coalescer merges a target's pending wakes into one delivery, due at the earliest of their deadlines.
      let due = mono + window;
      for (const w of this.outstanding.get(id) ?? []) if (w.deadline > mono) due = Math.min(due, w.deadline);
      for (const w of this.outstanding.get(id) ?? []) if (w.deadline > mono) w.deadline = due;
      for (const list of this.requested.get(id)?.values() ?? []) for (const q of list) if (q.deadline > mono) q.deadline = Math.min(q.deadline, due);
      open(id, due);
    }
    const receipt = call();
    const got = [...receipt.targets].sort();
    if (expected.join("\u0000") !== got.join("\u0000") || receipt.accepted !== expected.length > 0) {
      this.c.fail("wake-routing", req.agentId, `requestWake(${JSON.stringify(req)}) → ${JSON.stringify(receipt)}; expected targets [${expected.join(", ")}]`);
      // Follow the runtime from here on, so one routing slip is reported once.
      for (const id of expected) {
        if (!got.includes(id)) this.outstanding.set(id, (this.outstanding.get(id) ?? []).filter((w) => w.seq !== seq));
      }
      for (const id of got) if (!expected.includes(id)) open(id);
    }
    return receipt;
  }

  private expectedTargets(req: WakeRequest): string[] {
    if (!this.gatewayOpen) return [];
    if (req.reason.trim() === "" || refIntent(req.reason) === "scheduled") return [];
    const live = (id: string) => this.c.agents.get(id)?.live === true;
    if (req.agentId !== undefined) {
      const m = this.c.agents.get(req.agentId);
      if (!m || !live(req.agentId)) return [];
      if (req.sessionKey !== undefined && m.spec.sessionKey !== req.sessionKey) return [];
      return [req.agentId];
    }
    const out: string[] = [];
    for (const [id, m] of this.c.agents) {
      if (live(id) && (req.sessionKey === undefined || m.spec.sessionKey === req.sessionKey)) out.push(id);
    }
    return out.sort();
  }

  /** An event for `agentId` carrying `reasons` (seq orders it against requests). */
  resolve(agentId: string, reasons: readonly string[], seq: number, how: string): void {
    const list = this.outstanding.get(agentId);
    if (how === "run") this.consume(agentId, reasons, seq);
    if (!list || list.length === 0) return;
    const { mono } = this.c.opts.clock.now();
    const keep: WakeRec[] = [];
    for (const w of list) {
      if (w.seq > seq || !reasons.includes(w.reason)) {
        keep.push(w);
        continue;
      }
      if (!w.immediate) continue;
      if (how === "run") {
        if (mono > w.deadline && this.c.runCovering(agentId, w.deadline) === undefined) {
          this.c.fail("immediate-on-time", agentId, `immediate wake "${w.reason}" ran ${mono - w.deadline} ms after its coalesce window`);
        }
      } else if (how === "not-due" || how === "min-spacing") {
        this.c.fail("immediate-on-time", agentId, `immediate wake "${w.reason}" was held with "${how}" (only flood or a busy lane may hold it)`);
      } else if (!MAY_HOLD_IMMEDIATE.has(how) && !MAY_END_IMMEDIATE.has(how)) {
        this.c.fail("immediate-on-time", agentId, `immediate wake "${w.reason}" was skipped with "${how}"`);
      }
    }
    this.outstanding.set(agentId, keep);
  }

  /** Was one of `reasons` requested for the agent before event `seq` (and not carried by an earlier run)? */
  wasRequested(agentId: string, reasons: readonly string[], seq: number): boolean {
    const byReason = this.requested.get(agentId);
    return byReason !== undefined && reasons.some((r) => (byReason.get(r) ?? []).some((q) => q.seq < seq));
  }

  /**
   * A run carries its reasons: every request of them delivered by now (deadline passed) is
   * used up; if none was, the run was caused by one still coalescing, which is used up. A
   * request still coalescing stays open for the run its delivery will cause.
   */
  private consume(agentId: string, reasons: readonly string[], seq: number): void {
    const byReason = this.requested.get(agentId);
    if (!byReason) return;
    const { mono } = this.c.opts.clock.now();
    let used = false;
    for (const r of reasons) {
      const all = byReason.get(r) ?? [];
      const left = all.filter((q) => !(q.seq < seq && q.deadline < mono));
      if (left.length < all.length) used = true;
      byReason.set(r, left);
    }
    if (!used) {
      for (const r of reasons) {
        const left = byReason.get(r) ?? [];
        const i = left.findIndex((q) => q.seq < seq);
        if (i >= 0) {
          left.splice(i, 1);
          break;
        }
      }
    }
    for (const r of reasons) if (byReason.get(r)?.length === 0) byReason.delete(r);
  }

  /** Wakes that should have been decided by now. */
  check(mono: number): void {
    for (const [agentId, list] of this.outstanding) {
      if (list.length === 0) continue;
      const keep: WakeRec[] = [];
      for (const w of list) {
        if (!(mono > w.deadline)) {
          keep.push(w);
          continue;
        }
        // Delivered into a run in flight: folded, decided when that run ends.
        const by = this.c.runCovering(agentId, w.deadline) ?? w.deadline;
        if (mono > by) {
          this.c.fail("wake-accounted", agentId, `wake "${w.reason}" (requested at ${w.requestMono}) neither ran nor was deferred or skipped`);
        } else keep.push(w);
      }
      this.outstanding.set(agentId, keep);
    }
  }

  /**
   * After a graceful stop: a wake still coalescing must have been recorded as skipped; one
   * already delivered and held by the agent (folded into a run in flight) is kept in the
   * agent's stored state, so it is carried to the next process on the same store.
   */
  stopped(): void {
    this.gatewayOpen = false;
    const { mono } = this.c.opts.clock.now();
    for (const [agentId, list] of this.outstanding) {
      for (const w of list) {
        if (w.deadline > mono) {
          this.c.fail("wake-accounted", agentId, `wake "${w.reason}" dropped by stop() while coalescing, without a skip event`);
        } else this.carried.push(w);
      }
    }
    this.outstanding.clear();
  }

  /**
   * A new process started. On the same store, carried wakes must be decided at once (the
   * restored agent is kicked): they are due now. A fresh process has none to carry.
   */
  resumed(durable: boolean): void {
    const { mono } = this.c.opts.clock.now();
    for (const w of durable ? this.carried : []) {
      if (!this.c.agents.get(w.agentId)?.live) continue;
      const list = this.outstanding.get(w.agentId) ?? [];
      list.push({ ...w, deadline: mono });
      this.outstanding.set(w.agentId, list);
    }
    this.carried.length = 0;
  }

  /** A process crash loses what it held in memory; that is not the runtime's to report. */
  crashed(): void {
    this.gatewayOpen = false;
    this.outstanding.clear();
    this.carried.length = 0;
  }

  /**
   * The agent was removed or disabled by a reload. Wakes already delivered to it must have
   * been reported; wakes still coalescing are reported by the gateway when they land.
   */
  retire(agentId: string, removed: boolean): void {
    const { mono } = this.c.opts.clock.now();
    const keep: WakeRec[] = [];
    for (const w of this.outstanding.get(agentId) ?? []) {
      if (w.deadline <= mono && this.c.runCovering(agentId, w.deadline) !== undefined) {
        this.c.fail("wake-accounted", agentId, `wake "${w.reason}" folded into a run, then dropped when the agent was ${removed ? "removed" : "disabled"}, without a skip event`);
      } else keep.push(w);
    }
    this.outstanding.set(agentId, keep);
    if (removed) this.requested.delete(agentId);
  }
}
