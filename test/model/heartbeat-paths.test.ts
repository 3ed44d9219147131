import { afterAll, describe, expect, it } from "vitest";
import { getAdjacencyMap, getSimplePaths } from "xstate/graph";
import { heartbeatMachine } from "../../machines/heartbeat.ts";
import { describeEvent, eventsFor, heartbeatModel, INPUT, serializeModel, type ModelEvent, type ModelSnap } from "../support/heartbeat-model.ts";
import { replayPath, type Step } from "../support/heartbeat-replay.ts";
import { CoverageRecorder, TransitionUniverse } from "../support/model-coverage.ts";

/**
 * Path coverage of machines/heartbeat.ts. xstate/graph generates event paths through the
 * production machine (run by its own pure transition inside a small world: time moved by
 * the machine's own delays, lanes, host answers); each path is replayed against a real
 * actor on the simulated clock and checked at every step (see heartbeat-replay.ts).
 * Coverage is measured on the real actors, from their inspection events.
 */

const universe = new TransitionUniverse(heartbeatMachine);
const recorder = new CoverageRecorder(universe, "idle");

const traversal = {
  input: INPUT,
  events: (s: ModelSnap) => eventsFor(s),
  serializeState: (s: ModelSnap) => serializeModel(s),
  serializeEvent: (e: ModelEvent) => describeEvent(e),
  limit: 100_000,
};

/**
 * A path's events, with the states the model reaches on exactly these events. (The graph
 * stores one representative snapshot per collapsed state; the exact one depends on the
 * route, e.g. the time, so each path is re-run through the model from the start.)
 */
function expand(events: readonly ModelEvent[]): Step[] {
  let s = heartbeatModel.getInitialSnapshot({} as never, INPUT);
  return events.map((event) => {
    s = heartbeatModel.transition(s, event, {} as never);
    return { event, state: s };
  });
}

/** Event sequences without the initial step, minus those that are a prefix of a longer one (replayed by it). */
function withoutPrefixes(paths: readonly { steps: readonly { event: ModelEvent | { type: "xstate.init" } }[] }[]): ModelEvent[][] {
  const seqs = paths.map((p) => p.steps.map((s) => s.event).filter((e): e is ModelEvent => e.type !== "xstate.init"));
  const kept: ModelEvent[][] = [];
  const prefixes = new Set<string>();
  for (const seq of seqs.sort((a, b) => b.length - a.length)) {
    const names = seq.map(describeEvent);
    if (prefixes.has(names.join(" "))) continue;
    kept.push(seq);
    for (let i = 0; i <= names.length; i++) prefixes.add(names.slice(0, i).join(" "));
  }
  return kept;
}

// The fine graph (xstate/graph's adjacency map over the collapsed states)...
const adjacency = getAdjacencyMap(heartbeatModel as never, traversal as never) as unknown as Record<
  string,
  { state: ModelSnap; transitions: Record<string, { event: ModelEvent; state: ModelSnap }> }
>;
// ...one shortest path to every state (breadth-first over that map; the same paths
// getShortestPaths computes, without traversing the machine a second time)...
const toVertex = new Map<string, ModelEvent[]>();
{
  const first = Object.keys(adjacency)[0]!;
  toVertex.set(first, []);
  const queue = [first];
  for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
    const prefix = toVertex.get(key)!;
    for (const { event, state } of Object.values(adjacency[key]!.transitions)) {
      const next = serializeModel(state);
      if (toVertex.has(next) || !adjacency[next]) continue;
      toVertex.set(next, [...prefix, event]);
      queue.push(next);
    }
  }
}
const shortest = [...toVertex.values()].map((events) => ({ steps: events.map((event) => ({ event })) }));
// ...a coarse graph (state and schedule variant only): every simple path through it...
const simple = getSimplePaths(heartbeatModel as never, {
  ...traversal,
  serializeState: (s: ModelSnap) => JSON.stringify([s.snap.value, serializeModel(s).includes('"cron"') ? "cron" : "other"]),
} as never) as unknown as { steps: { event: ModelEvent }[] }[];
// ...and edges: a transition the model takes only on an edge that reaches no new state (a
// self-loop such as a cron re-check) is covered by the shortest path to its source plus that event.
const planned = new Set<string>();
const plan = (events: readonly ModelEvent[]): void => {
  for (const st of expand(events)) for (const k of universe.keysOf(st.state.taken, st.state.from)) planned.add(k);
};
const base = withoutPrefixes([...shortest, ...simple]);
for (const p of base) plan(p);
const edges: ModelEvent[][] = [];
for (const [key, { transitions }] of Object.entries(adjacency)) {
  const prefix = toVertex.get(key);
  if (!prefix) continue;
  for (const { event, state } of Object.values(transitions)) {
    const keys = universe.keysOf(state.taken, state.from);
    if (keys.every((k) => planned.has(k))) continue;
    const path = [...prefix, event];
    edges.push(path);
    plan(path);
  }
}
const paths = [...base, ...edges];

describe("heartbeat machine: generated paths replayed against the real actor", () => {
  afterAll(() => {
    console.log(`heartbeat: ${shortest.length} shortest + ${simple.length} simple + ${edges.length} edge paths; ${paths.length} replayed (prefixes dropped)`);
    console.log(recorder.summary("heartbeat"));
    for (const key of recorder.uncovered()) console.log(`  uncovered: ${key}`);
  });

  it("the model reaches every state of the machine", () => {
    const reached = new Set(paths.flatMap((p) => expand(p).map((s) => String(s.state.snap.value))));
    expect([...reached].sort()).toEqual(Object.keys(heartbeatMachine.root.states).filter((s) => s !== "due").sort());
  });

  it(`every path agrees with the real actor at every step`, { timeout: 120_000 }, async () => {
    for (const p of paths) await replayPath(expand(p), recorder);
  });

  it("every transition of the machine is covered by the replays", () => {
    expect(recorder.uncovered(), recorder.summary("heartbeat")).toEqual([]);
  });
});
