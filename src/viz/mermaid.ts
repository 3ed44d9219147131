import type { AnyStateMachine, AnyStateNode } from "xstate";

/** A transition as drawn: from, to, and a label (event [guard]). */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

/** Every transition of a machine's top-level states, read from its definition (never drawn by hand). */
export function machineEdges(machine: AnyStateMachine): Edge[] {
  const edges: Edge[] = [];
  const root = machine.root;
  for (const node of Object.values(root.states) as AnyStateNode[]) {
    for (const [eventType, transitions] of node.transitions) {
      for (const t of transitions) edges.push(...edgesOf(node, eventType, t));
    }
    for (const t of node.always ?? []) edges.push(...edgesOf(node, "always", t));
  }
  // Root-level handlers apply in every state.
  for (const [eventType, transitions] of root.transitions) {
    for (const t of transitions) {
      for (const node of Object.values(root.states) as AnyStateNode[]) {
        if (node.type === "final" || node.transitions.has(eventType)) continue;
        edges.push(...edgesOf(node, eventType, t));
      }
    }
  }
  return edges;
}

function edgesOf(source: AnyStateNode, eventType: string, t: { target?: readonly AnyStateNode[] | undefined; guard?: unknown }): Edge[] {
  const label = `${eventLabel(eventType)}${guardLabel(t.guard)}`;
  const targets = t.target && t.target.length > 0 ? t.target : [source];
  return targets.map((target) => ({ from: source.key, to: target.key, label }));
}

function eventLabel(eventType: string): string {
  const after = /^xstate\.after\.(.+?)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  if (eventType.startsWith("xstate.done.actor.")) return `${eventType.slice("xstate.done.actor.".length)} done`;
  if (eventType === "xstate.error.actor.*") return "any child error";
  if (eventType.startsWith("xstate.error.actor.")) return `${eventType.slice("xstate.error.actor.".length)} error`;
  return eventType;
}

function guardLabel(guard: unknown): string {
  if (!guard) return "";
  if (typeof guard === "string") return ` [${guard}]`;
  if (typeof guard === "object" && guard !== null && "type" in guard) return ` [${String((guard as { type: unknown }).type)}]`;
  return " [guard]";
}

/** A Mermaid stateDiagram-v2 of the machine. */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root;
  const lines = ["stateDiagram-v2", `  [*] --> ${String(root.initial?.target?.[0]?.key ?? "")}`];
  for (const node of Object.values(root.states) as AnyStateNode[]) {
    if (node.type === "final") lines.push(`  ${node.key} --> [*]`);
  }
  for (const e of machineEdges(machine)) lines.push(`  ${e.from} --> ${e.to}: ${e.label}`);
  return `${lines.join("\n")}\n`;
}
