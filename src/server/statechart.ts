/**
 * The heartbeat statechart for the page, laid out and drawn as SVG from the machine's
 * definition (`machineEdges`), never by hand: a change to machines/ changes the picture.
 *
 * Layout: states are ranked by distance from the initial state (columns), final states
 * go in a row below; a transition is a curve between state boxes that bends away from
 * its reverse and around any box in its way; self-transitions are loops.
 */
import type { AnyStateMachine, AnyStateNode } from "xstate";
import { machineEdges } from "../viz/mermaid.ts";

export interface ChartState {
  readonly id: string;
  readonly final: boolean;
  readonly initial: boolean;
  readonly x: number;
  readonly y: number;
}

export interface ChartEdge {
  readonly from: string;
  readonly to: string;
  /** Every transition between the two states, as `event [guard]`. */
  readonly labels: readonly string[];
  /** SVG path data. */
  readonly d: string;
  readonly labelAt: { readonly x: number; readonly y: number };
}

export interface Statechart {
  readonly machine: string;
  readonly initial: string;
  readonly states: readonly ChartState[];
  readonly edges: readonly ChartEdge[];
  readonly width: number;
  readonly height: number;
  readonly svg: string;
}

const W = 100;
const H = 38;
const COL = 215;
const ROW = 112;
const PAD = 30;

interface Pt {
  x: number;
  y: number;
}

export function statechartOf(machine: AnyStateMachine): Statechart {
  const nodes = Object.values(machine.root.states) as AnyStateNode[];
  const initial = String(machine.root.initial?.target?.[0]?.key ?? nodes[0]?.key ?? "");
  const finals = new Set(nodes.filter((n) => n.type === "final").map((n) => n.key));
  const raw = machineEdges(machine);

  // Group transitions by (from, to); keep the definition's order.
  const groups = new Map<string, { from: string; to: string; labels: string[] }>();
  for (const e of raw) {
    const key = `${e.from}\u0000${e.to}`;
    const g = groups.get(key) ?? { from: e.from, to: e.to, labels: [] };
    if (!g.labels.includes(e.label)) g.labels.push(e.label);
    groups.set(key, g);
  }

  // Rank by BFS from the initial state over non-final targets.
  const rank = new Map<string, number>([[initial, 0]]);
  const queue = [initial];
  while (queue.length > 0) {
    const at = queue.shift() as string;
    for (const g of groups.values()) {
      if (g.from !== at || g.to === at || finals.has(g.to) || rank.has(g.to)) continue;
      rank.set(g.to, (rank.get(at) ?? 0) + 1);
      queue.push(g.to);
    }
  }
  const maxRank = Math.max(0, ...rank.values());
  for (const n of nodes) if (!finals.has(n.key) && !rank.has(n.key)) rank.set(n.key, maxRank + 1);

  const columns = new Map<number, string[]>();
  for (const [id, r] of rank) columns.set(r, [...(columns.get(r) ?? []), id]);
  const tallest = Math.max(1, ...[...columns.values()].map((c) => c.length));
  const colCount = Math.max(1, columns.size);
  const midY = PAD + 22 + ((tallest - 1) * ROW) / 2 + H / 2;
  const pos = new Map<string, Pt>();
  for (const [r, ids] of columns) {
    ids.forEach((id, i) => pos.set(id, { x: PAD + W / 2 + r * COL, y: midY + (i - (ids.length - 1) / 2) * ROW }));
  }
  const finalList = nodes.filter((n) => finals.has(n.key)).map((n) => n.key);
  const bottom = Math.max(...[...pos.values()].map((p) => p.y)) + ROW + 10;
  const span = (colCount - 1) * COL;
  finalList.forEach((id, i) => pos.set(id, { x: PAD + W / 2 + span / 2 + (i - (finalList.length - 1) / 2) * COL, y: bottom }));

  const states: ChartState[] = nodes.map((n) => {
    const p = pos.get(n.key) as Pt;
    return { id: n.key, final: finals.has(n.key), initial: n.key === initial, x: p.x, y: p.y };
  });
  const width = PAD * 2 + W + span;
  const height = bottom + H / 2 + PAD;

  const edges: ChartEdge[] = [];
  const normals: Pt[] = [];
  for (const g of groups.values()) {
    const a = pos.get(g.from) as Pt;
    const b = pos.get(g.to) as Pt;
    if (g.from === g.to) {
      const below = (columns.get(rank.get(g.from) ?? -1) ?? []).indexOf(g.from) > 0 || finals.has(g.from);
      const s = below ? 1 : -1;
      const y0 = a.y + (s * H) / 2;
      const d = `M ${r1(a.x - 14)} ${r1(y0)} C ${r1(a.x - 30)} ${r1(y0 + s * 38)}, ${r1(a.x + 30)} ${r1(y0 + s * 38)}, ${r1(a.x + 14)} ${r1(y0)}`;
      edges.push({ ...g, d, labelAt: { x: a.x, y: y0 + s * (s > 0 ? 44 : 34) } });
      normals.push({ x: 0, y: s });
      continue;
    }
    const reverse = groups.has(`${g.to}\u0000${g.from}`);
    const others = states.filter((s) => s.id !== g.from && s.id !== g.to);
    let bend = reverse ? 24 : 0;
    let ctrl = control(a, b, bend);
    for (let tries = 0; tries < 8 && others.some((o) => crosses(a, ctrl, b, o)); tries++) {
      bend += bend >= 0 ? 26 : -26;
      ctrl = control(a, b, bend);
    }
    const start = clip(a, ctrl);
    const end = clip(b, ctrl);
    const mid = quad(start, ctrl, end, 0.5);
    const len = Math.hypot(ctrl.x - (a.x + b.x) / 2, ctrl.y - (a.y + b.y) / 2);
    const normal = len > 0.5 ? { x: (ctrl.x - (a.x + b.x) / 2) / len, y: (ctrl.y - (a.y + b.y) / 2) / len } : { x: 0, y: -1 };
    edges.push({ ...g, d: `M ${r1(start.x)} ${r1(start.y)} Q ${r1(ctrl.x)} ${r1(ctrl.y)} ${r1(end.x)} ${r1(end.y)}`, labelAt: mid });
    normals.push(normal);
  }
  spreadLabels(edges, normals, states, finals);

  const machineId = machine.id;
  return { machine: machineId, initial, states, edges, width, height, svg: render(machineId, initial, states, edges, width, height, finals) };
}

/**
 * Labels of nearby transitions overlap: push each label that collides with an earlier
 * one (or a state box) further out along its own edge's normal, a few px at a time.
 */
function spreadLabels(edges: ChartEdge[], normals: readonly Pt[], states: readonly ChartState[], finals: ReadonlySet<string>): void {
  const boxes: { x: number; y: number; w: number; h: number }[] = [];
  const boxOf = (e: ChartEdge, at: Pt) => ({ x: at.x, y: at.y - 4, w: shortLabel(e.labels).length * 5.4 + 6, h: 13 });
  const hits = (b: { x: number; y: number; w: number; h: number }): boolean =>
    boxes.some((o) => Math.abs(o.x - b.x) < (o.w + b.w) / 2 && Math.abs(o.y - b.y) < (o.h + b.h) / 2) ||
    states.some((s) => Math.abs(s.x - b.x) < W / 2 + b.w / 2 && Math.abs(s.y - b.y) < H / 2 + b.h / 2);
  edges.forEach((e, i) => {
    if (finals.has(e.to)) return;
    const n = normals[i] ?? { x: 0, y: -1 };
    let at = e.labelAt;
    for (let step = 0; step < 12 && hits(boxOf(e, at)); step++) at = { x: at.x + n.x * 6, y: at.y + n.y * 6 };
    (e as { labelAt: Pt }).labelAt = at;
    boxes.push(boxOf(e, at));
  });
}

/** The control point of a curve from a to b bent `bend` px to its left. */
function control(a: Pt, b: Pt, bend: number): Pt {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  return { x: (a.x + b.x) / 2 + (dy / len) * bend * 2, y: (a.y + b.y) / 2 - (dx / len) * bend * 2 };
}

function quad(a: Pt, c: Pt, b: Pt, t: number): Pt {
  const u = 1 - t;
  return { x: u * u * a.x + 2 * u * t * c.x + t * t * b.x, y: u * u * a.y + 2 * u * t * c.y + t * t * b.y };
}

function crosses(a: Pt, c: Pt, b: Pt, box: Pt): boolean {
  for (let t = 0.08; t < 0.93; t += 0.04) {
    const p = quad(a, c, b, t);
    if (Math.abs(p.x - box.x) < W / 2 + 8 && Math.abs(p.y - box.y) < H / 2 + 8) return true;
  }
  return false;
}

/** Where the line from a box's center toward `toward` leaves the box. */
function clip(center: Pt, toward: Pt): Pt {
  const dx = toward.x - center.x;
  const dy = toward.y - center.y;
  const sx = dx === 0 ? Infinity : W / 2 / Math.abs(dx);
  const sy = dy === 0 ? Infinity : H / 2 / Math.abs(dy);
  const s = Math.min(sx, sy);
  return { x: center.x + dx * s, y: center.y + dy * s };
}

function render(
  id: string,
  initial: string,
  states: readonly ChartState[],
  edges: readonly ChartEdge[],
  width: number,
  height: number,
  finals: ReadonlySet<string>,
): string {
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="statechart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(id)} statechart">`,
    `<defs><marker id="sc-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="sc-arrowhead"/></marker></defs>`,
  );
  const init = states.find((s) => s.id === initial);
  if (init) {
    out.push(`<circle class="sc-initial" cx="${r1(init.x - W / 2 - 22)}" cy="${r1(init.y)}" r="5"/>`);
    out.push(`<path class="sc-edge sc-initial-edge" d="M ${r1(init.x - W / 2 - 17)} ${r1(init.y)} L ${r1(init.x - W / 2)} ${r1(init.y)}" marker-end="url(#sc-arrow)"/>`);
  }
  for (const e of edges) {
    const cls = `sc-edge${finals.has(e.to) ? " sc-to-final" : ""}${e.from === e.to ? " sc-loop" : ""}`;
    out.push(
      `<path class="${cls}" data-from="${esc(e.from)}" data-to="${esc(e.to)}" d="${e.d}" marker-end="url(#sc-arrow)"><title>${esc(`${e.from} → ${e.to}: ${e.labels.join("; ")}`)}</title></path>`,
    );
  }
  for (const e of edges) {
    if (finals.has(e.to)) continue;
    const text = shortLabel(e.labels);
    out.push(`<text class="sc-label" data-from="${esc(e.from)}" data-to="${esc(e.to)}" x="${r1(e.labelAt.x)}" y="${r1(e.labelAt.y)}">${esc(text)}</text>`);
  }
  for (const s of states) {
    out.push(
      `<g class="sc-node${s.final ? " sc-final" : ""}" data-state="${esc(s.id)}"><rect x="${r1(s.x - W / 2)}" y="${r1(s.y - H / 2)}" width="${W}" height="${H}" rx="${s.final ? H / 2 : 8}"/><text x="${r1(s.x)}" y="${r1(s.y + 4.5)}">${esc(s.id)}</text></g>`,
    );
  }
  out.push("</svg>");
  return out.join("");
}

/** "WAKE", "after untilDue [slotIsDue]", "after untilDue" → "WAKE · after untilDue". */
function shortLabel(labels: readonly string[]): string {
  const events: string[] = [];
  for (const l of labels) {
    const ev = l.replace(/\s*\[[^\]]*\]$/, "");
    if (ev !== "always" && !events.includes(ev)) events.push(ev);
  }
  return events.length === 0 ? "decide" : events.join(" · ");
}

function r1(n: number): number {
  return Math.round(n * 10) / 10;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}
