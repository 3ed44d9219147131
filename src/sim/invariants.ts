import type { HeartbeatEvent } from "../events.ts";
import { checkSilence, freshModel, newSegment, slotRan, slotSkipped, type AgentModel, type RunRec } from "./agent-model.ts";
import type { SimClock } from "./clock.ts";
import type { SimHost, SimLanes } from "./host.ts";
import { isSlotReason, refIntent, type RefAgent, type RefPolicy } from "./reference.ts";
import type { KnownBug, Rule, Violation } from "./rules.ts";
import { WakeBook } from "./wakes.ts";

export type { Rule, Violation } from "./rules.ts";
export type { AgentModel } from "./agent-model.ts";

/** Rules a stale config (an update lost in a crash) breaks. */

export interface ConfigChange {
  /** Agents the runtime starts from nothing ("all" on a fresh process). */
  readonly fresh: ReadonlySet<string> | "all";
  /** Agents whose schedule changed (the runtime picks a new first slot). */
  readonly scheduleChanged?: ReadonlySet<string>;
  /** A restart that resumed from a store: the process was down until now. */
  readonly restart?: boolean;
  /** The runtime's memory may have drifted from ours (e.g. restored across a wall-clock jump). */
  readonly uncertain?: boolean;
}

export interface CheckerOptions {
  readonly clock: SimClock;
  readonly lanes: SimLanes;
  readonly host: SimHost;
  readonly policy: RefPolicy;
  /** Rules not to report at all (counted in `tolerated`). */
  readonly tolerate?: ReadonlySet<Rule>;
  /** Count violations recognised as a known runtime bug (rules.ts) as tolerated, not as violations. */
  readonly tolerateKnown?: boolean;
  readonly maxViolations?: number;
}

/**
 * The reference model and its invariants. Feed it every event the gateway emits
 * (`record`), every wake request (`wakes.request`), config changes, stops, crashes and
 * wall-clock jumps, and call `check()` between simulation steps; it collects violations.
 */
export class Checker {
  readonly agents = new Map<string, AgentModel>();
  readonly violations: Violation[] = [];
  readonly tolerated = new Map<string, number>();
  readonly wakes: WakeBook;
  private seq = 0;
  private lastBackJump: { mono: number; ms: number } | undefined;
  private inReload = false;
  /** No gateway is running (stopped, or crashed and not yet restarted): nothing can run or alert. */
  down = false;
  runStarts = 0;
  checks = 0;

  constructor(readonly opts: CheckerOptions) {
    this.wakes = new WakeBook(this);
  }

  get policy(): RefPolicy {
    return this.opts.policy;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  fail(rule: Rule, agentId: string | undefined, detail: string, explained?: KnownBug): void {
    const known = explained;
    const key = known !== undefined && this.opts.tolerateKnown ? `${rule} (known: ${known})` : this.opts.tolerate?.has(rule) ? rule : undefined;
    if (key !== undefined) {
      this.tolerated.set(key, (this.tolerated.get(key) ?? 0) + 1);
      return;
    }
    if (this.violations.length >= (this.opts.maxViolations ?? 50)) return;
    const { mono, wall } = this.opts.clock.now();
    this.violations.push({ rule, agentId, mono, wall, detail: known ? `${detail} [known bug: ${known}]` : detail });
  }

  private readonly failAgent = (rule: Rule, agentId: string, detail: string, known?: KnownBug): void => this.fail(rule, agentId, detail, known);

  /**
   * The configured agents changed (start, reload, restart). `fresh` lists agents the
   * runtime starts from nothing; others keep their policy memory; `scheduleChanged` ones
   * get a new first slot.
   */
  /** A reload is about to apply `specs`: until `configure`, either session key may be in force. */
  reloading(specs: readonly RefAgent[]): void {
    this.inReload = true;
    for (const spec of specs) {
      const m = this.agents.get(spec.id);
      if (!m) continue;
      m.nextSessionKey = spec.sessionKey;
    }
  }

  /** Busy as the agent sees it; during a reload, only when busy under both its old and new session. */
  private busyFor(m: AgentModel): "main" | "session" | undefined {
    const lanes = this.opts.lanes;
    const now = lanes.busyFor(m.spec.sessionKey);
    if (m.nextSessionKey === null || now === "main") return now;
    return now && lanes.busyFor(m.nextSessionKey) ? now : undefined;
  }

  configure(specs: readonly RefAgent[], change: ConfigChange): void {
    const now = this.opts.clock.now();
    this.down = false;
    this.inReload = false;
    for (const m of this.agents.values()) {
      m.nextSessionKey = null;
      // Removal deletes an agent's stored state: a new process added it back as a new agent, ids from 1.
      if (change.restart && m.removed) m.maxRunId = 0;
    }
    const seen = new Set<string>();
    for (const spec of specs) {
      seen.add(spec.id);
      let m = this.agents.get(spec.id);
      if (!m || change.fresh === "all" || change.fresh.has(spec.id)) {
        m = freshModel(spec, now, change.fresh === "all" ? undefined : m);
        this.agents.set(spec.id, m);
      } else {
        if (change.uncertain) m.certain = false;
        m.spec = spec;
        if (change.scheduleChanged?.has(spec.id) || (spec.enabled && !m.live && !m.failed)) newSegment(m, now);
        if (change.restart) {
          // A new process starts every enabled agent, a failed one too (failure is not persisted).
          m.failed = false;
          // The process was down: nothing could run or alert meanwhile; a missed slot is due at once.
          m.expectMono = Math.max(m.expectMono, now.mono);
          // After a wall step the stored (wall) slot is off by the step: the runtime places an
          // interval slot at most one interval away (src/store/codec.ts), so it may be that late.
          const s = spec.schedule;
          if (change.uncertain && s.kind === "interval") m.expectMono = Math.max(m.expectMono, now.mono + s.everyMs);
          m.overdueSince = undefined;
          m.silentReported = false;
        }
      }
      const wasLive = m.live;
      m.removed = false;
      m.live = spec.enabled && !m.failed;
      if (wasLive && !m.live) {
        m.held = undefined;
        this.wakes.retire(spec.id, false);
      }
    }
    for (const [id, m] of this.agents) {
      if (!seen.has(id)) m.removed = true;
      if (!seen.has(id) && m.live) {
        m.live = false;
        m.held = undefined;
        this.wakes.retire(id, true);
      }
    }
  }

  /** Every event the gateway emits, in order, stamped with simulated time. */
  record(e: HeartbeatEvent): void {
    const seq = this.nextSeq();
    const m = this.agents.get(e.agentId);
    const now = this.opts.clock.now();
    switch (e.type) {
      case "run-started":
        this.runStarts++;
        if (m) this.onRunStarted(m, e.runId, e.reasons, seq);
        else this.fail("disabled-ran", e.agentId, "run-started for an agent that was never configured");
        this.wakes.resolve(e.agentId, e.reasons, seq, "run");
        break;
      case "run-finished":
        if (m) this.onRunFinished(m, e);
        break;
      case "wake-deferred":
        if (m) this.onDeferred(m, e.reason, e.reasons, e.retryAt);
        this.wakes.resolve(e.agentId, e.reasons, seq, e.reason);
        break;
      case "wake-skipped":
        if (m && e.reasons.some(isSlotReason)) slotSkipped(m, now);
        if (m) m.held = undefined;
        this.wakes.resolve(e.agentId, e.reasons, seq, e.reason);
        break;
      case "agent-restarted":
        break;
      case "alert":
        if (!m) break;
        if (e.state === "open") m.alerts.add(e.kind);
        else m.alerts.delete(e.kind);
        if (e.kind === "restart-limit" && e.state === "open") {
          m.failed = true;
          m.live = false;
          m.held = undefined;
        }
        break;
      default:
        break;
    }
  }

  private onRunStarted(m: AgentModel, runId: number, reasons: readonly string[], seq: number): void {
    const now = this.opts.clock.now();
    const { mono } = now;
    const id = m.spec.id;
    const p = this.policy;
    if (!m.live) this.fail("disabled-ran", id, `run ${runId} started while the agent is ${m.failed ? "failed" : "disabled or removed"}`);
    if (m.run && m.run.end === undefined) this.fail("one-run-in-flight", id, `run ${runId} started while run ${m.run.runId} is in flight`);
    if (runId <= m.maxRunId) {
      this.fail("run-ids", id, `run id ${runId} reused (ids so far up to ${m.maxRunId})`);
    }
    m.maxRunId = Math.max(m.maxRunId, runId);
    const busy = this.busyFor(m);
    if (busy) this.fail("busy-lane", id, `run ${runId} started while the ${busy} lane is busy`);

    const slot = reasons.some(isSlotReason);
    const manual = reasons.includes("manual");
    const immediate = reasons.some((r) => refIntent(r) === "immediate");
    if (!slot && !immediate && m.lastRunStart !== undefined) {
      const gap = mono - m.lastRunStart;
      if (gap < p.minSpacingMs) this.fail("min-spacing", id, `event-only run ${runId} [${reasons.join(", ")}] ${gap} ms after the previous run (floor ${p.minSpacingMs} ms)`);
      else if (m.certain) this.fail("event-before-due", id, `event-only run ${runId} [${reasons.join(", ")}] before its next slot (a prior run exists)`);
    }
    if (!slot && !manual) {
      const recent = m.recentStarts.filter((t) => t > mono - p.flood.windowMs);
      if (recent.length >= p.flood.maxRuns) {
        this.fail("flood-guard", id, `wake-driven run ${runId} [${reasons.join(", ")}] is start #${recent.length + 1} within ${p.flood.windowMs} ms`);
      }
    }
    if (!slot && !this.wakes.wasRequested(id, reasons, seq)) {
      this.fail("phantom-run", id, `run ${runId} [${reasons.join(", ")}] is neither a slot nor caused by a requested wake`);
    }
    if (slot) slotRan(m, runId, now, this.failAgent);

    m.lastRunStart = mono;
    m.recentStarts = [...m.recentStarts.filter((t) => t > mono - p.flood.windowMs), mono];
    const rec: RunRec = { runId, start: mono, timeoutMs: m.spec.runTimeoutMs, end: undefined, watchdogReported: false };
    m.run = rec;
    m.runs.push(rec);
    if (m.runs.length > 8) m.runs.shift();
    m.held = undefined;
    // Any run restarts an interval; a cron slot moves only when the slot ran.
    if (m.spec.schedule.kind === "interval") m.expectMono = mono + m.spec.schedule.everyMs;
    m.overdueSince = undefined;
    m.silentReported = false;
  }

  private onRunFinished(m: AgentModel, e: Extract<HeartbeatEvent, { type: "run-finished" }>): void {
    const { mono } = this.opts.clock.now();
    // A run that died with its process is recorded by the next one's reaper: it matches no live run.
    if (e.status === "aborted" && e.reason === "lease-expired") return;
    if (e.status === "skipped" && e.reason === "slot-taken") {
      const s = m.spec.schedule;
      const j = this.lastBackJump;
      // A cron slot is a wall-clock instant: after the wall clock stepped back, a slot that already ran comes round
      // again, and its claim rightly says so.
      const cronRepeat = s.kind === "cron" && e.reasons.includes("cron-slot") && j !== undefined;
      if (!cronRepeat) this.fail("claim-collision", m.spec.id, `run ${e.runId} [${e.reasons.join(", ")}] could not claim its own slot`);
    }
    const run = m.run;
    // A run lost with its crashed actor is recorded by the supervisor (maybe after a newer run started).
    const crashed = e.status === "aborted" && e.reason === "crashed";
    if ((!run || run.end !== undefined || run.runId !== e.runId) && !crashed) {
      this.fail("one-run-in-flight", m.spec.id, `run-finished ${e.runId} (${e.status}) without a matching run in flight`);
    }
    if (run && run.end === undefined) {
      run.end = mono;
      if (mono - run.start > run.timeoutMs + 1 && !run.watchdogReported && e.status !== "aborted") {
        this.fail("run-watchdog", m.spec.id, `run ${run.runId} lasted ${mono - run.start} ms (runTimeout ${run.timeoutMs} ms)`);
      }
    }
    if (e.status === "ran") {
      const tokens = e.usage ? e.usage.inputTokens + e.usage.outputTokens : undefined;
      if (tokens === 0) m.zeroStreak++;
      else if (tokens !== undefined) m.zeroStreak = 0;
    }
  }

  private onDeferred(m: AgentModel, reason: string, reasons: readonly string[], retryAt: number): void {
    const { mono, wall } = this.opts.clock.now();
    const id = m.spec.id;
    if (reason === "main-lane-busy" && !this.opts.lanes.main) this.fail("busy-lane", id, "deferred main-lane-busy while the main lane is free");
    const lanes = this.opts.lanes;
    if (reason === "session-lane-busy" && !lanes.sessionBusy(m.spec.sessionKey) && !lanes.sessionBusy(m.nextSessionKey)) {
      this.fail("busy-lane", id, `deferred session-lane-busy while session ${m.spec.sessionKey ?? "(none)"} is free`);
    }
    if (reason === "flood") {
      if (reasons.includes("manual") || reasons.some(isSlotReason)) {
        this.fail("flood-guard", id, `flood held [${reasons.join(", ")}] (manual wakes and due slots are never flood-held)`);
      }
      const recent = m.recentStarts.filter((t) => t > mono - this.policy.flood.windowMs).length;
      if (m.certain && recent < this.policy.flood.maxRuns) {
        this.fail("flood-guard", id, `flood held [${reasons.join(", ")}] after only ${recent} starts in the window`);
      }
    }
    m.held = { reasons, by: mono + Math.max(0, retryAt - wall) + 1 };
  }

  /** The gateway was stopped gracefully: no timer, no run left behind. */
  stopped(gatewayTimersLeft: number): void {
    this.down = true;
    if (gatewayTimersLeft > 0) this.fail("timer-after-stop", undefined, `${gatewayTimersLeft} timer(s) left after stop()`);
    for (const m of this.agents.values()) {
      if (m.run && m.run.end === undefined) this.fail("run-after-stop", m.spec.id, `run ${m.run.runId} still in flight after stop() (no run-finished)`);
      const open = this.opts.host.inFlight(m.spec.id);
      if (open.length > 0) {
        this.fail("run-after-stop", m.spec.id, `${open.length} host call(s) not aborted by stop()`);
      }
      m.held = undefined;
    }
    this.wakes.stopped();
  }

  /** The process died: runs, timers and wakes in flight died with it. */
  crashed(): void {
    this.down = true;
    for (const m of this.agents.values()) {
      if (m.run && m.run.end === undefined) m.run.end = this.opts.clock.monoNow;
      m.held = undefined;
      // The new process knows only what it re-raises (health() starts empty).
      m.alerts.clear();
    }
    this.wakes.crashed();
  }

  /** A new process starts with the alerts its health() reports (carried over a restart by the store). */
  adoptAlerts(open: readonly { readonly agentId: string; readonly kind: string }[]): void {
    for (const m of this.agents.values()) m.alerts = new Set(open.filter((a) => a.agentId === m.spec.id).map((a) => a.kind));
  }

  /** Wall time jumped: retry times announced in wall time no longer hold, cron slots move. */
  wallJumped(deltaMs: number): void {
    if (deltaMs < 0) this.lastBackJump = { mono: this.opts.clock.monoNow, ms: -deltaMs };
    for (const m of this.agents.values()) {
      m.held = undefined;
      m.overdueSince = undefined;
    }
  }

  /** Time-based invariants; call between simulation steps (all timers due now have fired). */
  check(): void {
    this.checks++;
    const now = this.opts.clock.now();
    const { mono } = now;
    const p = this.policy;
    for (const m of this.down ? [] : this.agents.values()) {
      const id = m.spec.id;
      const inFlight = this.opts.host.inFlight(id);
      if (inFlight.length > 1) this.fail("one-run-in-flight", id, `${inFlight.length} host calls in flight at once`);
      const run = m.run && m.run.end === undefined ? m.run : undefined;
      if (run && !run.watchdogReported && mono - run.start > run.timeoutMs + 1) {
        run.watchdogReported = true;
        this.fail("run-watchdog", id, `run ${run.runId} in flight for ${mono - run.start} ms (runTimeout ${run.timeoutMs} ms)`);
      }
      if (m.held && m.live && !run && mono > m.held.by) {
        this.fail("deferral-retry", id, `held [${m.held.reasons.join(", ")}] not looked at again by ${m.held.by} (mono)`);
        m.held = undefined;
      }
      if (m.live && m.zeroStreak >= p.zeroWorkStreak && !m.alerts.has("zero-work-streak")) {
        this.fail("zero-work-alert", id, `${m.zeroStreak} zero-token runs in a row and no zero-work-streak alert`);
        m.zeroStreak = 0;
      }
      if (m.live && !run) checkSilence(m, now, p, this.failAgent);
    }
    this.wakes.check(mono);
    const over = this.opts.clock.overLimit;
    for (const t of over.splice(0)) this.fail("timer-over-limit", undefined, `${t.owner} set a ${t.ms} ms timeout (fires after 1 ms in Node)`);
  }

  /** Was a run of `agentId` in flight at `t` (mono)? Returns when it ended (Infinity if not yet). */
  runCovering(agentId: string, t: number): number | undefined {
    const m = this.agents.get(agentId);
    if (!m) return undefined;
    for (let i = m.runs.length - 1; i >= 0; i--) {
      const r = m.runs[i]!;
      if (r.start <= t && (r.end === undefined || r.end >= t)) return r.end ?? Number.POSITIVE_INFINITY;
    }
    return undefined;
  }
}
