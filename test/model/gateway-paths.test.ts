import { afterAll, describe, expect, it } from "vitest";
import { getShortestPaths, getSimplePaths } from "xstate/graph";
import { gatewayMachine } from "../../machines/gateway.ts";
import { createGateway, type HeartbeatEvent } from "../../src/index.ts";
import { SimClock } from "../../src/sim/clock.ts";
import { SimHost, SimLanes } from "../../src/sim/host.ts";
import {
  AGENT_IDS,
  configsOf,
  describe as describeEvent,
  eventsFor,
  gatewayModel,
  INITIAL_WORLD,
  INPUT,
  live,
  serializeWorld,
  step,
  W0,
  type GwEvent,
  type GwSnap,
} from "../support/gateway-model.ts";
import { CoverageRecorder, TransitionUniverse } from "../support/model-coverage.ts";

/**
 * Path coverage of machines/gateway.ts (the supervisor). xstate/graph generates paths
 * through the machine and a reference world of its context (gateway-model.ts); each path
 * is replayed against a real gateway from createGateway on the simulated clock — reloads
 * for APPLY, a real child crash (a lane probe that throws while deciding a wake) for
 * xstate.error.actor.*, stop() for STOP_ALL — and after every step the supervisor's
 * children, incarnations, failures and emitted events are checked against the world.
 */

const universe = new TransitionUniverse(gatewayMachine);
const recorder = new CoverageRecorder(universe, "serving");

const traversal = {
  input: INPUT,
  events: (s: GwSnap) => eventsFor(s),
  serializeState: (s: GwSnap) => serializeWorld(s.world),
  serializeEvent: (e: GwEvent) => describeEvent(e),
};
const coarse = (s: GwSnap): string =>
  JSON.stringify([s.world.stopped, AGENT_IDS.map((id) => (a => (!a.present ? "absent" : a.failed ? "failed" : a.enabled ? "live" : "disabled"))(s.world.agents[id]))]);

type Path = { steps: { event: GwEvent | { type: "xstate.init" } }[] };
const shortest = getShortestPaths(gatewayModel as never, traversal as never) as unknown as Path[];
const simple = getSimplePaths(gatewayModel as never, { ...traversal, serializeState: coarse } as never) as unknown as Path[];
const paths = [...shortest, ...simple].map((p) => p.steps.map((s) => s.event).filter((e): e is GwEvent => e.type !== "xstate.init"));

async function replay(events: readonly GwEvent[]): Promise<void> {
  const clock = new SimClock(W0);
  const lanes = new SimLanes();
  const host = new SimHost(clock, () => ({ outcome: "ran", durationMs: 0 }));
  const seen: HeartbeatEvent[] = [];
  const gw = createGateway({ agents: [], runHeartbeat: host.run, lanes: lanes.probe, clock: clock.port("gw"), logger: false, ownerId: "model", onEvent: (e) => seen.push(e) });
  gw.actor.system.inspect(recorder.inspect);
  gw.start();
  await clock.flush();
  recorder.drain();
  let world = INITIAL_WORLD;
  const trail: string[] = [];
  const fail = (what: string): never => {
    throw new Error(`${what}\n  path: ${trail.join(" → ")}`);
  };
  let model: GwSnap = gatewayModel.getInitialSnapshot({} as never, INPUT);
  for (const e of events) {
    trail.push(describeEvent(e));
    const next = step(world, e);
    model = gatewayModel.transition(model, e, {} as never);
    const before = seen.length;
    switch (e.type) {
      case "STOP_ALL":
        await gw.stop();
        break;
      case "ADVANCE":
        await clock.advance(next.t - world.t);
        break;
      case "CRASH":
        // A real crash: the lane probe throws while the actor decides this wake.
        lanes.armProbeFailure(1);
        gw.requestWake({ reason: "manual", agentId: e.id, coalesceMs: 0 });
        break;
      default:
        await gw.reload(configsOf(next));
    }
    await clock.flush();
    world = next;

    const taken = new Set(recorder.drain());
    for (const k of universe.keysOf(model.taken, "serving")) if (!taken.has(k)) fail(`the model took ${k}, the real supervisor did not`);
    const ctx = gw.actor.getSnapshot().context;
    const mine = seen.slice(before);
    if (world.stopped) {
      if (clock.pending("gw") !== 0) fail(`${clock.pending("gw")} timer(s) left after stop()`);
      if (gw.health().agents.some((a) => a.state !== "stopped")) fail("an agent is not stopped after stop()");
      continue;
    }
    for (const id of AGENT_IDS) {
      const a = world.agents[id];
      const ref = ctx.refs.get(id);
      if (live(a) !== (ref !== undefined)) fail(`${id}: the world says ${live(a) ? "running" : "no actor"}, the supervisor ${ref ? "has one" : "has none"}`);
      if (ref && ref.id !== `heartbeat:${id}#${a.n}`) fail(`${id}: actor ${ref.id}, the world expects incarnation ${a.n}`);
      if (ctx.failed.has(id) !== a.failed) fail(`${id}: failed is ${ctx.failed.has(id)}, the world says ${a.failed}`);
      if (ref && gw.actor.system.get(`heartbeat:${id}`) !== ref) fail(`${id}: the system registry does not point at the live actor`);
    }
    if (e.type === "CRASH") {
      const failedNow = world.agents[e.id].failed;
      const restarted = mine.filter((x) => x.type === "agent-restarted" && x.agentId === e.id).length;
      const limit = mine.filter((x) => x.type === "alert" && x.kind === "restart-limit" && x.state === "open" && x.agentId === e.id).length;
      const ran = mine.some((x) => x.type === "run-started" && x.agentId === e.id && x.reasons.includes("manual"));
      const skipped = mine.some((x) => x.type === "wake-skipped" && x.agentId === e.id && x.reasons.includes("manual"));
      if (failedNow && (limit !== 1 || restarted !== 0 || !skipped)) fail(`${e.id}: past the restart limit expected one restart-limit alert and the wake skipped`);
      if (!failedNow && (restarted !== 1 || limit !== 0 || !ran)) fail(`${e.id}: expected one agent-restarted and the wake run by the new actor`);
    }
  }
  if (!world.stopped) await gw.stop();
}

describe("gateway machine: generated paths replayed against a real gateway", () => {
  afterAll(() => {
    console.log(`gateway: ${shortest.length} shortest + ${simple.length} simple paths replayed`);
    console.log(recorder.summary("gateway"));
    for (const key of recorder.uncovered()) console.log(`  uncovered: ${key}`);
  });

  it("every path agrees with the supervisor at every step", { timeout: 120_000 }, async () => {
    for (const p of paths) await replay(p);
  });

  it("every transition of the machine is covered by the replays", () => {
    expect(recorder.uncovered(), recorder.summary("gateway")).toEqual([]);
  });
});
