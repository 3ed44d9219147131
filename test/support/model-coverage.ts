import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, InspectionEvent, StateValue } from "xstate";

/**
 * Transition coverage of a machine definition, measured on real actors.
 *
 * The universe is read from the machine itself, so a transition added to machines/ is a
 * new uncovered entry until some replayed path takes it. A transition defined on a
 * compound node (e.g. the root's `STOP`) counts once per atomic state it can leave
 * (`idle --STOP-->`, `deferred --STOP-->`), unless that state handles the event itself or
 * is transient (it has `always` transitions and so never waits for an event) or final.
 */

export interface TransitionEntry {
  /** `source --event[i]--> target`, i = the candidate's index among the source's transitions for that event. */
  readonly key: string;
}

interface DefInfo {
  readonly node: AnyStateNode;
  readonly eventType: string;
  readonly index: number;
}

const ALWAYS = "(always)";

function allNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states as Record<string, AnyStateNode>).flatMap(allNodes)];
}

function isAtomic(node: AnyStateNode): boolean {
  return Object.keys(node.states).length === 0;
}

function pathOf(node: AnyStateNode): string {
  return node.path.length === 0 ? "(root)" : node.path.join(".");
}

function targetsOf(def: AnyTransitionDefinition): string {
  const t = def.target as readonly AnyStateNode[] | undefined;
  if (!t || t.length === 0) return "(self)";
  return t.map(pathOf).join(",") + (def.reenter ? " (reenter)" : "");
}

function transitionsOf(node: AnyStateNode): [string, readonly AnyTransitionDefinition[]][] {
  const out: [string, readonly AnyTransitionDefinition[]][] = [...(node.transitions as Map<string, AnyTransitionDefinition[]>).entries()];
  const always = node.always as AnyTransitionDefinition[] | undefined;
  if (always && always.length > 0) out.push([ALWAYS, always]);
  return out;
}

function handles(node: AnyStateNode, eventType: string): boolean {
  return (node.transitions as Map<string, unknown>).has(eventType);
}

export function keyOf(sourceLeaf: string, eventType: string, index: number, def: AnyTransitionDefinition): string {
  return `${sourceLeaf} --${eventType}[${index}]--> ${targetsOf(def)}`;
}

export class TransitionUniverse {
  readonly keys: string[] = [];
  private readonly info = new Map<AnyTransitionDefinition, DefInfo>();

  constructor(readonly machine: AnyStateMachine) {
    const nodes = allNodes(machine.root);
    for (const node of nodes) {
      for (const [eventType, defs] of transitionsOf(node)) {
        defs.forEach((def, index) => {
          this.info.set(def, { node, eventType, index });
          if (isAtomic(node)) {
            this.keys.push(keyOf(pathOf(node), eventType, index, def));
            return;
          }
          for (const leaf of nodes.filter((n) => isAtomic(n) && n.path.join(".").startsWith(node.path.join(".")) && n !== node)) {
            if (leaf.type === "final" || (leaf.always?.length ?? 0) > 0) continue;
            // Overridden by the leaf or an ancestor below `node`?
            let overridden = false;
            for (let n: AnyStateNode | undefined = leaf; n && n !== node; n = n.parent) if (handles(n, eventType)) overridden = true;
            if (!overridden) this.keys.push(keyOf(pathOf(leaf), eventType, index, def));
          }
        });
      }
    }
  }

  /** Keys of the transitions a microstep took, given the atomic state it started from. */
  keysOf(transitions: readonly AnyTransitionDefinition[], fromLeaf: string): string[] {
    const out: string[] = [];
    for (const def of transitions) {
      const info = this.info.get(def);
      if (!info) continue; // initial transitions and the like
      const source = isAtomic(info.node) ? pathOf(info.node) : fromLeaf;
      out.push(keyOf(source, info.eventType, info.index, def));
    }
    return out;
  }
}

export function leafOf(value: StateValue): string {
  if (typeof value === "string") return value;
  const [k, v] = Object.entries(value)[0] ?? ["?", "?"];
  return v === undefined ? k : `${k}.${leafOf(v as StateValue)}`;
}

/**
 * Records, from inspection events, which transitions of one machine the real actors of
 * that machine took. Attach `inspect` to createActor({ inspect }) or actor.system.inspect.
 */
export class CoverageRecorder {
  readonly covered = new Map<string, number>();
  private readonly lastLeaf = new WeakMap<object, string>();
  /** Keys taken since the last `drain()` (the current step's transitions). */
  private step: string[] = [];

  constructor(
    readonly universe: TransitionUniverse,
    private readonly initialLeaf: string,
  ) {}

  readonly inspect = (ev: InspectionEvent): void => {
    if (ev.type !== "@xstate.microstep") return;
    const ref = ev.actorRef;
    const logic = (ref as { logic?: unknown }).logic;
    if (logic !== this.universe.machine) return;
    const from = this.lastLeaf.get(ref) ?? this.initialLeaf;
    const snapshot = ev.snapshot as { value?: StateValue };
    const transitions = (ev as { _transitions?: AnyTransitionDefinition[] })._transitions ?? [];
    for (const key of this.universe.keysOf(transitions, from)) {
      this.covered.set(key, (this.covered.get(key) ?? 0) + 1);
      this.step.push(key);
    }
    if (snapshot.value !== undefined) this.lastLeaf.set(ref, leafOf(snapshot.value));
  };

  drain(): string[] {
    const s = this.step;
    this.step = [];
    return s;
  }

  uncovered(): string[] {
    return this.universe.keys.filter((k) => !this.covered.has(k));
  }

  summary(name: string): string {
    const y = this.universe.keys.length;
    const x = y - this.uncovered().length;
    return `${name}: transitions covered: ${x}/${y}`;
  }
}
