import { assign, emit, enqueueActions, fromPromise, setup } from "xstate";
import type { HeartbeatEvent } from "../src/events.ts";
import { alertMessage, openAgentAlerts, type AgentAlertKind } from "../src/policy/alerts.ts";
import { decide, type Decision } from "../src/policy/decide.ts";
import { errorMessage, outcomeOfResult, type HostResult, type RunOutcome } from "../src/policy/outcome.ts";
import { addWakes, deferred, runFinished, runStarted, skipped } from "../src/policy/reduce.ts";
import { dueAfterResume, dueWall, firstDue, isDue, untilDue } from "../src/policy/schedule.ts";
import { initialPolicyState, type AgentPolicyState } from "../src/policy/state.ts";
import { MAX_TIMER_MS, type Instant } from "../src/policy/time.ts";
import type { ResolvedAgent, ResolvedPolicy } from "../src/policy/types.ts";
import type { Wake } from "../src/policy/wake.ts";
import type { HeartbeatDeps } from "../src/runtime/host.ts";

/** One heartbeat for one agent. Decisions come from src/policy; this file only wires them. */

export interface HeartbeatInput {
  readonly agent: ResolvedAgent;
  readonly policy: ResolvedPolicy;
  readonly deps: HeartbeatDeps;
  /** State carried over from a crashed predecessor or the store; fresh when absent. */
  readonly restore?: AgentPolicyState | undefined;
  /** Alerts the predecessor had open, so this actor resolves them when their episodes end. */
  readonly openAlerts?: readonly AgentAlertKind[] | undefined;
  readonly timedOut?: boolean | undefined;
  /** Run ids continue from here, so they stay unique for the agent across restarts. */
  readonly runSeq?: number | undefined;
}

export interface RunInFlight {
  readonly id: number;
  readonly reasons: readonly string[];
  readonly startedAt: Instant;
  /** What the run claims: its scheduled slot, or the run itself when wake-driven. */
  readonly slotKey: string;
}

export interface HeartbeatContext {
  readonly agent: ResolvedAgent;
  readonly policy: ResolvedPolicy;
  readonly deps: HeartbeatDeps;
  readonly s: AgentPolicyState;
  readonly decision: Decision | undefined;
  readonly run: RunInFlight | undefined;
  readonly runSeq: number;
  readonly alerts: readonly AgentAlertKind[];
  readonly timedOut: boolean;
}

export type HeartbeatMachineEvent =
  | { readonly type: "WAKE"; readonly wakes: readonly Wake[] }
  | { readonly type: "UPDATE"; readonly agent: ResolvedAgent; readonly policy: ResolvedPolicy }
  /** Re-evaluate detectors now (the gateway's sweep). */
  | { readonly type: "CHECK" }
  /** An operator pauses the agent: due slots are skipped with reason `paused` until RESUME. */
  | { readonly type: "PAUSE"; readonly reason: string }
  | { readonly type: "RESUME" }
  | { readonly type: "STOP" };

export interface RunActorInput {
  readonly deps: HeartbeatDeps;
  readonly agentId: string;
  readonly sessionKey: string | undefined;
  readonly runId: number;
  readonly slotKey: string;
  readonly reasons: readonly string[];
}

/** The host's runHeartbeat as an actor; its AbortSignal aborts whenever `running` is left. */
export const runHeartbeatActor = fromPromise<HostResult, RunActorInput>(async ({ input, signal }) => {
  const { deps, agentId, sessionKey, runId, slotKey, reasons } = input;
  // Our own controller, tied to the actor's signal: the supervisor can also abort it when the
  // actor crashes (a crashed actor does not stop its invoked run).
  const ctl = new AbortController();
  const own = ctl.signal;
  signal.addEventListener("abort", () => ctl.abort(signal.reason), { once: true });
  deps.runs?.started(agentId, runId, ctl);
  if (deps.ledger) {
    // The slot is claimed before the host is called: a slot runs at most once.
    const claim = await deps.ledger.begin(agentId, runId, slotKey);
    if (!claim.ok) {
      deps.runs?.ended(agentId, runId);
      return { status: "skipped", reason: claim.reason };
    }
    if (own.aborted) {
      deps.runs?.ended(agentId, runId);
      return { status: "skipped", reason: "aborted" };
    }
  }
  const promise = Promise.resolve().then(() =>
    deps.runHeartbeat({
      agentId,
      ...(sessionKey === undefined ? {} : { sessionKey }),
      reasons: [...reasons],
      signal: own,
    }),
  );
  // A host promise that settles after we gave up is recorded, never counted (seed 001).
  promise.then(
    () => {
      deps.runs?.ended(agentId, runId);
      if (own.aborted) deps.onLateSettlement(agentId, runId, "resolved");
    },
    // A host that rejects because we aborted it did what it was asked: not a late settlement.
    (err: unknown) => {
      deps.runs?.ended(agentId, runId);
      if (own.aborted && err !== own.reason && !isAbortError(err)) deps.onLateSettlement(agentId, runId, "rejected");
    },
  );
  return promise;
});

const nowOf = (c: HeartbeatContext): Instant => c.deps.clock.now();

const isAbortError = (err: unknown): boolean => err instanceof Error && err.name === "AbortError";

/** The run-finished record for the run in flight; its claim is closed with the same outcome. */
function finish(c: HeartbeatContext, outcome: RunOutcome): HeartbeatEvent[] {
  const now = nowOf(c);
  const run = c.run;
  if (!run) return [];
  c.deps.ledger?.end(c.agent.id, run.id, outcome.status);
  const base = {
    type: "run-finished" as const,
    agentId: c.agent.id,
    at: now.wall,
    runId: run.id,
    status: outcome.status,
    durationMs: Math.max(0, Math.round(now.mono - run.startedAt.mono)),
    reasons: run.reasons,
  };
  switch (outcome.status) {
    case "ran":
      return [outcome.usage ? { ...base, usage: outcome.usage } : base];
    case "skipped":
    case "aborted":
      return [{ ...base, reason: outcome.reason }];
    case "failed":
      return [{ ...base, error: outcome.error }];
    case "timed-out":
      return [{ ...base, reason: "run-timeout" }];
  }
}

export const heartbeatMachine = setup({
  types: {
    context: {} as HeartbeatContext,
    events: {} as HeartbeatMachineEvent,
    input: {} as HeartbeatInput,
    emitted: {} as HeartbeatEvent,
  },
  actors: { runHeartbeat: runHeartbeatActor },
  delays: {
    untilDue: ({ context }) => untilDue(context.s.due, nowOf(context)),
    untilRetry: ({ context }) => {
      const now = nowOf(context);
      const d = context.decision;
      const retry = d?.kind === "defer" ? Math.max(0, Math.ceil(d.retryMono - now.mono)) : 0;
      // A slot that comes due before the retry is looked at then (scheduled runs are never held
      // by spacing or flood); a slot already due was part of this decision and waits for the retry.
      const slot = isDue(context.s.due, now) ? MAX_TIMER_MS : untilDue(context.s.due, now);
      return Math.min(retry, slot, MAX_TIMER_MS);
    },
    runTimeout: ({ context }) => Math.min(context.agent.runTimeoutMs, MAX_TIMER_MS),
  },
  guards: {
    slotIsDue: ({ context }) => isDue(context.s.due, nowOf(context)),
    decidedRun: ({ context }) => context.decision?.kind === "run",
    decidedDefer: ({ context }) => context.decision?.kind === "defer",
    decidedSkip: ({ context }) => context.decision?.kind === "skip",
    hasFollowUp: ({ context }) => context.s.pending.length > 0,
  },
  actions: {
    foldWakes: assign({
      s: ({ context, event }) => (event.type === "WAKE" ? addWakes(context.s, event.wakes) : context.s),
    }),
    decide: assign({
      decision: ({ context }) => {
        const { agent, deps } = context;
        const lanes = {
          mainBusy: deps.lanes.mainBusy?.() === true,
          sessionBusy: agent.sessionKey !== undefined && deps.lanes.sessionBusy?.(agent.sessionKey) === true,
        };
        return decide(agent, context.s, nowOf(context), context.policy, lanes);
      },
    }),
    recordDeferral: enqueueActions(({ context, enqueue }) => {
      const d = context.decision;
      if (d?.kind !== "defer") return;
      const now = nowOf(context);
      enqueue.assign({ s: deferred(context.s, d, now, context.policy) });
      enqueue.emit({
        type: "wake-deferred",
        agentId: context.agent.id,
        at: now.wall,
        reason: d.reason,
        retryAt: Math.round(now.wall + (d.retryMono - now.mono)),
        reasons: d.reasons,
      });
    }),
    recordSkip: enqueueActions(({ context, enqueue }) => {
      const d = context.decision;
      if (d?.kind !== "skip") return;
      const now = nowOf(context);
      enqueue.assign({ s: skipped(context.agent, context.s, d, now) });
      enqueue.emit({ type: "wake-skipped", agentId: context.agent.id, at: now.wall, reason: d.reason, reasons: d.dropped });
    }),
    startRun: enqueueActions(({ context, enqueue }) => {
      const d = context.decision;
      if (d?.kind !== "run") return;
      const now = nowOf(context);
      const id = context.runSeq + 1;
      // A cron slot is a wall time every process agrees on; an interval slot is not (the wall
      // clock can step back onto an earlier slot's key), so interval runs claim themselves.
      const slot = d.ranSlot && context.agent.schedule.kind === "cron" ? dueWall(context.s.due, now) : undefined;
      const slotKey = slot === undefined ? `run:${id}` : `slot:${Math.round(slot)}`;
      enqueue.assign({
        s: runStarted(context.agent, context.s, d, now, context.policy),
        run: { id, reasons: d.reasons, startedAt: now, slotKey },
        runSeq: id,
      });
      enqueue.emit({ type: "run-started", agentId: context.agent.id, at: now.wall, runId: id, reasons: d.reasons });
    }),
    finishRun: enqueueActions(({ context, event, enqueue }) => {
      const outcome: RunOutcome =
        "output" in event ? outcomeOfResult(event.output) : { status: "failed", error: "run ended without a result" };
      const run = context.run;
      enqueue.assign({
        s: runFinished(context.s, outcome, run?.startedAt.wall ?? nowOf(context).wall),
        run: undefined,
        timedOut: false,
      });
      for (const e of finish(context, outcome)) enqueue.emit(e);
    }),
    failRun: enqueueActions(({ context, event, enqueue }) => {
      const error = "error" in event ? errorMessage(event.error) : "unknown error";
      const outcome: RunOutcome = { status: "failed", error };
      enqueue.assign({ s: runFinished(context.s, outcome, context.run?.startedAt.wall ?? 0), run: undefined, timedOut: false });
      for (const e of finish(context, outcome)) enqueue.emit(e);
    }),
    timeOutRun: enqueueActions(({ context, enqueue }) => {
      const outcome: RunOutcome = { status: "timed-out" };
      enqueue.assign({ s: runFinished(context.s, outcome, context.run?.startedAt.wall ?? 0), run: undefined, timedOut: true });
      for (const e of finish(context, outcome)) enqueue.emit(e);
    }),
    abortRun: enqueueActions(({ context, enqueue }) => {
      const outcome: RunOutcome = { status: "aborted", reason: "stopped" };
      enqueue.assign({ s: runFinished(context.s, outcome, context.run?.startedAt.wall ?? 0), run: undefined });
      for (const e of finish(context, outcome)) enqueue.emit(e);
    }),
    pause: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "PAUSE" || context.s.paused) return;
      const now = nowOf(context);
      enqueue.assign({ s: { ...context.s, paused: { reason: event.reason, sinceWall: now.wall } } });
      enqueue.emit({ type: "agent-paused", agentId: context.agent.id, at: now.wall, reason: event.reason });
    }),
    resume: enqueueActions(({ context, enqueue }) => {
      if (!context.s.paused) return;
      const now = nowOf(context);
      // Re-arm without a burst: a slot that passed while paused is not made up.
      const due = dueAfterResume(context.agent, context.s.due, now);
      enqueue.assign({ s: { ...context.s, paused: undefined, due } });
      const next = dueWall(due, now);
      enqueue.emit({
        type: "agent-resumed",
        agentId: context.agent.id,
        at: now.wall,
        ...(next === undefined ? {} : { nextDueAt: Math.round(next) }),
      });
    }),
    applyConfig: assign(({ context, event }) => {
      if (event.type !== "UPDATE") return {};
      const now = nowOf(context);
      const scheduleChanged = JSON.stringify(scheduleKey(event.agent)) !== JSON.stringify(scheduleKey(context.agent));
      return {
        agent: event.agent,
        policy: event.policy,
        s: scheduleChanged ? { ...context.s, due: firstDue(event.agent, now) } : context.s,
      };
    }),
    /** Diff the open alerts before and after a step: each alert is raised once per episode. */
    syncAlerts: enqueueActions(({ context, enqueue }) => {
      const now = nowOf(context);
      const open = openAgentAlerts(context.agent, context.s, now, context.policy, {
        timedOut: context.timedOut,
        running: context.run !== undefined,
      });
      const before = context.alerts;
      if (open.length === before.length && open.every((k) => before.includes(k))) return;
      enqueue.assign({ alerts: open });
      for (const kind of open) {
        if (!before.includes(kind)) {
          enqueue.emit({ type: "alert", agentId: context.agent.id, at: now.wall, kind, state: "open", message: alertMessage(kind, context.agent.id) });
        }
      }
      for (const kind of before) {
        if (!open.includes(kind)) {
          enqueue.emit({ type: "alert", agentId: context.agent.id, at: now.wall, kind, state: "resolved", message: alertMessage(kind, context.agent.id) });
        }
      }
    }),
  },
}).createMachine({
  id: "heartbeat",
  context: ({ input }) => ({
    agent: input.agent,
    policy: input.policy,
    deps: input.deps,
    s: input.restore ?? initialPolicyState(firstDue(input.agent, input.deps.clock.now())),
    decision: undefined,
    run: undefined,
    runSeq: input.runSeq ?? 0,
    alerts: input.openAlerts ?? [],
    timedOut: input.timedOut ?? false,
  }),
  initial: "idle",
  on: {
    STOP: ".stopped",
    CHECK: { actions: "syncAlerts" },
    PAUSE: { actions: ["pause", "syncAlerts"] },
    RESUME: { actions: ["resume", "syncAlerts"] },
  },
  states: {
    idle: {
      after: {
        untilDue: [
          { guard: "slotIsDue", target: "due" },
          // A capped wait elapsed before the slot: wait again (never fire early).
          { target: "idle", reenter: true, actions: "syncAlerts" },
        ],
      },
      on: {
        WAKE: { target: "due", actions: "foldWakes" },
        UPDATE: { target: "idle", reenter: true, actions: "applyConfig" },
        RESUME: { target: "idle", reenter: true, actions: ["resume", "syncAlerts"] },
      },
    },
    due: {
      entry: "decide",
      always: [
        { guard: "decidedRun", target: "running" },
        { guard: "decidedDefer", target: "deferred", actions: ["recordDeferral", "syncAlerts"] },
        { guard: "decidedSkip", target: "idle", actions: ["recordSkip", "syncAlerts"] },
        { target: "idle", actions: "syncAlerts" },
      ],
    },
    deferred: {
      after: { untilRetry: "due" },
      on: {
        WAKE: { target: "due", actions: "foldWakes" },
        UPDATE: { target: "due", actions: "applyConfig" },
        // Held wakes are decided again under the pause (recorded as skipped) or after it.
        PAUSE: { target: "due", actions: "pause" },
        RESUME: { target: "due", actions: "resume" },
      },
    },
    running: {
      entry: ["startRun", "syncAlerts"],
      invoke: {
        id: "run",
        src: "runHeartbeat",
        input: ({ context }): RunActorInput => ({
          deps: context.deps,
          agentId: context.agent.id,
          sessionKey: context.agent.sessionKey,
          runId: context.runSeq,
          slotKey: context.run?.slotKey ?? `run:${context.runSeq}`,
          reasons: context.run?.reasons ?? [],
        }),
        onDone: [
          { guard: "hasFollowUp", target: "due", actions: "finishRun" },
          { target: "idle", actions: ["finishRun", "syncAlerts"] },
        ],
        onError: [
          { guard: "hasFollowUp", target: "due", actions: "failRun" },
          { target: "idle", actions: ["failRun", "syncAlerts"] },
        ],
      },
      after: {
        runTimeout: [
          { guard: "hasFollowUp", target: "due", actions: "timeOutRun" },
          { target: "idle", actions: ["timeOutRun", "syncAlerts"] },
        ],
      },
      on: {
        WAKE: { actions: "foldWakes" },
        UPDATE: { actions: "applyConfig" },
        STOP: { target: "stopped", actions: "abortRun" },
      },
    },
    stopped: { type: "final" },
  },
});

function scheduleKey(agent: ResolvedAgent): unknown {
  const s = agent.schedule;
  return s.kind === "cron" ? [s.kind, s.expression, s.timezone] : s.kind === "interval" ? [s.kind, s.everyMs] : [s.kind];
}

export type HeartbeatMachine = typeof heartbeatMachine;
