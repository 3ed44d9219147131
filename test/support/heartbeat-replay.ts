import { createActor } from "xstate";
import { heartbeatMachine } from "../../machines/heartbeat.ts";
import type { HeartbeatEvent } from "../../src/events.ts";
import type { HostResult } from "../../src/policy/outcome.ts";
import type { HeartbeatDeps, RunContext } from "../../src/runtime/host.ts";
import { SimClock } from "../../src/sim/clock.ts";
import {
  AGENTS,
  describeEvent,
  machineEvent,
  POLICY,
  RESULTS,
  serializeModel,
  W0,
  type Lane,
  type ModelEvent,
  type ModelSnap,
} from "./heartbeat-model.ts";
import type { CoverageRecorder } from "./model-coverage.ts";

export interface Step {
  readonly event: ModelEvent;
  readonly state: ModelSnap;
}

interface Call {
  readonly ctx: RunContext;
  resolve(r: HostResult): void;
  reject(e: unknown): void;
  settled: boolean;
}

/** A step of a replay that disagreed with the model, with the path that got there. */
export class ReplayMismatch extends Error {}

const OWNER = "heartbeat";

/** Fields of an emitted event that must agree with the model (all of them but the message). */
function comparable(e: HeartbeatEvent): unknown {
  const { ...rest } = e as HeartbeatEvent & { message?: string };
  delete rest.message;
  return rest;
}

/**
 * Replays one model path against the real heartbeat actor (createActor on the production
 * machine) on the discrete-event clock, with a host whose runs the path settles. After
 * every step it checks the actor against the model: state value, collapsed context,
 * simulated time, and the events emitted (all fields); it also checks the effects the
 * design promises: one host call per run started, carrying its reasons; STOP leaves no
 * timer and aborts the run in flight.
 */
export async function replayPath(steps: readonly Step[], recorder: CoverageRecorder): Promise<void> {
  const clock = new SimClock(W0);
  let lane: Lane = "free";
  const calls: Call[] = [];
  const events: HeartbeatEvent[] = [];
  const deps: HeartbeatDeps = {
    clock: clock.port(OWNER),
    lanes: { mainBusy: () => lane === "main", sessionBusy: () => lane === "session" },
    runHeartbeat: (ctx) =>
      new Promise<HostResult>((resolve, reject) => {
        const call: Call = { ctx, settled: false, resolve: (r) => ((call.settled = true), resolve(r)), reject: (e) => ((call.settled = true), reject(e)) };
        calls.push(call);
      }),
    onLateSettlement: () => {},
  };
  const actor = createActor(heartbeatMachine, {
    input: { agent: AGENTS.interval, policy: POLICY, deps },
    clock: { setTimeout: (fn, ms) => clock.setTimeout(OWNER, fn, ms), clearTimeout: (id) => clock.clearTimeout(id) },
    inspect: recorder.inspect,
  });
  actor.on("*", (e) => events.push(e as HeartbeatEvent));
  actor.start();
  await clock.flush();
  recorder.drain();

  const trail: string[] = [];
  const fail = (what: string): never => {
    throw new ReplayMismatch(`${what}\n  path: ${trail.join(" → ")}`);
  };
  const openCalls = () => calls.filter((c) => !c.settled && !c.ctx.signal.aborted);

  for (const { event, state: expected } of steps) {
    trail.push(describeEvent(event));
    const before = events.length;
    const callsBefore = calls.length;
    const wasRunning = actor.getSnapshot().value === "running";
    const snap = actor.getSnapshot();
    switch (event.type) {
      case "TIMER": {
        const due = clock.nextDue();
        if (due !== expected.world.t) fail(`the armed timer is due at ${due}, the model expects ${expected.world.t}`);
        await clock.step();
        break;
      }
      case "RUN_DONE":
      case "RUN_FAIL": {
        const open = openCalls();
        if (open.length !== 1) fail(`${open.length} host calls in flight, expected exactly 1`);
        if (event.type === "RUN_DONE") open[0]!.resolve(RESULTS[event.result]);
        else open[0]!.reject(new Error("host failed"));
        await clock.flush();
        break;
      }
      case "LANE":
        lane = event.lane;
        actor.send({ type: "CHECK" });
        await clock.flush();
        break;
      default: {
        const e = machineEvent(event, snap, { t: clock.monoNow, lane });
        if (e) actor.send(e);
        await clock.flush();
      }
    }
    const taken = recorder.drain();
    const real = actor.getSnapshot();
    if (real.value !== expected.snap.value) fail(`state is ${String(real.value)}, the model expects ${String(expected.snap.value)}`);
    if (clock.monoNow !== expected.world.t) fail(`time is ${clock.monoNow}, the model expects ${expected.world.t}`);
    const realKey = serializeModel({ ...expected, snap: real, world: { t: clock.monoNow, lane } });
    if (realKey !== serializeModel(expected)) fail(`context ${realKey} differs from the model's ${serializeModel(expected)}`);
    const emitted = events.slice(before).map(comparable);
    const want = expected.emitted.map(comparable);
    if (JSON.stringify(emitted) !== JSON.stringify(want)) fail(`emitted ${JSON.stringify(emitted)}, the model expects ${JSON.stringify(want)}`);

    // Effects: a run started is one host call with its reasons; no call without a start.
    const started = events.slice(before).filter((e) => e.type === "run-started");
    const newCalls = calls.slice(callsBefore);
    if (newCalls.length !== started.length) fail(`${started.length} run-started but ${newCalls.length} host calls`);
    started.forEach((e, i) => {
      if (e.type === "run-started" && JSON.stringify(newCalls[i]!.ctx.reasons) !== JSON.stringify(e.reasons)) {
        fail(`host called with [${newCalls[i]!.ctx.reasons.join(", ")}], run-started says [${e.reasons.join(", ")}]`);
      }
    });
    if (openCalls().length > 1) fail(`${openCalls().length} runs in flight at once`);
    if (taken.length === 0 && JSON.stringify(snap.context.s) !== JSON.stringify(real.context.s) && event.type !== "LANE") {
      fail("the policy state changed without a transition");
    }
    if (real.status === "done") {
      if (clock.pending(OWNER) !== 0) fail(`${clock.pending(OWNER)} timer(s) left after STOP`);
      if (wasRunning && openCalls().length > 0) fail("STOP left the run's AbortSignal unaborted");
    }
  }
  actor.stop();
}
